import { invalidOption, type LossKind } from '@encouraging-loss/translate';
import { train } from '../train/train.js';
import {
  backend,
  type Command,
  LANGUAGE_OPTIONS,
  MODEL_USAGE,
  number,
  parseCommand,
  positiveInteger,
  required,
  THREADS_USAGE,
  threads,
} from './args.js';
import { resolveModelFlag } from './model-source.js';

const usage = `el-translate train — train a Marian model, or fine-tune a Marian / OPUS-MT or NLLB-200 / M2M100 one,
with CE, label-smoothed CE, EL or CEL

  el-translate train --train FILE [--valid FILE] --src en --tgt de --out DIR [options]

Model:
  --init DIR|ORG/NAME    fine-tune this model folder (the app's, an OPUS-MT / HF Marian or an NLLB-200 / M2M100
                         folder) or Hub model; sets the fine-tuning defaults lr 5e-5, warmup min(100, steps/20),
                         linear decay (printed at start); a Hub model's repo, revision and commit go to run.json
  --tokenizer DIR        reuse this folder's tokenizer (from scratch only)
  --target-token >>deu<< the target-language token of a multilingual OPUS-MT model (put before each source)
  --config tiny|small|FILE   model size from scratch (default small); FILE: a JSON of MarianConfig fields
  --vocab-size N         BPE vocabulary trained from the data (default 1000)
  --freeze-embeddings    leave the shared embedding / output projection as loaded
${MODEL_USAGE}
  (--src/--tgt name the data's columns or file suffixes; --src-lang/--tgt-lang the model's language codes)
LoRA (PEFT's way; needs --init):
  --lora R               train rank-R adapters on the target modules, the base frozen (no gradients or Adam
                         moments for it); --out gets adapter_config.json + adapter_model.safetensors as PEFT saves
                         them (load with PeftModel.from_pretrained, or --adapter DIR of translate/score/eval)
  --lora-alpha A         the update is scaled by alpha/r (default 8)
  --lora-dropout P       dropout on the adapters' input, in training (default 0)
  --lora-targets a,b     module names (default the model type's in PEFT: q_proj,v_proj for Marian and M2M100)
  --merge                write the merged model (W + alpha/r·B·A) as a full HF folder instead of the adapter
Loss:
  --loss ce|el|cel       (default ce)   --log-end X (cel, default 0.5)   --bonus-weight X (default 1)
  --label-smoothing X    ε, also applied to the bonus (default 0)
Optimisation:
  --max-steps N (default 1000)  --max-tokens N target tokens per micro-batch (default 2000)
  --accumulate N         micro-batches per step (default 1)   --lr X   --warmup N
  --schedule inverse-sqrt|linear   --clip X (default 1)   --seed N (default 1)
Evaluation and checkpoints:
  --eval-every N         valid NLL + greedy BLEU/chrF (default maxSteps/5)   --patience N   --keep-last N
  --log-every N          metrics.jsonl and progress every N steps (default 10)
Other:
  --skip-bad-lines  --backend wasm|cpu  --quiet
${THREADS_USAGE}
  --overwrite            start over in --out (its checkpoints, metrics and model files are removed), or write
                         into a non-empty folder that is not a run folder (its model files are replaced)

Progress goes to stderr (a live line on a terminal); the result JSON to stdout. Ctrl-C writes a checkpoint and
exits (code 130); the same command resumes from it.

Run folder: --out records the settings that define the run in run.json (loss and its options, lr, schedule,
warmup, clip, seed, max-tokens, accumulate, languages, the data files' sizes and SHA-256, the --init folder's
config and weights hashes, the package version). Re-running into it resumes from its last checkpoint only with
the same settings; anything else is refused, naming each difference: use another --out, or --overwrite.
--max-steps and --patience may grow on a resume (a linear schedule then decays to the new --max-steps);
--eval-every, --log-every, --keep-last and --backend may change. A run that is already complete prints its
recorded result ("alreadyComplete": true) and trains nothing. --out may not be, be inside, or contain --init;
a lock file (train.lock: pid and host) keeps a second process out, and a stale one is taken over.
`;

/**
 * `--lora R --lora-alpha A --lora-dropout P --lora-targets a,b` as `TrainOptions.lora` (`undefined` without
 * `--lora`; a LoRA option without it is `INVALID_OPTION`). Values are checked by `resolveLoraSettings`.
 */
export function loraFlags(values: {
  lora?: string;
  'lora-alpha'?: string;
  'lora-dropout'?: string;
  'lora-targets'?: string;
}): { r: number; alpha?: number; dropout?: number; targets?: string[] } | undefined {
  if (values.lora === undefined) {
    const stray = (['lora-alpha', 'lora-dropout', 'lora-targets'] as const).find(
      (k) => values[k] !== undefined,
    );
    if (stray) invalidOption(`--${stray} sets up LoRA; it needs --lora R.`);
    return undefined;
  }
  return {
    r: number(values.lora, 'lora')!,
    alpha: number(values['lora-alpha'], 'lora-alpha'),
    dropout: number(values['lora-dropout'], 'lora-dropout'),
    targets: values['lora-targets']
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  };
}

/** `el-translate train`. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'train or fine-tune (Ctrl-C checkpoints; the same command resumes)',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      train: { type: 'string' },
      valid: { type: 'string' },
      src: { type: 'string', default: 'en' },
      tgt: { type: 'string', default: 'de' },
      out: { type: 'string' },
      init: { type: 'string' },
      tokenizer: { type: 'string' },
      'target-token': { type: 'string' },
      ...LANGUAGE_OPTIONS,
      loss: { type: 'string', default: 'ce' },
      'log-end': { type: 'string' },
      'bonus-weight': { type: 'string' },
      'label-smoothing': { type: 'string' },
      'max-steps': { type: 'string' },
      'max-tokens': { type: 'string' },
      lr: { type: 'string' },
      warmup: { type: 'string' },
      schedule: { type: 'string' },
      clip: { type: 'string' },
      accumulate: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      'eval-every': { type: 'string' },
      'log-every': { type: 'string' },
      patience: { type: 'string' },
      'keep-last': { type: 'string' },
      'vocab-size': { type: 'string' },
      'freeze-embeddings': { type: 'boolean', default: false },
      lora: { type: 'string' },
      'lora-alpha': { type: 'string' },
      'lora-dropout': { type: 'string' },
      'lora-targets': { type: 'string' },
      merge: { type: 'boolean', default: false },
      'skip-bad-lines': { type: 'boolean', default: false },
      backend: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      overwrite: { type: 'boolean', default: false },
    });
    if (!values) return;
    const schedule = values.schedule;
    if (schedule !== undefined && schedule !== 'inverse-sqrt' && schedule !== 'linear') {
      invalidOption(`--schedule must be inverse-sqrt or linear, got ${schedule}.`);
    }
    const lora = loraFlags(values);
    const trainFile = required(values.train, 'train', usage);
    const out = required(values.out, 'out', usage);
    // A Hub id is fetched (or found in the cache) once the required flags are known to be there.
    const init =
      values.init === undefined ? undefined : await resolveModelFlag(values.init, '--init', values);
    const result = await train({
      train: trainFile,
      valid: values.valid,
      sourceLanguage: values.src!,
      targetLanguage: values.tgt!,
      out,
      init: init?.dir,
      initSource:
        init?.repo && init.revision && init.commit
          ? { repo: init.repo, revision: init.revision, commit: init.commit }
          : undefined,
      tokenizer: values.tokenizer,
      targetToken: values['target-token'],
      srcLang: values['src-lang'],
      tgtLang: values['tgt-lang'],
      loss: {
        kind: values.loss as LossKind,
        logEnd: number(values['log-end'], 'log-end'),
        bonusWeight: number(values['bonus-weight'], 'bonus-weight'),
        labelSmoothing: number(values['label-smoothing'], 'label-smoothing'),
      },
      maxSteps: number(values['max-steps'], 'max-steps', 1000),
      maxTokens: number(values['max-tokens'], 'max-tokens'),
      lr: number(values.lr, 'lr'),
      warmup: number(values.warmup, 'warmup'),
      schedule,
      clip: number(values.clip, 'clip'),
      accumulate:
        values.accumulate === undefined ? undefined : positiveInteger(values.accumulate, 'accumulate', 1),
      seed: number(values.seed, 'seed'),
      config: values.config,
      evalEvery: number(values['eval-every'], 'eval-every'),
      logEvery:
        values['log-every'] === undefined ? undefined : positiveInteger(values['log-every'], 'log-every', 10),
      patience: number(values.patience, 'patience'),
      keepLast: number(values['keep-last'], 'keep-last'),
      vocabSize: number(values['vocab-size'], 'vocab-size'),
      freezeEmbeddings: values['freeze-embeddings'],
      lora,
      merge: values.merge,
      skipBadLines: values['skip-bad-lines'],
      backend: backend(values.backend),
      threads: threads(values.threads),
      quiet: values.quiet,
      overwrite: values.overwrite,
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (result.interrupted) process.exitCode = 130;
  },
};
