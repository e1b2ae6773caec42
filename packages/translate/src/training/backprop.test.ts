import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { makeConfig } from '../model/config.js';
import { causalBias, MarianModel, paddingBias } from '../model/marian.js';
import { Rng } from '../rng.js';
import { initBackend } from './backend.js';
import { modelGradients } from './backprop.js';
import { lossOptions, tokenLoss } from './loss.js';
import { batchTensors } from './trainer.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const examples = [
  { source: [3, 4, 5, 1], target: [6, 7, 1] },
  { source: [8, 1], target: [9, 10, 11, 12, 13, 1] },
  { source: [4, 4, 6, 7, 8, 1], target: [5, 1] },
];

/** The whole network under one tfjs tape (logits materialised), dropout from the same per-layer seeds. */
function autodiff(
  model: MarianModel,
  rng: Rng | undefined,
  options = lossOptions({ kind: 'cel', labelSmoothing: 0.1 }),
) {
  const { config } = model;
  const t = batchTensors(examples, [0, 1, 2], {
    padId: config.pad_token_id,
    startId: config.decoder_start_token_id,
  });
  const seed = () => (rng ? rng.seed() : undefined);
  const encoderSeeds = Array.from({ length: config.encoder_layers + 1 }, seed);
  const decoderSeeds = Array.from({ length: config.decoder_layers + 1 }, seed);
  const of = (s: number | undefined) => (s === undefined ? undefined : new Rng(s));
  const labels = tf.tensor2d(t.labels, t.decoderInput.shape, 'int32');
  const variables = [...model.params.values()];
  const { grads } = tf.variableGrads(() => {
    const bias = paddingBias(t.source, config.pad_token_id);
    let x: tf.Tensor = model.embedInputs(t.source, of(encoderSeeds[0]));
    for (let i = 0; i < config.encoder_layers; i++)
      x = model.encoderLayer(i, x, bias, of(encoderSeeds[i + 1]));
    const causal = causalBias(t.decoderInput.shape[1]);
    let y: tf.Tensor = model.embedInputs(t.decoderInput, of(decoderSeeds[0]));
    for (let i = 0; i < config.decoder_layers; i++) {
      y = model.decoderLayer(i, y, causal, { hidden: x, bias }, of(decoderSeeds[i + 1]));
    }
    const logits = tf.add(
      tf.matMul(tf.reshape(y, [-1, config.d_model]), model.outputWeight, false, true),
      model.outputBias,
    );
    return tokenLoss(logits, tf.reshape(labels, [-1]), options);
  }, variables);
  const names = new Map([...model.params].map(([name, v]) => [v.name, name]));
  return new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g.dataSync() as Float32Array]));
}

function viaModelGradients(
  model: MarianModel,
  rng: Rng | undefined,
  checkpoint: boolean,
  chunkTokens?: number,
) {
  const { config } = model;
  const t = batchTensors(examples, [0, 1, 2], {
    padId: config.pad_token_id,
    startId: config.decoder_start_token_id,
  });
  const sums = new Map<string, Float32Array>();
  modelGradients(
    model,
    t,
    lossOptions({ kind: 'cel', labelSmoothing: 0.1 }),
    (name, values) => {
      const sum = sums.get(name);
      if (sum)
        values.forEach((v, i) => {
          sum[i] += v;
        });
      else sums.set(name, Float32Array.from(values));
    },
    { rng, chunkTokens, checkpoint },
  );
  return sums;
}

function expectClose(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>) {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  let largest = 0;
  for (const [name, e] of expected) {
    const a = actual.get(name)!;
    for (let i = 0; i < e.length; i++) {
      largest = Math.max(largest, Math.abs(e[i]));
      if (Math.abs(a[i] - e[i]) > 2e-5 + 1e-3 * Math.abs(e[i])) {
        throw new Error(`${name}[${i}]: ${a[i]} vs autodiff ${e[i]}`);
      }
    }
  }
  expect(largest).toBeGreaterThan(1e-2);
}

test.each([true, false])(
  'backprop (checkpointed: %s; 2-token chunks) equals tfjs autodiff of the whole network',
  (checkpoint) => {
    const config = {
      ...makeConfig(14, 'tiny'),
      encoder_layers: 2,
      decoder_layers: 2,
      pad_token_id: 13,
      decoder_start_token_id: 13,
    };
    const model = new MarianModel(config, new Rng(4));
    expectClose(viaModelGradients(model, undefined, checkpoint, 2), autodiff(model, undefined));
    model.dispose();
  },
);

test('with dropout the recomputed layers reuse the forward masks: equal to autodiff with the same seeds', () => {
  const config = { ...makeConfig(14, 'tiny'), encoder_layers: 2, decoder_layers: 1, dropout: 0.3 };
  const model = new MarianModel(config, new Rng(5));
  expectClose(viaModelGradients(model, new Rng(9), true), autodiff(model, new Rng(9)));
  model.dispose();
});

test.each([true, false])('a step leaves no tensor behind (checkpointed: %s)', (checkpoint) => {
  const config = { ...makeConfig(14, 'tiny'), encoder_layers: 2, decoder_layers: 2, dropout: 0.1 };
  const model = new MarianModel(config, new Rng(6));
  const t = batchTensors(examples, [0, 1, 2], {
    padId: config.pad_token_id,
    startId: config.decoder_start_token_id,
  });
  const before = tf.memory().numTensors;
  // Before the fix the checkpointed path kept each layer's loss scalar and the masks' intermediates (31 tensors a
  // step at 12 + 12 layers).
  modelGradients(model, t, lossOptions({ kind: 'ce' }), () => {}, {
    rng: new Rng(7),
    checkpoint,
    chunkTokens: 2,
  });
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([t.source, t.decoderInput]);
  model.dispose();
});

test.each([true, false])(
  'a token id outside the vocabulary is INVALID_DATA, and no tensor is left (checkpointed: %s)',
  (checkpoint) => {
    const config = { ...makeConfig(14, 'tiny'), encoder_layers: 1, decoder_layers: 1 };
    const model = new MarianModel(config, new Rng(8));
    const bad = [{ source: [3, 4, 14, 1], target: [5, 1] }];
    const t = batchTensors(bad, [0], { padId: config.pad_token_id, startId: config.decoder_start_token_id });
    const before = tf.memory().numTensors;
    expect(() => modelGradients(model, t, lossOptions({ kind: 'ce' }), () => {}, { checkpoint })).toThrow(
      expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringContaining('token id 14') }),
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([t.source, t.decoderInput]);
    model.dispose();
  },
);
