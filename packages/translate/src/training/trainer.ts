import type { TfjsEncouragingLossOptions } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { type NamedTensor, writeSafetensors } from '../checkpoint/safetensors.js';
import type { SentencePair } from '../data/data.js';
import { invalidData } from '../errors.js';
import { corpusBleu } from '../evaluation/bleu.js';
import { corpusChrf } from '../evaluation/chrf.js';
import { trainableParams } from '../lora/lora.js';
import { padBatch, translateIds } from '../model/decode.js';
import { readFloat32Into } from '../model/kernels/heap-module.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { Rng } from '../rng.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { modelGradients } from './backprop.js';
import { IGNORE_INDEX, type LossParts, lossOptions, projectedTokenLoss } from './loss.js';
import type { HostAdam } from './optimizer.js';

/** One encoded sentence pair (ids end in EOS). */
export interface Example {
  source: number[];
  target: number[];
}

/** The counters of a run that a checkpoint saves (`state.json`). */
export interface TrainingState {
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

function batchIds(model: Seq2SeqModel) {
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
  /**
   * Host arrays to hold the sums, by parameter name, reused from call to call ({@link trainingStep} keeps one map
   * per optimizer): the first micro-batch's gradients are copied into them straight from the wasm heap, without the
   * page faults of fresh arrays (~190 ms a step at OPUS-MT base). The returned `grads` are then these arrays,
   * overwritten by the next call that gets the same map.
   */
  buffers?: Map<string, Float32Array>;
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
  model: Seq2SeqModel,
  examples: readonly Example[],
  batches: number[][],
  options: TfjsEncouragingLossOptions,
  settings: GradientSettings = {},
): { grads: Map<string, Float32Array>; tokens: number; parts?: LossParts } {
  const sums = new Map<string, Float32Array>();
  const { buffers } = settings;
  const add = (name: string, values: Float32Array) => {
    const sum = sums.get(name);
    const own = tf.getBackend() === 'wasm' || values === buffers?.get(name);
    if (!sum) sums.set(name, own ? values : values.slice());
    else for (let i = 0; i < values.length; i++) sum[i] += values[i];
  };
  // The first micro-batch's gradient of a parameter goes into its kept array; later ones are added to it.
  const read = buffers
    ? (name: string, gradient: tf.Tensor): Float32Array => {
        if (sums.has(name)) return gradient.dataSync() as Float32Array;
        let buffer = buffers.get(name);
        if (buffer?.length !== gradient.size) {
          buffer = new Float32Array(gradient.size);
          buffers.set(name, buffer);
        }
        readFloat32Into(gradient, buffer);
        return buffer;
      }
    : undefined;
  let tokens = 0;
  const partSums = { loss: 0, nll: 0, bonus: 0, tokens: 0 };
  for (const batch of batches) {
    const t = batchTensors(examples, batch, batchIds(model));
    const { parts } = modelGradients(model, t, options, add, {
      rng: settings.rng,
      freezeEmbeddings: settings.freezeEmbeddings,
      parts: settings.logParts,
      chunkTokens: settings.chunkTokens,
      read,
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

/** The host arrays each optimizer's steps accumulate gradients in (see {@link GradientSettings.buffers}). */
const gradientBuffers = new WeakMap<HostAdam, Map<string, Float32Array>>();

/**
 * One optimizer step of the trainer: the gradient of the micro-batches `batches` (see {@link accumulateGradients}),
 * then clipping and Adam on the host ({@link HostAdam}) at step `t` with learning rate `lr`.
 */
export function trainingStep(
  model: Seq2SeqModel,
  optimizer: HostAdam,
  examples: readonly Example[],
  batches: number[][],
  options: TfjsEncouragingLossOptions,
  settings: GradientSettings & { lr: number; t: number; clip?: number },
): { tokens: number; parts?: LossParts; gradientNorm: number } {
  // 1/tokens rides on the optimizer's clipping multiply: no host pass over all gradients for it.
  // The gradient arrays are the optimizer's from step to step (they never leave this function).
  const buffers = gradientBuffers.get(optimizer) ?? new Map<string, Float32Array>();
  gradientBuffers.set(optimizer, buffers);
  const unscaled = { ...settings, unscaled: true, buffers };
  const { grads, tokens, parts } = accumulateGradients(model, examples, batches, options, unscaled);
  const gradientNorm = optimizer.step(trainableParams(model), grads, {
    lr: settings.lr,
    t: settings.t,
    clip: settings.clip ?? 1,
    gradientScale: 1 / Math.max(1, tokens),
  });
  return { tokens, parts, gradientNorm };
}

/** Encodes sentence pairs, dropping those longer than the model's positions. */
export function encodePairs(
  pairs: readonly SentencePair[],
  tokenizer: SubwordTokenizer,
  maxLength: number,
): Example[] {
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
  model: Seq2SeqModel,
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
  model: Seq2SeqModel,
  tokenizer: SubwordTokenizer,
  pairs: readonly SentencePair[],
  examples: readonly Example[],
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

/**
 * The first token generation must emit for a tokenizer: an NLLB-200 / M2M100 tokenizer's target language
 * (`forced_bos_token_id`), `undefined` for the others.
 */
export function forcedBosTokenId(tokenizer: SubwordTokenizer): number | undefined {
  // `in` does not run the getter, which throws for a tokenizer without a target language.
  return 'forcedBosTokenId' in tokenizer
    ? (tokenizer as { forcedBosTokenId: number }).forcedBosTokenId
    : undefined;
}

/**
 * Translates sentences in batches of `batchSize`, in input order; `onBatch(done)` reports sentences done. An
 * NLLB-200 / M2M100 tokenizer's target language is forced as the first generated token (greedy and beam alike).
 */
export function translateTexts(
  model: Seq2SeqModel,
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
  const forced = forcedBosTokenId(tokenizer);
  const out: string[] = [];
  for (let i = 0; i < sentences.length; i += batchSize) {
    const ids = sentences
      .slice(i, i + batchSize)
      .map((s) => tokenizer.encodeSource(s).slice(0, model.config.max_position_embeddings - 1));
    const translated = translateIds(model, ids, {
      beam: options.beam ?? 5,
      lengthPenalty: options.lengthPenalty,
      forcedBosTokenId: forced,
    });
    out.push(...translated.map((t) => tokenizer.decode(t)));
    options.onBatch?.(out.length);
  }
  return out;
}

/**
 * The Adam moments of a checkpoint (`optimizer.safetensors`), as PyTorch names a parameter's state: `.exp_avg`,
 * `.exp_avg_sq` and `.step` (the parameter's own step count: fewer than `state.step` after LayerDrop skips).
 */
export function momentTensors(
  model: Seq2SeqModel,
  optimizer: HostAdam,
  state: TrainingState,
): Map<string, NamedTensor> {
  const moments = new Map<string, NamedTensor>();
  const trained = trainableParams(model);
  for (const [param, { m, v }] of optimizer.moments) {
    const shape = trained.get(param)!.shape;
    moments.set(`${param}.exp_avg`, { dtype: 'F32', shape, data: m });
    moments.set(`${param}.exp_avg_sq`, { dtype: 'F32', shape, data: v });
    const own = state.step - (optimizer.skipped.get(param) ?? 0);
    moments.set(`${param}.step`, { dtype: 'F32', shape: [1], data: new Float32Array([own]) });
  }
  return moments;
}

/** A checkpoint's folder name: `step-00000040` (sorts by step). */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/**
 * The files of one checkpoint, as every host writes them: the weights (`model.safetensors`, or a LoRA run's
 * adapters only as PEFT names them — the base is the init folder, unchanged), the Adam moments
 * (`optimizer.safetensors`, see {@link momentTensors}) and the counters (`state.json`).
 */
export function checkpointFiles(
  model: Seq2SeqModel,
  optimizer: HostAdam,
  state: TrainingState,
): Map<string, Uint8Array | string> {
  return new Map<string, Uint8Array | string>([
    model.lora
      ? ['adapter_model.safetensors', writeSafetensors(model.lora.toPeftTensors())]
      : ['model.safetensors', writeSafetensors(model.toNamedTensors())],
    ['optimizer.safetensors', writeSafetensors(momentTensors(model, optimizer, state))],
    ['state.json', JSON.stringify(state)],
  ]);
}

/** Puts a checkpoint's moments (see {@link momentTensors}) back into `optimizer`; `source` names the file. */
export function restoreMoments(
  optimizer: HostAdam,
  saved: ReadonlyMap<string, NamedTensor>,
  step: number,
  source: string,
): void {
  for (const [name, { m, v }] of optimizer.moments) {
    // Absent in checkpoints written before LayerDrop: every parameter then had every step.
    const own = saved.get(`${name}.step`)?.data[0];
    if (typeof own === 'number' && own < step) optimizer.skipped.set(name, step - own);
    for (const [key, target] of [
      [`${name}.exp_avg`, m],
      [`${name}.exp_avg_sq`, v],
    ] as const) {
      const tensor = saved.get(key);
      if (!tensor || tensor.data.length !== target.length) {
        invalidData(`${source}: ${key} is missing or not of ${target.length} elements.`);
      }
      target.set(tensor.data as Float32Array);
    }
  }
}

/** A fresh run's counters: step 0, the batching generator seeded from `seed`. */
export function initialState(seed: number): TrainingState {
  return {
    step: 0,
    epoch: 0,
    batchInEpoch: 0,
    rngState: new Rng(seed).state,
    bestBleu: -1,
    badEvals: 0,
    trainMs: 0,
    tokens: 0,
  };
}

/** The schedule and step settings of {@link trainLoop}, defaults applied. */
export interface LoopSettings {
  maxSteps: number;
  /** Peak learning rate. */
  lr: number;
  warmup: number;
  schedule: 'inverse-sqrt' | 'linear';
  clip: number;
  seed: number;
  maxTokens: number;
  accumulate: number;
  /** Evaluate (and checkpoint) every this many steps, and at the last. */
  evalEvery: number;
  /** Stop after this many evaluations without a BLEU gain; 0 never. */
  patience: number;
  /** Loss parts (loss, NLL, bonus) are computed and reported every this many steps, and at the last. */
  logEvery: number;
  freezeEmbeddings?: boolean;
}

/** What {@link trainLoop} reports after each step. */
export interface StepProgress {
  step: number;
  maxSteps: number;
  lr: number;
  /** Non-padding target tokens per second since the last report with loss parts. */
  tokensPerSecond: number;
  /** Loss parts of this step (mean per token), on logged steps. */
  parts?: LossParts;
}

/** How {@link trainLoop} talks to its host: the CLI (files, Ctrl-C, a progress bar) or a page (a store, Stop). */
export interface LoopHooks {
  /** Aborted: the current step finishes, a checkpoint is written, and the loop returns `interrupted`. */
  signal?: AbortSignal;
  onStep?: (progress: StepProgress) => void;
  onMetrics?: (record: MetricsRecord) => void | Promise<void>;
  /** Scores the model at an evaluation step; `undefined` skips the evaluation. */
  evaluate?: (step: number) => ValidScores | undefined;
  /** A new best valid BLEU (or, without evaluations, the end): save the model. */
  onBest?: () => void | Promise<void>;
  /** Writes a checkpoint of `state` (at evaluation steps and when interrupted). */
  checkpoint?: (state: TrainingState) => void | Promise<void>;
  /** Called between steps, so that a host's events (Ctrl-C, a Stop message) reach `signal`. */
  pause?: () => Promise<void>;
  /** Says what the loop decided (early stop). */
  say?: (message: string) => void;
}

/**
 * The training loop every host runs (the CLI's `train`, the library's {@link fineTune}, the page's worker): length-
 * bucketed batches reshuffled per epoch from `seed`, `accumulate` micro-batches per step, the learning-rate
 * schedule, clipping and Adam; evaluation, best-model saving, checkpoints and early stopping at evaluation steps.
 * `state` is advanced in place (a resumed run passes its checkpoint's). Deterministic for a seed: the same
 * examples and settings give the same weights on any host.
 */
export async function trainLoop(
  model: Seq2SeqModel,
  optimizer: HostAdam,
  examples: readonly Example[],
  lossSettings: TfjsEncouragingLossOptions,
  settings: LoopSettings,
  state: TrainingState,
  hooks: LoopHooks = {},
): Promise<{ stoppedEarly: boolean; interrupted: boolean }> {
  const { seed, maxTokens, accumulate, maxSteps } = settings;
  const rng = new Rng(0);
  rng.state = state.rngState;
  let batches = makeBatches(examples, maxTokens, new Rng(seed * 7919 + state.epoch));
  let stoppedEarly = false;
  let interrupted = false;
  let windowTokens = 0;
  let windowMs = 0;
  const evaluate = async () => {
    const result = hooks.evaluate?.(state.step);
    if (!result) return;
    await hooks.onMetrics?.({
      type: 'valid',
      step: state.step,
      nll: result.nll,
      perplexity: Math.exp(result.nll),
      bleu: result.bleu,
      chrf: result.chrf,
    });
    if (result.bleu > state.bestBleu) {
      state.bestBleu = result.bleu;
      state.badEvals = 0;
      await hooks.onBest?.();
    } else state.badEvals += 1;
  };
  let checkpointedAt = state.step;
  const checkpoint = async () => {
    state.rngState = rng.state;
    await hooks.checkpoint?.(state);
    checkpointedAt = state.step;
  };
  while (state.step < maxSteps) {
    if (hooks.signal?.aborted) {
      // Stopped between steps (or before the first): keep what the last step left.
      interrupted = true;
      if (checkpointedAt !== state.step) await checkpoint();
      break;
    }
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
    const logStep = (state.step + 1) % settings.logEvery === 0 || state.step + 1 === maxSteps;
    const lr = learningRate(state.step + 1, settings.lr, settings.warmup, settings.schedule, maxSteps);
    const { tokens: stepTokens, parts } = trainingStep(model, optimizer, examples, micro, lossSettings, {
      rng,
      logParts: logStep,
      freezeEmbeddings: settings.freezeEmbeddings,
      lr,
      t: state.step + 1,
      clip: settings.clip,
    });
    state.step += 1;
    const elapsed = performance.now() - started;
    state.trainMs += elapsed;
    state.tokens += stepTokens;
    windowTokens += stepTokens;
    windowMs += elapsed;
    const tokensPerSecond = (windowTokens / Math.max(1e-9, windowMs)) * 1000;
    if (parts) {
      await hooks.onMetrics?.({
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
    }
    hooks.onStep?.({ step: state.step, maxSteps, lr, tokensPerSecond, parts });
    const evalStep = state.step % settings.evalEvery === 0 || state.step === maxSteps;
    if (evalStep) {
      await evaluate();
      await checkpoint();
      if (settings.patience > 0 && state.badEvals >= settings.patience) {
        stoppedEarly = true;
        hooks.say?.(
          `early stop at step ${state.step}: no valid BLEU gain in ${settings.patience} evaluations`,
        );
        break;
      }
    }
    await hooks.pause?.();
  }
  if (state.bestBleu < 0 && !interrupted) await hooks.onBest?.();
  return { stoppedEarly, interrupted };
}

/** Learning-rate schedule of a run. */
export interface ScheduleSettings {
  lr: number;
  warmup: number;
  schedule: 'inverse-sqrt' | 'linear';
}

/**
 * The schedule's defaults: fine-tuning a pretrained model (HF Trainer-like: lr 5e-5, warmup min(100, ⌈maxSteps /
 * 20⌉), linear decay) or training from scratch (lr 1e-3, warmup min(400, ⌈maxSteps / 10⌉), inverse-sqrt).
 */
export function scheduleDefaults(options: {
  fineTuning: boolean;
  maxSteps: number;
  lr?: number;
  warmup?: number;
  schedule?: 'inverse-sqrt' | 'linear';
}): ScheduleSettings {
  if (options.fineTuning) {
    return {
      lr: options.lr ?? 5e-5,
      warmup: options.warmup ?? Math.min(100, Math.ceil(options.maxSteps / 20)),
      schedule: options.schedule ?? 'linear',
    };
  }
  return {
    lr: options.lr ?? 1e-3,
    warmup: options.warmup ?? Math.min(400, Math.ceil(options.maxSteps / 10)),
    schedule: options.schedule ?? 'inverse-sqrt',
  };
}
