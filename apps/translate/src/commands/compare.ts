import { join } from 'node:path';
import { invalidOption } from '@encouraging-loss/translate';
import { writeFileAtomic } from '@encouraging-loss/translate/node';
import { parseLosses, parseSeeds } from '../compare/arms.js';
import { runCompare } from '../compare/compare.js';
import { pairedTable, summaryTable, writeCompareFiles } from '../compare/report.js';
import {
  backend,
  type Command,
  number,
  outputFolder,
  parseCommand,
  positiveInteger,
  required,
  seed32,
  THREADS_USAGE,
  threads,
} from './args.js';

const usage = `el-translate compare — the paper's MT question asked of your data: fine-tune one model with several
losses and seeds, score each run on a test set, and test the differences (paired bootstrap, as sacreBLEU)

  el-translate compare --init MODEL --train FILE [--valid FILE] --test FILE --out DIR
                       [--losses ce,ls,el,cel] [--seeds 1,2,3] [--json] [options]

Losses (the first is the baseline of the paired tests):
  ce    cross-entropy, no smoothing             ls    CE with label smoothing ε
  el    EL (logEnd 1), ε on CE and bonus         cel   CEL (logEnd --log-end), ε on CE and bonus
  --label-smoothing X    ε of ls, el and cel (default 0.1)    --log-end X   CEL's tangent point (default 0.5)
  --bonus-weight X       ρ of el and cel (default 1)
Evaluation:
  --beam N               beam size on --test (default 5)
  --resamples N          bootstrap resamples (default 1000)   --bootstrap-seed N (default 12345, sacreBLEU's)
Training (each run; as el-translate train with --init):
  --max-steps N (default 1000)  --lr X (default 5e-5)  --warmup N  --schedule inverse-sqrt|linear (default linear)
  --max-tokens N  --accumulate N  --clip X  --eval-every N  --log-every N  --patience N  --keep-last N
  --freeze-embeddings  --src en --tgt de  --target-token >>deu<<  --skip-bad-lines  --backend wasm|cpu  --quiet
${THREADS_USAGE}

Writes, under DIR: one run folder per loss and seed (<loss>-seed<N>: el-translate train's run folder, with its
run.json, checkpoints, metrics.jsonl and best-valid-BLEU weights), evaluations/<run>.json (the test translations),
compare.json (the result; --json prints it on stdout), compare-scores.vl.json + .svg (a Vega-Lite chart) and
report.md. Progress goes to stderr. The same command resumes: finished runs are skipped, unfinished ones resume
from their checkpoint, translations are reused while a run's weights are unchanged; a run folder refuses other
settings (other data, --init, loss or optimiser flags) rather than mix two runs. Ctrl-C checkpoints the current run
and exits 130.

Scores: BLEU (sacreBLEU 13a, exp smoothing) and chrF2, mean ± sample std over seeds. Per seed, each loss is tested
against the baseline's run of the same seed by paired bootstrap resampling as sacreBLEU's --paired-bs: the same
resampled test sentences for both systems, corpus scores recomputed from summed sufficient statistics, p = (1 + #
resamples whose centred |difference| reaches the observed one) / (1 + resamples), μ ± half-width of the 95 %
interval. One departure: sacreBLEU counts "exceeds" strictly, which gives two identical systems p ≈ 0.001; here
"reaches" (≥), so they get p = 1. Resampling uses this app's seeded generator, not NumPy's: p-values agree with
sacreBLEU's in distribution, not digit for digit (given NumPy's resamples they are sacreBLEU's to the digit: tested).

Defaults and the official criterion (lancopku/well-classified-examples-are-underestimated, translation/, criterion
encourage_loss, and label_smoothed_encouraging_loss_fairseq.py):
  - Same loss: q = (1 − ε)·onehot + ε/V on CE and on the bonus alike (the official el_lb, set equal to
    --label-smoothing 0.1 in the paper's MT scripts); bonus log(max(1 − p, 1e-5)) (core's bonusFloor, the
    official clamp); CEL's tangent past logEnd for every class; padding masked (el_mask_pad 1); ρ = 1.
  - The paper's MT "EL" rows are log_end 0.5, i.e. our cel arm; el here is plain EL (logEnd 1, bounded by the
    floor), kept as the paper's ablation. Its baseline (bonus_gamma 0) is our ls arm; ce is an extra arm.
  - Not offered: bonus_start, defer_start, el_schedule, bonus_abrupt, sub_data_rho, all_dynamic_rho: the MT
    scripts leave them at their defaults (off). The schedule reads the criterion's epoch, which the repository's
    train.py sets only for a criterion named "enourage_loss" (sic), not the registered "encourage_loss".
  - Regime: the paper trains from scratch (20k updates, lr 1e-3 inverse-sqrt, 4000 warmup, dropout 0.4, the
    last 10 checkpoints averaged, fairseq's tokenised BLEU). compare fine-tunes --init with the trainer's
    fine-tuning defaults, keeps each run's best valid-BLEU checkpoint and reports detokenised sacreBLEU.
`;

/** `el-translate compare`. */
export const compareCommand: Command = {
  name: 'compare',
  summary: 'fine-tune with several losses and seeds; BLEU/chrF, paired bootstrap, chart, report',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      init: { type: 'string' },
      train: { type: 'string' },
      valid: { type: 'string' },
      test: { type: 'string' },
      out: { type: 'string' },
      losses: { type: 'string', default: 'ce,ls,el,cel' },
      seeds: { type: 'string', default: '1,2,3' },
      'label-smoothing': { type: 'string' },
      'log-end': { type: 'string' },
      'bonus-weight': { type: 'string' },
      beam: { type: 'string' },
      resamples: { type: 'string' },
      'bootstrap-seed': { type: 'string' },
      'max-steps': { type: 'string' },
      'max-tokens': { type: 'string' },
      accumulate: { type: 'string' },
      lr: { type: 'string' },
      warmup: { type: 'string' },
      schedule: { type: 'string' },
      clip: { type: 'string' },
      'eval-every': { type: 'string' },
      'log-every': { type: 'string' },
      patience: { type: 'string' },
      'keep-last': { type: 'string' },
      'freeze-embeddings': { type: 'boolean', default: false },
      src: { type: 'string', default: 'en' },
      tgt: { type: 'string', default: 'de' },
      'target-token': { type: 'string' },
      'skip-bad-lines': { type: 'boolean', default: false },
      backend: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    if (!values) return;
    const schedule = values.schedule;
    if (schedule !== undefined && schedule !== 'inverse-sqrt' && schedule !== 'linear') {
      invalidOption(`--schedule must be inverse-sqrt or linear, got ${schedule}.`);
    }
    const optionalInteger = (name: string) =>
      values[name as 'max-tokens'] === undefined
        ? undefined
        : positiveInteger(values[name as 'max-tokens'], name, 1);
    const init = required(values.init, 'init', usage);
    const out = outputFolder(required(values.out, 'out', usage), 'out');
    const result = await runCompare({
      init,
      train: required(values.train, 'train', usage),
      valid: values.valid,
      test: required(values.test, 'test', usage),
      out,
      arms: parseLosses(values.losses!, {
        labelSmoothing: number(values['label-smoothing'], 'label-smoothing'),
        logEnd: number(values['log-end'], 'log-end'),
        bonusWeight: number(values['bonus-weight'], 'bonus-weight'),
      }),
      seeds: parseSeeds(values.seeds!),
      sourceLanguage: values.src!,
      targetLanguage: values.tgt!,
      targetToken: values['target-token'],
      beam: positiveInteger(values.beam, 'beam', 5),
      resamples: positiveInteger(values.resamples, 'resamples', 1000),
      bootstrapSeed: seed32(values['bootstrap-seed'], 'bootstrap-seed', 12345),
      quiet: values.quiet,
      training: {
        maxSteps: positiveInteger(values['max-steps'], 'max-steps', 1000),
        maxTokens: optionalInteger('max-tokens'),
        accumulate: optionalInteger('accumulate'),
        lr: number(values.lr, 'lr'),
        warmup: number(values.warmup, 'warmup'),
        schedule,
        clip: number(values.clip, 'clip'),
        evalEvery: optionalInteger('eval-every'),
        logEvery: optionalInteger('log-every'),
        patience: number(values.patience, 'patience'),
        keepLast: number(values['keep-last'], 'keep-last'),
        freezeEmbeddings: values['freeze-embeddings'],
        skipBadLines: values['skip-bad-lines'],
        backend: backend(values.backend),
        threads: threads(values.threads),
      },
    });
    const section = await writeCompareFiles(out, result, { init });
    const report = join(out, 'report.md');
    writeFileAtomic(report, `# el-translate compare\n\n${section}`);
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(`\n${summaryTable(result)}\n\n${pairedTable(result)}\n\nreport: ${report}\n`);
    }
    if (result.interrupted) process.exitCode = 130;
  },
};
