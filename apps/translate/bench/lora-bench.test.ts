import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attachLora,
  batchTensors,
  createModel,
  lossOptions,
  modelGradients,
  Rng,
  resolveLoraSettings,
  writeSafetensors,
} from '@encouraging-loss/translate';
import { initNodeBackend } from '@encouraging-loss/translate/node';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { findTorchPython, LORA_SHAPES, runLoraBench, shapeConfig, startTorch } from './lora-bench.js';

// `pnpm bench:lora` times bench/torch_lora.py against our LoRA step; the two must run the same network. The PyTorch
// half needs a python3 that imports torch (CI installs Debian's python3-torch); without one it is skipped, saying so.
const benchDir = fileURLToPath(new URL('./', import.meta.url));
const python = findTorchPython();
const noTorch = 'no python3 that imports torch (Debian: apt install python3-torch)';
let dir: string;

beforeAll(async () => {
  await initNodeBackend('wasm', { threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'el-lora-bench-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the LoRA bench runs a step of each side at the tiny shape and reports speed and memory', async () => {
  const report = await runLoraBench(
    { shape: LORA_SHAPES.tiny, steps: 1, warmup: 0, noTorch: !python, log: () => {} },
    benchDir,
  );
  expect(report.tokensPerStep).toBe(4 * 6);
  expect(report.ours.stepMs.samples).toHaveLength(1);
  expect(report.ours.tokensPerSecond).toBeGreaterThan(0);
  expect(report.ours.peakRssBytes).toBeGreaterThan(0);
  expect(report.ours.wasmHeapBytes).toBeGreaterThan(0);
  expect(report.ours.threads).toBe(1);
  // r 16 on q_proj and v_proj of 2 encoder self-attentions and 2 × 2 decoder attentions: 6 × 2 modules, A and B.
  expect(report.ours.trainable).toBe(12 * 16 * (32 + 32));
  expect(Number.isFinite(report.ours.losses[0])).toBe(true);
  if (!python) {
    expect(report.torchSkipped).toContain('python3');
    return;
  }
  expect(report.torch!.trainable).toBe(report.ours.trainable);
  expect(report.torch!.parameters).toBe(report.ours.parameters);
  expect(report.torch!.stepMs.samples).toHaveLength(1);
  expect(report.ratio!.samples).toHaveLength(1);
}, 120_000);

test.skipIf(!python)(
  `bench/torch_lora.py computes our loss and LoRA gradients from our weights (checkpointed backprop, no dropout)${python ? '' : ` — skipped: ${noTorch}`}`,
  async () => {
    const config = shapeConfig(LORA_SHAPES.tiny);
    const model = createModel(config, new Rng(4));
    const settings = resolveLoraSettings({ r: 4, alpha: 32, targets: ['q_proj', 'v_proj'] }, 'm2m_100');
    const lora = attachLora(model, settings, new Rng(5));
    // B starts at zero, which would leave A without gradient: give it values so both are compared.
    for (const [name, v] of lora.params) {
      if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 6));
    }
    const rng = new Rng(7);
    const vocab = config.vocab_size as number;
    const ids = (n: number) => [...Array.from({ length: n }, () => 3 + rng.int(vocab - 4)), 2];
    // Source padding in the second sentence, targets of different lengths: masks and ignored labels on both sides.
    const examples = [
      { source: ids(6), target: ids(4) },
      { source: ids(3), target: ids(6) },
    ];
    const batch = batchTensors(examples, [0, 1], { padId: 1, startId: 2 });
    const grads = new Map<string, Float32Array>();
    const { loss } = modelGradients(
      model,
      batch,
      lossOptions({ kind: 'ce', labelSmoothing: 0.1 }),
      (name, values) => grads.set(name, values.slice()),
      { checkpoint: true },
    );
    const [rows, length] = batch.decoderInput.shape;
    const nested = (flat: ArrayLike<number>, width: number) =>
      Array.from({ length: rows }, (_, r) => Array.from(flat).slice(r * width, (r + 1) * width));
    const weights = join(dir, 'model.safetensors');
    const adapters = join(dir, 'adapter_model.safetensors');
    writeFileSync(weights, writeSafetensors(model.toNamedTensors()));
    writeFileSync(adapters, writeSafetensors(lora.toPeftTensors()));
    const torch = startTorch(python!, benchDir);
    let answer: Record<string, unknown>;
    try {
      answer = await torch.ask({
        cmd: 'check',
        config,
        lora: settings,
        weights,
        adapters,
        source: nested(batch.source.dataSync(), batch.source.shape[1]),
        decoder: nested(batch.decoderInput.dataSync(), length),
        labels: nested(batch.labels, length),
      });
    } finally {
      torch.close();
    }
    const tokens = batch.tokens;
    expect(tokens).toBe(5 + 7);
    const theirs = answer.grads as Record<string, number[]>;
    expect(Math.abs(loss / tokens - (answer.loss as number))).toBeLessThan(2e-4 * (answer.loss as number));
    expect(Object.keys(theirs).sort()).toEqual([...grads.keys()].sort());
    expect(grads.size).toBe(2 * lora.modules.length);
    let compared = 0;
    for (const [name, sums] of grads) {
      const reference = theirs[name];
      const scale = Math.max(...reference.map(Math.abs));
      expect(scale, `${name} has a gradient`).toBeGreaterThan(0);
      for (let i = 0; i < reference.length; i++) {
        const ours = sums[i] / tokens;
        if (Math.abs(ours - reference[i]) > 2e-4 * scale) {
          throw new Error(`${name}[${i}]: ours ${ours}, torch ${reference[i]}`);
        }
        compared++;
      }
    }
    expect(compared).toBe(lora.size);
    tf.dispose([batch.source, batch.decoderInput]);
    model.dispose();
  },
  120_000,
);
