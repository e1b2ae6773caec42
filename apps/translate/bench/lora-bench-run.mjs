#!/usr/bin/env node
// Builds bench/lora-bench.ts (tfjs and the workspace packages bundled from source, as the CLI is) and runs it:
// LoRA r 16 steps of the NLLB-200-distilled-600M shape on tfjs-backend-wasm (1 thread) against bench/torch_lora.py
// (PyTorch, 1 thread), one step of each in turn. From apps/translate (pnpm bench:lora):
//   node bench/lora-bench-run.mjs [--shape nllb-600m|tiny] [--layers N] [--batch N] [--length N] [--steps N]
//                                 [--warmup N] [--threads N] [--no-torch] [--lock /tmp/bench.lock]
//                                 [--out bench/lora-results.json]
// --lock holds the file with flock(1) for each round (one step of each side) and releases it between rounds.
import { fileURLToPath } from 'node:url';
import { buildBench } from './build-bench.mjs';

const { main } = await import(await buildBench('lora-bench'));
await main(process.argv.slice(2), fileURLToPath(new URL('.', import.meta.url)).replace(/\/$/, ''));
