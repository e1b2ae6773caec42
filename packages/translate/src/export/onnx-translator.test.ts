import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURE_SENTENCES, writeTinyModel } from '../../test/export-fixture.js';
import { translateIds } from '../model/decode.js';
import type { MarianModel } from '../model/marian.js';
import { nodeFolder } from '../node/node-folder.js';
import { loadTokenizer } from '../tokenizers/bpe.js';
import { initBackend } from '../training/backend.js';
import { exportModelFolder } from './export-folder.js';
import { OnnxTranslator } from './onnx-translator.js';

ort.env.wasm.numThreads = 1;

const root = mkdtempSync(join(tmpdir(), 'el-onnx-translator-'));
let model: MarianModel;
let translator: OnnxTranslator;
let sources: number[][];

beforeAll(async () => {
  await initBackend('wasm');
  model = writeTinyModel(join(root, 'model'), { seed: 21, activation: 'gelu' });
  const out = join(root, 'exported');
  exportModelFolder({ model: nodeFolder(join(root, 'model')), out: nodeFolder(out) });
  translator = await OnnxTranslator.create(ort, {
    encoder: readFileSync(join(out, 'onnx/encoder_model.onnx')),
    decoder: readFileSync(join(out, 'onnx/decoder_model_merged.onnx')),
    config: JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')),
  });
  const tokenizer = await loadTokenizer(nodeFolder(join(root, 'model')));
  sources = FIXTURE_SENTENCES.map((s) => tokenizer.encode(s));
}, 120_000);

afterAll(async () => {
  model?.dispose();
  await translator?.release();
});

describe('OnnxTranslator (beam search on onnxruntime-web sessions)', () => {
  test.each([
    { beam: 1 },
    { beam: 5 },
    { beam: 5, lengthPenalty: 0.6 },
    { beam: 3, lengthPenalty: 0, maxLength: 7 },
    { beam: 4, stopEarly: false, maxLength: 9 },
  ])(
    'gives el-translate translate output for %o, batched and one by one',
    async (options) => {
      const expected = translateIds(model, sources, options);
      expect(await translator.translateIds(sources, options)).toEqual(expected);
      for (let i = 0; i < 2; i++) {
        expect(await translator.translateIds([sources[i]], options)).toEqual([expected[i]]);
      }
    },
    120_000,
  );

  test('beam search finds hypotheses greedy does not (the search is not greedy in disguise)', async () => {
    const greedy = await translator.translateIds(sources, { beam: 1 });
    const beam = await translator.translateIds(sources, { beam: 5 });
    expect(beam).not.toEqual(greedy);
  }, 120_000);
});
