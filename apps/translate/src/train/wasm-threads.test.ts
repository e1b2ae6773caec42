import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

// The CLI built by test-setup/build-cli.ts; `el-translate bench` answers one engine's requests when
// EL_TRANSLATE_BENCH_WORKER gives its thread count (see src/training/bench.ts).
const cli = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));

function logits(
  threads: number,
  env: Record<string, string> = {},
): { logits: number[]; threads: number; xnnpackThreads: number } {
  const requests = [{ cmd: 'setup', preset: 'small', vocab: 300, batch: 8, length: 25 }, { cmd: 'logits' }];
  const run = spawnSync(process.execPath, [cli, 'bench'], {
    input: requests.map((r) => JSON.stringify(r)).join('\n'),
    encoding: 'utf8',
    env: { ...process.env, EL_TRANSLATE_BENCH_WORKER: String(threads), ...env },
    timeout: 120_000,
  });
  expect(run.status, run.stderr).toBe(0);
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

test('two threads (threaded SIMD build under Node) give bit-identical logits to one, with the kernel pool or XNNPACK', () => {
  const one = logits(1);
  expect(one.threads).toBe(1);
  expect(one.logits.length).toBe(2 * 25 * 300);
  // The default: the app kernels' pool on two threads, XNNPACK on one.
  const pooled = logits(2);
  expect([pooled.threads, pooled.xnnpackThreads]).toEqual([2, 1]);
  expect(pooled.logits).toEqual(one.logits);
  // As before the pool (and as decoding runs): the products on XNNPACK's two threads.
  const xnnpack = logits(2, { EL_TRANSLATE_BENCH_POOL: 'off', EL_TRANSLATE_BENCH_XNNPACK: '2' });
  expect(xnnpack.xnnpackThreads).toBe(2);
  expect(xnnpack.logits).toEqual(one.logits);
}, 300_000);
