import { invalidOption } from '../errors.js';
import type { LossKind } from '../training/loss.js';
import { train } from '../training/train.js';
import { backend, type Command, number, parseCommand, positiveInteger, required } from './args.js';

const usage = `el-translate train — train or fine-tune a Marian model with CE, label-smoothed CE, EL or CEL

  el-translate train --train FILE [--valid FILE] --src en --tgt de --out DIR [options]

Model:
  --init DIR             fine-tune this model folder (the app's, or an OPUS-MT / HF Marian folder); sets the
                         fine-tuning defaults lr 5e-5, warmup min(100, steps/20), linear decay (printed at start)
  --tokenizer DIR        reuse this folder's tokenizer (from scratch only)
  --target-token >>deu<< the target-language token of a multilingual OPUS-MT model (put before each source)
  --config tiny|small|FILE   model size from scratch (default small); FILE: a JSON of MarianConfig fields
  --vocab-size N         BPE vocabulary trained from the data (default 1000)
  --freeze-embeddings    leave the shared embedding / output projection as loaded
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

Progress goes to stderr (a live line on a terminal); the result JSON to stdout. Ctrl-C writes a checkpoint and
exits (code 130); the same command resumes from it.
`;

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
      'skip-bad-lines': { type: 'boolean', default: false },
      backend: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const schedule = values.schedule;
    if (schedule !== undefined && schedule !== 'inverse-sqrt' && schedule !== 'linear') {
      invalidOption(`--schedule must be inverse-sqrt or linear, got ${schedule}.`);
    }
    const result = await train({
      train: required(values.train, 'train', usage),
      valid: values.valid,
      sourceLanguage: values.src!,
      targetLanguage: values.tgt!,
      out: required(values.out, 'out', usage),
      init: values.init,
      tokenizer: values.tokenizer,
      targetToken: values['target-token'],
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
      skipBadLines: values['skip-bad-lines'],
      backend: backend(values.backend),
      quiet: values.quiet,
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (result.interrupted) process.exitCode = 130;
  },
};
