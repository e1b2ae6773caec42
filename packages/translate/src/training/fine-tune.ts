import { resolveOptions } from '@encouraging-loss/core';
import { readSafetensors } from '../checkpoint/safetensors.js';
import type { SentencePair } from '../data/data.js';
import { invalidData, invalidOption } from '../errors.js';
import { scoreCorpus } from '../evaluation/score.js';
import { trainableParams } from '../lora/lora.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { type ModelStore, readText } from '../store/model-store.js';
import type { SubwordTokenizer } from '../tokenizers/tokenizer.js';
import { type LossSettings, lossOptions } from './loss.js';
import { HostAdam } from './optimizer.js';
import {
  checkpointFiles,
  checkpointName,
  encodePairs,
  initialState,
  type MetricsRecord,
  restoreMoments,
  type StepProgress,
  scheduleDefaults,
  type TrainingState,
  trainLoop,
  validate,
} from './trainer.js';

/** Options of {@link fineTune}: the model, the data, `el-translate train --init`'s settings, and the host's hooks. */
export interface FineTuneOptions {
  /** The model to train in place (loaded with `loadModel`; with LoRA attached, only the adapters train). */
  model: Seq2SeqModel;
  tokenizer: SubwordTokenizer;
  train: readonly SentencePair[];
  /** Scored at evaluation steps (NLL, greedy BLEU/chrF) and, after the last step, for {@link FineTuneResult.validNll}. */
  valid?: readonly SentencePair[];
  loss: LossSettings;
  maxSteps: number;
  /** Target tokens (padding included) per micro-batch. Default 2000. */
  maxTokens?: number;
  /** Peak learning rate. Default 5e-5 (fine-tuning) or 1e-3 (`fromScratch`). */
  lr?: number;
  /** Warmup steps. Default min(100, ⌈maxSteps / 20⌉), or min(400, ⌈maxSteps / 10⌉) `fromScratch`. */
  warmup?: number;
  /** Default `'linear'`, or `'inverse-sqrt'` `fromScratch`. */
  schedule?: 'inverse-sqrt' | 'linear';
  /** Gradient-norm clip. Default 1. */
  clip?: number;
  /** Micro-batches per optimizer step. Default 1. */
  accumulate?: number;
  /** Seeds batching and dropout. Default 1. */
  seed?: number;
  /** Default ⌈maxSteps / 5⌉. */
  evalEvery?: number;
  /** Stop after this many evaluations without a valid BLEU gain. Default 0 (never). */
  patience?: number;
  /** Loss parts are computed every this many steps. Default 1. */
  logEvery?: number;
  /** Valid sentences translated (greedy) at evaluation steps. Default 200; 0 scores the NLL only. */
  validSentences?: number;
  freezeEmbeddings?: boolean;
  /** The model is new, not pretrained: the from-scratch schedule defaults. */
  fromScratch?: boolean;
  /** Stop: the current step finishes, a checkpoint is written (with `checkpoints`), and the result says `interrupted`. */
  signal?: AbortSignal;
  onProgress?: (progress: StepProgress) => void;
  /** Every train / valid record, as `el-translate train` writes them to `metrics.jsonl`. */
  onMetrics?: (record: MetricsRecord) => void;
  /**
   * Where checkpoints go (OPFS, a picked folder, the file system): `training_state/step-N/` published atomically at
   * evaluation steps and on Stop, with the run's settings in `run.json`. A store that holds a checkpoint of the same
   * settings is resumed from it; one of other settings is refused (`INVALID_OPTION`) unless `overwrite`.
   */
  checkpoints?: { store: ModelStore; keepLast?: number; overwrite?: boolean };
}

/** What {@link fineTune} returns. */
export interface FineTuneResult {
  steps: number;
  /** Stopped by `signal` (a checkpoint was written when `checkpoints` was given). */
  interrupted: boolean;
  stoppedEarly: boolean;
  resumedFrom: number;
  /** Mean NLL per target token of the last logged step's batch. */
  trainNll: number;
  /** The valid set's mean NLL per target token after the last step (as `el-translate score` computes it). */
  validNll?: number;
  bestBleu: number;
  /** Non-padding target tokens per second of training (evaluation excluded). */
  tokensPerSecond: number;
  trainSeconds: number;
}

const STATE = 'training_state';

/**
 * Fine-tunes `model` in place on sentence pairs with CE / LS-CE / EL / CEL: the trainer of `el-translate train`
 * ({@link trainLoop}) without a file system, for a page or a worker as much as for Node. The same model, pairs,
 * settings and seed give the same weights as the CLI.
 */
export async function fineTune(options: FineTuneOptions): Promise<FineTuneResult> {
  const { model, tokenizer } = options;
  const positive = (name: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 1) invalidOption(`${name} must be a positive integer, got ${v}.`);
    return v;
  };
  const maxSteps = positive('maxSteps', options.maxSteps, 0);
  const maxTokens = positive('maxTokens', options.maxTokens, 2000);
  const accumulate = positive('accumulate', options.accumulate, 1);
  const seed = options.seed ?? 1;
  const schedule = scheduleDefaults({ ...options, fineTuning: !options.fromScratch });
  const lossSetting = lossOptions(options.loss);
  const maxLength = model.config.max_position_embeddings;
  const examples = encodePairs(options.train, tokenizer, maxLength);
  if (examples.length === 0) {
    invalidData(`The training data has no usable sentence pairs (none shorter than ${maxLength} tokens).`);
  }
  const valid = options.valid ?? [];
  const validExamples = encodePairs(valid, tokenizer, maxLength);
  const settings = {
    maxSteps,
    ...schedule,
    clip: options.clip ?? 1,
    seed,
    maxTokens,
    accumulate,
    evalEvery: options.evalEvery ?? Math.max(1, Math.ceil(maxSteps / 5)),
    patience: options.patience ?? 0,
    logEvery: options.logEvery ?? 1,
    freezeEmbeddings: options.freezeEmbeddings ?? false,
  };
  const optimizer = new HostAdam(trainableParams(model));
  const store = options.checkpoints?.store;
  const keepLast = options.checkpoints?.keepLast ?? 2;
  // What defines the run: a checkpoint of other settings or data is never silently continued.
  const identity = JSON.stringify({
    ...settings,
    maxSteps: undefined,
    loss: { ...options.loss, bonusFloor: resolveOptions(lossSetting).bonusFloor },
    train: fingerprint(options.train),
    config: model.config,
    lora: model.lora ? model.lora.settings : null,
  });
  let state = initialState(seed);
  if (store)
    state = (await resume(store, identity, model, optimizer, options.checkpoints?.overwrite)) ?? state;
  const resumedFrom = state.step;
  let trainNll = Number.NaN;
  const { stoppedEarly, interrupted } = await trainLoop(
    model,
    optimizer,
    examples,
    lossSetting,
    settings,
    state,
    {
      signal: options.signal,
      onStep: options.onProgress,
      onMetrics: (record) => {
        if (record.type === 'train') trainNll = record.nll;
        options.onMetrics?.(record);
      },
      evaluate: () =>
        validExamples.length > 0
          ? validate(model, tokenizer, valid, validExamples, options.validSentences ?? 200)
          : undefined,
      checkpoint: store ? (s) => saveCheckpoint(store, identity, model, optimizer, s, keepLast) : undefined,
      // A worker's or page's messages (Stop) are handled between steps.
      pause: () => new Promise((resolve) => setTimeout(resolve, 0)),
    },
  );
  const validNll = valid.length > 0 ? scoreCorpus(model, tokenizer, valid).corpus.nll : undefined;
  return {
    steps: state.step,
    interrupted,
    stoppedEarly,
    resumedFrom,
    trainNll,
    validNll,
    bestBleu: state.bestBleu,
    tokensPerSecond: (state.tokens / Math.max(1, state.trainMs)) * 1000,
    trainSeconds: state.trainMs / 1000,
  };
}

/** FNV-1a of the pairs' text: a changed training set is a different run. */
function fingerprint(pairs: readonly SentencePair[]): string {
  let hash = 0x811c9dc5;
  for (const { source, target } of pairs) {
    for (const text of [source, '\t', target, '\n']) {
      for (let i = 0; i < text.length; i++) {
        hash ^= text.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193) >>> 0;
      }
    }
  }
  return `${pairs.length}:${hash.toString(16).padStart(8, '0')}`;
}

async function saveCheckpoint(
  store: ModelStore,
  identity: string,
  model: Seq2SeqModel,
  optimizer: HostAdam,
  state: TrainingState,
  keepLast: number,
): Promise<void> {
  // Written even when the signal is aborted: the checkpoint is what Stop keeps.
  const name = checkpointName(state.step);
  const files = checkpointFiles(model, optimizer, state);
  if (!(await store.exists('run.json'))) await store.write('run.json', identity);
  await store.publish(`${STATE}/${name}`, files);
  await store.write(`${STATE}/latest`, name);
  const steps = [...new Set((await store.list(STATE)).map((p) => p.split('/')[1]))]
    .filter((f) => f?.startsWith('step-'))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    await store.remove(`${STATE}/${old}`);
  }
}

/** The state of the store's latest checkpoint, loaded into `model` and `optimizer`; `undefined` for a fresh run. */
async function resume(
  store: ModelStore,
  identity: string,
  model: Seq2SeqModel,
  optimizer: HostAdam,
  overwrite = false,
): Promise<TrainingState | undefined> {
  if (!(await store.exists(`${STATE}/latest`))) return undefined;
  const recorded = (await store.exists('run.json')) ? await readText(store, 'run.json') : '';
  if (recorded !== identity) {
    if (!overwrite) {
      invalidOption(
        `${store.location} holds a checkpoint of a run with other settings or data; give checkpoints.overwrite to start over, or another store.`,
      );
    }
    await store.remove(STATE);
    await store.remove('run.json');
    return undefined;
  }
  const dir = `${STATE}/${(await readText(store, `${STATE}/latest`)).trim()}`;
  const state = JSON.parse(await readText(store, `${dir}/state.json`)) as TrainingState;
  if (model.lora) {
    const file = `${dir}/adapter_model.safetensors`;
    model.lora.loadPeftTensors(readSafetensors(await store.read(file), file).tensors, file);
  } else {
    const file = `${dir}/model.safetensors`;
    model.loadNamedTensors(readSafetensors(await store.read(file), file).tensors, file);
  }
  const file = `${dir}/optimizer.safetensors`;
  restoreMoments(optimizer, readSafetensors(await store.read(file), file).tensors, state.step, file);
  return state;
}
