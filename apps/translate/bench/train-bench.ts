import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  backendThreads,
  type Example,
  experimental_setAppKernels,
  experimental_setKernelPool,
  HostAdam,
  lossOptions,
  makeConfig,
  projectedLossWithGrad,
  Rng,
  trainingStep,
} from '@encouraging-loss/translate';
import {
  initNodeBackend,
  type MarianConfig,
  MarianModel,
  translateIds,
} from '@encouraging-loss/translate/node';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { OPUS_MT_BASE } from './fine-tune-bench.js';

/**
 * `el-translate bench`: one training step (forward, label-smoothed CE 0.1, backward, clipped Adam) of this app and
 * of the same architecture in PyTorch (bench/torch_marian.py, when a python3 with torch is found), each engine in
 * its own process, one step of each in turn so load changes on the shared machine hit all of them alike; the same
 * for greedy and beam-5 decoding. Our step runs on 1 thread and on all cores (the app kernels' pool with tfjs's
 * XNNPACK threads; and, as before that pool, the 2-D products on XNNPACK's threads), PyTorch's on 1 and 2 threads.
 * Reports per-pair ratios, a per-phase profile of our 1-thread step and peak memory, and writes
 * `bench/results.json`.
 */
export async function runBench(options: BenchOptions): Promise<void> {
  const worker = process.env.EL_TRANSLATE_BENCH_WORKER;
  if (worker) return serve(Number(worker));
  await orchestrate(options);
}

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Folder of `results.json`. */
  out: string;
  /** The small shape only, fewer samples. */
  quick?: boolean;
  /** Sentences of 25 tokens per OPUS-MT base step (default 8: 200 target tokens). */
  baseBatch?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes

/** A benchmarked shape: model sizes, and the batch of the step (`batch` sentences of `length` tokens each side). */
interface Shape {
  name: string;
  preset: 'small' | 'base';
  vocab: number;
  batch: number;
  length: number;
  /** Decoding: sentences per batch and their source length (the cap is ⌈1.5·length⌉ + 10 new tokens). */
  decodeBatch: number;
  decodeLength: number;
}

const SHAPES: Shape[] = [
  // The demo's model and vocabulary at the trainer's default 2,000 target tokens per batch.
  { name: 'small', preset: 'small', vocab: 1000, batch: 80, length: 25, decodeBatch: 32, decodeLength: 20 },
  // OPUS-MT base (74M parameters) at 200 target tokens (the figure the issue started from; a step of ours takes
  // about a minute at 2,000). `--base-batch N` sets the sentences (of 25 tokens) per step.
  {
    name: 'opus-mt-base',
    preset: 'base',
    vocab: 58101,
    batch: 8,
    length: 25,
    decodeBatch: 8,
    decodeLength: 20,
  },
];

/** The model of a shape: the app's `small` preset, or the OPUS-MT base config (pad 58100, EOS 0). */
function shapeConfig(preset: 'small' | 'base', vocab: number): MarianConfig {
  return preset === 'base' ? { ...OPUS_MT_BASE, vocab_size: vocab } : makeConfig(vocab, 'small');
}

// ---------------------------------------------------------------------------------------------------------------
// The worker: one engine (our app) answering the JSON-line protocol of bench/step_bench.py.

interface Request {
  cmd: string;
  preset?: 'small' | 'base';
  vocab?: number;
  batch?: number;
  length?: number;
  sourceLength?: number;
  maxLength?: number;
  beam?: number;
  profile?: boolean;
  kernels?: boolean;
  ids?: { pad: number; eos: number; start: number };
}

interface StepState {
  model: MarianModel;
  examples: Example[];
  optimizer: HostAdam;
  step: number;
  rng: Rng;
}

async function serve(threads: number): Promise<void> {
  const xnnpack = process.env.EL_TRANSLATE_BENCH_XNNPACK;
  const backend = await initNodeBackend('wasm', {
    threads,
    xnnpackThreads: xnnpack ? Number(xnnpack) : undefined,
  });
  // The step as it was before the app's own kernels: every product on tfjs's kernels.
  if (process.env.EL_TRANSLATE_BENCH_KERNELS === 'off') experimental_setAppKernels(false);
  // Threads as before the app kernels' pool: the 2-D products on XNNPACK's threads, the rest on one.
  if (process.env.EL_TRANSLATE_BENCH_POOL === 'off') experimental_setKernelPool(false);
  let state: StepState | undefined;
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const request = JSON.parse(line) as Request;
    let answer: Record<string, unknown>;
    try {
      answer = await handle(request, state, (s) => {
        state = s;
      });
      answer.backend = backend;
    } catch (error) {
      answer = { error: (error as Error).message };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

async function handle(
  request: Request,
  state: StepState | undefined,
  setState: (s: StepState) => void,
): Promise<Record<string, unknown>> {
  switch (request.cmd) {
    case 'setup': {
      state?.model.dispose();
      const config = shapeConfig(request.preset!, request.vocab!);
      const rng = new Rng(1);
      const model = new MarianModel(config, rng);
      // Ids in [3, V − 1): never padding (0 in the small preset, V − 1 in OPUS-MT), so no position is masked.
      const random = () => Array.from({ length: request.length! }, () => 3 + rng.int(config.vocab_size - 4));
      const examples = Array.from({ length: request.batch! }, () => ({ source: random(), target: random() }));
      setState({ model, examples, optimizer: new HostAdam(model.params), step: 0, rng });
      let parameters = 0;
      for (const p of model.params.values()) parameters += p.size;
      return { parameters };
    }
    case 'step': {
      const s = state!;
      const started = performance.now();
      let phases: Record<string, number> | undefined;
      let kernels: Record<string, number> | undefined;
      if (request.profile) phases = profiledStep(s);
      else if (request.kernels) kernels = await kernelProfile(s);
      else step(s);
      return { ms: performance.now() - started, phases, kernels };
    }
    case 'greedy':
    case 'beam': {
      const s = state!;
      const bias = s.model.outputBias;
      const saved = tf.clone(bias);
      const eos = s.model.config.eos_token_id;
      // EOS never wins, so every sentence decodes to the cap on both engines (same work whatever the weights).
      bias.assign(tf.tidy(() => tf.add(saved, tf.mul(tf.oneHot([eos], s.model.config.vocab_size), -1e4))));
      const rng = new Rng(3);
      const sources = Array.from({ length: request.batch! }, () =>
        Array.from({ length: request.sourceLength! }, () => 3 + rng.int(s.model.config.vocab_size - 4)),
      );
      const started = performance.now();
      translateIds(s.model, sources, {
        beam: request.cmd === 'greedy' ? 1 : request.beam!,
        maxLength: request.maxLength,
      });
      const ms = performance.now() - started;
      bias.assign(saved);
      saved.dispose();
      return { ms };
    }
    case 'logits': {
      // The teacher-forced logits of the first two examples, no dropout (the encoder sees all): engines must agree.
      const s = state!;
      const pick = s.examples.slice(0, 2);
      const values = tf.tidy(() => {
        const source = tf.tensor2d(
          pick.map((e) => e.source),
          undefined,
          'int32',
        );
        const target = tf.tensor2d(
          pick.map((e) => e.target),
          undefined,
          'int32',
        );
        return s.model.decode(target, s.model.encode(source)).dataSync();
      });
      return { logits: Array.from(values), threads: backendThreads(), xnnpackThreads: getThreadsCount() };
    }
    case 'memory': {
      const wasm = (
        tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array; wasmMemory?: WebAssembly.Memory } }
      ).wasm;
      const heap = wasm?.wasmMemory?.buffer.byteLength ?? wasm?.HEAPU8?.byteLength;
      return { maxRss: process.resourceUsage().maxRSS * 1024, wasmHeap: heap };
    }
    default:
      return { error: `unknown command ${request.cmd}` };
  }
}

/** The trainer's step (training/train.ts): gradients of one batch ÷ its tokens, clipping, Adam. */
function step(s: StepState): void {
  s.step += 1;
  trainingStep(s.model, s.optimizer, s.examples, [s.examples.map((_, i) => i)], STEP_LOSS, {
    rng: s.rng,
    lr: 1e-3,
    t: s.step,
  });
}

const STEP_LOSS = lossOptions({ kind: 'ce', labelSmoothing: 0.1 });

// ---------------------------------------------------------------------------------------------------------------
// The profile: wall time per phase of one step. The wasm backend runs every kernel synchronously, so the time spent
// inside a model method is the time of its kernels. A phase counts from the outermost wrapped call (the attention's
// projections count as attention, the FFN's linears as FFN). The trainer checkpoints activations per layer, so the
// forward phases include the recomputation of each layer before its backward.

const PHASE_OF_METHOD: Record<string, string> = {
  embedInputs: 'embedding (+ dropout)',
  query: 'attention',
  heads: 'attention',
  attend: 'attention',
  linear: 'attention', // called directly only for the k/v projections; nested calls belong to the caller's phase
  feedForward: 'FFN',
  layerNorm: 'layer norm',
};

function profiledStep(s: StepState): Record<string, number> {
  const phases: Record<string, number> = {};
  const add = (phase: string, ms: number) => {
    phases[phase] = (phases[phase] ?? 0) + ms;
  };
  const prototype = MarianModel.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  let depth = 0;
  for (const [method, phase] of Object.entries(PHASE_OF_METHOD)) {
    const original = prototype[method];
    if (typeof original !== 'function') continue;
    originals.set(method, original);
    prototype[method] = function (this: unknown, ...args: unknown[]) {
      if (depth > 0) return original.apply(this, args);
      depth++;
      const started = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        add(phase, performance.now() - started);
        depth--;
      }
    };
  }
  // Every tape the trainer runs (one per layer, one per embedding): the time after its function returned is the
  // backward (vector–Jacobian products).
  const engine = tf.engine() as unknown as { gradients: (...args: unknown[]) => unknown };
  const gradients = engine.gradients;
  engine.gradients = function (this: unknown, ...args: unknown[]) {
    const f = args[0] as () => tf.Tensor;
    let forwardEnded = 0;
    const result = gradients.call(
      this,
      () => {
        const y = f();
        forwardEnded = performance.now();
        return y;
      },
      ...args.slice(1),
    );
    add('backward (tape vector–Jacobian products)', performance.now() - forwardEnded);
    return result;
  };
  const optimizerStep = s.optimizer.step;
  s.optimizer.step = function (this: HostAdam, ...args: Parameters<HostAdam['step']>) {
    const started = performance.now();
    const norm = optimizerStep.apply(this, args);
    add('optimizer (host Adam)', performance.now() - started);
    return norm;
  };
  const started = performance.now();
  try {
    step(s);
    const total = performance.now() - started;
    const named = Object.values(phases).reduce((a, b) => a + b, 0);
    phases['output projection + loss, residuals, dropout, gradients to host'] = total - named;
    phases.total = total;
  } finally {
    engine.gradients = gradients;
    delete (s.optimizer as unknown as Record<string, unknown>).step;
    for (const [method, original] of originals) prototype[method] = original;
  }
  // The output projection + loss alone (the trainer's chunked pass, same shapes), timed separately.
  const { config } = s.model;
  const tokens = s.examples.reduce((n, e) => n + e.target.length, 0);
  const hidden = tf.randomNormal([tokens, config.d_model]) as tf.Tensor2D;
  const labels = Int32Array.from(s.examples.flatMap((e) => e.target));
  const projectionStarted = performance.now();
  const projected = projectedLossWithGrad(
    hidden,
    s.model.outputWeight,
    s.model.outputBias,
    labels,
    STEP_LOSS,
  );
  projected.dHidden.dataSync();
  phases['of which output projection + loss (timed alone)'] = performance.now() - projectionStarted;
  tf.dispose([hidden, projected.dHidden]);
  projected.dWeight?.dispose();
  return phases;
}

/** Milliseconds per tfjs kernel name over one step (tf.profile: every kernel, forward and backward, timed). */
async function kernelProfile(s: StepState): Promise<Record<string, number>> {
  const info = await tf.profile(() => {
    step(s);
  });
  const byName: Record<string, number> = {};
  for (const k of info.kernels) {
    // Matrix products by shape: tfjs-wasm runs batch-1 products on XNNPACK and batched ones on a scalar loop.
    const shapes = k.inputShapes.map((s) => `[${s}]`).join('×');
    const name =
      k.name === 'BatchMatMul' || process.env.EL_TRANSLATE_BENCH_SHAPES ? `${k.name} ${shapes}` : k.name;
    byName[name] = (byName[name] ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0);
  }
  return Object.fromEntries(Object.entries(byName).sort((a, b) => b[1] - a[1]));
}

// ---------------------------------------------------------------------------------------------------------------
// The orchestrator: starts the engines, alternates them, reports.

interface Engine {
  name: string;
  process: ChildProcessWithoutNullStreams;
  ask(request: Request): Promise<Record<string, unknown>>;
}

function startEngine(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Engine {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: ((answer: Record<string, unknown>) => void)[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.on('exit', (code) => {
    if (code)
      for (const w of waiting.splice(0)) w({ error: `${name} exited with ${code}: ${stderr.slice(-2000)}` });
  });
  return {
    name,
    process: child,
    ask(request) {
      return new Promise((resolve, reject) => {
        waiting.push((answer) =>
          answer.error ? reject(new Error(`${name}: ${answer.error}`)) : resolve(answer),
        );
        child.stdin.write(`${JSON.stringify(request)}\n`);
      });
    },
  };
}

/** A python3 that imports torch: PATH's first, then Debian's (python3-torch installs into /usr/bin/python3). */
/** A python3 that imports torch (PATH's first, then Debian's), or undefined. */
export function findTorchPython(): string | undefined {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import torch'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, min, max and the samples of a list of timings. */
export function summary(values: number[]) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), samples: values };
}

async function orchestrate(options: BenchOptions): Promise<void> {
  const cli = process.argv[1];
  const benchDir = [
    fileURLToPath(new URL('../src/bench', import.meta.url)),
    join(process.cwd(), 'bench'),
  ].find((d) => existsSync(join(d, 'step_bench.py')));
  const python = findTorchPython();
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const engines: Engine[] = [];
  // All cores: what `el-translate train` runs by default; at least 2, so the threaded rows exist on any machine.
  const cores = Math.max(2, availableParallelism());
  for (const [name, threads, kernels, pool, xnnpack] of [
    ['el-translate 1T', 1, 'on', 'on', ''],
    ['el-translate 1T, tfjs kernels only', 1, 'off', 'on', ''],
    [`el-translate ${cores}T (all cores)`, cores, 'on', 'on', ''],
    // The design choice: tfjs's XNNPACK pool on every core too (the default gives it one thread).
    [`el-translate ${cores}T, XNNPACK also ${cores}T`, cores, 'on', 'on', String(cores)],
    // All cores as before the app kernels' pool: the 2-D products on XNNPACK's threads, the rest on one. What
    // `el-translate translate` / `eval` run (`workload: 'decoding'`): the decoding rows' reference.
    [`el-translate ${cores}T, XNNPACK products`, cores, 'on', 'off', String(cores)],
  ] as const) {
    engines.push(
      startEngine(name, process.execPath, [cli, 'bench'], {
        EL_TRANSLATE_BENCH_WORKER: String(threads),
        EL_TRANSLATE_BENCH_KERNELS: kernels,
        EL_TRANSLATE_BENCH_POOL: pool,
        EL_TRANSLATE_BENCH_XNNPACK: xnnpack,
      }),
    );
  }
  if (python && benchDir) {
    for (const threads of [1, 2]) {
      engines.push(
        startEngine(
          `PyTorch ${threads}T`,
          python,
          [join(benchDir, 'step_bench.py'), '--threads', String(threads)],
          {
            OMP_NUM_THREADS: String(threads),
            ...(threads > 1 ? { OMP_WAIT_POLICY: 'PASSIVE' } : {}),
          },
        ),
      );
    }
  } else {
    log(
      'PyTorch skipped: no python3 with torch found (Debian: apt install python3-torch libopenblas0-pthread).',
    );
  }
  const shapes = (options.quick ? SHAPES.slice(0, 1) : SHAPES).map((shape) =>
    shape.preset === 'base' && options.baseBatch ? { ...shape, batch: options.baseBatch } : shape,
  );
  const details: Report[] = [];
  try {
    for (const shape of shapes) details.push(await benchShape(shape, engines, options.quick ?? false, log));
  } finally {
    for (const e of engines) e.process.stdin.end();
  }
  mkdirSync(options.out, { recursive: true });
  const body = {
    date: new Date().toISOString(),
    node: process.version,
    results: details.flatMap(rows),
    details,
  };
  writeFileSync(join(options.out, 'results.json'), `${JSON.stringify(body, null, 2)}\n`);
}

type Summary = ReturnType<typeof summary>;
type Measured = Summary & {
  ratios: Record<string, Summary>;
  tokensPerSecond?: number;
  sentencesPerSecond?: number;
};

interface Report {
  shape: Shape;
  steps: Record<string, Measured>;
  decoding: Record<string, Record<string, Measured>>;
  [key: string]: unknown;
}

/** Rows in the format the root `pnpm bench` gathers: each engine against PyTorch 1T (or our 1T without torch). */
function rows(report: Report): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const add = (variant: string, entries: Report['steps']) => {
    const baseline = 'PyTorch 1T' in entries ? 'PyTorch 1T' : 'el-translate 1T';
    for (const [name, s] of Object.entries(entries)) {
      if (name === baseline) continue;
      const ratio = s.ratios[baseline]?.median ?? s.median / entries[baseline].median;
      out.push({
        backend: name,
        shape: [report.shape.batch, report.shape.length, report.shape.vocab],
        dtype: 'float32',
        variant: `${report.shape.name} ${variant}`,
        median: s.median,
        min: s.min,
        max: s.max,
        baseline: `${baseline} ${variant}`,
        baselineMedian: entries[baseline].median,
        ratio,
      });
    }
  };
  add('training step', report.steps);
  for (const [kind, entries] of Object.entries(report.decoding)) add(`${kind} decoding`, entries);
  return out;
}

async function benchShape(
  shape: Shape,
  allEngines: Engine[],
  quick: boolean,
  log: (message: string) => void,
): Promise<Report> {
  // The ablation (tfjs kernels only) at the small shape, where attention's batched products weigh most.
  const engines = allEngines.filter((e) => shape.preset === 'small' || !e.name.includes('tfjs kernels only'));
  const steps = quick ? 3 : shape.preset === 'base' ? 3 : 10;
  const decodes = quick ? 2 : 3;
  const warmup = shape.preset === 'base' ? 1 : 2;
  log(`\n== ${shape.name}: ${shape.batch} × ${shape.length} target tokens, vocab ${shape.vocab} ==`);
  const parameters: Record<string, unknown> = {};
  for (const e of engines) {
    const config = shapeConfig(shape.preset, shape.vocab);
    const answer = await e.ask({
      cmd: 'setup',
      ...shape,
      ids: { pad: config.pad_token_id, eos: config.eos_token_id, start: config.decoder_start_token_id },
    });
    parameters[e.name] = answer.parameters;
  }
  const ms: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e.name, []]));
  for (let round = 0; round < warmup + steps; round++) {
    // Rotate who goes first so no engine always follows the same one.
    for (let i = 0; i < engines.length; i++) {
      const e = engines[(i + round) % engines.length];
      const answer = await e.ask({ cmd: 'step' });
      if (round >= warmup) ms[e.name].push(answer.ms as number);
    }
  }
  const profile = (await engines[0].ask({ cmd: 'step', profile: true })).phases as Record<string, number>;
  const kernels = (await engines[0].ask({ cmd: 'step', kernels: true })).kernels as Record<string, number>;
  const decoding: Record<string, Record<string, number[]>> = { greedy: {}, beam5: {} };
  for (const [kind, request] of [
    ['greedy', { cmd: 'greedy' }],
    ['beam5', { cmd: 'beam', beam: 5 }],
  ] as const) {
    for (let round = 0; round < decodes + 1; round++) {
      for (let i = 0; i < engines.length; i++) {
        const e = engines[(i + round) % engines.length];
        const answer = await e.ask({
          ...request,
          batch: shape.decodeBatch,
          sourceLength: shape.decodeLength,
          maxLength: Math.ceil(1.5 * shape.decodeLength) + 10,
        });
        if (round >= 1) {
          decoding[kind][e.name] ??= [];
          decoding[kind][e.name].push(answer.ms as number);
        }
      }
    }
  }
  const memory: Record<string, unknown> = {};
  for (const e of engines) memory[e.name] = await e.ask({ cmd: 'memory' });

  const tokens = shape.batch * shape.length;
  const ours = engines[0].name;
  const report: Report = { shape, parameters, steps: {}, decoding: {}, profile, kernels, memory };
  log(`training step (${steps} alternating samples after ${warmup} warm-up rounds):`);
  for (const e of engines) {
    const s = summary(ms[e.name]);
    // Ratio to each PyTorch engine, pair by pair (samples of the same round).
    const ratios: Record<string, Summary> = {};
    for (const base of engines.filter((b) => b.name.startsWith('PyTorch'))) {
      const paired = ms[e.name].map((t, i) => t / ms[base.name][i]);
      ratios[base.name] = summary(paired);
    }
    report.steps[e.name] = { ...s, tokensPerSecond: (tokens / s.median) * 1000, ratios };
    const ratioText = Object.entries(ratios)
      .map(([b, r]) => {
        return `×${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) vs ${b}`;
      })
      .join(', ');
    log(
      `  ${e.name.padEnd(34)} ${s.median.toFixed(0).padStart(6)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})  ${Math.round((tokens / s.median) * 1000)} tok/s  ${ratioText}`,
    );
  }
  log(`profile of one ${ours} step (ms):`);
  for (const [phase, t] of Object.entries(profile)) log(`  ${phase.padEnd(48)} ${t.toFixed(1)}`);
  const kernelTotal = Object.values(kernels).reduce((a, b) => a + b, 0);
  log(`tfjs kernels of one step (tf.profile, ${kernelTotal.toFixed(0)} ms in kernels):`);
  for (const [name, t] of Object.entries(kernels).slice(0, 12)) {
    log(`  ${name.padEnd(24)} ${t.toFixed(1).padStart(8)} ms  ${((100 * t) / kernelTotal).toFixed(1)} %`);
  }
  for (const kind of ['greedy', 'beam5'] as const) {
    log(
      `${kind} decoding, ${shape.decodeBatch} sentences to ${Math.ceil(1.5 * shape.decodeLength) + 10} tokens:`,
    );
    const entry: Report['steps'] = {};
    for (const e of engines) {
      const s = summary(decoding[kind][e.name]);
      const paired = engines
        .filter((b) => b.name.startsWith('PyTorch'))
        .map((b) => {
          const r = summary(decoding[kind][e.name].map((t, i) => t / decoding[kind][b.name][i]));
          return [b.name, r] as const;
        });
      entry[e.name] = {
        ...s,
        sentencesPerSecond: (shape.decodeBatch / s.median) * 1000,
        ratios: Object.fromEntries(paired),
      };
      log(
        `  ${e.name.padEnd(34)} ${((shape.decodeBatch / s.median) * 1000).toFixed(1).padStart(7)} sentences/s  ${paired.map(([b, r]) => `×${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) vs ${b}`).join(', ')}`,
      );
    }
    report.decoding[kind] = entry;
  }
  log('peak memory (resident set):');
  for (const [name, m] of Object.entries(memory)) {
    const x = m as { maxRss: number; wasmHeap?: number };
    log(
      `  ${name.padEnd(34)} ${(x.maxRss / 2 ** 20).toFixed(0)} MiB${x.wasmHeap ? ` (wasm heap ${(x.wasmHeap / 2 ** 20).toFixed(0)} MiB)` : ''}`,
    );
  }
  return report;
}
