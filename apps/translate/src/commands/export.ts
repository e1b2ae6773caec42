import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  type ExportOptions,
  exportModelFolder,
  invalidData,
  invalidOption,
  isAdapterFolder,
  mergeAdapterFolder,
  type QuantizeOption,
  readAdapterConfig,
} from '@encouraging-loss/translate';
import { existingFolder, nodeFolder, transformersJsLines } from '@encouraging-loss/translate/node';
import { checkOutPath } from '../run/run-folder.js';
import { type Command, outputFolder, parseCommand, required } from './args.js';
import { resolveModelFlag } from './model-source.js';

const usage = `el-translate export — write a model folder in the layout transformers.js loads (ONNX)

  el-translate export --model DIR --out DIR [--quantize none|int8|both] [--external-data auto|always|never]
                      [--base DIR|ORG/NAME] [--quiet]

DIR may be a Hugging Face Hub id, ORG/NAME[@revision] (fetched once into the Hub cache): a Marian / OPUS-MT folder
or an NLLB-200 / M2M100 one (model_type m2m_100; an M2M100 folder gets a tokenizer.json converted from its
sentencepiece.bpe.model + vocab.json).

A LoRA adapter folder (adapter_config.json + adapter_model.safetensors, from el-translate train --lora or PEFT) is
merged into its base first (W + alpha/r·B·A): the base is --base, or the adapter's base_model_name_or_path.

Writes config.json, generation_config.json, tokenizer.json + tokenizer_config.json (NLLB-200 / M2M100: also the
folder's sentencepiece.bpe.model, vocab.json, special_tokens_map.json), onnx/encoder_model.onnx and
onnx/decoder_model_merged.onnx (with past key/values); --quantize int8 (or both) adds *_quantized.onnx with int8
MatMul weights. A graph over 1 GiB (--external-data auto; always / never force it) keeps its weights in
onnx/<graph>.onnx_data beside it (ONNX external data; listed in config.json for transformers.js). Load it with @huggingface/transformers (pipeline('translation', DIR, { dtype: 'fp32' }); NLLB-200 /
M2M100: translate(text, { src_lang: 'eng_Latn', tgt_lang: 'deu_Latn' })) or, for Marian, @xenova/transformers 2.x,
or run beam search on onnxruntime-web with createOnnxTranslator (Marian).
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
      'external-data': { type: 'string', default: 'auto' },
      base: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    });
    if (!values) return;
    const quantize = values.quantize as QuantizeOption;
    if (!['none', 'int8', 'both'].includes(quantize)) {
      invalidOption(`--quantize must be none, int8 or both, got ${values.quantize}.`);
    }
    const externalData = values['external-data'] as ExportOptions['externalData'];
    if (!['auto', 'always', 'never'].includes(externalData as string)) {
      invalidOption(`--external-data must be auto, always or never, got ${values['external-data']}.`);
    }
    const out = outputFolder(required(values.out, 'out', usage), 'out');
    const { dir: model } = await resolveModelFlag(required(values.model, 'model', usage), '--model', values);
    checkOutPath(out, { '--model': model }, { nested: false });
    let source = model;
    let merged: string | undefined;
    if (isAdapterFolder(nodeFolder(model)) && !existsSync(join(model, 'config.json'))) {
      const baseFlag = values.base ?? readAdapterConfig(nodeFolder(model)).baseModel;
      if (!baseFlag) {
        invalidData(
          `${model} is a LoRA adapter without base_model_name_or_path: name its base with --base DIR.`,
        );
      }
      const { dir: base } = await resolveModelFlag(baseFlag, '--base', values);
      merged = mkdtempSync(join(tmpdir(), 'el-translate-merged-'));
      mergeAdapterFolder({
        adapter: nodeFolder(model),
        base: existingFolder(base, 'Base model folder'),
        out: nodeFolder(merged),
      });
      source = merged;
    } else if (values.base !== undefined) {
      invalidOption(`--base names the base model of a LoRA adapter folder; ${model} is a full model folder.`);
    }
    let result: ReturnType<typeof exportModelFolder>;
    try {
      result = exportModelFolder({
        model: existingFolder(source),
        out: nodeFolder(out),
        quantize,
        externalData,
      });
    } finally {
      if (merged) rmSync(merged, { recursive: true, force: true });
    }
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
