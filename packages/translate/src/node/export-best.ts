import { basename, dirname, resolve } from 'node:path';
import { type ExampleLanguages, exampleLanguages, exportModelFolder } from '../export/export-folder.js';
import { existingFolder, nodeFolder } from './node-folder.js';

/**
 * The two lines that translate with an exported folder in Node with transformers.js (ES module, top-level
 * await), local files only; for an NLLB-200 / M2M100 folder (`languages`, by default read from its
 * `tokenizer_config.json`) the call passes `src_lang` and `tgt_lang`.
 */
export function transformersJsLines(
  out: string,
  languages: ExampleLanguages | undefined = exampleLanguages(nodeFolder(out)),
): string[] {
  const absolute = resolve(out);
  const call = languages
    ? `translate('The printer is broken.', { src_lang: '${languages.srcLang}', tgt_lang: '${languages.tgtLang}' })`
    : `translate('The printer is broken.')`;
  return [
    `import { env, pipeline } from '@huggingface/transformers'; env.allowRemoteModels = false; env.localModelPath = '${dirname(absolute)}/';`,
    `const translate = await pipeline('translation', '${basename(absolute)}', { dtype: 'fp32' }); console.log(await ${call});`,
  ];
}

/**
 * Exports the best of several fine-tuned folders (highest `bleu`) to `out` with int8 files beside the fp32
 * ones, and returns what to tell the user: which model, the folder, and the two lines that run it.
 */
export function exportBest(candidates: readonly { dir: string; bleu: number }[], out: string): string[] {
  const best = candidates.reduce((a, b) => (b.bleu > a.bleu ? b : a));
  const { files } = exportModelFolder({
    model: existingFolder(best.dir),
    out: nodeFolder(out),
    quantize: 'int8',
  });
  const megabytes = (path: string) =>
    ((files.find((f) => f.path === path)?.bytes ?? 0) / (1 << 20)).toFixed(1);
  return [
    `exported ${best.dir} (best in-domain BLEU ${best.bleu.toFixed(2)}) → ${out}`,
    `  onnx/encoder_model.onnx ${megabytes('onnx/encoder_model.onnx')} MiB, decoder_model_merged.onnx ${megabytes('onnx/decoder_model_merged.onnx')} MiB (int8: *_quantized.onnx)`,
    'run it with transformers.js (Node, ES module):',
    ...transformersJsLines(out).map((line) => `  ${line}`),
  ];
}
