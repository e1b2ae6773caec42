import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '@encouraging-loss/translate';
import {
  initNodeBackend,
  loadAdapter,
  loadModel,
  nodeFolder,
  scoreCorpus,
} from '@encouraging-loss/translate/node';
import { beforeAll, expect, test } from 'vitest';
import { type TrainOptions, train } from './train.js';

/*
 * `el-translate train --init nllb-200-tiny --lora 8 --loss cel`: the loss falls, --out is a PEFT adapter folder
 * whose base is the --init folder, the run records its LoRA settings and resumes from adapter-only checkpoints, and
 * `--merge` writes the same model as a full NLLB folder.
 */

const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/nllb-200-tiny', import.meta.url),
);
const reference = JSON.parse(readFileSync(join(FIXTURE, 'reference.json'), 'utf8')) as {
  pairs: { source: string; target: string }[];
};
const pairs = reference.pairs.map(({ source, target }) => ({ source, target }));
const languages = { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' };
const dir = mkdtempSync(join(tmpdir(), 'el-nllb-lora-'));
const data = join(dir, 'train.tsv');
writeFileSync(data, pairs.map((p) => `${p.source}\t${p.target}\n`).join(''));

beforeAll(async () => {
  await initNodeBackend('wasm');
});

const options = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  train: data,
  sourceLanguage: 'en',
  targetLanguage: 'de',
  out,
  init: FIXTURE,
  ...languages,
  loss: { kind: 'cel', logEnd: 0.5 },
  lora: { r: 8, alpha: 16 },
  maxSteps: 16,
  lr: 2e-2,
  warmup: 1,
  logEvery: 1,
  seed: 2,
  quiet: true,
  ...extra,
});

function trainLosses(out: string): number[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((r) => r.type === 'train')
    .map((r) => r.loss);
}

test('--lora with CEL: the loss falls; --out is a PEFT adapter of the --init base; the run resumes', async () => {
  const out = join(dir, 'adapter');
  const result = await train(options(out, { maxSteps: 12 }));
  expect(result.steps).toBe(12);
  const losses = trainLosses(out);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) - 0.5);

  expect(existsSync(join(out, 'config.json'))).toBe(false);
  expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  expect(config).toMatchObject({
    peft_type: 'LORA',
    r: 8,
    lora_alpha: 16,
    target_modules: ['q_proj', 'v_proj'],
  });
  expect(config.base_model_name_or_path).toBe(FIXTURE);
  expect(readFileSync(join(out, 'tokenizer.json'))).toEqual(readFileSync(join(FIXTURE, 'tokenizer.json')));
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  expect(run.settings.lora).toEqual({
    r: 8,
    alpha: 16,
    dropout: 0,
    targets: ['q_proj', 'v_proj'],
    merge: false,
  });
  const latest = readFileSync(join(out, 'training_state', 'latest'), 'utf8').trim();
  const checkpoint = join(out, 'training_state', latest);
  expect(existsSync(join(checkpoint, 'model.safetensors'))).toBe(false);
  const moments = readSafetensors(readFileSync(join(checkpoint, 'optimizer.safetensors'))).tensors;
  expect([...moments.keys()].every((k) => k.includes('.lora_'))).toBe(true);

  // The base with the adapter, unmerged, scores better than the base alone.
  const base = await loadModel(nodeFolder(FIXTURE), languages);
  const before = scoreCorpus(base.model, base.tokenizer, pairs).corpus.nll;
  loadAdapter(base.model, nodeFolder(out));
  const after = scoreCorpus(base.model, base.tokenizer, pairs).corpus.nll;
  expect(after).toBeLessThan(before - 0.5);

  // --merge: the same training (same seed and steps) written as a full NLLB folder, equal to base + adapter.
  const merged = join(dir, 'merged');
  await train(options(merged, { maxSteps: 12, merge: true }));
  expect(existsSync(join(merged, 'adapter_config.json'))).toBe(false);
  expect(JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8')).model_type).toBe('m2m_100');
  const full = await loadModel(nodeFolder(merged), languages);
  const fromMerged = scoreCorpus(full.model, full.tokenizer, pairs).corpus.nll;
  expect(Math.abs(fromMerged - after)).toBeLessThan(1e-4);
  for (const m of [base.model, full.model]) m.dispose();

  // Resuming (more steps) starts from the checkpoint's adapters; other LoRA settings are refused.
  const resumed = await train(options(out, { maxSteps: 14 }));
  expect(resumed.resumedFrom).toBe(12);
  expect(trainLosses(out)).toHaveLength(14);
  await expect(train(options(out, { maxSteps: 16, lora: { r: 4, alpha: 16 } }))).rejects.toThrow(
    /lora\.r: recorded 8, now 4/,
  );
}, 300_000);

test('--lora needs --init; --merge needs --lora', async () => {
  await expect(
    train({ ...options(join(dir, 'x')), init: undefined, ...{ srcLang: undefined, tgtLang: undefined } }),
  ).rejects.toThrow(/--lora trains adapters on a pretrained model/);
  await expect(train({ ...options(join(dir, 'y')), lora: undefined, merge: true })).rejects.toThrow(
    /--merge .* needs --lora R/,
  );
});
