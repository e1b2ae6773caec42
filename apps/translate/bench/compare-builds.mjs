// Times the training step (and with --decode, greedy and beam-5 decoding) of two builds of el-translate and of
// PyTorch side by side, one operation of each in turn (the protocol of `el-translate bench`), and prints medians
// and paired ratios against PyTorch's one thread. For before/after figures of a change, measured in one run:
//
//   git worktree add /tmp/before <commit> && (cd /tmp/before && pnpm install --frozen-lockfile && pnpm build)
//   pnpm build && flock /tmp/bench.lock node bench/compare-builds.mjs --before /tmp/before/apps/translate/dist \
//     --shape base --steps 3 --decode
//
// Engines: `before` (dist/cli.js of another checkout, optional), `after` (this checkout's dist/cli.js),
// `PyTorch 1T` (bench/step_bench.py with /usr/bin/python3 or python3, when torch imports).
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    before: { type: 'string' },
    shape: { type: 'string', default: 'small' },
    steps: { type: 'string', default: '5' },
    batch: { type: 'string' },
    decode: { type: 'boolean', default: false },
  },
});
const shapes = {
  small: {
    preset: 'small',
    vocab: 1000,
    batch: 80,
    length: 25,
    ids: { pad: 0, eos: 1, start: 0 },
    decodeBatch: 32,
  },
  base: {
    preset: 'base',
    vocab: 58101,
    batch: 8,
    length: 25,
    ids: { pad: 58100, eos: 0, start: 58100 },
    decodeBatch: 8,
  },
};
const shape = { ...shapes[args.shape], ...(args.batch ? { batch: Number(args.batch) } : {}) };
if (!shape.preset) throw new Error(`--shape must be small or base, got ${args.shape}`);

function start(name, command, commandArgs, env) {
  const child = spawn(command, commandArgs, {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const ask = (request) =>
    new Promise((resolve, reject) => {
      waiting.push((a) => (a.error ? reject(new Error(`${name}: ${a.error}`)) : resolve(a)));
      child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  return { name, child, ask };
}

const worker = { EL_TRANSLATE_BENCH_WORKER: '1' };
const engines = [];
if (args.before)
  engines.push(start('before', process.execPath, [join(args.before, 'cli.js'), 'bench'], worker));
engines.push(start('after', process.execPath, [join(here, '../dist/cli.js'), 'bench'], worker));
const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch']).status === 0);
if (python) {
  engines.push(
    start('PyTorch 1T', python, [join(here, 'step_bench.py'), '--threads', '1'], {
      OMP_NUM_THREADS: '1',
      OPENBLAS_NUM_THREADS: '1',
    }),
  );
} else console.error('PyTorch skipped: no python3 with torch');
const reference = engines[engines.length - 1].name;
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Alternates `request` over the engines for `rounds` rounds after one warm-up round; prints medians and ratios. */
async function measure(label, request, rounds) {
  const ms = Object.fromEntries(engines.map((e) => [e.name, []]));
  for (let round = 0; round < rounds + 1; round++) {
    for (let i = 0; i < engines.length; i++) {
      const e = engines[(i + round) % engines.length];
      const answer = await e.ask(request);
      if (round > 0) ms[e.name].push(answer.ms);
    }
  }
  for (const e of engines) {
    const ratios = ms[e.name].map((t, i) => t / ms[reference][i]);
    console.log(
      `${label.padEnd(14)} ${e.name.padEnd(11)} ${median(ms[e.name]).toFixed(0).padStart(7)} ms  ×${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) vs ${reference}`,
    );
  }
}

for (const e of engines) await e.ask({ cmd: 'setup', ...shape });
console.log(`${args.shape}: ${shape.batch} × ${shape.length} target tokens, vocab ${shape.vocab}`);
await measure('training step', { cmd: 'step' }, Number(args.steps));
if (args.decode) {
  const decode = { batch: shape.decodeBatch, sourceLength: 20, maxLength: 40 };
  await measure('greedy', { cmd: 'greedy', ...decode }, 3);
  await measure('beam 5', { cmd: 'beam', beam: 5, ...decode }, 3);
}
for (const e of engines) {
  const m = await e.ask({ cmd: 'memory' });
  const heap = m.wasmHeap ? ` (wasm heap ${(m.wasmHeap / 2 ** 20).toFixed(0)} MiB)` : '';
  console.log(`peak RSS ${e.name.padEnd(11)} ${(m.maxRss / 2 ** 20).toFixed(0)} MiB${heap}`);
  e.child.stdin.end();
}
