import { relative } from 'node:path';
import { invalidOption } from '../errors.js';
import { exportModelFolder, type QuantizeOption, transformersJsLines } from '../export/export-folder.js';
import { checkOutPath } from '../run/run-folder.js';
import { type Command, outputFolder, parseCommand, required } from './args.js';
import { resolveModelFlag } from './model-source.js';

const usage = `el-translate export — write a model folder in the layout transformers.js loads (ONNX)

  el-translate export --model DIR --out DIR [--quantize none|int8|both] [--quiet]

DIR may be a Hugging Face Hub id, ORG/NAME[@revision] (fetched once into the Hub cache). Marian / OPUS-MT models
only for now (an NLLB-200 / M2M100 folder is refused).

Writes config.json, generation_config.json, tokenizer.json + tokenizer_config.json, onnx/encoder_model.onnx and
onnx/decoder_model_merged.onnx (with past key/values); --quantize int8 (or both) adds *_quantized.onnx with int8
MatMul weights. Load it with @huggingface/transformers (pipeline('translation', DIR, { dtype: 'fp32' })) or
@xenova/transformers 2.x, or run beam search on onnxruntime-web with createOnnxTranslator.
`;

/** `el-translate export`. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'export a model folder to ONNX for transformers.js / onnxruntime-web',
  usage,
  async run(argv) {
    const values = parseCommand(this, argv, {
      model: { type: 'string' },
      out: { type: 'string' },
      quantize: { type: 'string', default: 'none' },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const quantize = values.quantize as QuantizeOption;
    if (!['none', 'int8', 'both'].includes(quantize)) {
      invalidOption(`--quantize must be none, int8 or both, got ${values.quantize}.`);
    }
    const out = outputFolder(required(values.out, 'out', usage), 'out');
    const { dir: model } = await resolveModelFlag(required(values.model, 'model', usage), '--model', values);
    checkOutPath(out, { '--model': model }, { nested: false });
    const result = exportModelFolder({ model, out, quantize });
    if (!values.quiet) {
      for (const file of result.files) {
        process.stderr.write(
          `${relative('.', `${out}/${file.path}`).padEnd(48)} ${formatBytes(file.bytes)}\n`,
        );
      }
      process.stderr.write(`\n${transformersJsLines(out).join('\n')}\n`);
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
  },
};

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}
