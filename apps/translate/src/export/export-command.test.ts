import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../training/backend.js';
import { exportBest } from './export-folder.js';
import { writeTinyModel } from './test-fixture.js';

// The built CLI (bundled by the vitest global setup), as a user runs it.
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'el-export-cli-'));
const run = (...args: string[]) => spawnSync('node', [CLI, 'export', ...args], { encoding: 'utf8' });

beforeAll(async () => {
  await initBackend('wasm');
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

  test('bad flags and folders are INVALID_OPTION / INVALID_DATA', () => {
    const bad = run('--model', join(root, 'model'), '--out', join(root, 'x'), '--quantize', 'int4');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/\[INVALID_OPTION\] --quantize must be none, int8 or both, got int4/);
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
