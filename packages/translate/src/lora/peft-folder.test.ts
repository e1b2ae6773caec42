import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadWeights, readModelConfig } from '../checkpoint/model-folder.js';
import { readSafetensors, writeSafetensors } from '../checkpoint/safetensors.js';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import { attachLora, type LoraAdapters, resolveLoraSettings } from './lora.js';
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  loadAdapter,
  mergeAdapterFolder,
  readAdapterConfig,
  saveAdapter,
  saveMergedModel,
} from './peft-folder.js';

/*
 * Adapter folders as PEFT writes them (adapter_config.json + adapter_model.safetensors under PEFT's keys): the
 * round trip, the layout, what is refused, and a PyTorch check that applies the saved adapter to the base weights by
 * PEFT's key names and gets our merged folder's logits.
 */

const NLLB = fileURLToPath(new URL('../../fixtures/nllb-200-tiny', import.meta.url));
const benchDir = fileURLToPath(new URL('../../../../apps/translate/bench', import.meta.url));
const python = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
);
let dir: string;

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'el-lora-folder-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function logProbs(model: Seq2SeqModel, source: number[][], decoder: number[][]): Float32Array {
  return tf.tidy(
    () =>
      tf
        .logSoftmax(
          model.decode(
            tf.tensor2d(decoder, undefined, 'int32'),
            model.encode(tf.tensor2d(source, undefined, 'int32')),
          ),
        )
        .dataSync() as Float32Array,
  );
}

function randomizeB(lora: LoraAdapters, seed: number): void {
  for (const [name, v] of lora.params) {
    if (name.endsWith('lora_B.weight')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++));
  }
}

function nllbBase(): Seq2SeqModel {
  const { family, config } = readModelConfig(nodeFolder(NLLB));
  const model = family.create(config, new Rng(1));
  loadWeights(model, nodeFolder(NLLB));
  return model;
}

const SOURCE = [
  [5, 9, 17, 33, 2],
  [7, 8, 2, 1, 1],
];
const DECODER = [
  [2, 40, 41, 42],
  [2, 50, 51, 52],
];

test('save → load: the adapter reloads on a fresh base with the same outputs; the saved layout is PEFT’s', () => {
  const model = nllbBase();
  const lora = attachLora(
    model,
    resolveLoraSettings({ r: 4, alpha: 16, dropout: 0.05 }, 'm2m_100'),
    new Rng(3),
  );
  randomizeB(lora, 20);
  const expected = logProbs(model, SOURCE, DECODER);
  const out = join(dir, 'nllb-adapter');
  saveAdapter(model, nodeFolder(out), 'facebook/nllb-200-distilled-600M');

  const config = JSON.parse(readFileSync(join(out, ADAPTER_CONFIG), 'utf8'));
  expect(config).toMatchObject({
    peft_type: 'LORA',
    task_type: 'SEQ_2_SEQ_LM',
    r: 4,
    lora_alpha: 16,
    lora_dropout: 0.05,
    target_modules: ['q_proj', 'v_proj'],
    base_model_name_or_path: 'facebook/nllb-200-distilled-600M',
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    inference_mode: true,
    modules_to_save: null,
  });
  const file = readSafetensors(readFileSync(join(out, ADAPTER_WEIGHTS)));
  expect(file.metadata).toEqual({ format: 'pt' });
  const keys = [...file.tensors.keys()].sort();
  // PEFT's get_peft_model_state_dict: base_model.model. + the HF module path, no adapter name.
  expect(keys).toContain('base_model.model.model.encoder.layers.0.self_attn.q_proj.lora_A.weight');
  expect(keys).toContain('base_model.model.model.decoder.layers.1.encoder_attn.v_proj.lora_B.weight');
  const { encoder_layers: e, decoder_layers: d, d_model: width } = model.config;
  expect(keys).toHaveLength((2 * e + 4 * d) * 2);
  for (const key of keys) {
    expect(key).toMatch(
      /^base_model\.model\.model\.(encoder|decoder)\.layers\.\d+\.(self_attn|encoder_attn)\.(q|v)_proj\.lora_[AB]\.weight$/,
    );
    expect(file.tensors.get(key)!.shape).toEqual(key.includes('lora_A') ? [4, width] : [width, 4]);
  }

  const fresh = nllbBase();
  const base = logProbs(fresh, SOURCE, DECODER);
  loadAdapter(fresh, nodeFolder(out));
  expect(fresh.lora!.scale).toBe(4);
  expect(logProbs(fresh, SOURCE, DECODER)).toEqual(expected);
  expect(base).not.toEqual(expected);

  // Merged into a full folder (as `--merge` and `export` do): the same model within float32 rounding.
  const merged = join(dir, 'nllb-merged');
  mergeAdapterFolder({ adapter: nodeFolder(out), base: nodeFolder(NLLB), out: nodeFolder(merged) });
  expect(existsSync(join(merged, 'sentencepiece.bpe.model'))).toBe(true);
  const reloaded = nllbBase();
  loadWeights(reloaded, nodeFolder(merged));
  const fromMerged = logProbs(reloaded, SOURCE, DECODER);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - fromMerged[i]));
  expect(worst).toBeLessThan(1e-5);
  for (const m of [model, fresh, reloaded]) m.dispose();
});

test('adapter folders this app cannot apply are refused, naming the file and field', () => {
  const model = nllbBase();
  attachLora(model, resolveLoraSettings({ r: 2 }, 'm2m_100'), new Rng(1));
  const out = join(dir, 'refused');
  saveAdapter(model, nodeFolder(out), NLLB);
  const config = JSON.parse(readFileSync(join(out, ADAPTER_CONFIG), 'utf8'));
  const write = (patch: Record<string, unknown>) =>
    writeFileSync(join(out, ADAPTER_CONFIG), JSON.stringify({ ...config, ...patch }));
  for (const [patch, message] of [
    [{ use_dora: true }, /use_dora true is not supported \(DoRA\)/],
    [{ bias: 'all' }, /bias "all" is not supported/],
    [{ peft_type: 'IA3' }, /peft_type "IA3"/],
    [{ rank_pattern: { q_proj: 8 } }, /rank_pattern/],
    [{ r: 3 }, /lora_A\.weight has shape \[2,16\], the model needs \[3,16\]/],
    [
      { target_modules: ['fc1'] },
      /base_model\.model\.model\..*_proj\.lora_[AB]\.weight is not a LoRA weight of this model's target modules \(fc1\)/,
    ],
  ] as const) {
    write(patch);
    expect(() => loadAdapter(model, nodeFolder(out)), JSON.stringify(patch)).toThrow(message);
  }
  write({});
  const tensors = readSafetensors(readFileSync(join(out, ADAPTER_WEIGHTS))).tensors;
  tensors.delete('base_model.model.model.decoder.layers.0.self_attn.v_proj.lora_B.weight');
  writeFileSync(join(out, ADAPTER_WEIGHTS), writeSafetensors(tensors));
  expect(() => loadAdapter(model, nodeFolder(out))).toThrow(
    /decoder\.layers\.0\.self_attn\.v_proj\.lora_B\.weight is missing/,
  );
  expect(() => readAdapterConfig(nodeFolder(NLLB))).toThrow(/is not an adapter folder/);
  model.dispose();
});

const PYTHON = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torch_marian as tm
spec = json.load(open(sys.argv[2]))
torch.set_num_threads(1)
def build(weights):
    model = tm.MarianMT(tm.make_config("small", spec["vocab"], **spec["sizes"]))
    tm.load_weights(model, weights)
    return model.eval()
# PEFT's way: the base weights, plus (lora_alpha / r) * B @ A on each module PEFT's keys name.
adapted = build(sys.argv[3] + "/model.safetensors")
config = json.load(open(sys.argv[4] + "/adapter_config.json"))
assert config["peft_type"] == "LORA" and config["task_type"] == "SEQ_2_SEQ_LM", config
lora = tm.load_safetensors(sys.argv[4] + "/adapter_model.safetensors")
params = dict(adapted.named_parameters())
scale = config["lora_alpha"] / config["r"]
modules = sorted({k[len("base_model.model."):].rsplit(".lora_", 1)[0] for k in lora})
assert all(k.startswith("base_model.model.") for k in lora), list(lora)
assert all(m.rsplit(".", 1)[1] in config["target_modules"] for m in modules), modules
with torch.no_grad():
    for m in modules:
        a = lora["base_model.model." + m + ".lora_A.weight"]
        b = lora["base_model.model." + m + ".lora_B.weight"]
        assert a.shape[0] == config["r"] and b.shape[1] == config["r"]
        params[m + ".weight"].add_(scale * (b @ a))
merged = build(sys.argv[5] + "/model.safetensors")
source, decoder = torch.tensor(spec["source"]), torch.tensor(spec["decoder"])
with torch.no_grad():
    ours = torch.tensor(spec["logits"]).view(len(spec["source"]), len(spec["decoder"][0]), -1)
    peft = adapted(source, decoder)
    folder = merged(source, decoder)
print(json.dumps({
    "modules": len(modules),
    "peft_vs_merged_folder": float((peft - folder).abs().max()),
    "peft_vs_ours_unmerged": float((peft - ours).abs().max()),
    "logit_scale": float(peft.abs().max()),
}))
`;

import { nodeFolder } from '../node/node-folder.js';

test('PyTorch: the saved adapter applied by PEFT’s key names to the base gives our merged folder’s logits (Marian)', () => {
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
  const model = new MarianModel({ ...makeConfig(vocab, 'tiny'), ...sizes, init_std: 0.3 }, new Rng(4));
  const baseDir = join(dir, 'marian-base');
  mkdirSync(baseDir, { recursive: true });
  writeFileSync(join(baseDir, 'model.safetensors'), writeSafetensors(model.toNamedTensors()));
  const lora = attachLora(
    model,
    resolveLoraSettings({ r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'fc1'] }, 'marian'),
    new Rng(5),
  );
  randomizeB(lora, 30);
  const source = [
    [5, 9, 17, 33, 2],
    [7, 8, 2, 0, 0],
  ];
  const decoder = [
    [0, 20, 21, 22],
    [0, 30, 31, 32],
  ];
  const logits = tf.tidy(() =>
    model
      .decode(tf.tensor2d(decoder, undefined, 'int32'), model.encode(tf.tensor2d(source, undefined, 'int32')))
      .dataSync(),
  );
  const adapterDir = join(dir, 'marian-adapter');
  const mergedDir = join(dir, 'marian-merged');
  saveAdapter(model, nodeFolder(adapterDir), baseDir);
  saveMergedModel(model, nodeFolder(mergedDir));
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify({ vocab, sizes, source, decoder, logits: [...logits] }));
  const run = spawnSync(python!, ['-c', PYTHON, benchDir, specFile, baseDir, adapterDir, mergedDir], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as Record<string, number>;
  console.log(`PEFT-layout check (torch): ${JSON.stringify(result)}`);
  expect(result.modules).toBe(2 * 2 + 4 * 2 + 2 + 2);
  expect(result.peft_vs_merged_folder).toBeLessThan(1e-5 * Math.max(1, result.logit_scale));
  expect(result.peft_vs_ours_unmerged).toBeLessThan(1e-4 * Math.max(1, result.logit_scale));
  model.dispose();
}, 120_000);
