import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportBest, initNodeBackend } from '@encouraging-loss/translate/node';
import { beforeAll, describe, expect, test } from 'vitest';
import { writePerturbedM2M100, writeTinyModel } from '../../../../packages/translate/test/export-fixture.js';

// The built CLI (bundled by the vitest global setup), as a user runs it.
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'el-export-cli-'));
const run = (...args: string[]) => spawnSync('node', [CLI, 'export', ...args], { encoding: 'utf8' });

beforeAll(async () => {
  await initNodeBackend('wasm');
  writeTinyModel(join(root, 'model')).dispose();
}, 120_000);

describe('el-translate export', () => {
  test('--quantize both writes fp32 and int8 graphs and prints the two lines for transformers.js', () => {
    const out = join(root, 'exported');
    const result = run('--model', join(root, 'model'), '--out', out, '--quantize', 'both');
    expect(result.status, result.stderr).toBe(0);
    const { files } = JSON.parse(result.stdout) as { files: { path: string; bytes: number }[] };
    expect(files.map((f) => f.path).sort()).toEqual(
      [
        'config.json',
        'generation_config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'onnx/encoder_model.onnx',
        'onnx/decoder_model_merged.onnx',
        'onnx/encoder_model_quantized.onnx',
        'onnx/decoder_model_merged_quantized.onnx',
      ].sort(),
    );
    for (const f of files) expect(existsSync(join(out, f.path))).toBe(true);
    expect(result.stderr).toContain("pipeline('translation', 'exported', { dtype: 'fp32' })");
  }, 120_000);

  test('an M2M100 folder (vocab.json + sentencepiece.bpe.model) exports with a converted tokenizer.json', () => {
    const out = join(root, 'm2m100');
    const fixture = fileURLToPath(
      new URL('../../../../packages/translate/fixtures/m2m100-tiny', import.meta.url),
    );
    const result = run('--model', fixture, '--out', out, '--quantize', 'int8');
    expect(result.status, result.stderr).toBe(0);
    const { files } = JSON.parse(result.stdout) as { files: { path: string }[] };
    expect(files.map((f) => f.path).sort()).toEqual(
      [
        'config.json',
        'generation_config.json',
        'sentencepiece.bpe.model',
        'special_tokens_map.json',
        'vocab.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'onnx/encoder_model.onnx',
        'onnx/decoder_model_merged.onnx',
        'onnx/encoder_model_quantized.onnx',
        'onnx/decoder_model_merged_quantized.onnx',
      ].sort(),
    );
    const generation = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8'));
    expect(generation.decoder_start_token_id).toBe(2);
    const tokenizerConfig = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
    expect(tokenizerConfig.tokenizer_class).toBe('M2M100Tokenizer');
    expect(result.stderr).toContain(
      "translate('The printer is broken.', { src_lang: 'en', tgt_lang: 'de' })",
    );
  }, 120_000);

  test.each([
    ['nllb-200-tiny', 'eng_Latn', 'deu_Latn'],
    ['m2m100-tiny', 'en', 'de'],
  ])(
    '%s: el-translate translate --beam 1 and the exported folder in transformers.js 4.x give the same text',
    async (name, srcLang, tgtLang) => {
      const folder = join(root, `${name}-model`);
      const { model, tokenizer } = writePerturbedM2M100(name, folder, { srcLang, tgtLang });
      model.dispose();
      const sentences = ['the nuts and bolts', 'rise of the continental margin', 'The printer is broken.'];
      const cli = spawnSync(
        'node',
        [
          CLI,
          'translate',
          '--model',
          folder,
          '--src-lang',
          srcLang,
          '--tgt-lang',
          tgtLang,
          '--beam',
          '1',
          '--quiet',
        ],
        { encoding: 'utf8', input: `${sentences.join('\n')}\n` },
      );
      expect(cli.status, cli.stderr).toBe(0);
      const out = join(root, name);
      expect(run('--model', folder, '--out', out, '--quiet').status).toBe(0);
      const { env, pipeline } = await import('@huggingface/transformers');
      env.allowRemoteModels = false;
      env.localModelPath = `${root}/`;
      const translator = await pipeline('translation', name, { dtype: 'fp32' });
      const texts: string[] = [];
      for (const sentence of sentences) {
        // translate's own length cap (1.5 × source tokens + 10, below max_position_embeddings), the forced
        // language included, as max_new_tokens counts it.
        const cap = Math.min(Math.ceil(1.5 * tokenizer.encodeSource(sentence).length) + 10, 64 - 1);
        const [result] = (await translator(sentence, {
          src_lang: srcLang,
          tgt_lang: tgtLang,
          max_new_tokens: cap,
          num_beams: 1,
        } as never)) as { translation_text: string }[];
        texts.push(result.translation_text);
      }
      await translator.dispose();
      expect(`${texts.join('\n')}\n`).toBe(cli.stdout);
      expect(texts.some((t) => t.length > 0)).toBe(true);
    },
    120_000,
  );

  test('--external-data always writes the weights of every graph to <graph>.onnx_data and lists them in config.json', () => {
    const out = join(root, 'external');
    const result = run('--model', join(root, 'model'), '--out', out, '--external-data', 'always', '--quiet');
    expect(result.status, result.stderr).toBe(0);
    const { files } = JSON.parse(result.stdout) as { files: { path: string; bytes: number }[] };
    const paths = files.map((f) => f.path);
    expect(paths).toContain('onnx/encoder_model.onnx_data');
    expect(paths).toContain('onnx/decoder_model_merged.onnx_data');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({
      use_external_data_format: { 'encoder_model.onnx': 1, 'decoder_model_merged.onnx': 1 },
    });
  }, 120_000);

  test('bad flags and folders are INVALID_OPTION / INVALID_DATA', () => {
    const bad = run('--model', join(root, 'model'), '--out', join(root, 'x'), '--quantize', 'int4');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/\[INVALID_OPTION\] --quantize must be none, int8 or both, got int4/);
    const data = run('--model', join(root, 'model'), '--out', join(root, 'x'), '--external-data', 'yes');
    expect(data.status).toBe(1);
    expect(data.stderr).toMatch(/\[INVALID_OPTION\] --external-data must be auto, always or never, got yes/);
    const missing = run('--model', join(root, 'nowhere'), '--out', join(root, 'y'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/\[INVALID_DATA\].*nowhere/);
    expect(run('--out', join(root, 'z')).stderr).toMatch(/\[INVALID_OPTION\] --model is required/);
  }, 120_000);

  test('exportBest (the end of el-translate demo) exports the highest-BLEU folder and says how to run it', () => {
    writeTinyModel(join(root, 'other'), { seed: 9 }).dispose();
    const out = join(root, 'best');
    const lines = exportBest(
      [
        { dir: join(root, 'other'), bleu: 3.5 },
        { dir: join(root, 'model'), bleu: 12.25 },
      ],
      out,
    );
    expect(lines[0]).toBe(`exported ${join(root, 'model')} (best in-domain BLEU 12.25) → ${out}`);
    expect(lines.slice(-2).join('\n')).toContain(`env.localModelPath = '${root}/'`);
    expect(lines.slice(-1)[0]).toContain("pipeline('translation', 'best', { dtype: 'fp32' })");
    expect(existsSync(join(out, 'onnx', 'decoder_model_merged_quantized.onnx'))).toBe(true);
  }, 120_000);
});
