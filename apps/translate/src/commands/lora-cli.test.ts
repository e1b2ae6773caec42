import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeAdapterFolder } from '@encouraging-loss/translate';
import { initNodeBackend, nodeFolder } from '@encouraging-loss/translate/node';
import { afterEach, beforeAll, expect, test, vi } from 'vitest';
import { exportCommand } from './export.js';
import { scoreCommand } from './score.js';
import { trainCommand } from './train.js';
import { translateCommand } from './translate.js';

/*
 * The CLI with LoRA on the OPUS-MT (Marian) fixture: `train --lora` writes an adapter; `translate` / `score`
 * `--adapter` apply it unmerged and agree with the merged folder; `export` of the adapter folder merges first.
 */

const OPUS = fileURLToPath(new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'el-lora-cli-'));
const lines = (file: string) => readFileSync(join(OPUS, file), 'utf8').split('\n').slice(0, 40);
const targets = lines('test-sentences.de').map((t) => t.replaceAll('\t', ' '));
const sources = lines('test-sentences.en').map((t) => t.replaceAll('\t', ' '));
const data = join(work, 'pairs.tsv');
writeFileSync(data, sources.map((s, i) => `${s}\t${targets[i]}\n`).join(''));
const input = join(work, 'input.en');
writeFileSync(input, `${sources.join('\n')}\n`);

beforeAll(async () => {
  await initNodeBackend('wasm');
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs a command in this process; returns what it wrote to stdout. */
async function run(command: { run(argv: string[]): Promise<void> }, argv: string[]): Promise<string> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await command.run(argv);
  } finally {
    vi.restoreAllMocks();
  }
  return stdout;
}

test('train --lora → translate/score --adapter (unmerged) = the merged folder; export merges an adapter folder', async () => {
  const adapter = join(work, 'adapter');
  const trained = await run(trainCommand, [
    ...['--train', data, '--src', 'en', '--tgt', 'de', '--out', adapter, '--init', OPUS],
    ...['--lora', '4', '--lora-alpha', '16', '--lora-targets', 'q_proj,v_proj,fc1', '--loss', 'cel'],
    ...['--max-steps', '6', '--lr', '0.05', '--warmup', '1', '--quiet'],
  ]);
  expect(JSON.parse(trained).steps).toBe(6);
  const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  expect(config.target_modules).toEqual(['fc1', 'q_proj', 'v_proj']);
  expect(config.r).toBe(4);

  const merged = join(work, 'merged');
  mergeAdapterFolder({ adapter: nodeFolder(adapter), base: nodeFolder(OPUS), out: nodeFolder(merged) });
  const score = async (argv: string[]) =>
    JSON.parse(await run(scoreCommand, [...argv, '--data', data, '--json', '--quiet'])).corpus.nll as number;
  const base = await score(['--model', OPUS]);
  const unmerged = await score(['--model', OPUS, '--adapter', adapter]);
  const fromMerged = await score(['--model', merged]);
  expect(Math.abs(unmerged - base)).toBeGreaterThan(1e-3);
  expect(Math.abs(unmerged - fromMerged)).toBeLessThan(1e-5);
  const translate = (argv: string[]) =>
    run(translateCommand, [...argv, '--input', input, '--beam', '1', '--quiet']);
  expect(await translate(['--model', OPUS, '--adapter', adapter])).toBe(await translate(['--model', merged]));

  const exported = join(work, 'onnx');
  await run(exportCommand, ['--model', adapter, '--out', exported, '--quiet']);
  for (const file of ['config.json', 'onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx']) {
    expect(existsSync(join(exported, file)), file).toBe(true);
  }
}, 300_000);

test('LoRA flags without --lora, and a bad rank, are refused naming the flag', async () => {
  const argv = ['--train', data, '--out', join(work, 'no'), '--init', OPUS];
  await expect(run(trainCommand, [...argv, '--lora-alpha', '16'])).rejects.toThrow(
    /--lora-alpha sets up LoRA; it needs --lora R/,
  );
  await expect(run(trainCommand, [...argv, '--lora', 'x'])).rejects.toThrow(/--lora must be a number, got x/);
  await expect(run(trainCommand, [...argv, '--lora', '0'])).rejects.toThrow(
    /--lora must be a positive integer rank/,
  );
  await expect(run(trainCommand, [...argv, '--lora', '2', '--lora-targets', 'nope'])).rejects.toThrow(
    /--lora-targets nope match no linear layer/,
  );
  expect(existsSync(join(work, 'no', 'run.json'))).toBe(false);
});
