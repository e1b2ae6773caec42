#!/usr/bin/env node
// Builds bench/<name>-speed.ts (tfjs and the workspace packages bundled from source, as the CLI is) and runs it,
// passing the remaining arguments. From apps/translate, under flock /tmp/bench.lock:
//   node bench/run-speed.mjs adam [--steps N] [--out FILE]   the optimizer step alone at the small and OPUS-MT base
//                                                            shapes, against the implementation before issue 13
//   node bench/run-speed.mjs gemm                             the blocked 2-D product against XNNPACK's matMul on
//                                                            the training step's shapes
//   node bench/run-speed.mjs export [--model DIR] [--data FILE]   the exported model in transformers.js and
//                                                            onnxruntime-web against el-translate (pnpm bench:export)
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';

const root = fileURLToPath(new URL('..', import.meta.url));
const name = process.argv[2];
if (!name || !existsSync(`${root}bench/${name}-speed.ts`)) {
  console.error('usage: node bench/run-speed.mjs <adam|gemm|export> [arguments of bench/<name>-speed.ts]');
  process.exit(2);
}
process.argv.splice(2, 1);
const outDir = `${root}node_modules/.cache/${name}-speed`;
await build({
  entry: [`${root}bench/${name}-speed.ts`],
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
    options.alias = {
      '@encouraging-loss/core': `${root}../../packages/core/src/index.ts`,
      '@encouraging-loss/tfjs': `${root}../../packages/tfjs/src/index.ts`,
      '@encouraging-loss/onnxruntime-web/graph': `${root}../../packages/onnxruntime-web/src/graph.ts`,
      '@encouraging-loss/onnxruntime-web': `${root}../../packages/onnxruntime-web/src/index.ts`,
    };
  },
});
await import(pathToFileURL(`${outDir}/${name}-speed.js`).href);
