import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseM2M100Config } from '../models/m2m100/configuration.js';
import { M2M100Model } from '../models/m2m100/modeling.js';
import { Rng } from '../rng.js';
import { initBackend } from './backend.js';
import { modelGradients } from './backprop.js';
import { lossOptions } from './loss.js';
import { HostAdam } from './optimizer.js';
import { batchTensors } from './trainer.js';

/*
 * LayerDrop (M2M100 `encoder_layerdrop` / `decoder_layerdrop`) in training: a skipped layer uses none of its
 * parameters, so PyTorch leaves their `.grad` None and its Adam skips them, moments and step count included.
 */

const fixture = fileURLToPath(new URL('../../fixtures/nllb-200-tiny/config.json', import.meta.url));

beforeAll(async () => {
  await initBackend('wasm');
});

const examples = [
  { source: [40, 41, 42, 2], target: [50, 51, 2] },
  { source: [43, 2], target: [52, 53, 54, 55, 2] },
  { source: [44, 45, 46, 47, 48, 2], target: [56, 2] },
];

function layerDropModel(): M2M100Model {
  const raw = JSON.parse(readFileSync(fixture, 'utf8'));
  const config = parseM2M100Config(
    { ...raw, encoder_layers: 4, decoder_layers: 4, encoder_layerdrop: 0.5, decoder_layerdrop: 0.5 },
    fixture,
  );
  return new M2M100Model(config, new Rng(3));
}

/** A layer's own parameters (its stack's final `layer_norm`, which the last layer also applies, left out). */
function ownParams(model: M2M100Model, prefix: string): string[] {
  return [...model.params.keys()].filter((name) => name.startsWith(`${prefix}.`));
}

const snapshot = (values: Iterable<[string, Float32Array]>) =>
  new Map([...values].map(([k, v]) => [k, v.slice()]));

describe.each([
  ['one tape', false],
  ['checkpointed per layer', true],
] as const)('LayerDrop 0.5, gradients on %s', (_, checkpoint) => {
  test('skipped layers get no gradient; Adam leaves their weights and moments as they were', () => {
    const model = layerDropModel();
    const optimizer = new HostAdam(model.params);
    const rng = new Rng(11);
    const options = lossOptions({ kind: 'cel', logEnd: 0.5 });
    const layers = [
      ...Array.from({ length: 4 }, (_, i) => `model.encoder.layers.${i}`),
      ...Array.from({ length: 4 }, (_, i) => `model.decoder.layers.${i}`),
    ];
    let skips = 0;
    let kept = 0;
    for (let step = 1; step <= 4; step++) {
      const before = snapshot([...model.params].map(([k, v]) => [k, v.dataSync() as Float32Array]));
      const momentsBefore = snapshot(
        [...optimizer.moments].flatMap(([k, { m, v }]) => [
          [`${k}.m`, m],
          [`${k}.v`, v],
        ]),
      );
      const batch = batchTensors(examples, [0, 1, 2], { padId: 1, startId: 2 });
      const grads = new Map<string, Float32Array>();
      const add = (name: string, values: Float32Array) => {
        const sum = grads.get(name);
        if (sum) for (let i = 0; i < values.length; i++) sum[i] += values[i];
        else grads.set(name, values.slice());
      };
      modelGradients(model, batch, options, add, { rng, checkpoint });
      tf.dispose([batch.source, batch.decoderInput]);
      // The shared embedding and both final layer norms always take part.
      for (const name of [
        'model.shared.weight',
        'model.encoder.layer_norm.weight',
        'model.decoder.layer_norm.bias',
      ]) {
        expect(grads.has(name), name).toBe(true);
      }
      const skipped = layers.filter((prefix) => {
        const names = ownParams(model, prefix);
        const withGradient = names.filter((n) => grads.has(n));
        // All of a layer's parameters have a gradient, or none has.
        expect(withGradient.length === 0 || withGradient.length === names.length, prefix).toBe(true);
        return withGradient.length === 0;
      });
      skips += skipped.length;
      kept += layers.length - skipped.length;
      optimizer.step(model.params, grads, { lr: 1e-2, t: step, clip: 1 });
      for (const prefix of layers) {
        for (const name of ownParams(model, prefix)) {
          const after = model.params.get(name)!.dataSync() as Float32Array;
          const { m, v } = optimizer.moments.get(name)!;
          if (skipped.includes(prefix)) {
            expect(after, name).toEqual(before.get(name));
            expect(m, name).toEqual(momentsBefore.get(`${name}.m`));
            expect(v, name).toEqual(momentsBefore.get(`${name}.v`));
          } else if (name.endsWith('.weight')) {
            expect(after, name).not.toEqual(before.get(name));
          }
        }
      }
    }
    // Over 4 steps × 8 layers at rate 0.5, both cases occur (fixed seeds: not left to chance).
    expect(skips).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(0);
    model.dispose();
  });
});

test("Adam's bias correction counts each parameter's own steps, as PyTorch's per-parameter state['step']", () => {
  const param = (values: number[]) => tf.variable(tf.tensor1d(values));
  const a = param([0.5, -0.25]);
  const b = param([1, 2]);
  const alone = param([1, 2]);
  const mixed = new HostAdam(
    new Map([
      ['a', a],
      ['b', b],
    ]),
  );
  const single = new HostAdam(new Map([['b', alone]]));
  const g = (values: number[]) => Float32Array.from(values);
  const options = { lr: 0.1, clip: 1e9 };
  // b has no gradient at step 2 (its layer was skipped): its second update is its own step 2, not 3.
  const both = new Map([
    ['a', a],
    ['b', b],
  ]);
  mixed.step(
    both,
    new Map([
      ['a', g([1, 1])],
      ['b', g([0.3, -0.2])],
    ]),
    { ...options, t: 1 },
  );
  mixed.step(both, new Map([['a', g([1, 1])]]), { ...options, t: 2 });
  mixed.step(
    both,
    new Map([
      ['a', g([1, 1])],
      ['b', g([-0.1, 0.4])],
    ]),
    { ...options, t: 3 },
  );
  single.step(new Map([['b', alone]]), new Map([['b', g([0.3, -0.2])]]), { ...options, t: 1 });
  single.step(new Map([['b', alone]]), new Map([['b', g([-0.1, 0.4])]]), { ...options, t: 2 });
  expect(mixed.skipped.get('b')).toBe(1);
  expect(b.dataSync()).toEqual(alone.dataSync());
  expect(mixed.moments.get('b')).toEqual(single.moments.get('b'));
  tf.dispose([a, b, alone]);
});
