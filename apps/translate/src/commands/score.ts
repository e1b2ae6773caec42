import {
  initNodeBackend,
  readParallelData,
  requirePairs,
  scoreCorpus,
} from '@encouraging-loss/translate/node';
import { Progress } from '../progress/progress.js';
import {
  ADAPTER_OPTION,
  ADAPTER_USAGE,
  backend,
  type Command,
  DATA_OPTIONS,
  LANGUAGE_OPTIONS,
  MODEL_USAGE,
  parseCommand,
  positiveInteger,
  required,
  TARGET_TOKEN_OPTION,
  threads,
} from './args.js';
import { loadModelFlag } from './model-source.js';

const usage = `el-translate score — teacher-forced log-probability, NLL and perplexity of each target given its source

  el-translate score --model DIR --data FILE [--src en --tgt de] [--json] [--max-tokens 2000]
                     [--skip-bad-lines] [--target-token >>deu<<] [--backend wasm|cpu] [--threads N] [--quiet]
${MODEL_USAGE}
${ADAPTER_USAGE}

Per sentence (stdout, tab-separated: sentence number, log_prob, tokens, nll, perplexity; or with --json one object
{"sentences": [...], "corpus": {...}}) and for the corpus (Σ log p ÷ Σ tokens). Natural logs; </s> counted.
`;

/** `el-translate score`. */
export const scoreCommand: Command = {
  name: 'score',
  summary: 'teacher-forced log-prob, NLL and perplexity per sentence and corpus',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      ...DATA_OPTIONS,
      ...TARGET_TOKEN_OPTION,
      ...LANGUAGE_OPTIONS,
      ...ADAPTER_OPTION,
      model: { type: 'string' },
      data: { type: 'string' },
      'max-tokens': { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const modelDir = required(values.model, 'model', usage);
    const dataFile = required(values.data, 'data', usage);
    const maxTokens = positiveInteger(values['max-tokens'], 'max-tokens', 2000);
    await initNodeBackend(backend(values.backend), { threads: threads(values.threads) });
    const read = readParallelData(dataFile, {
      sourceLanguage: values.src!,
      targetLanguage: values.tgt!,
      skipBadLines: values['skip-bad-lines'],
    });
    // An empty (or all-malformed) set would score BLEU 0 / perplexity 1: a result that is not one.
    const pairs = requirePairs(read, dataFile);
    const { skipped } = read;
    const { model, tokenizer } = await loadModelFlag(modelDir, values);
    const progress = new Progress({ label: 'score', total: pairs.length, unit: 'sent', quiet: values.quiet });
    const { sentences, corpus } = scoreCorpus(model, tokenizer, pairs, {
      file: dataFile,
      maxTokens,
      onBatch: (done) => progress.update(done),
    });
    progress.finish();
    model.dispose();
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ sentences, corpus: { ...corpus, sentences: pairs.length, skipped } })}\n`,
      );
      return;
    }
    const row = (label: string | number, s: (typeof sentences)[number]) =>
      `${label}\t${s.logProb.toFixed(4)}\t${s.tokens}\t${s.nll.toFixed(4)}\t${s.perplexity.toFixed(3)}\n`;
    process.stdout.write('sentence\tlog_prob\ttokens\tnll\tperplexity\n');
    sentences.forEach((s, i) => {
      process.stdout.write(row(i + 1, s));
    });
    process.stdout.write(row('corpus', corpus));
  },
};
