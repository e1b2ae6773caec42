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
import { Rng } from '../rng.js';
import { loadTokenizer, PAD_ID, type SubwordTokenizer, saveTokenizer, trainBpe } from '../tokenizers/bpe.js';
import { type BackendName, initBackend } from './backend.js';
import {
  IGNORE_INDEX,
  type LossParts,
  type LossSettings,
  lossOptions,
  tokenLoss,
  tokenLossParts,
} from './loss.js';

/** Options of {@link train}; the CLI flags of `el-translate train`. */
export interface TrainOptions {
  train: string;
  valid?: string;
  sourceLanguage: string;
  targetLanguage: string;
  out: string;
  /** A trained model folder to fine-tune (its tokenizer and config are reused). */
  init?: string;
  /** A folder with tokenizer.json to use instead of training one. */
  tokenizer?: string;
  loss: LossSettings;
  maxSteps: number;
  /** Target tokens (padding included) per micro-batch. Default 2000. */
  maxTokens?: number;
  lr?: number;
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
}

/** What {@link train} returns. */
export interface TrainResult {
  steps: number;
  stoppedEarly: boolean;
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

/** Tensors of one batch: source ids, decoder inputs (start token + target without its last) and labels `[B, T]`. */
function batchTensors(examples: readonly Example[], indices: number[], startId: number) {
  const sources = indices.map((i) => examples[i].source);
  const targets = indices.map((i) => examples[i].target);
  const length = Math.max(...targets.map((t) => t.length));
  const labels = new Int32Array(indices.length * length).fill(IGNORE_INDEX);
  const decoderInput = new Int32Array(indices.length * length).fill(PAD_ID);
  let tokens = 0;
  targets.forEach((t, r) => {
    labels.set(t, r * length);
    decoderInput[r * length] = startId;
    decoderInput.set(t.slice(0, -1), r * length + 1);
    tokens += t.length;
  });
  return {
    source: padBatch(sources, PAD_ID),
    decoderInput: tf.tensor2d(decoderInput, [indices.length, length], 'int32'),
    labels: tf.tensor2d(labels, [indices.length, length], 'int32'),
    tokens,
  };
}

/**
 * The gradient of one optimizer step: the summed token losses of the micro-batches `batches` (indices into
 * `examples`), differentiated and divided by the step's total of non-padding tokens, so N accumulated
 * micro-batches give the gradient of one batch of all their tokens. Dropout runs when `rng` is given. With
 * `logParts`, also the loss parts of the last micro-batch.
 *
 * @returns gradients by HF parameter name (the caller disposes them), the token count and the parts.
 */
export function accumulateGradients(
  model: MarianModel,
  examples: readonly Example[],
  batches: number[][],
  options: TfjsEncouragingLossOptions,
  settings: { rng?: Rng; logParts?: boolean } = {},
): { grads: Map<string, tf.Tensor>; tokens: number; parts?: LossParts } {
  const variables = [...model.params.values()];
  const hfNames = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const startId = model.config.decoder_start_token_id;
  let summed: Record<string, tf.Tensor> | undefined;
  let tokens = 0;
  let parts: LossParts | undefined;
  batches.forEach((batch, i) => {
    const t = batchTensors(examples, batch, startId);
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.decode(t.decoderInput, model.encode(t.source, settings.rng), settings.rng);
      if (settings.logParts && i === batches.length - 1) parts = tokenLossParts(logits, t.labels, options);
      return tokenLoss(logits, t.labels, options);
    }, variables);
    tf.dispose([value, t.source, t.decoderInput, t.labels]);
    if (!summed) summed = grads;
    else {
      const previous = summed;
      summed = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.add(previous[k], g)]));
      tf.dispose([...Object.values(previous), ...Object.values(grads)]);
    }
    tokens += t.tokens;
  });
  const scale = 1 / Math.max(1, tokens);
  const out = new Map<string, tf.Tensor>();
  for (const [variableName, g] of Object.entries(summed ?? {})) {
    out.set(hfNames.get(variableName)!, tf.mul(g, scale));
    g.dispose();
  }
  return { grads: out, tokens, parts };
}

function encodePairs(pairs: SentencePair[], tokenizer: SubwordTokenizer, maxLength: number): Example[] {
  return pairs
    .map((p) => ({ source: tokenizer.encode(p.source), target: tokenizer.encode(p.target) }))
    .filter((e) => e.source.length < maxLength && e.target.length < maxLength);
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
  let nllSum = 0;
  let tokenSum = 0;
  const options = lossOptions({ kind: 'ce' });
  const rng = new Rng(0);
  for (const batch of makeBatches(examples, 2000, rng)) {
    const t = batchTensors(examples, batch, model.config.decoder_start_token_id);
    const logits = tf.tidy(() => model.decode(t.decoderInput, model.encode(t.source)));
    const parts = tokenLossParts(logits, t.labels, options);
    nllSum += parts.nll * parts.tokens;
    tokenSum += parts.tokens;
    tf.dispose([logits, t.source, t.decoderInput, t.labels]);
  }
  const subset = pairs.slice(0, count);
  const hypotheses = translateTexts(
    model,
    tokenizer,
    subset.map((p) => p.source),
    { beam },
  );
  const references = subset.map((p) => p.target);
  return {
    nll: nllSum / Math.max(1, tokenSum),
    bleu: corpusBleu(hypotheses, [references]).score,
    chrf: corpusChrf(hypotheses, references).score,
  };
}

/** Translates sentences in batches of `batchSize`, in input order. */
export function translateTexts(
  model: MarianModel,
  tokenizer: SubwordTokenizer,
  sentences: string[],
  options: { beam?: number; batchSize?: number; lengthPenalty?: number } = {},
): string[] {
  const batchSize = options.batchSize ?? 64;
  const out: string[] = [];
  for (let i = 0; i < sentences.length; i += batchSize) {
    const ids = sentences
      .slice(i, i + batchSize)
      .map((s) => tokenizer.encode(s).slice(0, model.config.max_position_embeddings - 1));
    const translated = translateIds(model, ids, {
      beam: options.beam ?? 5,
      lengthPenalty: options.lengthPenalty,
    });
    out.push(...translated.map((t) => tokenizer.decode(t)));
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
  moments: Map<string, { m: tf.Variable; v: tf.Variable }>,
  state: TrainingState,
  keepLast: number,
): void {
  const root = join(out, STATE_DIR);
  mkdirSync(root, { recursive: true });
  const name = `step-${String(state.step).padStart(8, '0')}`;
  const temporary = join(root, `.tmp-${name}`);
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary);
  const optimizer = new Map<string, NamedTensor>();
  for (const [param, { m, v }] of moments) {
    optimizer.set(`${param}.exp_avg`, { dtype: 'F32', shape: m.shape, data: m.dataSync() as Float32Array });
    optimizer.set(`${param}.exp_avg_sq`, {
      dtype: 'F32',
      shape: v.shape,
      data: v.dataSync() as Float32Array,
    });
  }
  writeFileAtomic(join(temporary, 'model.safetensors'), writeSafetensors(model.toNamedTensors()));
  writeFileAtomic(join(temporary, 'optimizer.safetensors'), writeSafetensors(optimizer));
  writeFileAtomic(join(temporary, 'state.json'), JSON.stringify(state));
  publishDirectory(temporary, join(root, name));
  writeFileAtomic(join(root, 'latest'), name);
  const steps = readdirSync(root)
    .filter((f) => f.startsWith('step-'))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    rmSync(join(root, old), { recursive: true, force: true });
  }
}

function log(options: TrainOptions, message: string): void {
  if (!options.quiet) process.stderr.write(`${message}\n`);
}

/**
 * Trains (or fine-tunes with `init`) a Marian model, resuming from `out/training_state` when a checkpoint is
 * there. Writes `out/` as an HF-layout model folder (config.json, model.safetensors of the best valid BLEU,
 * tokenizer files), `out/metrics.jsonl` and checkpoints.
 */
export async function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  if (!Number.isInteger(options.maxSteps) || options.maxSteps <= 0) {
    invalidOption(`--max-steps must be a positive integer, got ${options.maxSteps}.`);
  }
  const maxTokens = options.maxTokens ?? 2000;
  const peakLr = options.lr ?? 1e-3;
  const warmup = options.warmup ?? Math.min(400, Math.ceil(options.maxSteps / 10));
  const schedule = options.schedule ?? 'inverse-sqrt';
  const clip = options.clip ?? 1;
  const accumulate = options.accumulate ?? 1;
  const seed = options.seed ?? 1;
  const evalEvery = options.evalEvery ?? Math.max(1, Math.ceil(options.maxSteps / 5));
  const patience = options.patience ?? 0;
  const keepLast = options.keepLast ?? 2;
  const logEvery = options.logEvery ?? 10;
  const validCount = options.validSentences ?? 200;
  const lossSetting = lossOptions(options.loss);
  await initBackend(options.backend ?? 'wasm');
  mkdirSync(options.out, { recursive: true });
  const readOptions = {
    sourceLanguage: options.sourceLanguage,
    targetLanguage: options.targetLanguage,
    skipBadLines: options.skipBadLines,
  };
  const trainData = readParallelData(options.train, readOptions);
  const validData = options.valid ? readParallelData(options.valid, readOptions) : undefined;
  if (trainData.skipped) log(options, `skipped ${trainData.skipped} bad lines in ${options.train}`);

  const resumeDir = latestCheckpoint(options.out);
  let model: MarianModel;
  if (resumeDir) {
    model = new MarianModel(readConfig(options.out), new Rng(seed));
    loadWeights(model, join(resumeDir, 'model.safetensors'));
  } else {
    if (options.init) {
      copyTokenizer(options.init, options.out);
      model = new MarianModel(readConfig(options.init), new Rng(seed));
      loadWeights(model, join(options.init, 'model.safetensors'));
    } else {
      if (options.tokenizer) copyTokenizer(options.tokenizer, options.out);
      else {
        const bpe = trainBpe(
          trainData.pairs.flatMap((p) => [p.source, p.target]),
          { vocabSize: options.vocabSize ?? 1000, alphabet: 'ÄÖÜäöüß' },
        );
        saveTokenizer(bpe, options.out);
      }
      const vocab = JSON.parse(readFileSync(join(options.out, TOKENIZER_FILES[0]), 'utf8')).model.vocab;
      model = new MarianModel(
        makeConfig(Object.keys(vocab).length, options.config ?? 'small'),
        new Rng(seed),
      );
    }
    saveModel(model, options.out);
  }
  const tokenizer = await loadTokenizer(options.out);
  const maxLength = model.config.max_position_embeddings;
  const examples = encodePairs(trainData.pairs, tokenizer, maxLength);
  if (examples.length === 0) invalidData(`${options.train} has no usable sentence pairs.`);
  const validExamples = validData ? encodePairs(validData.pairs, tokenizer, maxLength) : [];

  const moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  for (const [name, p] of model.params)
    moments.set(name, { m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false) });
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
    const file = join(resumeDir, 'optimizer.safetensors');
    const saved = readSafetensors(readFileSync(file), file);
    const moment = (key: string, like: tf.Variable) => {
      const tensor = saved.tensors.get(key);
      if (!tensor || tensor.data.length !== like.size) {
        invalidData(`${file}: ${key} is missing or not of shape [${like.shape.join(', ')}].`);
      }
      return tf.tensor(tensor.data as Float32Array, like.shape);
    };
    for (const [name, { m, v }] of moments) {
      m.assign(moment(`${name}.exp_avg`, m));
      v.assign(moment(`${name}.exp_avg_sq`, v));
    }
    log(options, `resuming from ${resumeDir} (step ${state.step})`);
  }
  const resumedFrom = state.step;
  const rng = new Rng(0);
  rng.state = state.rngState;
  const metricsFile = join(options.out, 'metrics.jsonl');
  const record = (r: MetricsRecord) => appendFileSync(metricsFile, `${JSON.stringify(r)}\n`);
  let batches = makeBatches(examples, maxTokens, new Rng(seed * 7919 + state.epoch));
  let stoppedEarly = false;
  const tty = process.stderr.isTTY && !options.quiet;
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
    if (tty) process.stderr.write('\n');
    log(
      options,
      `step ${state.step}: valid nll ${result.nll.toFixed(3)} bleu ${result.bleu.toFixed(2)} chrF ${result.chrf.toFixed(2)}`,
    );
    if (result.bleu > state.bestBleu) {
      state.bestBleu = result.bleu;
      state.badEvals = 0;
      saveModel(model, options.out);
    } else state.badEvals += 1;
  };

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
    const {
      grads,
      tokens: stepTokens,
      parts,
    } = accumulateGradients(model, examples, micro, lossSetting, {
      rng,
      logParts: logStep,
    });
    state.step += 1;
    const lr = learningRate(state.step, peakLr, warmup, schedule, options.maxSteps);
    tf.tidy(() => {
      const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))));
      const scale = tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6)));
      const t = state.step;
      const correction1 = 1 - 0.9 ** t;
      const correction2 = 1 - 0.98 ** t;
      for (const [name, raw] of grads) {
        const param = model.params.get(name)!;
        const g = tf.mul(raw, scale);
        const { m, v } = moments.get(name)!;
        m.assign(tf.add(tf.mul(m, 0.9), tf.mul(g, 0.1)));
        v.assign(tf.add(tf.mul(v, 0.98), tf.mul(tf.square(g), 0.02)));
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), 1e-9));
        param.assign(tf.sub(param, tf.mul(update, lr)));
      }
    });
    tf.dispose([...grads.values()]);
    const elapsed = performance.now() - started;
    state.trainMs += elapsed;
    state.tokens += stepTokens;
    windowTokens += stepTokens;
    windowMs += elapsed;
    if (parts) {
      const tokensPerSecond = (windowTokens / windowMs) * 1000;
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
      const eta =
        ((options.maxSteps - state.step) * state.trainMs) / Math.max(1, state.step - resumedFrom) / 1000;
      const line = `step ${state.step}/${options.maxSteps} loss ${parts.loss.toFixed(3)} nll ${parts.nll.toFixed(3)} bonus ${parts.bonus.toFixed(3)} lr ${lr.toExponential(2)} ${Math.round(tokensPerSecond)} tok/s ETA ${Math.round(eta)}s`;
      if (tty) process.stderr.write(`\r${line.padEnd(110)}`);
    }
    if (state.step % evalEvery === 0 || state.step === options.maxSteps) {
      evaluate();
      state.rngState = rng.state;
      saveCheckpoint(options.out, model, moments, state, keepLast);
      if (patience > 0 && state.badEvals >= patience) {
        stoppedEarly = true;
        log(options, `early stop at step ${state.step}: no valid BLEU gain in ${patience} evaluations`);
        break;
      }
    }
  }
  if (tty) process.stderr.write('\n');
  if (state.bestBleu < 0) saveModel(model, options.out);
  const result: TrainResult = {
    steps: state.step,
    stoppedEarly,
    bestBleu: state.bestBleu,
    tokensPerSecond: (state.tokens / Math.max(1, state.trainMs)) * 1000,
    trainSeconds: state.trainMs / 1000,
    resumedFrom,
  };
  for (const { m, v } of moments.values()) tf.dispose([m, v]);
  model.dispose();
  return result;
}
