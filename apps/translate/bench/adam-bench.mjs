#!/usr/bin/env node
// Builds bench/adam-speed.ts (tfjs and the workspace packages bundled from source, as the CLI is) and runs it:
// the optimizer step alone at the small and OPUS-MT base shapes, against the implementation before issue 13.
// Usage, from apps/translate: flock /tmp/bench.lock node bench/adam-bench.mjs [--steps N] [--out FILE]
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = `${root}node_modules/.cache/adam-bench`;
await build({
  entry: [`${root}bench/adam-speed.ts`],
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
      '@encouraging-loss/onnxruntime-web': `${root}../../packages/onnxruntime-web/src/index.ts`,
    };
  },
});
await import(pathToFileURL(`${outDir}/adam-speed.js`).href);
