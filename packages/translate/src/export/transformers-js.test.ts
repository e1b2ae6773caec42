import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURE_SENTENCES, writeTinyModel } from '../../test/export-fixture.js';
import { translateIds } from '../model/decode.js';
import type { MarianModel } from '../model/marian.js';
import { nodeFolder } from '../node/node-folder.js';
import { loadTokenizer } from '../tokenizers/bpe.js';
import { initBackend } from '../training/backend.js';
import { exportModelFolder } from './export-folder.js';

// Both transformers.js versions load the exported folder from local files only: remote models are off and the
// model path is the temporary folder, so nothing is fetched.
const root = mkdtempSync(join(tmpdir(), 'el-transformers-js-'));
const name = 'exported';
let model: MarianModel;
let sources: number[][];
let expected: number[][];
let maxLengths: number[];

beforeAll(async () => {
  await initBackend('wasm');
  model = writeTinyModel(join(root, 'model'), { seed: 8 });
  exportModelFolder({
    model: nodeFolder(join(root, 'model')),
    out: nodeFolder(join(root, name)),
    quantize: 'int8',
  });
  const tokenizer = await loadTokenizer(nodeFolder(join(root, 'model')));
  sources = FIXTURE_SENTENCES.map((s) => tokenizer.encode(s));
  // The app's own length cap; transformers.js gets the same through max_new_tokens (and no forced EOS at the
  // cap, which the app does not add), so a random model that never says EOS still compares token for token.
  maxLengths = sources.map((s) => Math.ceil(1.5 * s.length) + 10);
  expected = sources.map((s, i) => translateIds(model, [s], { beam: 1, maxLength: maxLengths[i] })[0]);
  // Translations of real length: equality below is not the trivial one of empty outputs.
  expect(Math.min(...expected.map((e) => e.length))).toBeGreaterThan(2);
}, 120_000);

afterAll(() => model?.dispose());

/** Generated ids without the decoder start token and the final EOS. */
const strip = (ids: readonly (number | bigint)[]) => {
  const out = ids.slice(1).map(Number);
  return out[out.length - 1] === 1 ? out.slice(0, -1) : out;
};

describe('transformers.js runs the exported folder', () => {
  test('@huggingface/transformers 4.x: greedy ids equal el-translate --beam 1, fp32', async () => {
    const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;
    const tokenizer = await AutoTokenizer.from_pretrained(name);
    const seq2seq = await AutoModelForSeq2SeqLM.from_pretrained(name, { dtype: 'fp32' });
    for (let i = 0; i < sources.length; i++) {
      const inputs = tokenizer(FIXTURE_SENTENCES[i]);
      expect(Array.from(inputs.input_ids.data as BigInt64Array, Number)).toEqual(sources[i]);
      const output = (await seq2seq.generate({
        ...inputs,
        max_new_tokens: maxLengths[i],
        num_beams: 1,
        do_sample: false,
        forced_eos_token_id: null,
      } as never)) as { tolist(): bigint[][] };
      expect(strip(output.tolist()[0])).toEqual(expected[i]);
    }
    await seq2seq.dispose();
  }, 180_000);

  test('@huggingface/transformers 4.x: the translation pipeline gives the app text, int8 files load too', async () => {
    const { pipeline, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;
    const appTokenizer = await loadTokenizer(nodeFolder(join(root, 'model')));
    const translator = await pipeline('translation', name, { dtype: 'fp32' });
    const [result] = (await translator(FIXTURE_SENTENCES[0], {
      max_new_tokens: maxLengths[0],
      num_beams: 1,
      forced_eos_token_id: null,
    } as never)) as { translation_text: string }[];
    expect(result.translation_text).toBe(appTokenizer.decode(expected[0]));
    await translator.dispose();
    const quantized = await pipeline('translation', name, { dtype: 'q8' });
    const [q8] = (await quantized(FIXTURE_SENTENCES[0], {
      max_new_tokens: 4,
      num_beams: 1,
      forced_eos_token_id: null,
    } as never)) as { translation_text: string }[];
    expect(typeof q8.translation_text).toBe('string');
    await quantized.dispose();
  }, 180_000);

  test('@xenova/transformers 2.17.2: greedy ids equal el-translate --beam 1, fp32', async () => {
    const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@xenova/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;
    const tokenizer = await AutoTokenizer.from_pretrained(name);
    const seq2seq = await AutoModelForSeq2SeqLM.from_pretrained(name, { quantized: false });
    for (let i = 0; i < sources.length; i++) {
      const { input_ids } = tokenizer(FIXTURE_SENTENCES[i]);
      expect(Array.from(input_ids.data as BigInt64Array, Number)).toEqual(sources[i]);
      const output = (await seq2seq.generate(input_ids, {
        max_new_tokens: maxLengths[i],
        num_beams: 1,
        do_sample: false,
        forced_eos_token_id: null,
      } as never)) as (number | bigint)[][];
      expect(strip(output[0])).toEqual(expected[i]);
    }
    await seq2seq.dispose();
    // Its default files: the int8 graphs, on its onnxruntime-node 1.14.
    const quantized = await AutoModelForSeq2SeqLM.from_pretrained(name);
    const { input_ids } = tokenizer(FIXTURE_SENTENCES[0]);
    const output = (await quantized.generate(input_ids, {
      max_new_tokens: 4,
      num_beams: 1,
      forced_eos_token_id: null,
    } as never)) as (number | bigint)[][];
    expect(output[0].length).toBeGreaterThan(1);
    await quantized.dispose();
  }, 180_000);
});
