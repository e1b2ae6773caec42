import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTsv } from '@encouraging-loss/translate/node';
import { expect, test } from 'vitest';
import { GENERAL, generateCorpus } from '../demo/demo-data.js';

// The wasm backend's thread count (--threads, default every core) changes who computes a product's output rows
// (XNNPACK's tiles, the app kernels' pool's chunks), not the order of any sum: the same run with 1, 2 and 3 threads
// (3: chunks of uneven sizes, more threads than this machine's cores) must write bit-identical weights and print
// the same losses. One process per thread count (the backend is process-wide).
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'el-threads-'));
const pairs = generateCorpus({ seed: 7, size: 120, lexicon: GENERAL });
const trainFile = join(dir, 'train.tsv');
writeFileSync(trainFile, formatTsv(pairs));

function trainWith(threads: number) {
  const out = join(dir, `t${threads}`);
  const args = ['train', '--train', trainFile, '--out', out, '--config', 'small', '--vocab-size', '200'];
  args.push('--max-steps', '4', '--log-every', '1', '--loss', 'cel', '--label-smoothing', '0.1', '--quiet');
  execFileSync('node', [CLI, ...args, '--threads', String(threads)], { encoding: 'utf8' });
  const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.type === 'train')
    .map((entry) => [entry.step, entry.loss, entry.nll, entry.bonus]);
  return { losses, weights: readFileSync(join(out, 'model.safetensors')) };
}

test('training with 1, 2 and 3 wasm threads gives bit-identical weights and losses', () => {
  const one = trainWith(1);
  expect(one.losses).toHaveLength(4);
  for (const threads of [2, 3]) {
    const other = trainWith(threads);
    expect(other.losses).toEqual(one.losses);
    expect(other.weights.equals(one.weights)).toBe(true);
  }
});

test('translating with 1 and 2 threads (XNNPACK on both for decoding) prints the same translations', () => {
  const input = join(dir, 'input.txt');
  writeFileSync(
    input,
    `${pairs
      .slice(0, 6)
      .map((p) => p.source)
      .join('\n')}\n`,
  );
  const translate = (threads: number) =>
    execFileSync(
      'node',
      [
        CLI,
        'translate',
        '--model',
        join(dir, 't1'),
        '--input',
        input,
        '--beam',
        '3',
        '--threads',
        String(threads),
      ],
      { encoding: 'utf8' },
    );
  const one = translate(1);
  expect(one.trim().split('\n')).toHaveLength(6);
  expect(translate(2)).toBe(one);
});

test('--threads must be a positive integer', () => {
  expect(() =>
    execFileSync('node', [CLI, 'translate', '--model', dir, '--threads', '0'], {
      encoding: 'utf8',
      stdio: 'pipe',
    }),
  ).toThrow(/--threads must be a positive integer, got 0/);
});
