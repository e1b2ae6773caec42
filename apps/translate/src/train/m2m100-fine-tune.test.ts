import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Example,
  HostAdam,
  lossOptions,
  Rng,
  readSafetensors,
  trainingStep,
} from '@encouraging-loss/translate';
import {
  initNodeBackend,
  loadModel,
  loadWeights,
  nodeFolder,
  readModelConfig,
  saveModel,
  scoreCorpus,
} from '@encouraging-loss/translate/node';
import { beforeAll, describe, expect, test } from 'vitest';
import { train } from './train.js';

/*
 * Fine-tuning NLLB-200 (the fixtures/nllb-200-tiny folder, in NLLB's published layout) through the trainer: the
 * loss falls, the folder written back is an NLLB folder that reloads with the trained model's log-probabilities.
 * The untrained NLL is the PyTorch reference's (reference.json `mean_nll`, HF modeling_m2m_100.py in float64).
 */

const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/nllb-200-tiny', import.meta.url),
);
const reference = JSON.parse(readFileSync(join(FIXTURE, 'reference.json'), 'utf8')) as {
  mean_nll: number;
  pairs: { source: string; target: string }[];
};
const pairs = reference.pairs.map(({ source, target }) => ({ source, target }));
const languages = { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' };
const dir = mkdtempSync(join(tmpdir(), 'el-nllb-train-'));
const data = join(dir, 'train.tsv');
writeFileSync(data, pairs.map((p) => `${p.source}\t${p.target}\n`).join(''));

beforeAll(async () => {
  await initNodeBackend('wasm');
});

function trainRecords(out: string): { step: number; loss: number; nll: number }[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((r) => r.type === 'train');
}

test('the untrained fixture scores the PyTorch reference NLL through loadModelFolder', async () => {
  const { model, tokenizer } = await loadModel(nodeFolder(FIXTURE), languages);
  const { corpus } = scoreCorpus(model, tokenizer, pairs);
  model.dispose();
  expect(corpus.nll).toBeCloseTo(reference.mean_nll, 4);
});

describe.each([
  ['ce', { kind: 'ce' }],
  ['cel', { kind: 'cel', logEnd: 0.5 }],
] as const)('train --init nllb-200-tiny with %s', (name, loss) => {
  test('the loss falls; the folder is NLLB-shaped, reloads, and scores below the base', async () => {
    const out = join(dir, name);
    const result = await train({
      train: data,
      sourceLanguage: 'en',
      targetLanguage: 'de',
      out,
      init: FIXTURE,
      ...languages,
      loss,
      maxSteps: 12,
      lr: 1e-2,
      warmup: 1,
      logEvery: 1,
      seed: 2,
      quiet: true,
    });
    expect(result.steps).toBe(12);
    const records = trainRecords(out);
    expect(records).toHaveLength(12);
    const mean = (rs: typeof records) => rs.reduce((a, r) => a + r.loss, 0) / rs.length;
    // Dropout (0.1) makes single steps noisy: the last three against the first three.
    expect(mean(records.slice(-3))).toBeLessThan(mean(records.slice(0, 3)) - 1);

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.model_type).toBe('m2m_100');
    expect(config).not.toHaveProperty('decoder_vocab_size');
    expect(readModelConfig(nodeFolder(out)).family.modelType).toBe('m2m_100');
    for (const file of ['sentencepiece.bpe.model', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(readFileSync(join(out, file))).toEqual(readFileSync(join(FIXTURE, file)));
    }
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(run.settings).toMatchObject(languages);

    // The folder (written at the end: no valid set) holds the last step's weights, as the last checkpoint does.
    const reloaded = await loadModel(nodeFolder(out), languages);
    const fromFolder = scoreCorpus(reloaded.model, reloaded.tokenizer, pairs);
    const latest = readFileSync(join(out, 'training_state', 'latest'), 'utf8').trim();
    const { family, config: parsed } = readModelConfig(nodeFolder(out));
    const checkpointed = family.create(parsed, new Rng(9));
    loadWeights(checkpointed, nodeFolder(join(out, 'training_state', latest)), 'model.safetensors');
    const fromCheckpoint = scoreCorpus(checkpointed, reloaded.tokenizer, pairs);
    expect(fromFolder.sentences).toEqual(fromCheckpoint.sentences);
    expect(fromFolder.corpus.nll).toBeLessThan(reference.mean_nll - 1);
    reloaded.model.dispose();
    checkpointed.dispose();
  });
});

test('a fine-tuning run of NLLB resumes from its checkpoint (moments and per-parameter steps restored)', async () => {
  const out = join(dir, 'cel');
  expect(existsSync(join(out, 'training_state'))).toBe(true);
  const result = await train({
    train: data,
    sourceLanguage: 'en',
    targetLanguage: 'de',
    out,
    init: FIXTURE,
    ...languages,
    loss: { kind: 'cel', logEnd: 0.5 },
    maxSteps: 14,
    lr: 1e-2,
    warmup: 1,
    logEvery: 1,
    seed: 2,
    quiet: true,
  });
  expect(result.resumedFrom).toBe(12);
  expect(result.steps).toBe(14);
});

test('a trained NLLB model saved by saveModel reloads with bit-identical log-probabilities', async () => {
  const { model, tokenizer } = await loadModel(nodeFolder(FIXTURE), languages);
  const examples: Example[] = pairs.map((p) => ({
    source: tokenizer.encodeSource(p.source),
    target: tokenizer.encodeTarget(p.target),
  }));
  const optimizer = new HostAdam(model.params);
  const rng = new Rng(4);
  for (let t = 1; t <= 3; t++) {
    trainingStep(model, optimizer, examples, [[0, 1, 2, 3]], lossOptions({ kind: 'cel' }), {
      rng,
      lr: 1e-2,
      t,
    });
  }
  const trained = scoreCorpus(model, tokenizer, pairs);
  const out = join(dir, 'saved');
  saveModel(model, nodeFolder(out));
  readModelConfig(nodeFolder(FIXTURE)).family.copyTokenizer(nodeFolder(FIXTURE), nodeFolder(out));
  model.dispose();
  const again = await loadModel(nodeFolder(out), languages);
  expect(scoreCorpus(again.model, again.tokenizer, pairs).sentences).toEqual(trained.sentences);
  again.model.dispose();
});

test('with LayerDrop, a run resumed from its checkpoint ends where an uninterrupted one does', async () => {
  // The fixture with LayerDrop 0.5 in both stacks: some layers skip steps, so Adam's per-parameter step counts
  // (saved as `<name>.step` in optimizer.safetensors) must survive the resume for the same bias correction.
  const init = join(dir, 'layerdrop-init');
  cpSync(FIXTURE, init, { recursive: true });
  const configFile = join(init, 'config.json');
  const raw = JSON.parse(readFileSync(configFile, 'utf8'));
  writeFileSync(configFile, JSON.stringify({ ...raw, encoder_layerdrop: 0.5, decoder_layerdrop: 0.5 }));
  const options = (out: string, maxSteps: number) => ({
    train: data,
    sourceLanguage: 'en',
    targetLanguage: 'de',
    out,
    init,
    ...languages,
    loss: { kind: 'cel', logEnd: 0.5 } as const,
    maxSteps,
    lr: 1e-2,
    warmup: 2,
    // Not linear: its rate depends on --max-steps, which grows on the resume.
    schedule: 'inverse-sqrt' as const,
    seed: 5,
    quiet: true,
  });
  const straight = join(dir, 'layerdrop-straight');
  const resumed = join(dir, 'layerdrop-resumed');
  await train(options(straight, 6));
  await train(options(resumed, 3));
  const steps = (out: string, step: number) => {
    const file = join(
      out,
      'training_state',
      `step-${String(step).padStart(8, '0')}`,
      'optimizer.safetensors',
    );
    const { tensors } = readSafetensors(readFileSync(file), file);
    return [...tensors].filter(([name]) => name.endsWith('.step')).map(([, t]) => Number(t.data[0]));
  };
  // Some parameters missed steps before the checkpoint the resume starts from.
  expect(Math.min(...steps(resumed, 3))).toBeLessThan(3);
  expect((await train(options(resumed, 6))).resumedFrom).toBe(3);
  const weights = (out: string) => readSafetensors(readFileSync(join(out, 'model.safetensors'))).tensors;
  expect(weights(resumed)).toEqual(weights(straight));
  expect(steps(resumed, 6)).toEqual(steps(straight, 6));
});
