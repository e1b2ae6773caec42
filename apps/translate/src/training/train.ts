import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveOptions } from '@encouraging-loss/core';
import type { TfjsEncouragingLossOptions } from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { publishDirectory, temporaryName, writeFileAtomic } from '../checkpoint/atomic.js';
import {
  checkFolder,
  copyTokenizer,
  loadModelTokenizer,
  loadWeights,
  readModelConfig,
  saveModel,
  TOKENIZER_FILES,
} from '../checkpoint/model-folder.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js';
import {
  dataFiles,
  type ReadResult,
  readJsonFile,
  readParallelData,
  requirePairs,
  type SentencePair,
} from '../data/data.js';
import { invalidData, invalidOption, withIo } from '../errors.js';
import { corpusBleu } from '../evaluation/bleu.js';
import { corpusChrf } from '../evaluation/chrf.js';
import { attachLora, type LoraSettings, resolveLoraSettings, trainableParams } from '../lora/lora.js';
import { ADAPTER_WEIGHTS, saveAdapter, saveMergedModel } from '../lora/peft-folder.js';
import { makeConfig, readJson } from '../model/config.js';
import { padBatch, translateIds } from '../model/decode.js';
import { MarianModel } from '../model/marian.js';
import { modelFamily, type Seq2SeqModel } from '../models/registry.js';
import { Progress } from '../progress/progress.js';
import { Rng } from '../rng.js';
import { type OpenRun, openRun } from '../run/open-run.js';
import { checkOutPath, STATE_DIR } from '../run/run-folder.js';
import { fileIdentity, initIdentity, type RunSettings } from '../run/run-settings.js';
import { type SubwordTokenizer, saveTokenizer, trainBpe } from '../tokenizers/bpe.js';
import { tokenizerKind } from '../tokenizers/load.js';
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
  /** Source language code of an NLLB-200 / M2M100 `init` (`eng_Latn`, `en`); required for that family. */
  srcLang?: string;
  /** Target language code of an NLLB-200 / M2M100 `init` (`deu_Latn`, `de`); required for that family. */
  tgtLang?: string;
  /**
   * Where `init` came from when it is a Hugging Face Hub snapshot (see `resolveModel`): recorded in the run's
   * identity (`run.json`), so the fine-tuned folder says which repository and commit it started from.
   */
  initSource?: { repo: string; revision: string; commit: string };
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
  /**
   * XNNPACK threads of the wasm backend (tfjs's threaded SIMD build). Default 1 in the library; the CLI's
   * `--threads` defaults to every core. XNNPACK splits a product by output tiles, so results do not depend on it.
   */
  threads?: number;
  /** Print nothing (metrics still go to `metrics.jsonl`). */
  quiet?: boolean;
  /** Leave `model.shared.weight` (token embeddings and the tied output projection) as loaded. */
  freezeEmbeddings?: boolean;
  /**
   * LoRA on the `init` model (PEFT's way: `--lora R`, `--lora-alpha` default 8, `--lora-dropout` default 0,
   * `--lora-targets` default the model type's, q_proj,v_proj): the base is frozen and only the adapters train; `out`
   * receives `adapter_config.json` + `adapter_model.safetensors` (or, with {@link merge}, the merged model).
   */
  lora?: { r: number; alpha?: number; dropout?: number; targets?: string[] };
  /** With `lora`: write a full HF folder with the adapters merged (W + (alpha/r)·B·A) instead of the adapter. */
  merge?: boolean;
  /**
   * Start over in `out` even when it holds a run with other settings (its checkpoints, metrics and model files
   * are removed), or write into a non-empty folder that is not a run folder (its model files are replaced, other
   * files left alone). Without it both are refused.
   */
  overwrite?: boolean;
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
  /** The run was already complete: nothing was trained, and this is the result recorded in its `run.json`. */
  alreadyComplete?: boolean;
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
  model: Seq2SeqModel,
  optimizer: HostAdam,
  examples: readonly Example[],
  batches: number[][],
  options: TfjsEncouragingLossOptions,
  settings: GradientSettings & { lr: number; t: number; clip?: number },
): { tokens: number; parts?: LossParts; gradientNorm: number } {
  // 1/tokens rides on the optimizer's clipping multiply: no host pass over all gradients for it.
  const unscaled = { ...settings, unscaled: true };
  const { grads, tokens, parts } = accumulateGradients(model, examples, batches, options, unscaled);
  const gradientNorm = optimizer.step(trainableParams(model), grads, {
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
 * Writes a checkpoint (model, Adam moments, state) as `training_state/step-N`: into a temporary folder unique to
 * this process, renamed into place, then `latest` pointed at it, then all but the newest `keepLast` removed. A
 * failure (disk full, permission denied) removes the temporary folder and throws `IO_ERROR` naming the file;
 * the previous checkpoint and `latest` are left as they were, so the run resumes from them.
 */
export function saveCheckpoint(
  out: string,
  model: Seq2SeqModel,
  optimizer: HostAdam,
  state: TrainingState,
  keepLast: number,
): string {
  const root = join(out, STATE_DIR);
  const name = `step-${String(state.step).padStart(8, '0')}`;
  const temporary = temporaryName(join(root, `.tmp-${name}`));
  try {
    withIo('create', temporary, () => mkdirSync(temporary, { recursive: true }));
    const moments = new Map<string, NamedTensor>();
    const trained = trainableParams(model);
    for (const [param, { m, v }] of optimizer.moments) {
      const shape = trained.get(param)!.shape;
      moments.set(`${param}.exp_avg`, { dtype: 'F32', shape, data: m });
      moments.set(`${param}.exp_avg_sq`, { dtype: 'F32', shape, data: v });
      // The parameter's own step count (PyTorch's `state['step']`): fewer than `state.step` after LayerDrop skips.
      const own = state.step - (optimizer.skipped.get(param) ?? 0);
      moments.set(`${param}.step`, { dtype: 'F32', shape: [1], data: new Float32Array([own]) });
    }
    // A LoRA run's checkpoint holds the adapters only (the base is the --init folder, unchanged).
    if (model.lora)
      writeFileAtomic(join(temporary, ADAPTER_WEIGHTS), writeSafetensors(model.lora.toPeftTensors()));
    else writeFileAtomic(join(temporary, 'model.safetensors'), writeSafetensors(model.toNamedTensors()));
    writeFileAtomic(join(temporary, 'optimizer.safetensors'), writeSafetensors(moments));
    writeFileAtomic(join(temporary, 'state.json'), JSON.stringify(state));
    publishDirectory(temporary, join(root, name));
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
  writeFileAtomic(join(root, 'latest'), name);
  const steps = readdirSync(root)
    .filter((f) => f.startsWith('step-'))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    rmSync(join(root, old), { recursive: true, force: true });
  }
  return join(root, name);
}

function restoreMoments(optimizer: HostAdam, dir: string, step: number): void {
  const file = join(dir, 'optimizer.safetensors');
  const saved = readSafetensors(readFileSync(file), file);
  for (const [name, { m, v }] of optimizer.moments) {
    // Absent in checkpoints written before LayerDrop: every parameter then had every step.
    const own = saved.tensors.get(`${name}.step`)?.data[0];
    if (typeof own === 'number' && own < step) optimizer.skipped.set(name, step - own);
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

/** Sentence pairs and the run's settings, read and checked before anything is written. */
interface RunInputs {
  trainData: ReadResult;
  validData: ReadResult | undefined;
  /** The settings of this call, given the recorded ones of a resume (see {@link openRun}). */
  settings: (recorded: RunSettings | undefined) => RunSettings;
}

/**
 * Reads and checks every input of a run before anything is written: the data files (present, text, at least
 * one pair), the `--init` folder (config, tokenizer, weights), the `--tokenizer` folder and the `--config` file;
 * hashes the data and the `--init` weights for the run's identity.
 */
function readInputs(options: TrainOptions): RunInputs {
  const readOptions = {
    sourceLanguage: options.sourceLanguage,
    targetLanguage: options.targetLanguage,
    skipBadLines: options.skipBadLines,
  };
  const trainData = readParallelData(options.train, readOptions);
  requirePairs(trainData, options.train);
  const validData = options.valid ? readParallelData(options.valid, readOptions) : undefined;
  if (validData) requirePairs(validData, options.valid!);
  let model: RunSettings['model'];
  if (options.init) {
    const { family } = readModelConfig(options.init, '--init folder');
    if (!family.hasTokenizer(options.init)) {
      invalidData(
        family.modelType === 'm2m_100'
          ? `--init folder ${options.init} has no tokenizer: no sentencepiece.bpe.model.`
          : `--init folder ${options.init} has no tokenizer: neither source.spm + vocab.json nor tokenizer.json.`,
      );
    }
    model = initIdentity(options.init, options.initSource);
  } else {
    if (options.srcLang !== undefined || options.tgtLang !== undefined) {
      invalidOption(
        '--src-lang/--tgt-lang choose the languages of an NLLB-200 or M2M100 --init model; a model trained from scratch is a Marian model of --src/--tgt.',
      );
    }
    if (options.tokenizer) {
      checkFolder(options.tokenizer, '--tokenizer folder');
      if (tokenizerKind(options.tokenizer) !== 'tokenizer.json') {
        invalidData(`--tokenizer folder ${options.tokenizer} has no tokenizer.json.`);
      }
    }
    const preset = options.config ?? 'small';
    const configFile = preset !== 'tiny' && preset !== 'small' && existsSync(preset);
    const raw = configFile
      ? (readJsonFile(preset, '--config file') as { vocab_size?: unknown } | null)
      : null;
    // Refuses an unknown preset or bad fields before any write (the vocabulary size is checked once known).
    makeConfig(typeof raw?.vocab_size === 'number' ? raw.vocab_size : 1000, preset);
    model = {
      config: configFile ? fileIdentity(preset) : preset,
      vocabSize: options.tokenizer ? null : (options.vocabSize ?? 1000),
      tokenizer: options.tokenizer
        ? TOKENIZER_FILES.filter((f) => existsSync(join(options.tokenizer!, f))).map((f) =>
            fileIdentity(join(options.tokenizer!, f)),
          )
        : null,
    };
  }
  const files = (file: string) => dataFiles(file, readOptions).map(fileIdentity);
  const train = files(options.train);
  const valid = options.valid ? files(options.valid) : null;
  const loss = lossOptions(options.loss);
  const lora = loraSettings(options);
  return {
    trainData,
    validData,
    settings: (recorded) => {
      const { lr, warmup, schedule } = resolveSchedule({
        ...options,
        // A default warmup depends on --max-steps, which may grow on a resume: keep the recorded one.
        warmup: options.warmup ?? recorded?.warmup,
      });
      return {
        loss: {
          kind: options.loss.kind,
          logEnd: loss.logEnd ?? 1,
          bonusWeight: loss.bonusWeight ?? 1,
          labelSmoothing: loss.labelSmoothing ?? 0,
          // Core's default, recorded: a run resumed under a core whose default floor changed is refused.
          bonusFloor: resolveOptions(loss).bonusFloor,
        },
        lr,
        schedule,
        warmup,
        clip: options.clip ?? 1,
        seed: options.seed ?? 1,
        maxTokens: options.maxTokens ?? 2000,
        accumulate: options.accumulate ?? 1,
        sourceLanguage: options.sourceLanguage,
        targetLanguage: options.targetLanguage,
        targetToken: options.targetToken ?? null,
        // Only when given, so that run folders written before these options resume.
        ...(options.srcLang === undefined ? {} : { srcLang: options.srcLang }),
        ...(options.tgtLang === undefined ? {} : { tgtLang: options.tgtLang }),
        skipBadLines: options.skipBadLines ?? false,
        freezeEmbeddings: options.freezeEmbeddings ?? false,
        // Only when given, so that run folders written before LoRA resume.
        ...(lora ? { lora: { ...lora, targets: [lora.targets].flat(), merge: options.merge ?? false } } : {}),
        train,
        valid,
        model,
      };
    },
  };
}

/**
 * The LoRA settings of a run (PEFT's defaults for the `init` model's type applied), `undefined` without `lora`.
 * `lora` without `init`, or `merge` without `lora`, is `INVALID_OPTION`.
 */
export function loraSettings(options: TrainOptions): LoraSettings | undefined {
  if (!options.lora) {
    if (options.merge) invalidOption('--merge writes a LoRA run merged; it needs --lora R.');
    return undefined;
  }
  if (!options.init)
    invalidOption('--lora trains adapters on a pretrained model: give it with --init DIR|ORG/NAME.');
  const { family } = readModelConfig(options.init, '--init folder');
  return resolveLoraSettings(options.lora, family.modelType);
}

/**
 * Writes the trained model into `out`: a LoRA run's adapters as PEFT saves them (`base_model_name_or_path` the
 * Hub id of `init`, or its absolute path), or merged with `merge`; any other run as its family's HF folder.
 */
function saveOutput(model: Seq2SeqModel, options: TrainOptions): void {
  if (!model.lora) saveModel(model, options.out);
  else if (options.merge) saveMergedModel(model, options.out);
  else saveAdapter(model, options.out, options.initSource?.repo ?? resolve(options.init!));
}

/** The model and tokenizer to train: resumed from `out`, loaded from `init`, or new with a new tokenizer. */
async function setupModel(options: TrainOptions, trainPairs: SentencePair[], resumeDir: string | undefined) {
  const seed = options.seed ?? 1;
  let model: Seq2SeqModel;
  const lora = loraSettings(options);
  if (lora) {
    // The base is always the --init folder; a resumed run's adapters come from its checkpoint.
    const { family, config } = readModelConfig(options.init!);
    if (!resumeDir) {
      withIo('copy the tokenizer into', options.out, () => family.copyTokenizer(options.init!, options.out));
    }
    model = family.create(config, new Rng(seed));
    loadWeights(model, options.init!);
    const adapters = attachLora(model, lora, new Rng(seed));
    if (resumeDir) {
      const file = join(resumeDir, ADAPTER_WEIGHTS);
      adapters.loadPeftTensors(readSafetensors(readFileSync(file), file).tensors, file);
    }
  } else if (resumeDir) {
    const { family, config } = readModelConfig(options.out);
    model = family.create(config, new Rng(seed));
    loadWeights(model, join(resumeDir, 'model.safetensors'));
  } else if (options.init) {
    const { family, config } = readModelConfig(options.init);
    withIo('copy the tokenizer into', options.out, () => family.copyTokenizer(options.init!, options.out));
    model = family.create(config, new Rng(seed));
    loadWeights(model, options.init);
  } else {
    if (options.tokenizer) {
      withIo('copy the tokenizer into', options.out, () => copyTokenizer(options.tokenizer!, options.out));
    } else {
      const bpe = trainBpe(
        trainPairs.flatMap((p) => [p.source, p.target]),
        { vocabSize: options.vocabSize ?? 1000, alphabet: 'ÄÖÜäöüß' },
      );
      withIo('write', join(options.out, TOKENIZER_FILES[0]), () => saveTokenizer(bpe, options.out));
    }
    const vocab = JSON.parse(readFileSync(join(options.out, TOKENIZER_FILES[0]), 'utf8')).model.vocab;
    model = new MarianModel(makeConfig(Object.keys(vocab).length, options.config ?? 'small'), new Rng(seed));
  }
  try {
    if (!resumeDir) saveOutput(model, options);
    // The family from the model: a LoRA run's folder holds an adapter, not a config.json.
    const tokenizer = await loadModelTokenizer(
      options.out,
      { targetToken: options.targetToken, srcLang: options.srcLang, tgtLang: options.tgtLang },
      modelFamily(model.config, options.out),
    );
    return { model, tokenizer };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

const fixed = (x: number, digits = 3) => x.toFixed(digits);

/**
 * Trains a Marian model, or fine-tunes an `init` folder of any registered family (Marian / OPUS-MT, NLLB-200 /
 * M2M100 with `srcLang` and `tgtLang`), saving it back in its family's HF layout. Every input is read and checked before anything is written;
 * then `out` is locked and its identity written (`run.json`: the settings that define the run) or, when `out`
 * holds a checkpoint, checked and resumed from (see {@link openRun}). Writes `out/` as an HF-layout model folder
 * (config.json, model.safetensors of the best valid BLEU, tokenizer files), `out/metrics.jsonl` and checkpoints.
 * Ctrl-C (SIGINT) finishes the current step, writes a checkpoint and returns with `interrupted` set; the same call
 * resumes. A run already complete (at `maxSteps`, or stopped by `patience`) returns its recorded result with
 * `alreadyComplete` set, training nothing.
 */
export async function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  if (!Number.isInteger(options.maxSteps) || options.maxSteps <= 0) {
    invalidOption(`--max-steps must be a positive integer, got ${options.maxSteps}.`);
  }
  const accumulate = options.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1) {
    invalidOption(`--accumulate must be a positive integer, got ${accumulate}.`);
  }
  const maxTokens = options.maxTokens ?? 2000;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    invalidOption(`--max-tokens must be a positive integer, got ${maxTokens}.`);
  }
  const progress = new Progress({
    label: 'train',
    total: options.maxSteps,
    unit: 'step',
    quiet: options.quiet,
    every: options.logEvery ?? 10,
  });
  const say = (message: string) => {
    if (!options.quiet) progress.message(message);
  };
  checkOutPath(options.out, { '--init': options.init, '--tokenizer': options.tokenizer });
  const inputs = readInputs(options);
  // The languages (NLLB-200 / M2M100) or the target token are checked before anything is written.
  if (options.init) {
    await loadModelTokenizer(options.init, {
      targetToken: options.targetToken,
      srcLang: options.srcLang,
      tgtLang: options.tgtLang,
    });
  }
  await initBackend(options.backend ?? 'wasm', { threads: options.threads });
  if (inputs.trainData.skipped) say(`skipped ${inputs.trainData.skipped} bad lines in ${options.train}`);
  const run = openRun({ out: options.out, overwrite: options.overwrite, settings: inputs.settings, say });
  try {
    const complete = run.resumeDir && completedResult(run, options, say);
    if (complete) return complete;
    const result = await trainRun(options, hooks, inputs, run, progress, say);
    if (!result.interrupted) run.finish({ ...result });
    return result;
  } finally {
    run.close();
  }
}

/** The recorded result of a run that is already complete for these `maxSteps` / `patience`, else `undefined`. */
function completedResult(
  run: OpenRun,
  options: TrainOptions,
  say: (message: string) => void,
): TrainResult | undefined {
  const state = readJson(join(run.resumeDir!, 'state.json')) as TrainingState;
  const patience = options.patience ?? 0;
  const stopped = patience > 0 && state.badEvals >= patience;
  if (state.step < options.maxSteps && !stopped) return undefined;
  say(
    `${options.out} is already complete (step ${state.step}${stopped ? `, stopped by --patience ${patience}` : ` of --max-steps ${options.maxSteps}`}); its recorded result follows. Raise --max-steps or --patience to train on, or --overwrite to start over.`,
  );
  const recorded = run.record.result as TrainResult | undefined;
  return {
    ...(recorded ?? {
      steps: state.step,
      stoppedEarly: stopped,
      interrupted: false,
      bestBleu: state.bestBleu,
      tokensPerSecond: (state.tokens / Math.max(1, state.trainMs)) * 1000,
      trainSeconds: state.trainMs / 1000,
      resumedFrom: state.step,
    }),
    alreadyComplete: true,
  };
}

/** The training loop of {@link train}, in an opened run folder. */
async function trainRun(
  options: TrainOptions,
  hooks: TrainHooks,
  inputs: RunInputs,
  run: OpenRun,
  progress: Progress,
  say: (message: string) => void,
): Promise<TrainResult> {
  const { lr: peakLr, warmup, schedule, seed, maxTokens, accumulate, clip } = run.settings;
  const fineTuning = options.init !== undefined;
  const evalEvery = options.evalEvery ?? Math.max(1, Math.ceil(options.maxSteps / 5));
  const patience = options.patience ?? 0;
  const keepLast = options.keepLast ?? 2;
  const logEvery = options.logEvery ?? 10;
  const validCount = options.validSentences ?? 200;
  const lossSetting = lossOptions(options.loss);
  const resumeDir = run.resumeDir;
  const validData = inputs.validData;

  const { model, tokenizer } = await setupModel(options, inputs.trainData.pairs, resumeDir);
  if (fineTuning && !resumeDir) {
    say(
      `fine-tuning ${options.initSource ? `${options.initSource.repo} (commit ${options.initSource.commit.slice(0, 12)})` : options.init}: lr ${peakLr} (--lr), warmup ${warmup} steps (--warmup), ${schedule} schedule (--schedule)${options.freezeEmbeddings ? ', embeddings frozen' : ''}${model.lora ? `, LoRA r ${model.lora.settings.r} alpha ${model.lora.settings.alpha} dropout ${model.lora.settings.dropout} on ${model.lora.modules.length} modules (${[model.lora.settings.targets].flat().join(',')}): ${model.lora.size} trained parameters, base frozen` : ''}`,
    );
  }
  const maxLength = model.config.max_position_embeddings;
  const examples = encodePairs(inputs.trainData.pairs, tokenizer, maxLength);
  if (examples.length === 0) {
    model.dispose();
    invalidData(`${options.train} has no usable sentence pairs (all are longer than ${maxLength} tokens).`);
  }
  const validExamples = validData ? encodePairs(validData.pairs, tokenizer, maxLength) : [];

  // With LoRA: moments for the adapters only (the frozen base has neither gradients nor moments).
  const optimizer = new HostAdam(trainableParams(model));
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
    restoreMoments(optimizer, resumeDir, state.step);
    say(`resuming from ${resumeDir} (step ${state.step} of --max-steps ${options.maxSteps})`);
  }
  const resumedFrom = state.step;
  progress.restart(state.step);
  const rng = new Rng(0);
  rng.state = state.rngState;
  const metricsFile = join(options.out, 'metrics.jsonl');
  const record = (r: MetricsRecord) =>
    withIo('write', metricsFile, () => appendFileSync(metricsFile, `${JSON.stringify(r)}\n`));
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
      saveOutput(model, options);
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
    if (state.bestBleu < 0 && !interrupted) saveOutput(model, options);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    progress.finish();
    model.dispose();
  }
  return {
    steps: state.step,
    stoppedEarly,
    interrupted,
    bestBleu: state.bestBleu,
    tokensPerSecond: (state.tokens / Math.max(1, state.trainMs)) * 1000,
    trainSeconds: state.trainMs / 1000,
    resumedFrom,
  };
}
