import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  attachLora,
  backendThreads,
  createModel,
  type Example,
  HostAdam,
  lossOptions,
  Rng,
  resolveLoraSettings,
  type Seq2SeqModel,
  trainableParams,
  trainingStep,
} from '@encouraging-loss/translate';
import { initNodeBackend } from '@encouraging-loss/translate/node';
import * as tf from '@tensorflow/tfjs-core';
import { findTorchPython, summary } from './train-bench.js';

export { findTorchPython };

/**
 * The LoRA bench: LoRA r 16 fine-tuning steps of the NLLB-200-distilled-600M shape (random weights built in memory
 * from its config.json) on tfjs-backend-wasm with one thread, against bench/torch_lora.py (the same network in
 * PyTorch, one thread) in a child process, one step of each in turn so that load changes on the shared machine hit
 * both. Reports per-step times, tokens/s, paired ratios, peak resident sets and the wasm heap.
 */

/** facebook/nllb-200-distilled-600M's config.json (its model fields; LayerDrop 0 as published). */
export const NLLB_600M_CONFIG = {
  model_type: 'm2m_100',
  architectures: ['M2M100ForConditionalGeneration'],
  activation_dropout: 0.0,
  activation_function: 'relu',
  attention_dropout: 0.1,
  bos_token_id: 0,
  d_model: 1024,
  decoder_attention_heads: 16,
  decoder_ffn_dim: 4096,
  decoder_layerdrop: 0,
  decoder_layers: 12,
  decoder_start_token_id: 2,
  dropout: 0.1,
  encoder_attention_heads: 16,
  encoder_ffn_dim: 4096,
  encoder_layerdrop: 0,
  encoder_layers: 12,
  eos_token_id: 2,
  init_std: 0.02,
  is_encoder_decoder: true,
  max_position_embeddings: 1024,
  pad_token_id: 1,
  scale_embedding: true,
  tie_word_embeddings: true,
  use_cache: true,
  vocab_size: 256206,
} as const;

/** A benchmarked shape: config.json fields over {@link NLLB_600M_CONFIG}, and the batch (sentences × tokens). */
export interface LoraBenchShape {
  name: string;
  config: Partial<Record<keyof typeof NLLB_600M_CONFIG, unknown>>;
  /** Sentences per step; each has `length` source and `length` target tokens (no padding, EOS last). */
  batch: number;
  length: number;
}

/** The shapes of `--shape`: the 600M network at 40 × 25 = 1,000 target tokens, and a tiny one for unit tests. */
export const LORA_SHAPES: Record<string, LoraBenchShape> = {
  'nllb-600m': { name: 'nllb-600m', config: {}, batch: 40, length: 25 },
  tiny: {
    name: 'tiny',
    config: {
      d_model: 32,
      encoder_layers: 2,
      decoder_layers: 2,
      encoder_attention_heads: 4,
      decoder_attention_heads: 4,
      encoder_ffn_dim: 64,
      decoder_ffn_dim: 64,
      vocab_size: 300,
    },
    batch: 4,
    length: 6,
  },
};

/** LoRA of the bench: r 16, alpha 32 (PEFT's default is 8; the scale does not change the work), dropout 0.05. */
export const BENCH_LORA = { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'v_proj'] };

/** The step's loss on both sides: label-smoothed CE 0.1, summed over tokens ÷ their count. */
const STEP_LOSS = lossOptions({ kind: 'ce', labelSmoothing: 0.1 });

/** The config.json of a shape. */
export function shapeConfig(shape: LoraBenchShape): Record<string, unknown> {
  return { ...NLLB_600M_CONFIG, ...shape.config };
}

// ---------------------------------------------------------------------------------------------------------------
// Our side, in this process.

/** Peak and current resident set (`/proc/self/status` VmHWM, VmRSS) in bytes; `maxRSS` where there is no /proc. */
export function residentSet(): { maxRss: number; rss: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { maxRss: field('VmHWM'), rss: field('VmRSS') };
  } catch {
    return { maxRss: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage().rss };
  }
}

/** Resets VmHWM to the current resident set (Linux `clear_refs` 5), so later peaks are the steps'. */
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux: the peak then includes the set-up.
  }
}

/** Bytes of tfjs-backend-wasm's WebAssembly.Memory (the heap every tensor lives in; it never shrinks). */
export function wasmHeapBytes(): number | undefined {
  const wasm = (
    tf.backend() as unknown as { wasm?: { wasmMemory?: WebAssembly.Memory; HEAPU8?: Uint8Array } }
  ).wasm;
  return wasm?.wasmMemory?.buffer.byteLength ?? wasm?.HEAPU8?.byteLength;
}

/** Our model, adapters, optimizer and batch. */
export interface LoraSession {
  model: Seq2SeqModel;
  optimizer: HostAdam;
  examples: Example[];
  rng: Rng;
  step: number;
  parameters: number;
  trainable: number;
  tokensPerStep: number;
}

/** Builds the shape's model with random weights (the library initialises itself from the config) and LoRA. */
export function setupOurs(shape: LoraBenchShape, seed = 1): LoraSession {
  const rng = new Rng(seed);
  const config = shapeConfig(shape);
  const model = createModel(config, rng, `${shape.name} config`);
  const lora = attachLora(model, resolveLoraSettings(BENCH_LORA, 'm2m_100'), rng);
  const vocab = model.config.vocab_size;
  const eos = model.config.eos_token_id;
  // Ids in [3, V − 1) and EOS last: no padding anywhere, so every position is real work on both sides.
  const sentence = () => [...Array.from({ length: shape.length - 1 }, () => 3 + rng.int(vocab - 4)), eos];
  const examples = Array.from({ length: shape.batch }, () => ({ source: sentence(), target: sentence() }));
  let parameters = 0;
  for (const p of model.params.values()) parameters += p.size;
  return {
    model,
    optimizer: new HostAdam(trainableParams(model)),
    examples,
    rng,
    step: 0,
    parameters,
    trainable: lora.size,
    tokensPerStep: shape.batch * shape.length,
  };
}

/** One training step of ours (the trainer's: gradients of the batch ÷ tokens, clipping, Adam on the adapters). */
export function stepOurs(session: LoraSession): { ms: number; cpuMs: number; loss: number } {
  session.step += 1;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { parts } = trainingStep(
    session.model,
    session.optimizer,
    session.examples,
    [session.examples.map((_, i) => i)],
    STEP_LOSS,
    { rng: session.rng, lr: 1e-4, t: session.step, logParts: true },
  );
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, loss: parts!.loss };
}

// ---------------------------------------------------------------------------------------------------------------
// PyTorch's side: bench/torch_lora.py in a child process (JSON lines).

/** A line-protocol child process. */
export interface TorchEngine {
  ask(request: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

/** Starts bench/torch_lora.py on `threads` threads (torch, OpenMP and OpenBLAS all limited to it; default 1). */
export function startTorch(python: string, benchDir: string, threads = 1): TorchEngine {
  const n = String(threads);
  const child: ChildProcessWithoutNullStreams = spawn(python, [join(benchDir, 'torch_lora.py')], {
    env: {
      ...process.env,
      TORCH_THREADS: n,
      OMP_NUM_THREADS: n,
      OPENBLAS_NUM_THREADS: n,
      MKL_NUM_THREADS: n,
      // As bench/step_bench.py: idle OpenMP threads sleep instead of spinning on a core the other side needs.
      OMP_WAIT_POLICY: 'PASSIVE',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const waiting: ((answer: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.splice(0))
      w({ error: `torch_lora.py exited (${code ?? signal}): ${stderr.slice(-2000)}` });
  });
  return {
    ask(request) {
      return new Promise((resolve, reject) => {
        waiting.push((answer) => (answer.error ? reject(new Error(String(answer.error))) : resolve(answer)));
        child.stdin.write(`${JSON.stringify(request)}\n`);
      });
    },
    close() {
      child.stdin.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The paired run.

/** Options of {@link runLoraBench}. */
export interface LoraBenchOptions {
  shape: LoraBenchShape;
  /** Timed steps of each side (after the warm-up). Default 3. */
  steps?: number;
  /** Untimed steps of each side first. Default 1. */
  warmup?: number;
  /** Skip PyTorch (ours only). */
  noTorch?: boolean;
  /** Threads of each side (ours: tfjs-backend-wasm's and the kernel pool's; PyTorch's). Default 1. */
  threads?: number;
  /**
   * A lock file (`/tmp/bench.lock`) held with flock(1) for each round (one step of each side) and released between
   * rounds, so that a long run shares the machine's timing slot with other benches.
   */
  lock?: string;
  /** Progress lines. Default stderr. */
  log?: (message: string) => void;
}

/** Median, min, max and the samples. */
export type Summary = ReturnType<typeof summary>;

/** One side's figures. */
export interface SideReport {
  parameters: number;
  trainable: number;
  stepMs: Summary;
  cpuMs: Summary;
  tokensPerSecond: number;
  losses: number[];
  /** Peak resident set over the steps (VmHWM reset after the set-up). */
  peakRssBytes: number;
  /** Peak resident set including the set-up. */
  peakRssWithSetupBytes: number;
  /** Ours: the wasm heap (WebAssembly.Memory) after the steps, its high-water mark; tfjs's own count. */
  wasmHeapBytes?: number;
  tfBytes?: number;
  tfTensors?: number;
  threads?: number;
}

/** What {@link runLoraBench} returns and writes. */
export interface LoraBenchReport {
  shape: LoraBenchShape;
  config: Record<string, unknown>;
  lora: typeof BENCH_LORA;
  tokensPerStep: number;
  ours: SideReport;
  torch?: SideReport;
  /** Ours ÷ PyTorch step time, pair by pair (the same round). */
  ratio?: Summary;
  /** Why PyTorch did not run. */
  torchSkipped?: string;
}

function benchDirectory(): string {
  return dirname(fileURLToPath(import.meta.url));
}

async function holdLock(file: string): Promise<() => void> {
  const child = spawn('flock', [file, 'sh', '-c', 'echo locked; read _'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ${file} exited with ${code}`)));
  });
  return () => child.stdin.end('\n');
}

/**
 * Builds the shape on both sides (ours in this process on tfjs-backend-wasm with one thread, PyTorch in a child),
 * runs `warmup` + `steps` rounds of one step each (the order alternating), and reports.
 */
export async function runLoraBench(
  options: LoraBenchOptions,
  benchDir = benchDirectory(),
): Promise<LoraBenchReport> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const steps = options.steps ?? 3;
  const warmup = options.warmup ?? 1;
  const threads = options.threads ?? 1;
  await initNodeBackend('wasm', { threads });
  const python = options.noTorch ? undefined : findTorchPython();
  const torchSkipped = options.noTorch
    ? 'PyTorch not asked for (--no-torch)'
    : python
      ? undefined
      : 'no python3 that imports torch (Debian: apt install python3-torch libopenblas0-pthread)';
  const torch = python ? startTorch(python, benchDir, threads) : undefined;
  const config = shapeConfig(options.shape);
  try {
    log(
      `== ${options.shape.name}: ${options.shape.batch} × ${options.shape.length} tokens a side, LoRA r ${BENCH_LORA.r} ==`,
    );
    const ours = setupOurs(options.shape);
    const oursSetupPeak = residentSet().maxRss;
    log(
      `ours: ${ours.parameters} parameters, ${ours.trainable} trainable; wasm heap ${mib(wasmHeapBytes())}`,
    );
    let torchSetup: Record<string, unknown> | undefined;
    if (torch) {
      torchSetup = await torch.ask({
        cmd: 'setup',
        config,
        batch: options.shape.batch,
        length: options.shape.length,
        lora: BENCH_LORA,
      });
      log(`PyTorch: ${torchSetup.parameters} parameters, ${torchSetup.trainable} trainable`);
    }
    const torchSetupPeak = torch ? ((await torch.ask({ cmd: 'memory' })).maxRss as number) : 0;
    resetPeak();
    await torch?.ask({ cmd: 'resetPeak' });
    const samples = { ours: [] as number[], oursCpu: [] as number[], oursLoss: [] as number[] };
    const torchSamples = { ms: [] as number[], cpu: [] as number[], loss: [] as number[] };
    for (let round = 0; round < warmup + steps; round++) {
      const release = options.lock ? await holdLock(options.lock) : undefined;
      try {
        const timed = round >= warmup;
        const runOurs = () => {
          const s = stepOurs(ours);
          if (timed) {
            samples.ours.push(s.ms);
            samples.oursCpu.push(s.cpuMs);
          }
          samples.oursLoss.push(s.loss);
          log(
            `  round ${round}${timed ? '' : ' (warm-up)'}: ours ${(s.ms / 1000).toFixed(1)} s (cpu ${(s.cpuMs / 1000).toFixed(1)} s) loss ${s.loss.toFixed(4)}`,
          );
        };
        const runTorch = async () => {
          if (!torch) return;
          const s = await torch.ask({ cmd: 'step' });
          if (timed) {
            torchSamples.ms.push(s.ms as number);
            torchSamples.cpu.push(s.cpuMs as number);
          }
          torchSamples.loss.push(s.loss as number);
          log(
            `  round ${round}${timed ? '' : ' (warm-up)'}: PyTorch ${((s.ms as number) / 1000).toFixed(1)} s (cpu ${((s.cpuMs as number) / 1000).toFixed(1)} s) loss ${(s.loss as number).toFixed(4)}`,
          );
        };
        // Alternate who goes first, so neither always follows the other.
        if (round % 2 === 0) {
          runOurs();
          await runTorch();
        } else {
          await runTorch();
          runOurs();
        }
      } finally {
        release?.();
      }
    }
    const tokens = ours.tokensPerStep;
    const memory = tf.memory();
    const oursReport: SideReport = {
      parameters: ours.parameters,
      trainable: ours.trainable,
      stepMs: summary(samples.ours),
      cpuMs: summary(samples.oursCpu),
      tokensPerSecond: (tokens / summary(samples.ours).median) * 1000,
      losses: samples.oursLoss,
      peakRssBytes: residentSet().maxRss,
      peakRssWithSetupBytes: Math.max(oursSetupPeak, residentSet().maxRss),
      wasmHeapBytes: wasmHeapBytes(),
      tfBytes: memory.numBytes,
      tfTensors: memory.numTensors,
      threads: backendThreads(),
    };
    const report: LoraBenchReport = {
      shape: options.shape,
      config,
      lora: BENCH_LORA,
      tokensPerStep: tokens,
      ours: oursReport,
      torchSkipped,
    };
    if (torch && torchSetup) {
      const peak = (await torch.ask({ cmd: 'memory' })).maxRss as number;
      report.torch = {
        parameters: torchSetup.parameters as number,
        trainable: torchSetup.trainable as number,
        stepMs: summary(torchSamples.ms),
        cpuMs: summary(torchSamples.cpu),
        tokensPerSecond: (tokens / summary(torchSamples.ms).median) * 1000,
        losses: torchSamples.loss,
        peakRssBytes: peak,
        peakRssWithSetupBytes: Math.max(peak, torchSetupPeak),
        threads: torchSetup.threads as number,
      };
      report.ratio = summary(samples.ours.map((t, i) => t / torchSamples.ms[i]));
    }
    ours.model.dispose();
    logReport(report, log);
    return report;
  } finally {
    torch?.close();
  }
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '—' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function logReport(r: LoraBenchReport, log: (m: string) => void): void {
  const side = (name: string, s: SideReport) =>
    log(
      `  ${name.padEnd(22)} ${(s.stepMs.median / 1000).toFixed(1)} s/step (${(s.stepMs.min / 1000).toFixed(1)}–${(s.stepMs.max / 1000).toFixed(1)})  ${s.tokensPerSecond.toFixed(1)} tok/s  peak RSS ${mib(s.peakRssBytes)}${s.wasmHeapBytes ? `  wasm heap ${mib(s.wasmHeapBytes)}` : ''}`,
    );
  side(`el-translate wasm ${r.ours.threads ?? 1}T`, r.ours);
  if (r.torch) side(`PyTorch ${r.torch.threads ?? 1}T`, r.torch);
  if (r.ratio)
    log(
      `  ratio ours / PyTorch: ×${r.ratio.median.toFixed(2)} (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)})`,
    );
  if (r.torchSkipped) log(`  PyTorch skipped: ${r.torchSkipped}`);
}

/** Rows in the format the root `pnpm bench` gathers (scripts/bench-report.mjs): ours against PyTorch, same threads. */
export function reportRows(r: LoraBenchReport): Record<string, unknown>[] {
  if (!r.torch || !r.ratio) return [];
  return [
    {
      backend: `el-translate wasm ${r.ours.threads ?? 1}T`,
      shape: [r.shape.batch, r.shape.length, r.config.vocab_size],
      dtype: 'float32',
      variant: `${r.shape.name} LoRA r ${r.lora.r} training step`,
      median: r.ours.stepMs.median,
      min: r.ours.stepMs.min,
      max: r.ours.stepMs.max,
      baseline: `PyTorch ${r.torch.threads ?? 1}T ${r.shape.name} LoRA r ${r.lora.r} training step`,
      baselineMedian: r.torch.stepMs.median,
      ratio: r.ratio.median,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Command line (bench/lora-bench-run.mjs builds this file and calls main).

/**
 * `node bench/lora-bench-run.mjs [--shape nllb-600m|tiny] [--layers N] [--batch N] [--length N] [--steps N]
 * [--warmup N] [--threads N] [--no-torch] [--lock FILE] [--out FILE]`.
 */
export async function main(args: string[], benchDir = benchDirectory()): Promise<void> {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const base = LORA_SHAPES[value('--shape') ?? 'nllb-600m'];
  if (!base) throw new Error(`--shape must be one of ${Object.keys(LORA_SHAPES).join(', ')}`);
  const layers = value('--layers');
  const shape: LoraBenchShape = {
    ...base,
    config: layers
      ? { ...base.config, encoder_layers: Number(layers), decoder_layers: Number(layers) }
      : base.config,
    batch: Number(value('--batch') ?? base.batch),
    length: Number(value('--length') ?? base.length),
  };
  if (layers) shape.name = `${base.name} (${layers} + ${layers} layers)`;
  const report = await runLoraBench(
    {
      shape,
      steps: Number(value('--steps') ?? 3),
      warmup: Number(value('--warmup') ?? 1),
      noTorch: args.includes('--no-torch'),
      threads: Number(value('--threads') ?? 1),
      lock: value('--lock'),
    },
    benchDir,
  );
  const out = value('--out');
  if (out) {
    const body = {
      date: new Date().toISOString(),
      node: process.version,
      results: reportRows(report),
      details: report,
    };
    writeFileSync(out, `${JSON.stringify(body, null, 2)}\n`);
  }
}
