import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TfjsEncouragingLossOptions } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { publishDirectory, writeFileAtomic } from '../checkpoint/atomic.js';
import {
  copyTokenizer,
  loadWeights,
  readConfig,
  saveModel,
  TOKENIZER_FILES,
} from '../checkpoint/model-folder.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js';
import { readParallelData, type SentencePair } from '../data/data.js';
import { invalidData, invalidOption } from '../errors.js';
import { corpusBleu } from '../evaluation/bleu.js';
import { corpusChrf } from '../evaluation/chrf.js';
import { makeConfig, readJson } from '../model/config.js';
import { padBatch, translateIds } from '../model/decode.js';
import { MarianModel } from '../model/marian.js';
import { Progress } from '../progress/progress.js';
import { Rng } from '../rng.js';
import { loadTokenizer, type SubwordTokenizer, saveTokenizer, trainBpe } from '../tokenizers/bpe.js';
import { type BackendName, initBackend } from './backend.js';
import { modelGradients } from './backprop.js';
import { IGNORE_INDEX, type LossParts, type LossSettings, lossOptions, projectedTokenLoss } from './loss.js';
import { HostAdam } from './optimizer.js';

/** Options of {@link train}; the CLI flags of `el-translate train`. */
export interface TrainOptions {
  train: string;
  valid?: string;
  sourceLanguage: string;
  targetLanguage: string;
  out: string;
  /**
   * A trained model folder to fine-tune (its tokenizer and config are reused). Changes the defaults to HF
   * Trainer-like fine-tuning ones: lr 5e-5, warmup min(100, ⌈maxSteps / 20⌉), linear decay.
   */
  init?: string;
  /** A folder with tokenizer.json to use instead of training one. */
  tokenizer?: string;
  /** Target-language token (`>>deu<<`) of a multilingual model, put before every source sentence. */
  targetToken?: string;
  loss: LossSettings;
  maxSteps: number;
  /** Target tokens (padding included) per micro-batch. Default 2000. */
  maxTokens?: number;
  /** Peak learning rate. Default 1e-3, or 5e-5 with `init`. */
  lr?: number;
  /** Warmup steps. Default min(400, ⌈maxSteps / 10⌉), or min(100, ⌈maxSteps / 20⌉) with `init`. */
  warmup?: number;
  schedule?: 'inverse-sqrt' | 'linear';
  clip?: number;
  accumulate?: number;
  seed?: number;
  config?: string;
  evalEvery?: number;
  patience?: number;
  keepLast?: number;
  skipBadLines?: boolean;
  vocabSize?: number;
  logEvery?: number;
  /** Valid sentences translated (greedy) for the in-training BLEU. Default 200. */
  validSentences?: number;
  backend?: BackendName;
  /** Print nothing (metrics still go to `metrics.jsonl`). */
  quiet?: boolean;
  /** Leave `model.shared.weight` (token embeddings and the tied output projection) as loaded. */
  freezeEmbeddings?: boolean;
}

/** What {@link train} returns. */
export interface TrainResult {
  steps: number;
  stoppedEarly: boolean;
  /** Stopped by Ctrl-C (SIGINT) after writing a checkpoint; the same command resumes. */
  interrupted: boolean;
  bestBleu: number;
  /** Non-padding target tokens per second of training (evaluation excluded). */
  tokensPerSecond: number;
  trainSeconds: number;
  resumedFrom: number;
}

/** One encoded sentence pair (ids end in EOS). */
export interface Example {
  source: number[];
  target: number[];
}

interface TrainingState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  rngState: number;
  bestBleu: number;
  badEvals: number;
  trainMs: number;
  tokens: number;
}

/** One metrics record of `metrics.jsonl`. */
export type MetricsRecord =
  | {
      type: 'train';
      step: number;
      loss: number;
      nll: number;
      bonus: number;
      lr: number;
      tokensPerSecond: number;
    }
  | { type: 'valid'; step: number; nll: number; perplexity: number; bleu: number; chrf: number };

/** Validation scores: teacher-forced NLL per token, BLEU and chrF of greedy translations. */
export interface ValidScores {
  nll: number;
  bleu: number;
  chrf: number;
}

/** Replaceable parts of {@link train}, for tests. */
export interface TrainHooks {
  /** Scores the model at an evaluation step instead of {@link validate}; `undefined` skips the evaluation. */
  validate?: (step: number) => ValidScores | undefined;
}

/** Inverse-sqrt (fairseq) or linear-decay learning rate at `step` (1-based). */
export function learningRate(
  step: number,
  peak: number,
  warmup: number,
  schedule: string,
  maxSteps: number,
): number {
  const warm = Math.max(1, warmup);
  if (schedule === 'linear') {
    if (step <= warm) return (peak * step) / warm;
    return peak * Math.max(0, (maxSteps - step) / Math.max(1, maxSteps - warm));
  }
  return peak * Math.min(step / warm, Math.sqrt(warm / step));
}

/**
 * Token-based batches with length bucketing: examples sorted by length (ties shuffled), cut into batches whose
 * padded size (rows × longest target or source) stays within `maxTokens`, then the batches shuffled.
 */
export function makeBatches(examples: readonly Example[], maxTokens: number, rng: Rng): number[][] {
  const order = rng.shuffle(examples.map((_, i) => i));
  const length = (i: number) => Math.max(examples[i].source.length, examples[i].target.length);
  order.sort((a, b) => length(a) - length(b));
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const i of order) {
    const next = Math.max(longest, length(i));
    if (current.length > 0 && next * (current.length + 1) > maxTokens) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, length(i));
  }
  if (current.length) batches.push(current);
  return rng.shuffle(batches);
}

/**
 * Tensors of one batch as HF `MarianMTModel` trains on it: sources padded with `padId` (the config's
 * `pad_token_id`, which the encoder masks), labels padded with {@link IGNORE_INDEX}, and decoder inputs =
 * `shift_tokens_right(labels, pad, start)`: the start token, then the labels without their last, ignored positions
 * replaced by `padId`.
 */
export function batchTensors(
  examples: readonly Example[],
  indices: readonly number[],
  ids: { padId: number; startId: number },
) {
  const sources = indices.map((i) => examples[i].source);
  const targets = indices.map((i) => examples[i].target);
  const length = Math.max(...targets.map((t) => t.length));
  const labels = new Int32Array(indices.length * length).fill(IGNORE_INDEX);
  const decoderInput = new Int32Array(indices.length * length).fill(ids.padId);
  let tokens = 0;
  targets.forEach((t, r) => {
    labels.set(t, r * length);
    decoderInput[r * length] = ids.startId;
    decoderInput.set(t.slice(0, -1), r * length + 1);
    tokens += t.length;
  });
  return {
    source: padBatch(sources, ids.padId),
    decoderInput: tf.tensor2d(decoderInput, [indices.length, length], 'int32'),
    labels,
    tokens,
  };
}

function batchIds(model: MarianModel) {
  return { padId: model.config.pad_token_id, startId: model.config.decoder_start_token_id };
}

/** Settings of {@link accumulateGradients}. */
export interface GradientSettings {
  /** Dropout runs when given. */
  rng?: Rng;
  /** Also return the loss parts of the step's micro-batches. */
  logParts?: boolean;
  /** Leave `model.shared.weight` (embeddings and tied output projection) untrained. */
  freezeEmbeddings?: boolean;
  /** Tokens per chunk of the output projection (default: see `projectedTokenLoss`). */
  chunkTokens?: number;
  /** Return the sums undivided by the token count (the caller divides: {@link trainingStep}, in the optimizer). */
  unscaled?: boolean;
}

/**
 * The gradient of one optimizer step: the summed token losses of the micro-batches `batches` (indices into
 * `examples`), differentiated and divided by the step's total of non-padding tokens, so N accumulated
 * micro-batches give the gradient of one batch of all their tokens. Each micro-batch's gradients leave the tfjs
 * heap for host arrays as soon as they are computed. With `logParts`, also the loss parts over all micro-batches.
 *
 * @returns gradients by HF parameter name (host arrays), the token count and the parts.
 */
export function accumulateGradients(
  model: MarianModel,
  examples: readonly Example[],
  batches: number[][],
  options: TfjsEncouragingLossOptions,
  settings: GradientSettings = {},
): { grads: Map<string, Float32Array>; tokens: number; parts?: LossParts } {
  const sums = new Map<string, Float32Array>();
  const add = (name: string, values: Float32Array) => {
    const sum = sums.get(name);
    if (!sum) sums.set(name, tf.getBackend() === 'wasm' ? values : values.slice());
    else for (let i = 0; i < values.length; i++) sum[i] += values[i];
  };
  let tokens = 0;
  const partSums = { loss: 0, nll: 0, bonus: 0, tokens: 0 };
  for (const batch of batches) {
    const t = batchTensors(examples, batch, batchIds(model));
    const { parts } = modelGradients(model, t, options, add, {
      rng: settings.rng,
      freezeEmbeddings: settings.freezeEmbeddings,
      parts: settings.logParts,
      chunkTokens: settings.chunkTokens,
    });
    tf.dispose([t.source, t.decoderInput]);
    tokens += t.tokens;
    if (parts) {
      partSums.loss += parts.loss * parts.tokens;
      partSums.nll += parts.nll * parts.tokens;
      partSums.bonus += parts.bonus * parts.tokens;
      partSums.tokens += parts.tokens;
    }
  }
  if (!settings.unscaled) {
    const scale = 1 / Math.max(1, tokens);
    for (const g of sums.values()) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  const per = Math.max(1, partSums.tokens);
  const parts = settings.logParts
    ? {
        loss: partSums.loss / per,
        nll: partSums.nll / per,
        bonus: partSums.bonus / per,
        tokens: partSums.tokens,
      }
    : undefined;
  return { grads: sums, tokens, parts };
}

/**
 * One optimizer step of the trainer: the gradient of the micro-batches `batches` (see {@link accumulateGradients}),
 * then clipping and Adam on the host ({@link HostAdam}) at step `t` with learning rate `lr`.
 */
export function trainingStep(
  model: MarianModel,
  optimizer: HostAdam,
  examples: readonly Example[],
  batches: number[][],
  options: TfjsEncouragingLossOptions,
  settings: GradientSettings & { lr: number; t: number; clip?: number },
): { tokens: number; parts?: LossParts; gradientNorm: number } {
  // 1/tokens rides on the optimizer's clipping multiply: no host pass over all gradients for it.
  const unscaled = { ...settings, unscaled: true };
  const { grads, tokens, parts } = accumulateGradients(model, examples, batches, options, unscaled);
  const gradientNorm = optimizer.step(model.params, grads, {
    lr: settings.lr,
    t: settings.t,
    clip: settings.clip ?? 1,
    gradientScale: 1 / Math.max(1, tokens),
  });
  return { tokens, parts, gradientNorm };
}

function encodePairs(pairs: SentencePair[], tokenizer: SubwordTokenizer, maxLength: number): Example[] {
  return pairs
    .map((p) => ({ source: tokenizer.encodeSource(p.source), target: tokenizer.encodeTarget(p.target) }))
    .filter((e) => e.source.length < maxLength && e.target.length < maxLength);
}

/** Per-sentence teacher-forced scores: Σ log p of the target tokens (EOS included) and their count. */
export interface SentenceScore {
  logProb: number;
  tokens: number;
}

/**
 * Teacher-forced log-probabilities of `examples` (HF semantics: sources padded and masked with the config's pad,
 * decoder inputs shifted right from `decoder_start_token_id`), batched by `maxTokens`, in input order.
 * `onBatch(done)` reports sentences scored.
 */
export function scoreExamples(
  model: MarianModel,
  examples: readonly Example[],
  options: { maxTokens?: number; onBatch?: (done: number) => void } = {},
): SentenceScore[] {
  const scores: SentenceScore[] = examples.map(() => ({ logProb: 0, tokens: 0 }));
  const ce = lossOptions({ kind: 'ce' });
  let done = 0;
  for (const batch of makeBatches(examples, options.maxTokens ?? 2000, new Rng(0))) {
    const t = batchTensors(examples, batch, batchIds(model));
    const hidden = tf.tidy(() =>
      tf.reshape(model.decodeHidden(t.decoderInput, model.encode(t.source)), [-1, model.config.d_model]),
    ) as tf.Tensor2D;
    const { loss, perToken } = projectedTokenLoss(
      hidden,
      model.outputWeight,
      model.outputBias,
      t.labels,
      ce,
      {
        perToken: true,
      },
    );
    tf.dispose([loss, hidden, t.source, t.decoderInput]);
    const length = t.labels.length / batch.length;
    batch.forEach((example, r) => {
      for (let j = 0; j < length; j++) {
        const nll = perToken![r * length + j];
        if (Number.isNaN(nll)) continue;
        scores[example].logProb -= nll;
        scores[example].tokens += 1;
      }
    });
    done += batch.length;
    options.onBatch?.(done);
  }
  return scores;
}

/** Teacher-forced validation NLL per token, and BLEU/chrF of greedy translations of the first `count` pairs. */
export function validate(
  model: MarianModel,
  tokenizer: SubwordTokenizer,
  pairs: SentencePair[],
  examples: Example[],
  count: number,
  beam = 1,
): { nll: number; bleu: number; chrf: number } {
  const scores = scoreExamples(model, examples);
  const logProb = scores.reduce((a, s) => a + s.logProb, 0);
  const tokens = scores.reduce((a, s) => a + s.tokens, 0);
  const subset = pairs.slice(0, count);
  const hypotheses = translateTexts(
    model,
    tokenizer,
    subset.map((p) => p.source),
    { beam },
  );
  const references = subset.map((p) => p.target);
  return {
    nll: -logProb / Math.max(1, tokens),
    bleu: corpusBleu(hypotheses, [references]).score,
    chrf: corpusChrf(hypotheses, references).score,
  };
}

/** Translates sentences in batches of `batchSize`, in input order; `onBatch(done)` reports sentences done. */
export function translateTexts(
  model: MarianModel,
  tokenizer: SubwordTokenizer,
  sentences: string[],
  options: {
    beam?: number;
    batchSize?: number;
    lengthPenalty?: number;
    onBatch?: (done: number) => void;
  } = {},
): string[] {
  const batchSize = options.batchSize ?? 64;
  const out: string[] = [];
  for (let i = 0; i < sentences.length; i += batchSize) {
    const ids = sentences
      .slice(i, i + batchSize)
      .map((s) => tokenizer.encodeSource(s).slice(0, model.config.max_position_embeddings - 1));
    const translated = translateIds(model, ids, {
      beam: options.beam ?? 5,
      lengthPenalty: options.lengthPenalty,
    });
    out.push(...translated.map((t) => tokenizer.decode(t)));
    options.onBatch?.(out.length);
  }
  return out;
}

const STATE_DIR = 'training_state';

function latestCheckpoint(out: string): string | undefined {
  const pointer = join(out, STATE_DIR, 'latest');
  if (!existsSync(pointer)) return undefined;
  const dir = join(out, STATE_DIR, readFileSync(pointer, 'utf8').trim());
  return existsSync(join(dir, 'state.json')) ? dir : undefined;
}

function saveCheckpoint(
  out: string,
  model: MarianModel,
  optimizer: HostAdam,
  state: TrainingState,
  keepLast: number,
): string {
  const root = join(out, STATE_DIR);
  mkdirSync(root, { recursive: true });
  const name = `step-${String(state.step).padStart(8, '0')}`;
  const temporary = join(root, `.tmp-${name}`);
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary);
  const moments = new Map<string, NamedTensor>();
  for (const [param, { m, v }] of optimizer.moments) {
    const shape = model.params.get(param)!.shape;
    moments.set(`${param}.exp_avg`, { dtype: 'F32', shape, data: m });
    moments.set(`${param}.exp_avg_sq`, { dtype: 'F32', shape, data: v });
  }
  writeFileAtomic(join(temporary, 'model.safetensors'), writeSafetensors(model.toNamedTensors()));
  writeFileAtomic(join(temporary, 'optimizer.safetensors'), writeSafetensors(moments));
  writeFileAtomic(join(temporary, 'state.json'), JSON.stringify(state));
  publishDirectory(temporary, join(root, name));
  writeFileAtomic(join(root, 'latest'), name);
  const steps = readdirSync(root)
    .filter((f) => f.startsWith('step-'))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    rmSync(join(root, old), { recursive: true, force: true });
  }
  return join(root, name);
}

function restoreMoments(optimizer: HostAdam, dir: string): void {
  const file = join(dir, 'optimizer.safetensors');
  const saved = readSafetensors(readFileSync(file), file);
  for (const [name, { m, v }] of optimizer.moments) {
    for (const [key, target] of [
      [`${name}.exp_avg`, m],
      [`${name}.exp_avg_sq`, v],
    ] as const) {
      const tensor = saved.tensors.get(key);
      if (!tensor || tensor.data.length !== target.length) {
        invalidData(`${file}: ${key} is missing or not of ${target.length} elements.`);
      }
      target.set(tensor.data as Float32Array);
    }
  }
}

/** Hyper-parameters after defaults: from scratch, or fine-tuning a pretrained `--init` (HF Trainer-like). */
export function resolveSchedule(options: TrainOptions): {
  lr: number;
  warmup: number;
  schedule: 'inverse-sqrt' | 'linear';
  fineTuning: boolean;
} {
  const fineTuning = options.init !== undefined;
  if (fineTuning) {
    return {
      lr: options.lr ?? 5e-5,
      warmup: options.warmup ?? Math.min(100, Math.ceil(options.maxSteps / 20)),
      schedule: options.schedule ?? 'linear',
      fineTuning,
    };
  }
  return {
    lr: options.lr ?? 1e-3,
    warmup: options.warmup ?? Math.min(400, Math.ceil(options.maxSteps / 10)),
    schedule: options.schedule ?? 'inverse-sqrt',
    fineTuning,
  };
}

/** The model to train: resumed from `out`, loaded from `init`, or new with a new tokenizer. */
function setupModel(options: TrainOptions, trainPairs: SentencePair[], resumeDir: string | undefined) {
  const seed = options.seed ?? 1;
  if (resumeDir) {
    const model = new MarianModel(readConfig(options.out), new Rng(seed));
    loadWeights(model, join(resumeDir, 'model.safetensors'));
    return model;
  }
  let model: MarianModel;
  if (options.init) {
    copyTokenizer(options.init, options.out);
    model = new MarianModel(readConfig(options.init), new Rng(seed));
    loadWeights(model, options.init);
  } else {
    if (options.tokenizer) copyTokenizer(options.tokenizer, options.out);
    else {
      const bpe = trainBpe(
        trainPairs.flatMap((p) => [p.source, p.target]),
        { vocabSize: options.vocabSize ?? 1000, alphabet: 'ÄÖÜäöüß' },
      );
      saveTokenizer(bpe, options.out);
    }
    const vocab = JSON.parse(readFileSync(join(options.out, TOKENIZER_FILES[0]), 'utf8')).model.vocab;
    model = new MarianModel(makeConfig(Object.keys(vocab).length, options.config ?? 'small'), new Rng(seed));
  }
  saveModel(model, options.out);
  return model;
}

const fixed = (x: number, digits = 3) => x.toFixed(digits);

/**
 * Trains (or fine-tunes with `init`) a Marian model, resuming from `out/training_state` when a checkpoint is
 * there. Writes `out/` as an HF-layout model folder (config.json, model.safetensors of the best valid BLEU,
 * tokenizer files), `out/metrics.jsonl` and checkpoints. Ctrl-C (SIGINT) finishes the current step, writes a
 * checkpoint and returns with `interrupted` set; the same call resumes.
 */
export async function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  if (!Number.isInteger(options.maxSteps) || options.maxSteps <= 0) {
    invalidOption(`--max-steps must be a positive integer, got ${options.maxSteps}.`);
  }
  const maxTokens = options.maxTokens ?? 2000;
  const { lr: peakLr, warmup, schedule, fineTuning } = resolveSchedule(options);
  const clip = options.clip ?? 1;
  const accumulate = options.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1) {
    invalidOption(`--accumulate must be a positive integer, got ${accumulate}.`);
  }
  const seed = options.seed ?? 1;
  const evalEvery = options.evalEvery ?? Math.max(1, Math.ceil(options.maxSteps / 5));
  const patience = options.patience ?? 0;
  const keepLast = options.keepLast ?? 2;
  const logEvery = options.logEvery ?? 10;
  const validCount = options.validSentences ?? 200;
  const lossSetting = lossOptions(options.loss);
  const say = (message: string) => {
    if (!options.quiet) progress.message(message);
  };
  const progress = new Progress({
    label: 'train',
    total: options.maxSteps,
    unit: 'step',
    quiet: options.quiet,
    every: logEvery,
  });
  await initBackend(options.backend ?? 'wasm');
  mkdirSync(options.out, { recursive: true });
  const readOptions = {
    sourceLanguage: options.sourceLanguage,
    targetLanguage: options.targetLanguage,
    skipBadLines: options.skipBadLines,
  };
  const trainData = readParallelData(options.train, readOptions);
  const validData = options.valid ? readParallelData(options.valid, readOptions) : undefined;
  if (trainData.skipped) say(`skipped ${trainData.skipped} bad lines in ${options.train}`);

  const resumeDir = latestCheckpoint(options.out);
  const model = setupModel(options, trainData.pairs, resumeDir);
  if (fineTuning && !resumeDir) {
    say(
      `fine-tuning ${options.init}: lr ${peakLr} (--lr), warmup ${warmup} steps (--warmup), ${schedule} schedule (--schedule)${options.freezeEmbeddings ? ', embeddings frozen' : ''}`,
    );
  }
  const tokenizer = await loadTokenizer(options.out, { targetToken: options.targetToken });
  const maxLength = model.config.max_position_embeddings;
  const examples = encodePairs(trainData.pairs, tokenizer, maxLength);
  if (examples.length === 0) invalidData(`${options.train} has no usable sentence pairs.`);
  const validExamples = validData ? encodePairs(validData.pairs, tokenizer, maxLength) : [];

  const optimizer = new HostAdam(model.params);
  let state: TrainingState = {
    step: 0,
    epoch: 0,
    batchInEpoch: 0,
    rngState: new Rng(seed).state,
    bestBleu: -1,
    badEvals: 0,
    trainMs: 0,
    tokens: 0,
  };
  if (resumeDir) {
    state = readJson(join(resumeDir, 'state.json')) as TrainingState;
    restoreMoments(optimizer, resumeDir);
    say(`resuming from ${resumeDir} (step ${state.step})`);
  }
  const resumedFrom = state.step;
  progress.restart(state.step);
  const rng = new Rng(0);
  rng.state = state.rngState;
  const metricsFile = join(options.out, 'metrics.jsonl');
  const record = (r: MetricsRecord) => appendFileSync(metricsFile, `${JSON.stringify(r)}\n`);
  let batches = makeBatches(examples, maxTokens, new Rng(seed * 7919 + state.epoch));
  let stoppedEarly = false;
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C does not wait for the checkpoint
    interrupted = true;
    say('interrupted: writing a checkpoint after this step (Ctrl-C again to quit without one)');
  };
  process.on('SIGINT', onInterrupt);
  let windowTokens = 0;
  let windowMs = 0;
  const runValidation =
    hooks.validate ??
    (() =>
      validData && validExamples.length > 0
        ? validate(model, tokenizer, validData.pairs, validExamples, validCount)
        : undefined);

  const evaluate = () => {
    const result = runValidation(state.step);
    if (!result) return;
    record({
      type: 'valid',
      step: state.step,
      nll: result.nll,
      perplexity: Math.exp(result.nll),
      bleu: result.bleu,
      chrf: result.chrf,
    });
    say(
      `step ${state.step}: valid nll ${fixed(result.nll)} bleu ${result.bleu.toFixed(2)} chrF ${result.chrf.toFixed(2)}`,
    );
    if (result.bleu > state.bestBleu) {
      state.bestBleu = result.bleu;
      state.badEvals = 0;
      saveModel(model, options.out);
    } else state.badEvals += 1;
  };

  try {
    while (state.step < options.maxSteps) {
      const started = performance.now();
      const micro: number[][] = [];
      for (let i = 0; i < accumulate; i++) {
        if (state.batchInEpoch >= batches.length) {
          state.epoch += 1;
          state.batchInEpoch = 0;
          batches = makeBatches(examples, maxTokens, new Rng(seed * 7919 + state.epoch));
        }
        micro.push(batches[state.batchInEpoch]);
        state.batchInEpoch += 1;
      }
      const logStep = (state.step + 1) % logEvery === 0 || state.step + 1 === options.maxSteps;
      const lr = learningRate(state.step + 1, peakLr, warmup, schedule, options.maxSteps);
      const { tokens: stepTokens, parts } = trainingStep(model, optimizer, examples, micro, lossSetting, {
        rng,
        logParts: logStep,
        freezeEmbeddings: options.freezeEmbeddings,
        lr,
        t: state.step + 1,
        clip,
      });
      state.step += 1;
      const elapsed = performance.now() - started;
      state.trainMs += elapsed;
      state.tokens += stepTokens;
      windowTokens += stepTokens;
      windowMs += elapsed;
      const tokensPerSecond = (windowTokens / Math.max(1e-9, windowMs)) * 1000;
      if (parts) {
        record({
          type: 'train',
          step: state.step,
          loss: parts.loss,
          nll: parts.nll,
          bonus: parts.bonus,
          lr,
          tokensPerSecond,
        });
        windowTokens = 0;
        windowMs = 0;
        progress.fields = {
          loss: fixed(parts.loss),
          nll: fixed(parts.nll),
          bonus: fixed(parts.bonus),
        };
      }
      progress.update(state.step, { lr: lr.toExponential(2), 'tok/s': String(Math.round(tokensPerSecond)) });
      const evalStep = state.step % evalEvery === 0 || state.step === options.maxSteps;
      if (evalStep) evaluate();
      if (evalStep || interrupted) {
        state.rngState = rng.state;
        const written = saveCheckpoint(options.out, model, optimizer, state, keepLast);
        if (interrupted) {
          say(`checkpoint ${written} written at step ${state.step}; run the same command to resume`);
          break;
        }
        if (patience > 0 && state.badEvals >= patience) {
          stoppedEarly = true;
          say(`early stop at step ${state.step}: no valid BLEU gain in ${patience} evaluations`);
          break;
        }
      }
      // Let a pending SIGINT reach its handler: the step itself never yields to the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    progress.finish();
  }
  if (state.bestBleu < 0 && !interrupted) saveModel(model, options.out);
  const result: TrainResult = {
    steps: state.step,
    stoppedEarly,
    interrupted,
    bestBleu: state.bestBleu,
    tokensPerSecond: (state.tokens / Math.max(1, state.trainMs)) * 1000,
    trainSeconds: state.trainMs / 1000,
    resumedFrom,
  };
  model.dispose();
  return result;
}
