import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accumulateGradients, makeConfig } from '@encouraging-loss/translate';
import { afterAll, beforeAll, expect, test } from 'vitest';

// The PyTorch reference that `pnpm bench` times (bench/torch_marian.py) must be the same network as ours: same
// weights in, same loss and gradients out. Runs where a python3 with torch is installed (CI installs Debian's
// python3-torch); elsewhere the test fails with the reason rather than passing silently.
const benchDir = fileURLToPath(new URL('./', import.meta.url));
const python = ['python3', '/usr/bin/python3'].find(
  (p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
);
let dir: string;

beforeAll(async () => {
  await initNodeBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'el-torch-reference-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PYTHON = `
import json, sys, torch, torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
import torch_marian as tm
spec = json.load(open(sys.argv[2]))
torch.set_num_threads(1)
model = tm.MarianMT(tm.make_config("small", spec["vocab"], **spec["sizes"]))
tm.load_weights(model, sys.argv[3])
model.eval()
source, decoder, labels = (torch.tensor(spec[k]) for k in ("source", "decoder", "labels"))
logits = model(source, decoder)
tokens = int((labels != -100).sum())
loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100,
                       label_smoothing=0.1, reduction="sum") / tokens
loss.backward()
grads = {name: p.grad.flatten().tolist() for name, p in model.named_parameters()}
print(json.dumps({"loss": float(loss), "grads": grads}))
`;

import { lossOptions, Rng, writeSafetensors } from '@encouraging-loss/translate';
import { initNodeBackend, MarianModel } from '@encouraging-loss/translate/node';

test('bench/torch_marian.py computes our loss and gradients from our weights (label-smoothed CE, no dropout)', () => {
  expect(python, 'no python3 that imports torch (Debian: apt install python3-torch)').toBeDefined();
  const sizes = {
    d_model: 16,
    encoder_layers: 2,
    decoder_layers: 2,
    encoder_attention_heads: 4,
    decoder_attention_heads: 4,
    encoder_ffn_dim: 24,
    decoder_ffn_dim: 24,
  };
  const vocab = 40;
  const config = { ...makeConfig(vocab, 'tiny'), ...sizes, init_std: 0.3 };
  const model = new MarianModel(config, new Rng(4));
  const rng = new Rng(5);
  const ids = (n: number) => Array.from({ length: n }, () => 3 + rng.int(vocab - 3));
  // Source padding in the second sentence, target of different lengths: masks on both sides.
  const examples = [
    { source: [...ids(6), config.eos_token_id], target: [...ids(4), config.eos_token_id] },
    { source: [...ids(3), config.eos_token_id], target: [...ids(6), config.eos_token_id] },
  ];
  const { grads, tokens, parts } = accumulateGradients(
    model,
    examples,
    [[0, 1]],
    lossOptions({ kind: 'ce', labelSmoothing: 0.1 }),
    { logParts: true },
  );
  // The same batch as the trainer builds it: padded sources, start token + shifted targets, −100 on padding.
  const length = 7;
  const pad = config.pad_token_id;
  const spec = {
    vocab,
    sizes,
    source: examples.map((e) => [...e.source, ...Array(7 - e.source.length).fill(pad)]),
    decoder: examples.map((e) => {
      const row = [config.decoder_start_token_id, ...e.target.slice(0, -1)];
      return [...row, ...Array(length - row.length).fill(pad)];
    }),
    labels: examples.map((e) => [...e.target, ...Array(length - e.target.length).fill(-100)]),
  };
  const specFile = join(dir, 'spec.json');
  const weightsFile = join(dir, 'model.safetensors');
  writeFileSync(specFile, JSON.stringify(spec));
  writeFileSync(weightsFile, writeSafetensors(model.toNamedTensors()));
  const run = spawnSync(python!, ['-c', PYTHON, benchDir, specFile, weightsFile], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  expect(run.status, run.stderr).toBe(0);
  const torchResult = JSON.parse(run.stdout) as { loss: number; grads: Record<string, number[]> };
  expect(tokens).toBe(5 + 7);
  expect(Math.abs(parts!.loss - torchResult.loss)).toBeLessThan(1e-5 * torchResult.loss);
  expect(Object.keys(torchResult.grads).sort()).toEqual([...grads.keys()].sort());
  let compared = 0;
  for (const [name, ours] of grads) {
    const theirs = torchResult.grads[name];
    const scale = Math.max(1e-3, ...theirs.map(Math.abs));
    for (let i = 0; i < theirs.length; i++) {
      if (Math.abs(ours[i] - theirs[i]) > 2e-4 * scale) {
        throw new Error(`${name}[${i}]: ours ${ours[i]}, torch ${theirs[i]}`);
      }
      compared++;
    }
  }
  expect(compared).toBeGreaterThan(5000);
  model.dispose();
}, 120_000);
