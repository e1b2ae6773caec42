import '@tensorflow/tfjs-backend-webgl';
import { describeConformance } from '@encouraging-loss/conformance';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { tfjsAdapter } from './test-utils.js';

// Headless Chromium, WebGL on SwiftShader: the composed ops as shaders (webgl has no fused kernel).
await tf.setBackend('webgl');
it('runs on the webgl backend', () => {
  expect(tf.getBackend()).toBe('webgl');
});
describeConformance(tfjsAdapter('tfjs webgl composed in Chromium', 'composed'));
