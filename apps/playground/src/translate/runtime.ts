import * as ort from 'onnxruntime-web';

// onnxruntime-web's .wasm and its loader are copied into the site (vite.config.ts): never a CDN. This module is
// evaluated before transformers.js (imported first), which then keeps these paths instead of setting its CDN ones.
// One thread: a static host is not cross-origin isolated, so there is no SharedArrayBuffer for more.
ort.env.wasm.wasmPaths = new URL('wasm/ort/', document.baseURI).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

export { ort };
