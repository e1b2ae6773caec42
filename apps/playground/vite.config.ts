import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
  plugins: [runtimeFiles()],
});
