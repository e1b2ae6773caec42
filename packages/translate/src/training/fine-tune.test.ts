import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { loadModel } from '../checkpoint/model-folder.js';
import type { SentencePair } from '../data/data.js';
import { scoreCorpus } from '../evaluation/score.js';
import { initNodeBackend } from '../node/backend-node.js';
import { nodeFolder } from '../node/node-folder.js';
import { MemoryStore } from '../store/memory-store.js';
import { type FineTuneOptions, fineTune } from './fine-tune.js';

/*
 * fineTune on the OPUS-MT-shaped fixture (fixtures/opus-mt-tiny, written by python3-torch and spm_train): Stop and
 * resume through a store give the weights of an uninterrupted run, bit for bit; a store of another run is refused.
 */
const FIXTURE = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const lines = (name: string) => readFileSync(join(FIXTURE, name), 'utf8').trim().split('\n');
let train: SentencePair[];
let valid: SentencePair[];

beforeAll(async () => {
  await initNodeBackend('wasm');
  const en = lines('test-sentences.en');
  const de = lines('test-sentences.de');
  const pairs = en.map((source, i) => ({ source, target: de[i] }));
  train = pairs.slice(0, 24);
  valid = pairs.slice(24, 32);
});

async function run(options: Partial<FineTuneOptions> = {}) {
  const { model, tokenizer } = await loadModel(nodeFolder(FIXTURE));
  try {
    const result = await fineTune({
      model,
      tokenizer,
      train,
      valid,
      loss: { kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 },
      maxSteps: 4,
      maxTokens: 120,
      lr: 1e-3,
      seed: 3,
      validSentences: 0,
      ...options,
    });
    return { result, weights: model.toNamedTensors() };
  } finally {
    model.dispose();
  }
}

test('a run stopped by its AbortSignal and resumed from the store ends with the uninterrupted run’s weights', async () => {
  const whole = await run();
  expect(whole.result.steps).toBe(4);
  expect(whole.result.interrupted).toBe(false);

  const store = new MemoryStore();
  const stop = new AbortController();
  const first = await run({
    checkpoints: { store },
    signal: stop.signal,
    onProgress: (p) => {
      if (p.step === 2) stop.abort();
    },
  });
  expect(first.result).toMatchObject({ steps: 2, interrupted: true, resumedFrom: 0 });
  expect(await store.exists('training_state/step-00000002/optimizer.safetensors')).toBe(true);

  const second = await run({ checkpoints: { store } });
  expect(second.result).toMatchObject({ steps: 4, interrupted: false, resumedFrom: 2 });
  expect(second.result.validNll).toBe(whole.result.validNll);
  for (const [name, tensor] of whole.weights) {
    expect(second.weights.get(name)!.data, name).toEqual(tensor.data);
  }
});

test('validNll is the valid set’s NLL per token after the last step, as scoreCorpus computes it', async () => {
  const { model, tokenizer } = await loadModel(nodeFolder(FIXTURE));
  const before = scoreCorpus(model, tokenizer, valid).corpus.nll;
  const result = await fineTune({
    model,
    tokenizer,
    train,
    valid,
    loss: { kind: 'ce' },
    maxSteps: 3,
    maxTokens: 120,
    lr: 1e-3,
    validSentences: 0,
  });
  expect(result.validNll).toBe(scoreCorpus(model, tokenizer, valid).corpus.nll);
  expect(result.validNll).not.toBe(before);
  expect(Number.isFinite(result.trainNll)).toBe(true);
  model.dispose();
});

test('a store holding a checkpoint of other settings is refused, and overwritten when asked', async () => {
  const store = new MemoryStore();
  await run({ checkpoints: { store }, maxSteps: 2 });
  await expect(run({ checkpoints: { store }, seed: 4 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  const again = await run({ checkpoints: { store, overwrite: true }, seed: 4, maxSteps: 2 });
  expect(again.result.resumedFrom).toBe(0);
});

test('bad step counts are INVALID_OPTION naming the value', async () => {
  await expect(run({ maxSteps: 0 })).rejects.toThrow(/maxSteps must be a positive integer, got 0/);
  await expect(run({ maxTokens: 1.5 })).rejects.toThrow(/maxTokens must be a positive integer, got 1.5/);
});
