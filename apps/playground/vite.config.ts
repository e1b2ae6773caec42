import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = (name: string) => realpathSync(join(here, 'node_modules', name));
const ortDir = packageDir('onnxruntime-web');
const tfjsWasmDir = packageDir('@tensorflow/tfjs-backend-wasm');
// onnxruntime-common as onnxruntime-web 1.30.0 itself resolves it (its sibling in pnpm's store).
const ortCommon = realpathSync(join(ortDir, '..', 'onnxruntime-common'));

/**
 * The runtimes' WebAssembly files, copied into the site (`wasm/`) so the page never reaches a CDN: tfjs-backend-wasm
 * finds them through `setWasmPaths`, onnxruntime-web through `ort.env.wasm.wasmPaths` (src/runtime-files.ts).
 */
function runtimeFiles(): Plugin {
  const files: [string, string][] = [
    ['wasm/tfjs/tfjs-backend-wasm.wasm', join(tfjsWasmDir, 'dist/tfjs-backend-wasm.wasm')],
    ['wasm/tfjs/tfjs-backend-wasm-simd.wasm', join(tfjsWasmDir, 'dist/tfjs-backend-wasm-simd.wasm')],
    // The Fine-tune view's worker runs XNNPACK on every core when the page is cross-origin isolated.
    [
      'wasm/tfjs/tfjs-backend-wasm-threaded-simd.wasm',
      join(tfjsWasmDir, 'dist/tfjs-backend-wasm-threaded-simd.wasm'),
    ],
    ['wasm/ort/ort-wasm-simd-threaded.wasm', join(ortDir, 'dist/ort-wasm-simd-threaded.wasm')],
    ['wasm/ort/ort-wasm-simd-threaded.mjs', join(ortDir, 'dist/ort-wasm-simd-threaded.mjs')],
  ];
  return {
    name: 'playground-runtime-files',
    generateBundle() {
      for (const [fileName, path] of files)
        this.emitFile({ type: 'asset', fileName, source: readFileSync(path) });
    },
  };
}

/** The bundled demo model: el-translate's tiny OPUS-MT fixture, exported at build time into `models/`. */
const DEMO_MODEL = 'opus-mt-tiny';
const translateCli = join(here, '..', 'translate', 'dist', 'cli.js');
const demoFixture = join(here, '..', '..', 'packages', 'translate', 'fixtures', DEMO_MODEL);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * A model in the site, so the Translate view works on first open: `el-translate export` of the tiny OPUS-MT fixture
 * (nothing downloaded, about 430 KB) written to `models/opus-mt-tiny/`, and `models/index.json` naming it the
 * default (`pnpm playground` answers its own index.json when it serves another folder). turbo builds el-translate
 * first (turbo.json); a bare `vite build` without it warns and leaves the model out.
 */
function demoModel(): Plugin {
  return {
    name: 'playground-demo-model',
    apply: 'build',
    generateBundle() {
      if (!existsSync(translateCli)) {
        this.warn(
          `No demo model in the site: ${translateCli} is not built (pnpm --filter @encouraging-loss/el-translate build).`,
        );
        return;
      }
      const scratch = mkdtempSync(join(tmpdir(), 'el-playground-demo-'));
      try {
        const out = join(scratch, DEMO_MODEL);
        execFileSync(
          process.execPath,
          [translateCli, 'export', '--model', demoFixture, '--out', out, '--quiet'],
          {
            stdio: ['ignore', 'ignore', 'inherit'],
          },
        );
        for (const path of filesUnder(out)) {
          const fileName = `models/${DEMO_MODEL}/${relative(out, path).split('\\').join('/')}`;
          this.emitFile({ type: 'asset', fileName, source: readFileSync(path) });
        }
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
      const url = `models/${DEMO_MODEL}/`;
      const index = {
        default: url,
        models: [
          {
            url,
            label:
              'The bundled demo: OPUS-MT’s architecture at toy size (d_model 16, one encoder and one decoder layer) with ' +
              'random weights, exported from packages/translate/fixtures/opus-mt-tiny. It loads, translates and scores, but its ' +
              'translations are noise: `pnpm start` trains and exports a real one, which `pnpm playground` then serves.',
          },
        ],
      };
      this.emitFile({
        type: 'asset',
        fileName: 'models/index.json',
        source: `${JSON.stringify(index, null, 2)}\n`,
      });
    },
  };
}

/** The tiny OPUS-MT fixture as Hugging Face lays it out. */
const hfFixture = demoFixture;
const HF_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'source.spm',
  'target.spm',
  'vocab.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
];

/**
 * The Fine-tune view's defaults: the fixture as an HF Marian folder with weights (`models/opus-mt-tiny-hf/`, about
 * 560 KB; the Translate view's `models/opus-mt-tiny/` is an ONNX export without them) and sample English→German
 * pairs from the fixture's own test sentences (`finetune/train.tsv`, `finetune/valid.tsv`): the lines without a
 * tab whose pieces fit the model's 64 positions.
 */
function finetuneDefaults(): Plugin {
  return {
    name: 'playground-finetune-defaults',
    apply: 'build',
    generateBundle() {
      if (!hfFixture) {
        this.warn(`No fine-tuning fixture in the site: ${demoFixture} is missing.`);
        return;
      }
      for (const file of HF_FILES) {
        this.emitFile({
          type: 'asset',
          fileName: `models/${DEMO_MODEL}-hf/${file}`,
          source: readFileSync(join(hfFixture, file)),
        });
      }
      const lines = (name: string) => readFileSync(join(hfFixture, name), 'utf8').split('\n');
      const [en, de, enPieces, dePieces] = [
        'test-sentences.en',
        'test-sentences.de',
        'test-sentences.en.pieces',
        'test-sentences.de.pieces',
      ].map(lines);
      const fits = (i: number) =>
        en[i].trim() !== '' &&
        (de[i] ?? '').trim() !== '' &&
        !`${en[i]}${de[i]}`.includes('\t') &&
        (enPieces[i] ?? '').split(' ').length <= 40 &&
        (dePieces[i] ?? '').split(' ').length <= 40;
      const pairs = en.flatMap((source, i) => (fits(i) ? [`${source}\t${de[i]}\n`] : []));
      this.emitFile({ type: 'asset', fileName: 'finetune/train.tsv', source: pairs.slice(0, 64).join('') });
      this.emitFile({ type: 'asset', fileName: 'finetune/valid.tsv', source: pairs.slice(64, 80).join('') });
    },
  };
}

export default defineConfig({
  // Relative URLs: the built site works from any folder of any static host.
  base: './',
  resolve: {
    alias: [
      // One ONNX Runtime in the page, the wasm-only build of onnxruntime-web 1.30.0, for both transformers.js (which
      // imports `onnxruntime-web/webgpu`) and @encouraging-loss/onnxruntime-web: one env, one .wasm (14 MB, not 41).
      { find: /^onnxruntime-web(\/webgpu)?$/, replacement: join(ortDir, 'dist/ort.wasm.min.mjs') },
      { find: /^onnxruntime-common$/, replacement: join(ortCommon, 'dist/esm/index.js') },
    ],
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000, assetsInlineLimit: 0 },
  worker: {
    // The Fine-tune view's worker is an ES module worker (`new Worker(url, { type: 'module' })`).
    format: 'es',
    // Unminified: tfjs-backend-wasm's threaded build sends its Emscripten factory to its pthread workers as source
    // (`factory.toString()` in a Blob), and minified names inside it point at variables the Blob does not have
    // (`ReferenceError: e is not defined` on every pthread).
    rolldownOptions: { output: { minify: false } },
  },
  plugins: [runtimeFiles(), demoModel(), finetuneDefaults()],
});
