import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { invalidData, translateTexts } from '@encouraging-loss/translate';
import { initNodeBackend, readTextFile } from '@encouraging-loss/translate/node';
import { Progress } from '../progress/progress.js';
import {
  ADAPTER_OPTION,
  ADAPTER_USAGE,
  backend,
  type Command,
  LANGUAGE_OPTIONS,
  MODEL_USAGE,
  number,
  parseCommand,
  required,
  TARGET_TOKEN_OPTION,
  threads,
} from './args.js';
import { loadModelFlag } from './model-source.js';

const usage = `el-translate translate — translate lines

  el-translate translate --model DIR [--beam 5] [--input FILE] [--backend wasm|cpu] [--threads N] [--quiet] < in.en > out.de
  --target-token >>deu<<   the target-language token of a multilingual OPUS-MT model (put before each source)
${MODEL_USAGE}
${ADAPTER_USAGE}

One translation per input line on stdout (an empty line stays empty); progress on stderr.

Input is plain text, one sentence per line. A line with a TAB is refused (it is most likely a source<TAB>target
line of a .tsv, whose target would be translated too), and so is a .jsonl / .json --input: translate the source
column with  cut -f1 test.tsv | el-translate translate --model DIR , or score a test set with el-translate eval.
`;

/** `el-translate translate`. */
export const translateCommand: Command = {
  name: 'translate',
  summary: 'translate lines (stdin or --input) to stdout',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      ...TARGET_TOKEN_OPTION,
      ...LANGUAGE_OPTIONS,
      ...ADAPTER_OPTION,
      model: { type: 'string' },
      input: { type: 'string' },
      beam: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const modelDir = required(values.model, 'model', usage);
    const beam = number(values.beam, 'beam', 5);
    await initNodeBackend(backend(values.backend), {
      threads: threads(values.threads),
      // Decoding only: XNNPACK's packed weights on every thread beat the app kernels' pool here.
      workload: 'decoding',
    });
    const lines = readInput(values.input);
    const { model, tokenizer } = await loadModelFlag(modelDir, values);
    const nonEmpty = lines.map((l) => l.trim());
    const progress = new Progress({
      label: 'translate',
      total: lines.length,
      unit: 'sent',
      quiet: values.quiet,
    });
    const translated = translateTexts(
      model,
      tokenizer,
      nonEmpty.map((l) => l || '.'),
      { beam, onBatch: (done) => progress.update(done) },
    );
    progress.finish();
    process.stdout.write(
      translated.map((t, i) => (nonEmpty[i] ? t : '')).join('\n') + (lines.length ? '\n' : ''),
    );
    model.dispose();
  },
};

/**
 * The lines to translate, from `--input` or stdin. Refused (`INVALID_DATA`, naming the file): a missing, unreadable
 * or binary file, a folder, a JSON Lines file, and any line holding a TAB (see the usage).
 */
export function readInput(file: string | undefined): string[] {
  const name = file ?? 'stdin';
  if (file && ['.jsonl', '.json'].includes(extname(file).toLowerCase())) {
    invalidData(
      `Input file ${file} is JSON; translate reads plain text, one sentence per line (to score a test set: el-translate eval --data ${file}).`,
    );
  }
  const text = file === undefined ? readFileSync(0, 'utf8') : readTextFile(file, 'Input file');
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const tab = lines.findIndex((line) => line.includes('\t'));
  if (tab >= 0) {
    invalidData(
      `${name}:${tab + 1}: a TAB in the line; translate reads one sentence per line and would translate a TSV's target column too. Translate the source column: cut -f1 ${file ?? 'FILE'} | el-translate translate …`,
    );
  }
  return lines;
}
