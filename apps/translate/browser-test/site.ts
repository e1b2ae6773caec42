import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** What page.js puts on `window` (times in seconds, measured in the page). */
export interface PageApi {
  translateWithTransformers(
    name: string,
    sentences: readonly string[],
    options?: { dtype?: string; generation?: object },
  ): Promise<{ translations: string[]; seconds: number }>;
  translateWithOnnxTranslator(
    name: string,
    sentences: readonly string[],
    search?: { beam?: number; batchSize?: number },
  ): Promise<{ translations: string[]; seconds: number }>;
}

/**
 * The folders the test page is served from: the page itself, transformers.js' browser bundle and the
 * onnxruntime-web build it bundles (its wasm files), onnxruntime-web 1.30 for OnnxTranslator, the translator
 * and its beam search (the library's, packages/translate/src) transpiled to browser modules (they import nothing
 * else), and `models` (exported folders). `appRoot` is apps/translate (given when this file runs bundled elsewhere).
 */
export function siteMounts(
  models: string,
  scratch: string,
  appRoot: string = join(here, '..'),
): Record<string, string> {
  const transformers = dirname(require.resolve('@huggingface/transformers'));
  const transformersOrt = dirname(
    createRequire(join(transformers, '..', 'package.json')).resolve('onnxruntime-web'),
  );
  const ort = dirname(require.resolve('onnxruntime-web'));
  const lib = join(scratch, 'lib');
  // The translator and the search it imports, each transpiled to a browser module at its own relative path.
  for (const file of ['export/onnx-translator', 'model/beam-search']) {
    mkdirSync(dirname(join(lib, file)), { recursive: true });
    const source = readFileSync(
      join(appRoot, '..', '..', 'packages', 'translate', 'src', `${file}.ts`),
      'utf8',
    );
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(lib, `${file}.js`), outputText);
  }
  return {
    '/': join(appRoot, 'browser-test'),
    '/models/': models,
    '/transformers/': transformers,
    '/transformers-ort/': transformersOrt,
    '/ort/': ort,
    '/lib/': lib,
  };
}
