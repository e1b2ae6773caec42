import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { gaussianMixture } from './data.js';
import { meanStd, runOnce } from './experiment.js';

describe('gaussianMixture', () => {
  it('is seeded: same seeds give the same data, another sample seed other samples around the same centres', () => {
    const options = { perClass: 5, classes: 3, dimensions: 4, taskSeed: 1, sampleSeed: 2 };
    const a = gaussianMixture(options);
    expect(gaussianMixture(options)).toEqual(a);
    const b = gaussianMixture({ ...options, sampleSeed: 3 });
    expect(b.features).not.toEqual(a.features);
    expect(Array.from(a.labels)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(a.features.length).toBe(15 * 4);
  });
});

describe('runOnce', () => {
  it('trains the MLP with EL and CE well above chance (1/8) in a few epochs', async () => {
    await tf.setBackend('wasm');
    for (const loss of ['CE', 'CEL(0.5)'] as const) {
      const accuracy = await runOnce({ loss, seed: 1, epochs: 4 });
      expect(accuracy).toBeGreaterThan(0.4);
      expect(accuracy).toBeLessThanOrEqual(1);
    }
  });

  it('meanStd gives the mean and the sample standard deviation', () => {
    expect(meanStd([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(5 / 3) });
  });
});
