import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel } from '../checkpoint/model-folder.js';
import { translateIds } from '../model/decode.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { nodeFolder } from '../node/node-folder.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { initBackend } from '../training/backend.js';
import { exportModelFolder } from './export-folder.js';

// An OPUS-MT folder as published (pytorch/safetensors weights, source.spm + target.spm + vocab.json; made by
// scripts/make-opus-fixture.py with torch and spm_train): exported, transformers.js' MarianTokenizer gives the
// app's ids and greedy decoding gives the app's translations, in both transformers.js versions.
const fixture = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'el-opus-export-'));
const sentences = readFileSync(join(fixture, 'test-sentences.en'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, 40);
let model: Seq2SeqModel;
let tokenizer: SubwordTokenizer;

beforeAll(async () => {
  await initBackend('wasm');
  ({ model, tokenizer } = await loadModel(nodeFolder(fixture)));
  exportModelFolder({ model: nodeFolder(fixture), out: nodeFolder(join(root, 'opus')) });
}, 120_000);

afterAll(() => model?.dispose());

const strip = (ids: readonly (number | bigint)[], eos: number) => {
  const out = ids.slice(1).map(Number);
  return out[out.length - 1] === eos ? out.slice(0, -1) : out;
};

describe('an exported OPUS-MT folder', () => {
  test('writes a PreTrainedTokenizerFast tokenizer_config.json (transformers.js MarianTokenizer always warns)', () => {
    const config = JSON.parse(readFileSync(join(root, 'opus', 'tokenizer_config.json'), 'utf8'));
    expect(config.tokenizer_class).toBe('PreTrainedTokenizerFast');
  });

  test.each(['@huggingface/transformers', '@xenova/transformers'] as const)(
    '%s: same source ids as the app, greedy translations equal el-translate --beam 1',
    async (library) => {
      const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = (await import(
        library
      )) as typeof import('@huggingface/transformers');
      env.allowRemoteModels = false;
      env.localModelPath = `${root}/`;
      const hfTokenizer = await AutoTokenizer.from_pretrained('opus');
      const ids = sentences.map((s) => Array.from(hfTokenizer(s).input_ids.data as BigInt64Array, Number));
      expect(ids).toEqual(sentences.map((s) => tokenizer.encodeSource(s)));
      const seq2seq = await AutoModelForSeq2SeqLM.from_pretrained(
        'opus',
        (library === '@xenova/transformers' ? { quantized: false } : { dtype: 'fp32' }) as never,
      );
      const eos = model.config.eos_token_id;
      for (const source of ids.slice(0, 4)) {
        const maxLength = Math.ceil(1.5 * source.length) + 10;
        const [expected] = translateIds(model, [source], { beam: 1, maxLength });
        const options = {
          max_new_tokens: maxLength,
          num_beams: 1,
          do_sample: false,
          forced_eos_token_id: null,
        };
        const { Tensor } = await import(library);
        const input = new Tensor('int64', BigInt64Array.from(source, BigInt), [1, source.length]);
        const mask = new Tensor('int64', new BigInt64Array(source.length).fill(1n), [1, source.length]);
        const output =
          library === '@xenova/transformers'
            ? ((await (
                seq2seq as never as { generate(i: unknown, o: unknown): Promise<bigint[][]> }
              ).generate(input, options)) as bigint[][])
            : (
                (await seq2seq.generate({ input_ids: input, attention_mask: mask, ...options } as never)) as {
                  tolist(): bigint[][];
                }
              ).tolist();
        expect(strip(output[0], eos)).toEqual(expected);
      }
      await seq2seq.dispose();
    },
    180_000,
  );
});
