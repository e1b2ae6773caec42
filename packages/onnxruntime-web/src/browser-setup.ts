import * as ort from 'onnxruntime-web';

declare const __ORT_WASM_PATHS__: string;

// The .wasm files come from the installed onnxruntime-web, served by vite (vitest.browser.config.ts).
ort.env.wasm.wasmPaths = __ORT_WASM_PATHS__;
ort.env.wasm.numThreads = 1;
