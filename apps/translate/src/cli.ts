import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModelFolder } from './checkpoint/model-folder.js';
import { readParallelData } from './data/data.js';
import { parseSeeds, runDemo } from './demo/demo.js';
import { invalidOption } from './errors.js';
import { corpusBleu } from './evaluation/bleu.js';
import { corpusChrf } from './evaluation/chrf.js';
import { initBackend } from './training/backend.js';
import { runBench } from './training/bench.js';
import type { LossKind } from './training/loss.js';
import { train, translateTexts } from './training/train.js';

const USAGE = `el-translate — fine-tune Marian-style translation models with CE, label-smoothed CE, EL and CEL

  el-translate demo [--quick] [--out runs/demo] [--seed N | --seeds 1,2,3]
  el-translate train --train FILE --valid FILE --src en --tgt de --out DIR [--init DIR] [--tokenizer DIR]
                     --loss ce|el|cel [--log-end 0.5] [--bonus-weight 1] [--label-smoothing 0.1]
                     [--max-steps N] [--max-tokens N] [--lr X] [--warmup N] [--schedule inverse-sqrt|linear]
                     [--clip X] [--accumulate N] [--seed N] [--config tiny|small|FILE] [--eval-every N]
                     [--patience N] [--keep-last N] [--vocab-size N] [--skip-bad-lines] [--backend wasm|cpu]
  el-translate eval --model DIR --data FILE [--src en --tgt de] [--beam 5] [--json] [--skip-bad-lines]
  el-translate translate --model DIR [--beam 5]      (stdin lines → stdout)
  el-translate bench [--out bench]                   (training step time: EL and CEL against CE)
`;

function number(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) invalidOption(`--${name} must be a number, got ${value}.`);
  return n;
}

function required(value: string | undefined, name: string): string {
  if (!value) invalidOption(`--${name} is required.\n\n${USAGE}`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      train: { type: 'string' },
      valid: { type: 'string' },
      src: { type: 'string', default: 'en' },
      tgt: { type: 'string', default: 'de' },
      out: { type: 'string' },
      init: { type: 'string' },
      tokenizer: { type: 'string' },
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
      seeds: { type: 'string' },
      config: { type: 'string' },
      'eval-every': { type: 'string' },
      patience: { type: 'string' },
      'keep-last': { type: 'string' },
      'vocab-size': { type: 'string' },
      'skip-bad-lines': { type: 'boolean', default: false },
      backend: { type: 'string' },
      model: { type: 'string' },
      data: { type: 'string' },
      beam: { type: 'string' },
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const backend = values.backend === 'cpu' ? 'cpu' : 'wasm';
  if (values.help || !command || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'demo': {
      await runDemo({
        quick: values.quick,
        out: values.out ?? 'runs/demo',
        seeds: values.seeds ? parseSeeds(values.seeds) : [number(values.seed, 'seed', 1)!],
      });
      return;
    }
    case 'bench': {
      await runBench({ out: values.out ?? 'bench' });
      return;
    }
    case 'train': {
      const schedule = values.schedule ?? 'inverse-sqrt';
      if (schedule !== 'inverse-sqrt' && schedule !== 'linear') {
        invalidOption(`--schedule must be inverse-sqrt or linear, got ${schedule}.`);
      }
      const result = await train({
        train: required(values.train, 'train'),
        valid: values.valid,
        sourceLanguage: values.src!,
        targetLanguage: values.tgt!,
        out: required(values.out, 'out'),
        init: values.init,
        tokenizer: values.tokenizer,
        loss: {
          kind: values.loss as LossKind,
          logEnd: number(values['log-end'], 'log-end'),
          bonusWeight: number(values['bonus-weight'], 'bonus-weight'),
          labelSmoothing: number(values['label-smoothing'], 'label-smoothing'),
        },
        maxSteps: number(values['max-steps'], 'max-steps', 1000)!,
        maxTokens: number(values['max-tokens'], 'max-tokens'),
        lr: number(values.lr, 'lr'),
        warmup: number(values.warmup, 'warmup'),
        schedule,
        clip: number(values.clip, 'clip'),
        accumulate: number(values.accumulate, 'accumulate'),
        seed: number(values.seed, 'seed'),
        config: values.config,
        evalEvery: number(values['eval-every'], 'eval-every'),
        patience: number(values.patience, 'patience'),
        keepLast: number(values['keep-last'], 'keep-last'),
        vocabSize: number(values['vocab-size'], 'vocab-size'),
        skipBadLines: values['skip-bad-lines'],
        backend,
        quiet: values.quiet,
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    case 'eval': {
      await initBackend(backend);
      const { model, tokenizer } = await loadModelFolder(required(values.model, 'model'));
      const { pairs, skipped } = readParallelData(required(values.data, 'data'), {
        sourceLanguage: values.src!,
        targetLanguage: values.tgt!,
        skipBadLines: values['skip-bad-lines'],
      });
      const beam = number(values.beam, 'beam', 5)!;
      const hypotheses = translateTexts(
        model,
        tokenizer,
        pairs.map((p) => p.source),
        { beam },
      );
      const references = pairs.map((p) => p.target);
      const bleu = corpusBleu(hypotheses, [references]);
      const chrf = corpusChrf(hypotheses, references);
      if (values.json) {
        process.stdout.write(
          `${JSON.stringify({ bleu: bleu.score, chrf: chrf.score, sentences: pairs.length, skipped, beam, bleuSignature: bleu.signature, chrfSignature: chrf.signature })}\n`,
        );
      } else {
        process.stdout.write(`BLEU|${bleu.signature} = ${bleu.score.toFixed(2)}\n`);
        process.stdout.write(`chrF2|${chrf.signature} = ${chrf.score.toFixed(2)}\n`);
        process.stdout.write(`sentences = ${pairs.length}${skipped ? ` (skipped ${skipped})` : ''}\n`);
      }
      model.dispose();
      return;
    }
    case 'translate': {
      await initBackend(backend);
      const { model, tokenizer } = await loadModelFolder(required(values.model, 'model'));
      const lines = readFileSync(0, 'utf8').split(/\r?\n/);
      if (lines[lines.length - 1] === '') lines.pop();
      const nonEmpty = lines.map((l) => l.trim());
      const translated = translateTexts(
        model,
        tokenizer,
        nonEmpty.map((l) => l || '.'),
        {
          beam: number(values.beam, 'beam', 5)!,
        },
      );
      process.stdout.write(
        translated.map((t, i) => (nonEmpty[i] ? t : '')).join('\n') + (lines.length ? '\n' : ''),
      );
      model.dispose();
      return;
    }
    default:
      invalidOption(`Unknown command ${command}.\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: Error & { code?: string }) => {
  // The code of an EncouragingLossError (INVALID_OPTION, INVALID_DATA, …) lets scripts tell the cases apart.
  process.stderr.write(`el-translate: ${error.code ? `[${error.code}] ` : ''}${error.message}\n`);
  process.exitCode = 1;
});
