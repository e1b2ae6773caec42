import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { makeConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import { nodeFolder } from '../node/node-folder.js';
import { Rng } from '../rng.js';
import { initBackend } from '../training/backend.js';
import { loadModel, loadWeights, readConfig, saveModel } from './model-folder.js';
import { writeSafetensors } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'el-folder-'));
const error = (code: string, pattern: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(pattern) });

beforeAll(async () => {
  await initBackend('wasm');
});

test('model folders: missing or malformed files are INVALID_DATA naming the file', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  expect(() => readConfig(nodeFolder(empty))).toThrow(
    error('INVALID_DATA', /empty is not a model folder: .*config.json/),
  );

  const broken = join(dir, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'config.json'), '{"d_model": ');
  expect(() => readConfig(nodeFolder(broken))).toThrow(
    error('INVALID_DATA', /broken\/config.json:1:13: not valid JSON/),
  );

  const odd = join(dir, 'odd');
  mkdirSync(odd);
  writeFileSync(join(odd, 'config.json'), JSON.stringify({ ...makeConfig(20, 'tiny'), d_model: 33 }));
  expect(() => readConfig(nodeFolder(odd))).toThrow(
    error('INVALID_DATA', /odd\/config.json: config.d_model \(33\)/),
  );

  const model = new MarianModel(makeConfig(20, 'tiny'), new Rng(1));
  saveModel(model, nodeFolder(join(dir, 'good')));
  // Weights of another shape: the file and the tensor are named.
  const wrong = join(dir, 'wrong.safetensors');
  writeFileSync(
    wrong,
    writeSafetensors(
      new Map([['model.shared.weight', { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) }]]),
    ),
  );
  expect(() => loadWeights(model, nodeFolder(dir), 'wrong.safetensors')).toThrow(
    error('INVALID_DATA', /wrong.safetensors/),
  );
  expect(() => loadWeights(model, nodeFolder(dir), 'none.safetensors')).toThrow(
    error('INVALID_DATA', /missing/),
  );
  // A folder without tokenizer files.
  await expect(loadModel(nodeFolder(join(dir, 'good')))).rejects.toThrow(
    error('INVALID_DATA', /tokenizer.json/),
  );
  model.dispose();
});

test('a bad --config value is INVALID_OPTION', () => {
  expect(() => makeConfig(20, 'huge')).toThrow(
    error('INVALID_OPTION', /--config must be tiny, small or a JSON file, got huge/),
  );
});

test('a config.json claiming more parameters than its weights hold is refused before anything is allocated', async () => {
  const fixture = new URL('../../fixtures/opus-mt-tiny/', import.meta.url).pathname;
  const inflated = join(dir, 'inflated');
  mkdirSync(inflated);
  const { cpSync, readFileSync } = await import('node:fs');
  cpSync(fixture, inflated, { recursive: true });
  const config = JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8'));
  // 200 layers of the fixture's width: within the app's caps (256), far beyond the ~0.1 MB of weights beside it.
  writeFileSync(
    join(inflated, 'config.json'),
    JSON.stringify({ ...config, encoder_layers: 200, decoder_layers: 200 }),
  );
  await expect(loadModel(nodeFolder(inflated))).rejects.toThrow(
    error(
      'INVALID_DATA',
      /inflated\/config.json: the config describes \d+ parameters, more than the \d+ bytes/,
    ),
  );
  // The untouched fixture still loads.
  const { model } = await loadModel(nodeFolder(fixture));
  model.dispose();
});

test('loadModel keeps one copy of the weights in tfjs memory, and the model releases all of it', async () => {
  const tf = await import('@tensorflow/tfjs-core');
  const { readWeights } = await import('./model-folder.js');
  const fixtures = new URL('../../fixtures/', import.meta.url);
  for (const [name, options] of [
    ['opus-mt-tiny', {}],
    ['nllb-200-tiny', { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' }],
  ] as const) {
    const folder = nodeFolder(new URL(name, fixtures).pathname);
    const before = tf.memory().numBytes;
    const { model } = await loadModel(folder, options);
    const variables = [...model.params.values(), ...((model as MarianModel).buffers?.values() ?? [])];
    const weightBytes = variables.reduce((sum, v) => sum + 4 * v.size, 0);
    // Created from the weights: one copy of them (before: the random first values leaked, then the loaded
    // tensors too — three copies), plus the model's fixed tables (positions, a zero logits row), far smaller.
    const held = tf.memory().numBytes - before;
    expect(held, name).toBeGreaterThanOrEqual(weightBytes);
    expect(held, name).toBeLessThan(1.5 * weightBytes);
    // The values are the file's.
    const q = 'model.encoder.layers.0.self_attn.q_proj.weight';
    expect(model.params.get(q)?.dataSync(), name).toEqual(readWeights(folder).get(q)?.data);
    // An optimizer-style assignment frees the first value; disposing the model frees everything.
    const v = model.params.get(q) as import('@tensorflow/tfjs-core').Variable;
    const next = tf.zerosLike(v);
    v.assign(next);
    next.dispose();
    expect(tf.memory().numBytes - before, name).toBe(held);
    model.dispose();
    expect(tf.memory().numBytes, name).toBe(before);
  }
});
