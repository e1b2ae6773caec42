import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveOptions } from '@encouraging-loss/core';
import {
  attachLora,
  checkpointFiles,
  checkpointName,
  encodePairs,
  HostAdam,
  initialState,
  invalidData,
  invalidOption,
  type LoraSettings,
  type LossSettings,
  lossOptions,
  type MetricsRecord,
  Rng,
  readSafetensors,
  resolveLoraSettings,
  restoreMoments,
  type ScheduleSettings,
  scheduleDefaults,
  type TrainingState,
  trainableParams,
  trainLoop,
  type ValidScores,
  validate,
  withIo,
} from '@encouraging-loss/translate';
import {
  ADAPTER_WEIGHTS,
  type BackendName,
  checkFolder,
  copyTokenizer,
  dataFiles,
  existingFolder,
  initNodeBackend,
  loadModelTokenizer,
  loadWeights,
  MarianModel,
  makeConfigFile,
  modelFamily,
  nodeFolder,
  publishDirectory,
  type ReadResult,
  readJsonFile,
  readModelConfig,
  readParallelData,
  requirePairs,
  type SentencePair,
  type Seq2SeqModel,
  saveAdapter,
  saveMergedModel,
  saveModel,
  saveTokenizer,
  TOKENIZER_FILES,
  temporaryName,
  tokenizerKind,
  trainBpe,
  writeFileAtomic,
} from '@encouraging-loss/translate/node';
import { Progress } from '../progress/progress.js';
import { type OpenRun, openRun } from '../run/open-run.js';
import { checkOutPath, STATE_DIR } from '../run/run-folder.js';
import { fileIdentity, initIdentity, type RunSettings } from '../run/run-settings.js';

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

/** Replaceable parts of {@link train}, for tests. */
export interface TrainHooks {
  /** Scores the model at an evaluation step instead of {@link validate}; `undefined` skips the evaluation. */
  validate?: (step: number) => ValidScores | undefined;
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
  const name = checkpointName(state.step);
  const temporary = temporaryName(join(root, `.tmp-${name}`));
  try {
    withIo('create', temporary, () => mkdirSync(temporary, { recursive: true }));
    for (const [file, data] of checkpointFiles(model, optimizer, state)) {
      writeFileAtomic(join(temporary, file), data);
    }
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

function restoreCheckpointMoments(optimizer: HostAdam, dir: string, step: number): void {
  const file = join(dir, 'optimizer.safetensors');
  restoreMoments(optimizer, readSafetensors(readFileSync(file), file).tensors, step, file);
}

/** Hyper-parameters after defaults: from scratch, or fine-tuning a pretrained `--init` (HF Trainer-like). */
export function resolveSchedule(options: TrainOptions): ScheduleSettings & { fineTuning: boolean } {
  const fineTuning = options.init !== undefined;
  return { ...scheduleDefaults({ ...options, fineTuning }), fineTuning };
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
    const { family } = readModelConfig(existingFolder(options.init, '--init folder'));
    if (!family.hasTokenizer(nodeFolder(options.init))) {
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
      if (tokenizerKind(nodeFolder(options.tokenizer)) !== 'tokenizer.json') {
        invalidData(`--tokenizer folder ${options.tokenizer} has no tokenizer.json.`);
      }
    }
    const preset = options.config ?? 'small';
    const configFile = preset !== 'tiny' && preset !== 'small' && existsSync(preset);
    const raw = configFile
      ? (readJsonFile(preset, '--config file') as { vocab_size?: unknown } | null)
      : null;
    // Refuses an unknown preset or bad fields before any write (the vocabulary size is checked once known).
    makeConfigFile(typeof raw?.vocab_size === 'number' ? raw.vocab_size : 1000, preset);
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
  const { family } = readModelConfig(existingFolder(options.init, '--init folder'));
  return resolveLoraSettings(options.lora, family.modelType);
}

/**
 * Writes the trained model into `out`: a LoRA run's adapters as PEFT saves them (`base_model_name_or_path` the
 * Hub id of `init`, or its absolute path), or merged with `merge`; any other run as its family's HF folder.
 */
function saveOutput(model: Seq2SeqModel, options: TrainOptions): void {
  const out = nodeFolder(options.out);
  if (!model.lora) saveModel(model, out);
  else if (options.merge) saveMergedModel(model, out);
  else saveAdapter(model, out, options.initSource?.repo ?? resolve(options.init!));
}

/** The model and tokenizer to train: resumed from `out`, loaded from `init`, or new with a new tokenizer. */
async function setupModel(options: TrainOptions, trainPairs: SentencePair[], resumeDir: string | undefined) {
  const seed = options.seed ?? 1;
  let model: Seq2SeqModel;
  const lora = loraSettings(options);
  if (lora) {
    // The base is always the --init folder; a resumed run's adapters come from its checkpoint.
    const init = nodeFolder(options.init!);
    const { family, config } = readModelConfig(init);
    if (!resumeDir) {
      withIo('copy the tokenizer into', options.out, () =>
        family.copyTokenizer(init, nodeFolder(options.out)),
      );
    }
    model = family.create(config, new Rng(seed));
    loadWeights(model, init);
    const adapters = attachLora(model, lora, new Rng(seed));
    if (resumeDir) {
      const file = join(resumeDir, ADAPTER_WEIGHTS);
      adapters.loadPeftTensors(readSafetensors(readFileSync(file), file).tensors, file);
    }
  } else if (resumeDir) {
    const { family, config } = readModelConfig(nodeFolder(options.out));
    model = family.create(config, new Rng(seed));
    loadWeights(model, nodeFolder(resumeDir), 'model.safetensors');
  } else if (options.init) {
    const init = nodeFolder(options.init);
    const { family, config } = readModelConfig(init);
    withIo('copy the tokenizer into', options.out, () => family.copyTokenizer(init, nodeFolder(options.out)));
    model = family.create(config, new Rng(seed));
    loadWeights(model, init);
  } else {
    if (options.tokenizer) {
      withIo('copy the tokenizer into', options.out, () =>
        copyTokenizer(nodeFolder(options.tokenizer!), nodeFolder(options.out)),
      );
    } else {
      const bpe = trainBpe(
        trainPairs.flatMap((p) => [p.source, p.target]),
        { vocabSize: options.vocabSize ?? 1000, alphabet: 'ÄÖÜäöüß' },
      );
      withIo('write', join(options.out, TOKENIZER_FILES[0]), () =>
        saveTokenizer(bpe, nodeFolder(options.out)),
      );
    }
    const vocab = JSON.parse(readFileSync(join(options.out, TOKENIZER_FILES[0]), 'utf8')).model.vocab;
    model = new MarianModel(
      makeConfigFile(Object.keys(vocab).length, options.config ?? 'small'),
      new Rng(seed),
    );
  }
  try {
    if (!resumeDir) saveOutput(model, options);
    // The family from the model: a LoRA run's folder holds an adapter, not a config.json.
    const tokenizer = await loadModelTokenizer(
      nodeFolder(options.out),
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
    await loadModelTokenizer(nodeFolder(options.init), {
      targetToken: options.targetToken,
      srcLang: options.srcLang,
      tgtLang: options.tgtLang,
    });
  }
  await initNodeBackend(options.backend ?? 'wasm', { threads: options.threads });
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
  const state = readJsonFile(join(run.resumeDir!, 'state.json')) as TrainingState;
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
  let state = initialState(seed);

  if (resumeDir) {
    state = readJsonFile(join(resumeDir, 'state.json')) as TrainingState;
    restoreCheckpointMoments(optimizer, resumeDir, state.step);
    say(`resuming from ${resumeDir} (step ${state.step} of --max-steps ${options.maxSteps})`);
  }
  const resumedFrom = state.step;
  progress.restart(state.step);
  const metricsFile = join(options.out, 'metrics.jsonl');
  const record = (r: MetricsRecord) =>
    withIo('write', metricsFile, () => appendFileSync(metricsFile, `${JSON.stringify(r)}\n`));
  // Ctrl-C → the loop's AbortSignal: the current step finishes and a checkpoint is written; a second one quits.
  const stop = new AbortController();
  const onInterrupt = () => {
    if (stop.signal.aborted) process.exit(130); // a second Ctrl-C does not wait for the checkpoint
    stop.abort();
    say('interrupted: writing a checkpoint of the last step (Ctrl-C again to quit without one)');
  };
  process.on('SIGINT', onInterrupt);
  let written = '';
  let outcome: { stoppedEarly: boolean; interrupted: boolean };
  try {
    outcome = await trainLoop(
      model,
      optimizer,
      examples,
      lossSetting,
      {
        maxSteps: options.maxSteps,
        lr: peakLr,
        warmup,
        // run.json records the schedule as a string; resolveSchedule wrote one of the two.
        schedule: schedule as ScheduleSettings['schedule'],
        clip,
        seed,
        maxTokens,
        accumulate,
        evalEvery,
        patience,
        logEvery,
        freezeEmbeddings: options.freezeEmbeddings,
      },
      state,
      {
        signal: stop.signal,
        evaluate:
          hooks.validate ??
          (() =>
            validData && validExamples.length > 0
              ? validate(model, tokenizer, validData.pairs, validExamples, validCount)
              : undefined),
        onMetrics: (r) => {
          record(r);
          if (r.type === 'train') {
            progress.fields = { loss: fixed(r.loss), nll: fixed(r.nll), bonus: fixed(r.bonus) };
          } else {
            say(
              `step ${r.step}: valid nll ${fixed(r.nll)} bleu ${r.bleu.toFixed(2)} chrF ${r.chrf.toFixed(2)}`,
            );
          }
        },
        onStep: (p) =>
          progress.update(p.step, {
            lr: p.lr.toExponential(2),
            'tok/s': String(Math.round(p.tokensPerSecond)),
          }),
        onBest: () => saveOutput(model, options),
        checkpoint: (s) => {
          written = saveCheckpoint(options.out, model, optimizer, s, keepLast);
        },
        // Let a pending SIGINT reach its handler: the step itself never yields to the event loop.
        pause: () => new Promise((resolve) => setImmediate(resolve)),
        say,
      },
    );
    if (outcome.interrupted) {
      say(`checkpoint ${written} written at step ${state.step}; run the same command to resume`);
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    progress.finish();
    model.dispose();
  }
  const { stoppedEarly, interrupted } = outcome;
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
