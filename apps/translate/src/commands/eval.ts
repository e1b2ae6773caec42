import { corpusBleu, corpusChrf, translateTexts } from '@encouraging-loss/translate';
import { initNodeBackend, readParallelData, requirePairs } from '@encouraging-loss/translate/node';
import { Progress } from '../progress/progress.js';
import {
  ADAPTER_OPTION,
  ADAPTER_USAGE,
  backend,
  type Command,
  DATA_OPTIONS,
  LANGUAGE_OPTIONS,
  MODEL_USAGE,
  number,
  parseCommand,
  required,
  TARGET_TOKEN_OPTION,
  threads,
} from './args.js';
import { loadModelFlag } from './model-source.js';

const usage = `el-translate eval — translate a test set and score it (sacreBLEU 13a/exp BLEU, chrF2)

  el-translate eval --model DIR --data FILE [--src en --tgt de] [--beam 5] [--json] [--skip-bad-lines]
                    [--target-token >>deu<<] [--backend wasm|cpu] [--threads N] [--quiet]
${MODEL_USAGE}
${ADAPTER_USAGE}

FILE: .tsv (source<TAB>target), .jsonl ({"translation": {"en": …, "de": …}}) or parallel PREFIX.en + PREFIX.de.
Scores go to stdout (--json: one JSON object), progress to stderr.
`;

/** `el-translate eval`. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'BLEU and chrF of a model on a test set',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      ...DATA_OPTIONS,
      ...TARGET_TOKEN_OPTION,
      ...LANGUAGE_OPTIONS,
      ...ADAPTER_OPTION,
      model: { type: 'string' },
      data: { type: 'string' },
      beam: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const modelDir = required(values.model, 'model', usage);
    const dataFile = required(values.data, 'data', usage);
    const beam = number(values.beam, 'beam', 5);
    await initNodeBackend(backend(values.backend), {
      threads: threads(values.threads),
      // Decoding only: XNNPACK's packed weights on every thread beat the app kernels' pool here.
      workload: 'decoding',
    });
    const read = readParallelData(dataFile, {
      sourceLanguage: values.src!,
      targetLanguage: values.tgt!,
      skipBadLines: values['skip-bad-lines'],
    });
    // An empty (or all-malformed) set would score BLEU 0 / perplexity 1: a result that is not one.
    const pairs = requirePairs(read, dataFile);
    const { skipped } = read;
    const { model, tokenizer } = await loadModelFlag(modelDir, values);
    const progress = new Progress({
      label: 'translate',
      total: pairs.length,
      unit: 'sent',
      quiet: values.quiet,
    });
    const hypotheses = translateTexts(
      model,
      tokenizer,
      pairs.map((p) => p.source),
      { beam, onBatch: (done) => progress.update(done) },
    );
    progress.finish();
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
  },
};
