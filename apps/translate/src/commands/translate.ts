import { readFileSync } from 'node:fs';
import { loadModelFolder } from '../checkpoint/model-folder.js';
import { Progress } from '../progress/progress.js';
import { initBackend } from '../training/backend.js';
import { translateTexts } from '../training/train.js';
import { backend, type Command, number, parseCommand, required, TARGET_TOKEN_OPTION } from './args.js';

const usage = `el-translate translate — translate lines

  el-translate translate --model DIR [--beam 5] [--input FILE] [--backend wasm|cpu] [--quiet] < in.en > out.de
  --target-token >>deu<<   the target-language token of a multilingual OPUS-MT model (put before each source)

One translation per input line on stdout (an empty line stays empty); progress on stderr.
`;

/** `el-translate translate`. */
export const translateCommand: Command = {
  name: 'translate',
  summary: 'translate lines (stdin or --input) to stdout',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      ...TARGET_TOKEN_OPTION,
      model: { type: 'string' },
      input: { type: 'string' },
      beam: { type: 'string' },
      backend: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const modelDir = required(values.model, 'model', usage);
    const beam = number(values.beam, 'beam', 5);
    await initBackend(backend(values.backend));
    const { model, tokenizer } = await loadModelFolder(modelDir, { targetToken: values['target-token'] });
    const lines = readFileSync(values.input ?? 0, 'utf8').split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
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
