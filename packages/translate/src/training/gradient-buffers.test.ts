import type * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { Rng } from '../rng.js';
import { initBackend } from './backend.js';
import { lossOptions } from './loss.js';
import { HostAdam } from './optimizer.js';
import { accumulateGradients, trainingStep } from './trainer.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const bits = (t: tf.Tensor) => new Uint32Array(t.dataSync().buffer.slice(0));

// trainingStep keeps the gradient arrays of its optimizer from step to step and reads the first micro-batch's
// gradients into them from the heap: the weights must be those of fresh arrays every step, bit for bit, with one
// micro-batch and with several (the later ones are added to the kept arrays, which must not be overwritten).
test.each([1, 3])(
  'kept gradient arrays give the steps of fresh ones, bit for bit (%i micro-batches)',
  (parts) => {
    const config = { ...makeConfig(40, 'tiny'), encoder_layers: 2, decoder_layers: 2, dropout: 0.1 };
    const rng = new Rng(3);
    const sentence = () => Array.from({ length: 3 + rng.int(6) }, () => 3 + rng.int(36));
    const examples = Array.from({ length: 6 }, () => ({ source: sentence(), target: sentence() }));
    const batches = Array.from({ length: parts }, (_, p) =>
      [0, 1, 2, 3, 4, 5].filter((i) => i % parts === p),
    );
    const options = lossOptions({ kind: 'cel', labelSmoothing: 0.1 });
    const kept = new MarianModel(config, new Rng(1));
    const fresh = new MarianModel(config, new Rng(1));
    const keptAdam = new HostAdam(kept.params);
    const freshAdam = new HostAdam(fresh.params);
    for (let t = 1; t <= 4; t++) {
      const a = trainingStep(kept, keptAdam, examples, batches, options, {
        rng: new Rng(10 + t),
        lr: 1e-2,
        t,
      });
      // The same step with arrays made for it alone (accumulateGradients without buffers), then the same Adam.
      const { grads, tokens } = accumulateGradients(fresh, examples, batches, options, {
        rng: new Rng(10 + t),
        unscaled: true,
      });
      const norm = freshAdam.step(fresh.params, grads, { lr: 1e-2, t, clip: 1, gradientScale: 1 / tokens });
      expect(a.gradientNorm).toBe(norm);
    }
    for (const [name, p] of kept.params) {
      const q = fresh.params.get(name)!;
      const [x, y] = [bits(p), bits(q)];
      expect(
        x.findIndex((v, i) => v !== y[i]),
        name,
      ).toBe(-1);
    }
    kept.dispose();
    fresh.dispose();
  },
);
