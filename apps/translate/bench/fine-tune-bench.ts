import {
  type Example,
  HostAdam,
  lossOptions,
  makeBatches,
  Rng,
  trainingStep,
} from '@encouraging-loss/translate';
import {
  type BackendName,
  initNodeBackend,
  type MarianConfig,
  modelFamily,
  type Seq2SeqConfig,
} from '@encouraging-loss/translate/node';
import * as tf from '@tensorflow/tfjs-core';

/** The shape of `Helsinki-NLP/opus-mt-en-de` (its config.json): ≈ 74M parameters. */
export const OPUS_MT_BASE: MarianConfig = {
  model_type: 'marian',
  architectures: ['MarianMTModel'],
  vocab_size: 58101,
  decoder_vocab_size: 58101,
  d_model: 512,
  encoder_layers: 6,
  decoder_layers: 6,
  encoder_attention_heads: 8,
  decoder_attention_heads: 8,
  encoder_ffn_dim: 2048,
  decoder_ffn_dim: 2048,
  dropout: 0.1,
  attention_dropout: 0,
  activation_dropout: 0,
  activation_function: 'swish',
  max_position_embeddings: 512,
  scale_embedding: true,
  share_encoder_decoder_embeddings: true,
  tie_word_embeddings: true,
  pad_token_id: 58100,
  eos_token_id: 0,
  decoder_start_token_id: 58100,
  forced_eos_token_id: 0,
  bad_words_ids: [[58100]],
  init_std: 0.02,
  num_beams: 4,
  max_length: 512,
};

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

function memoryLine(): string {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length;
  return `rss ${gib(process.memoryUsage().rss)}, tensors ${gib(tf.memory().numBytes)}${heap ? `, wasm heap ${gib(heap)}` : ''}`;
}

/** Options of {@link runFineTuneBench}. */
export interface FineTuneBenchOptions {
  /** Target tokens per micro-batch (padding included, as `--max-tokens`). Default 2000. */
  maxTokens?: number;
  /** Timed steps after one untimed warm-up step. Default 3. */
  steps?: number;
  accumulate?: number;
  freezeEmbeddings?: boolean;
  backend?: BackendName;
  /** Tokens per output-projection chunk (default: the trainer's). */
  chunkTokens?: number;
  /** Progress lines on stderr. */
  log?: (line: string) => void;
}

/** What one fine-tuning bench run measured. */
export interface FineTuneBenchResult {
  parameters: number;
  maxTokens: number;
  accumulate: number;
  freezeEmbeddings: boolean;
  /** Non-padding target tokens per timed step (mean). */
  tokensPerStep: number;
  stepSeconds: number[];
  /** CPU time (user + system, all threads) of each timed step: robust to a busy machine, unlike wall time. */
  stepCpuSeconds: number[];
  tokensPerSecond: number;
  /** Peak resident set size of the process (bytes, `process.resourceUsage().maxRSS`). */
  peakRssBytes: number;
  /** Size of the tfjs wasm heap at the end (bytes; it only grows). */
  wasmHeapBytes: number | undefined;
}

/**
 * Times the trainer's own step (chunked projection + loss, host Adam) on a random-init model of `config` (default
 * {@link OPUS_MT_BASE}) with synthetic sentence pairs of 15–35 tokens per side; no weights or data are read.
 */
export async function runFineTuneBench(
  options: FineTuneBenchOptions = {},
  config: Seq2SeqConfig = OPUS_MT_BASE,
): Promise<FineTuneBenchResult> {
  // Any family of the registry: the config is checked as its `model_type`'s parser checks a config.json.
  const family = modelFamily(config, 'bench config');
  const parsed = family.parseConfig(config, 'bench config');
  await initNodeBackend(options.backend ?? 'wasm');
  const maxTokens = options.maxTokens ?? 2000;
  const steps = options.steps ?? 3;
  const accumulate = options.accumulate ?? 1;
  const rng = new Rng(7);
  const sentence = () => {
    const length = 15 + Math.floor(rng.next() * 21);
    const ids = Array.from(
      { length: length - 1 },
      () => 1 + Math.floor(rng.next() * (config.vocab_size - 2)),
    );
    return [...ids, config.eos_token_id];
  };
  const examples: Example[] = Array.from(
    { length: Math.ceil(((steps + 1) * accumulate * maxTokens) / 15) },
    () => ({
      source: sentence(),
      target: sentence(),
    }),
  );
  const batches = makeBatches(examples, maxTokens, rng);
  const model = family.create(parsed, new Rng(1));
  const parameters = [...model.params.values()].reduce((a, p) => a + p.size, 0);
  options.log?.(
    `bench: ${(parameters / 1e6).toFixed(1)}M parameters, ${maxTokens}-token batches × ${accumulate}; ${memoryLine()}`,
  );
  const optimizer = new HostAdam(model.params);
  const loss = lossOptions({ kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 });
  const stepSeconds: number[] = [];
  const stepCpuSeconds: number[] = [];
  let tokens = 0;
  for (let step = 0; step <= steps; step++) {
    const micro = batches.slice(step * accumulate, (step + 1) * accumulate);
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const result = trainingStep(model, optimizer, examples, micro, loss, {
      rng,
      lr: 5e-5,
      t: step + 1,
      freezeEmbeddings: options.freezeEmbeddings,
      chunkTokens: options.chunkTokens,
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    options.log?.(
      `step ${step}${step === 0 ? ' (warm-up)' : ''}: ${result.tokens} tokens, ${seconds.toFixed(2)} s (cpu ${cpuSeconds.toFixed(2)} s); ${memoryLine()}`,
    );
    if (step > 0) {
      stepSeconds.push(seconds);
      stepCpuSeconds.push(cpuSeconds);
      tokens += result.tokens;
    }
  }
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  model.dispose();
  const total = stepSeconds.reduce((a, b) => a + b, 0);
  return {
    parameters,
    maxTokens,
    accumulate,
    freezeEmbeddings: !!options.freezeEmbeddings,
    tokensPerStep: tokens / steps,
    stepSeconds,
    stepCpuSeconds,
    tokensPerSecond: tokens / total,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    wasmHeapBytes: backend.wasm?.HEAPU8.length,
  };
}
