import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EncouragingLossError } from '@encouraging-loss/core';
import { beforeAll, expect, test } from 'vitest';
import { readWeights } from '../checkpoint/model-folder.js';
import { MarianModel } from '../model/marian.js';
import { nodeFolder } from '../node/node-folder.js';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import { M2M100Model } from './m2m100/modeling.js';
import { createModel, MODEL_FAMILIES, modelFamily, type Seq2SeqModel } from './registry.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const readConfig = (name: string) => JSON.parse(readFileSync(join(fixtures, name, 'config.json'), 'utf8'));

beforeAll(async () => {
  await initBackend('wasm');
});

test('both model classes implement the Seq2SeqModel surface (compile-time check)', () => {
  const asSeq2Seq = (model: MarianModel | M2M100Model): Seq2SeqModel => model;
  expect(typeof asSeq2Seq).toBe('function');
});

test.each([
  ['opus-mt-tiny', 'marian', MarianModel],
  ['nllb-200-tiny', 'm2m_100', M2M100Model],
  ['m2m100-tiny', 'm2m_100', M2M100Model],
])(
  '%s: config.model_type selects the family, which builds and loads the published folder',
  async (name, type, cls) => {
    const raw = readConfig(name);
    const family = modelFamily(raw, name);
    expect(family.modelType).toBe(type);
    const model = createModel(raw, new Rng(0), name);
    expect(model).toBeInstanceOf(cls);
    const config = family.parseConfig(raw, name);
    const resolved = family.resolveTensors(
      readWeights(nodeFolder(join(fixtures, name))),
      config,
      model.params.keys(),
      name,
    );
    model.loadNamedTensors(resolved, name);
    const tokenizer = await family.loadTokenizer(nodeFolder(join(fixtures, name)), {});
    expect(tokenizer.padId).toBe(config.pad_token_id);
    expect(tokenizer.eosId).toBe(config.eos_token_id);
    model.dispose();
  },
);

test('an unknown model_type is INVALID_DATA naming it and the supported types', () => {
  const attempt = () => modelFamily({ model_type: 't5' }, 'folder/config.json');
  expect(attempt).toThrow(EncouragingLossError);
  expect(attempt).toThrow(
    /folder\/config\.json: model_type "t5" is not supported; supported: marian, m2m_100/,
  );
  // Inherited object keys are not families.
  expect(() => modelFamily({ model_type: 'toString' })).toThrow(/not supported/);
  expect(Object.keys(MODEL_FAMILIES)).toEqual(['marian', 'm2m_100']);
});

test('a config without model_type is Marian (the app’s early folders)', () => {
  expect(modelFamily({ d_model: 8 }).modelType).toBe('marian');
});
