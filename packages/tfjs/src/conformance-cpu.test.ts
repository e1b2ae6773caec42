import '@tensorflow/tfjs-backend-cpu';
import { describeConformance } from '@encouraging-loss/conformance';
import * as tf from '@tensorflow/tfjs-core';
import { tfjsAdapter } from './test-utils.js';

await tf.setBackend('cpu');
describeConformance(tfjsAdapter('tfjs cpu fused', 'auto'));
describeConformance(tfjsAdapter('tfjs cpu composed', 'composed'));
