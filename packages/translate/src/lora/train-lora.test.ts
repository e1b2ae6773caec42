import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, test } from 'vitest';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import { modelGradients } from '../training/backprop.js';
import { lossOptions } from '../training/loss.js';
import { HostAdam } from '../training/optimizer.js';
import { batchTensors, type Example, trainingStep } from '../training/trainer.js';
import { attachLora, resolveLoraSettings, trainableParams } from './lora.js';

/*
 * The trainer with LoRA attached: the base is frozen (no gradients, no Adam moments, weights bit-identical after
 * steps), the adapters train with every loss, and both backward paths (one tape, per-layer checkpointing) agree.
 */

beforeAll(async () => {
  await initBackend('wasm');
});

function examples(model: MarianModel, count: number, seed: number): Example[] {
  const rng = new Rng(seed);
  const { vocab_size: vocab, eos_token_id: eos } = model.config;
  const ids = (n: number) => Array.from({ length: n }, () => 3 + rng.int(vocab - 4));
  return Array.from({ length: count }, () => ({
    source: [...ids(4 + rng.int(6)), eos],
    target: [...ids(3 + rng.int(6)), eos],
  }));
}

function snapshot(params: ReadonlyMap<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...params].map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
}

test.each([
  ['ce', { kind: 'ce' }],
  ['ls-ce', { kind: 'ce', labelSmoothing: 0.1 }],
  ['el', { kind: 'el' }],
  ['cel', { kind: 'cel', logEnd: 0.5 }],
] as const)(
  '%s: only A and B change; the base is bit-identical after steps and has no moments',
  (_, loss) => {
    const model = new MarianModel(makeConfig(60, 'tiny'), new Rng(1));
    const lora = attachLora(model, resolveLoraSettings({ r: 4, dropout: 0.1 }, 'marian'), new Rng(2));
    const base = snapshot(model.params);
    const adaptersBefore = snapshot(lora.params);
    const optimizer = new HostAdam(trainableParams(model));
    expect([...optimizer.moments.keys()].sort()).toEqual([...lora.params.keys()].sort());
    const data = examples(model, 8, 3);
    for (let t = 1; t <= 3; t++) {
      trainingStep(
        model,
        optimizer,
        data,
        [
          [0, 1, 2, 3],
          [4, 5, 6, 7],
        ],
        lossOptions(loss),
        {
          rng: new Rng(10 + t),
          lr: 1e-2,
          t,
        },
      );
    }
    for (const [name, values] of base) expect(model.params.get(name)!.dataSync(), name).toEqual(values);
    let changed = 0;
    for (const [name, values] of adaptersBefore) {
      if (!equal(lora.params.get(name)!.dataSync() as Float32Array, values)) changed++;
    }
    expect(changed).toBe(lora.params.size);
    model.dispose();
  },
);

function equal(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

test('gradients reach A and B only, the same on one tape and with per-layer checkpointing', () => {
  const model = new MarianModel(makeConfig(60, 'tiny'), new Rng(4));
  const lora = attachLora(model, resolveLoraSettings({ r: 2 }, 'marian'), new Rng(5));
  // B ≠ 0 so that A gets a gradient too.
  lora.params.forEach((v, name) => {
    if (name.includes('lora_B')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 9));
  });
  const data = examples(model, 4, 6);
  const gradients = (checkpoint: boolean) => {
    const grads = new Map<string, Float32Array>();
    const batch = batchTensors(data, [0, 1, 2, 3], {
      padId: model.config.pad_token_id,
      startId: model.config.decoder_start_token_id,
    });
    modelGradients(
      model,
      batch,
      lossOptions({ kind: 'cel', logEnd: 0.5 }),
      (name, g) => grads.set(name, g.slice()),
      { checkpoint },
    );
    tf.dispose([batch.source, batch.decoderInput]);
    return grads;
  };
  const tape = gradients(false);
  const checkpointed = gradients(true);
  expect([...tape.keys()].sort()).toEqual([...lora.params.keys()].sort());
  expect([...checkpointed.keys()].sort()).toEqual([...lora.params.keys()].sort());
  for (const [name, g] of tape) {
    const other = checkpointed.get(name)!;
    const scale = Math.max(1e-6, ...g.map(Math.abs));
    expect(Math.max(...g.map(Math.abs)), name).toBeGreaterThan(0);
    for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - other[i]) / scale, name).toBeLessThan(1e-4);
  }
  model.dispose();
});

test('host memory of a training step on the small preset: gradients and Adam moments for the adapters only', () => {
  const model = new MarianModel(makeConfig(1000, 'small'), new Rng(1));
  const data = examples(model, 8, 7);
  const bytes = (lora: boolean) => {
    if (lora) attachLora(model, resolveLoraSettings({ r: 8 }, 'marian'), new Rng(2));
    else model.lora = undefined;
    const optimizer = new HostAdam(trainableParams(model));
    let gradientBytes = 0;
    const add = (_: string, g: Float32Array) => {
      gradientBytes += g.byteLength;
    };
    const batch = batchTensors(data, [0, 1, 2, 3, 4, 5, 6, 7], {
      padId: 0,
      startId: model.config.decoder_start_token_id,
    });
    const seen = new Set<string>();
    modelGradients(model, batch, lossOptions({ kind: 'ce' }), (name, g) => {
      if (!seen.has(name)) add(name, g);
      seen.add(name);
    });
    tf.dispose([batch.source, batch.decoderInput]);
    let momentBytes = 0;
    for (const { m, v } of optimizer.moments.values()) momentBytes += m.byteLength + v.byteLength;
    return { gradientBytes, momentBytes, total: gradientBytes + momentBytes };
  };
  const full = bytes(false);
  const adapters = bytes(true);
  const parameters = [...model.params.values()].reduce((n, v) => n + v.size, 0);
  const trained = model.lora!.size;
  // Full fine-tuning: one gradient and two moments per parameter; LoRA: the same per adapter value only.
  expect(full.total).toBe(3 * 4 * parameters);
  expect(adapters.total).toBe(3 * 4 * trained);
  console.log(
    `small preset: ${parameters} parameters, LoRA r 8 on q_proj,v_proj: ${trained} trained; host gradients + Adam moments ${(full.total / 2 ** 20).toFixed(2)} MiB → ${(adapters.total / 2 ** 20).toFixed(3)} MiB (saved ${((full.total - adapters.total) / 2 ** 20).toFixed(2)} MiB)`,
  );
  model.dispose();
});
