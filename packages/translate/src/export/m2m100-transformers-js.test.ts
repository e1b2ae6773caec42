import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { M2M100_FIXTURES as fixtures, writePerturbedM2M100 } from '../../test/export-fixture.js';
import { loadM2M100Folder } from '../models/m2m100/checkpoint.js';
import { greedyGenerate } from '../models/m2m100/generation.js';
import type { M2M100Model } from '../models/m2m100/modeling.js';
import type { M2M100FamilyTokenizer } from '../models/m2m100/tokenization.js';
import { nodeFolder } from '../node/node-folder.js';
import { initBackend } from '../training/backend.js';
import { exportModelFolder } from './export-folder.js';
import { convertM2M100Tokenizer } from './m2m100-tokenizer.js';

const root = mkdtempSync(join(tmpdir(), 'el-m2m100-transformers-js-'));

interface Reference {
  src_lang: string;
  tgt_lang: string;
  pairs: { source: string; source_ids: number[] }[];
}

const reference = (name: string): Reference =>
  JSON.parse(readFileSync(join(fixtures, name, 'reference.json'), 'utf8'));

/** The fixtures' test sentences and a few more (padding in a batch, an unknown character, digits). */
const sentencesOf = (name: string) => [
  ...reference(name).pairs.map((p) => p.source),
  'The printer is broken.',
  'Where is the new keyboard?',
  'bolts, nuts and the margin of 1999',
];

const MAX_NEW_TOKENS = 12;

interface Case {
  name: string;
  model: M2M100Model;
  tokenizer: M2M100FamilyTokenizer;
  sentences: string[];
  sources: number[][];
  /** Our greedy output per sentence: the forced target language first, `</s>` kept when emitted. */
  expected: number[][];
}

const cases = new Map<string, Case>();

/** A perturbed copy of the fixture ({@link writePerturbedM2M100}), exported with int8, and our greedy on it. */
function prepare(name: string): Case {
  const { src_lang: srcLang, tgt_lang: tgtLang } = reference(name);
  const dir = join(root, `${name}-model`);
  const { model, tokenizer } = writePerturbedM2M100(name, dir, { srcLang, tgtLang });
  exportModelFolder({ model: nodeFolder(dir), out: nodeFolder(join(root, name)), quantize: 'int8' });
  const sentences = sentencesOf(name);
  const sources = sentences.map((s) => tokenizer.encodeSource(s));
  const expected = sources.map(
    (s) =>
      greedyGenerate(model, [s], {
        forcedBosTokenId: tokenizer.forcedBosTokenId,
        maxNewTokens: MAX_NEW_TOKENS,
      })[0],
  );
  return { name, model, tokenizer, sentences, sources, expected };
}

beforeAll(async () => {
  await initBackend('wasm');
  for (const name of ['nllb-200-tiny', 'm2m100-tiny']) cases.set(name, prepare(name));
}, 120_000);

afterAll(() => {
  for (const c of cases.values()) c.model.dispose();
});

async function transformersJs() {
  const module = await import('@huggingface/transformers');
  module.env.allowRemoteModels = false;
  module.env.localModelPath = `${root}/`;
  return module;
}

describe('convertM2M100Tokenizer', () => {
  test('NLLB: the vocabulary, merges, special tokens and template of the fixture tokenizer.json (NllbConverter layout)', () => {
    const published = JSON.parse(
      readFileSync(join(fixtures, 'nllb-200-tiny', 'tokenizer.json'), 'utf8'),
    ) as Record<string, { vocab?: unknown; merges?: unknown }>;
    const { tokenizerJson } = convertM2M100Tokenizer(nodeFolder(join(fixtures, 'nllb-200-tiny')));
    const converted = tokenizerJson as typeof published;
    expect(converted.model.vocab).toEqual(published.model.vocab);
    expect(converted.model.merges).toEqual(published.model.merges);
    for (const key of ['added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
      expect(converted[key]).toEqual(published[key]);
    }
  });
});

describe.each(['nllb-200-tiny', 'm2m100-tiny'])(
  '@huggingface/transformers 4.x runs the exported %s',
  (name) => {
    test('its tokenizer gives the reference source ids (src_lang set by the call)', async () => {
      const { AutoTokenizer } = await transformersJs();
      const tokenizer = await AutoTokenizer.from_pretrained(name);
      const { src_lang, tgt_lang, pairs } = reference(name);
      const c = cases.get(name)!;
      for (const [i, sentence] of c.sentences.entries()) {
        const inputs = (
          tokenizer as unknown as {
            _build_translation_inputs(
              t: string,
              o: object,
              k: object,
            ): { input_ids: { data: BigInt64Array } };
          }
        )._build_translation_inputs(sentence, { padding: true, truncation: true }, { src_lang, tgt_lang });
        const ids = Array.from(inputs.input_ids.data, Number);
        // The first ids were computed in Python (sentencepiece + the HF layout); the others by our tokenizer.
        expect(ids).toEqual(i < pairs.length ? pairs[i].source_ids : c.sources[i]);
      }
    });

    test('greedy ids equal our greedy (generation.ts, el-translate translate --beam 1), fp32', async () => {
      const { AutoModelForSeq2SeqLM, AutoTokenizer } = await transformersJs();
      const { src_lang, tgt_lang } = reference(name);
      const c = cases.get(name)!;
      const tokenizer = await AutoTokenizer.from_pretrained(name);
      const model = await AutoModelForSeq2SeqLM.from_pretrained(name, { dtype: 'fp32' });
      const distinct = new Set<number>();
      for (const [i, sentence] of c.sentences.entries()) {
        const kwargs: Record<string, unknown> = {
          src_lang,
          tgt_lang,
          max_new_tokens: MAX_NEW_TOKENS,
          num_beams: 1,
          do_sample: false,
        };
        const inputs = (
          tokenizer as unknown as { _build_translation_inputs(t: string, o: object, k: object): object }
        )._build_translation_inputs(sentence, { padding: true, truncation: true }, kwargs);
        expect(kwargs.forced_bos_token_id).toBe(c.tokenizer.forcedBosTokenId);
        const output = (await model.generate({ ...inputs, ...kwargs } as never)) as {
          tolist(): bigint[][];
        };
        const [start, ...generated] = output.tolist()[0].map(Number);
        expect(start).toBe(2);
        expect(generated).toEqual(c.expected[i]);
        for (const id of generated.slice(1)) distinct.add(id);
      }
      // Non-trivial outputs: many different tokens after the forced language, not one repeated.
      expect(distinct.size).toBeGreaterThan(5);
      await model.dispose();
    }, 120_000);

    test("pipeline('translation') with src_lang / tgt_lang: our text for a padded batch; the int8 files run", async () => {
      const { pipeline } = await transformersJs();
      const { src_lang, tgt_lang } = reference(name);
      const c = cases.get(name)!;
      const options = { src_lang, tgt_lang, max_new_tokens: MAX_NEW_TOKENS, num_beams: 1 };
      const translator = await pipeline('translation', name, { dtype: 'fp32' });
      const batch = (await translator(c.sentences, options as never)) as { translation_text: string }[];
      // Our batch greedy (finished rows fed <pad>, as HF and transformers.js do) decoded by our tokenizer.
      const ours = greedyGenerate(c.model, c.sources, {
        forcedBosTokenId: c.tokenizer.forcedBosTokenId,
        maxNewTokens: MAX_NEW_TOKENS,
      });
      expect(batch.map((r) => r.translation_text)).toEqual(ours.map((ids) => c.tokenizer.decode(ids)));
      expect(batch.map((r) => r.translation_text).filter((t) => t.length > 0).length).toBeGreaterThan(0);
      await translator.dispose();

      const quantized = await pipeline('translation', name, { dtype: 'q8' });
      const q8 = (await quantized(c.sentences[0], options as never)) as { translation_text: string }[];
      expect(typeof q8[0].translation_text).toBe('string');
      await quantized.dispose();
    }, 120_000);

    // transformers.js 2.x sizes the empty cross-attention past of the first decoder call with
    // config.encoder_attention_heads (4.x with the decoder's), while the cross-attention keys have the decoder's
    // heads: the fixtures' 2 vs 4 heads cannot run there. Published NLLB / M2M100 configs have equal counts
    // (16 / 16), so 2.x runs a copy with equal counts (the parameters do not depend on the head count).
    test('@xenova/transformers 2.17.2 (equal head counts): the same ids (fp32); its default int8 files run', async () => {
      const { AutoModelForSeq2SeqLM, AutoTokenizer, env } = await import('@xenova/transformers');
      env.allowRemoteModels = false;
      env.localModelPath = `${root}/`;
      const { src_lang: srcLang, tgt_lang: tgtLang } = reference(name);
      const c = cases.get(name)!;
      const dir = join(root, `${name}-equal-heads-model`);
      writePerturbedM2M100(name, dir, { srcLang, tgtLang }).model.dispose();
      const configPath = join(dir, 'config.json');
      const config = JSON.parse(readFileSync(configPath, 'utf8'));
      writeFileSync(
        configPath,
        JSON.stringify({ ...config, encoder_attention_heads: config.decoder_attention_heads }),
      );
      const variant = `${name}-equal-heads`;
      exportModelFolder({ model: nodeFolder(dir), out: nodeFolder(join(root, variant)), quantize: 'int8' });
      const { model: ours, tokenizer: ourTokenizer } = loadM2M100Folder(nodeFolder(dir), {
        srcLang,
        tgtLang,
      });
      const tokenizer = await AutoTokenizer.from_pretrained(variant);
      const model = await AutoModelForSeq2SeqLM.from_pretrained(variant, { quantized: false });
      try {
        for (const [i, sentence] of c.sentences.entries()) {
          const expected = greedyGenerate(ours, [c.sources[i]], {
            forcedBosTokenId: ourTokenizer.forcedBosTokenId,
            maxNewTokens: MAX_NEW_TOKENS,
          })[0];
          const kwargs: Record<string, unknown> = { src_lang: srcLang, tgt_lang: tgtLang };
          const { input_ids } = (
            tokenizer as unknown as {
              _build_translation_inputs(t: string, o: object, k: object): { input_ids: unknown };
            }
          )._build_translation_inputs(sentence, { padding: true, truncation: true }, kwargs);
          const output = (await model.generate(
            input_ids as never,
            {
              max_new_tokens: MAX_NEW_TOKENS,
              num_beams: 1,
              do_sample: false,
              forced_bos_token_id: kwargs.forced_bos_token_id,
            } as never,
          )) as (number | bigint)[][];
          expect(output[0].map(Number)).toEqual([2, ...expected]);
        }
      } finally {
        ours.dispose();
        await model.dispose();
      }
      const quantized = await AutoModelForSeq2SeqLM.from_pretrained(variant);
      const { input_ids } = tokenizer(c.sentences[0]);
      const output = (await quantized.generate(input_ids, { max_new_tokens: 4 } as never)) as unknown[][];
      expect(output[0].length).toBeGreaterThan(1);
      await quantized.dispose();
    }, 120_000);
  },
);
