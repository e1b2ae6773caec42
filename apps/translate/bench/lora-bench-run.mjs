#!/usr/bin/env node
// Builds bench/lora-bench.ts (tfjs and the workspace packages bundled from source, as the CLI is) and runs it:
// LoRA r 16 steps of the NLLB-200-distilled-600M shape on tfjs-backend-wasm (1 thread) against bench/torch_lora.py
// (PyTorch, 1 thread), one step of each in turn. From apps/translate (pnpm bench:lora):
//   node bench/lora-bench-run.mjs [--shape nllb-600m|tiny] [--layers N] [--batch N] [--length N] [--steps N]
//                                 [--warmup N] [--no-torch] [--lock /tmp/bench.lock] [--out bench/lora-results.json]
// --lock holds the file with flock(1) for each round (one step of each side) and releases it between rounds.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = `${root}../../packages`;
const outDir = `${root}node_modules/.cache/lora-bench`;
await build({
  entry: [`${root}bench/lora-bench.ts`],
  outDir,
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  clean: true,
  silent: true,
  config: false,
  noExternal: [/^@tensorflow\//, /^@encouraging-loss\//],
  external: [
    'playwright-core',
    '@xenova/transformers',
    '@huggingface/transformers',
    'onnxruntime-web',
    'typescript',
  ],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);\nimport { fileURLToPath as __fileURLToPath } from 'node:url';\nconst __filename = __fileURLToPath(import.meta.url);\nconst __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
  },
  esbuildOptions(options) {
    // The library from its source (a folder alias also maps subpaths: /node → src/node.ts).
    options.alias = {
      '@encouraging-loss/translate': `${source}/translate/src`,
      '@encouraging-loss/core': `${source}/core/src`,
      '@encouraging-loss/tfjs': `${source}/tfjs/src`,
      '@encouraging-loss/onnxruntime-web': `${source}/onnxruntime-web/src`,
    };
  },
});
const { main } = await import(pathToFileURL(`${outDir}/lora-bench.js`).href);
await main(process.argv.slice(2), `${root}bench`);
