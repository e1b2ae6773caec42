import '@tensorflow/tfjs-backend-wasm';
import { describeConformance } from '@encouraging-loss/conformance';
import * as tf from '@tensorflow/tfjs-core';
import { tfjsAdapter } from './test-utils.js';

// In Node the wasm backend loads its .wasm from the installed package.
await tf.setBackend('wasm');
describeConformance(tfjsAdapter('tfjs wasm fused', 'auto'));
describeConformance(tfjsAdapter('tfjs wasm composed', 'composed'));
