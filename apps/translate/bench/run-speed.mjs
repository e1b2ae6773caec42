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
import { fileURLToPath } from 'node:url';
import { buildBench } from './build-bench.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const name = process.argv[2];
if (!name || !existsSync(`${root}bench/${name}-speed.ts`)) {
  console.error('usage: node bench/run-speed.mjs <adam|gemm|export> [arguments of bench/<name>-speed.ts]');
  process.exit(2);
}
process.argv.splice(2, 1);
await import(await buildBench(`${name}-speed`));
