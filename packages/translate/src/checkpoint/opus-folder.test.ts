import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { makeConfig, parseConfig } from '../model/config.js';
import { MarianModel } from '../model/marian.js';
import type { Seq2SeqModel } from '../models/registry.js';
import { makeConfigFile } from '../node/config-file.js';
import { nodeFolder } from '../node/node-folder.js';
import { Rng } from '../rng.js';
import { convertMarianTokenizer } from '../tokenizers/convert-marian.js';
import { loadMarianTokenizer } from '../tokenizers/marian.js';
import { initBackend } from '../training/backend.js';
import { POSITION_KEYS, resolveMarianTensors, TIED_KEYS } from './hf-keys.js';
import {
  copyTokenizer,
  loadModel,
  loadWeights,
  modelTensorNames,
  readConfig,
  readWeights,
  saveModel,
} from './model-folder.js';
import { type NamedTensor, readSafetensors, writeSafetensors } from './safetensors.js';

const folder = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'el-opus-'));
const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });
/** The F32 safetensors written by torch: the reference every other layout must load to. */
const reference = readSafetensors(readFileSync(join(folder, 'model.safetensors'))).tensors;

beforeAll(async () => {
  await initBackend('wasm');
});

/** Parameters and fixed buffers (final_logits_bias) by HF name. */
function parameters(model: Seq2SeqModel): Map<string, Float32Array> {
  const buffers = (model as { buffers?: Map<string, { dataSync(): unknown }> }).buffers ?? new Map();
  return new Map([...model.params, ...buffers].map(([name, v]) => [name, v.dataSync() as Float32Array]));
}

function freshModel(): MarianModel {
  return new MarianModel(readConfig(nodeFolder(folder)), new Rng(5));
}

test('an OPUS-MT folder as published loads: config, weights, SentencePiece tokenizer', async () => {
  const { model, tokenizer } = await loadModel(nodeFolder(folder));
  expect(model.config.pad_token_id).toBe(388);
  expect(model.config.vocab_size).toBe(389);
  expect(tokenizer.padId).toBe(388);
  const params = parameters(model);
  expect([...params.keys()].sort()).toEqual([...reference.keys()].sort());
  for (const [name, tensor] of reference) expect(params.get(name), name).toEqual(tensor.data);
  model.dispose();
});

test.each([
  ['pytorch_model.bin', 0],
  ['variants/legacy/pytorch_model.bin', 0],
  ['variants/sharded/model.safetensors.index.json', 0],
  ['variants/sharded-bin/pytorch_model.bin.index.json', 0],
  ['variants/f16/model.safetensors', 2 ** -11],
  ['variants/bf16/model.safetensors', 2 ** -8],
])('%s loads to the same parameters (relative tolerance %s)', (file, relative) => {
  const model = freshModel();
  loadWeights(model, nodeFolder(folder), file);
  for (const [name, got] of parameters(model)) {
    const want = reference.get(name)!.data as Float32Array;
    if (relative === 0) expect(got, name).toEqual(want);
    else
      for (let i = 0; i < want.length; i++) {
        expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(relative * Math.abs(want[i]) + 2 ** -24);
      }
  }
  model.dispose();
});

test('tied and untied key layouts resolve the way from_pretrained does', () => {
  const config = readConfig(nodeFolder(folder));
  const model = freshModel();
  const names = modelTensorNames(model);
  const bin = readWeights(nodeFolder(folder), 'pytorch_model.bin');
  const shared = reference.get('model.shared.weight')!;
  const resolve = (tensors: Map<string, NamedTensor>) => resolveMarianTensors(tensors, config, names, 'test');
  const without = (...drop: string[]) => new Map([...bin].filter(([k]) => !drop.includes(k)));
  // Any one of the tied keys supplies the shared embedding.
  for (const keep of TIED_KEYS) {
    const resolved = resolve(without(...TIED_KEYS.filter((k) => k !== keep)));
    expect(resolved.get('model.shared.weight')!.data, keep).toEqual(shared.data);
  }
  // No final_logits_bias: zeros, as HF initialises the buffer. No positions: fine (they are computed).
  const bare = resolve(without('final_logits_bias', ...POSITION_KEYS));
  expect(bare.get('final_logits_bias')).toEqual({
    dtype: 'F32',
    shape: [1, 389],
    data: new Float32Array(389),
  });
  // A checkpoint of the bare MarianModel (no "model." prefix, no lm_head / final_logits_bias).
  const base = new Map(
    [...without('lm_head.weight', 'final_logits_bias')].map(([k, v]) => [k.replace(/^model\./, ''), v]),
  );
  expect(resolve(base).get('model.encoder.layers.0.fc2.weight')).toEqual(
    reference.get('model.encoder.layers.0.fc2.weight'),
  );
  // Refused: tied copies that differ, a position table that is not Marian's sinusoids, an unknown tensor.
  const other = { ...shared, data: (shared.data as Float32Array).map((x) => x + 1) };
  expect(() => resolve(new Map([...bin, ['lm_head.weight', other]]))).toThrow(
    dataError(/test: lm_head.weight differs from model.shared.weight, but the config ties them/),
  );
  const positions = bin.get(POSITION_KEYS[0])!;
  const learned = { ...positions, data: (positions.data as Float32Array).map((x) => x * 0.5) };
  expect(() => resolve(new Map([...bin, [POSITION_KEYS[0], learned]]))).toThrow(
    dataError(/is not Marian's sinusoidal table.*learned positions are not implemented/),
  );
  expect(() => resolve(new Map([...bin, ['model.encoder.layernorm_embedding.weight', shared]]))).toThrow(
    dataError(/tensor model.encoder.layernorm_embedding.weight is not a parameter of MarianMTModel/),
  );
  // Missing parameters are named by the loader.
  const partial = join(tmp, 'partial.safetensors');
  writeFileSync(partial, writeSafetensors(without('model.decoder.layers.0.fc2.bias')));
  expect(() => loadWeights(model, nodeFolder(tmp), 'partial.safetensors')).toThrow(
    dataError(/model.decoder.layers.0.fc2.bias is missing/),
  );
  model.dispose();
});

test('config values the model does not implement are refused, naming field and value', () => {
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
  const refused: [string, unknown, RegExp][] = [
    ['normalize_before', true, /config.normalize_before must be false \(Marian is post-norm\), got true/],
    ['normalize_embedding', true, /config.normalize_embedding must be false/],
    ['static_position_embeddings', false, /config.static_position_embeddings must be true/],
    ['add_bias_logits', true, /config.add_bias_logits must be false/],
    ['activation_function', 'gelu_fast', /config.activation_function must be one of .*, got "gelu_fast"/],
    ['share_encoder_decoder_embeddings', false, /config.share_encoder_decoder_embeddings must be true/],
    ['decoder_vocab_size', 500, /config.decoder_vocab_size must equal vocab_size \(389\).*got 500/],
    ['tie_word_embeddings', false, /config.tie_word_embeddings must be true/],
    ['encoder_layerdrop', 0.1, /config.encoder_layerdrop must be 0/],
    ['pad_token_id', 389, /config.pad_token_id must be a token id below vocab_size \(389\), got 389/],
    ['rope_theta', 10000, /config.rope_theta \(10000\) is not a MarianConfig field/],
  ];
  for (const [field, value, message] of refused) {
    expect(() => parseConfig({ ...config, [field]: value }, 'c.json'), field).toThrow(dataError(message));
  }
  for (const activation of ['swish', 'silu', 'relu', 'gelu', 'gelu_new']) {
    expect(parseConfig({ ...config, activation_function: activation }).activation_function).toBe(activation);
  }
  // Fields a config leaves out take MarianConfig's defaults.
  const minimal = parseConfig({
    vocab_size: 10,
    pad_token_id: 9,
    decoder_start_token_id: 9,
    d_model: 8,
    encoder_attention_heads: 2,
    decoder_attention_heads: 2,
  });
  expect(minimal).toMatchObject({
    scale_embedding: false,
    activation_function: 'gelu',
    decoder_vocab_size: 10,
  });
});

test("--config FILE sets the vocabulary size (at least the tokenizer's)", () => {
  const file = join(tmp, 'config.json');
  writeFileSync(file, JSON.stringify({ ...makeConfig(20, 'tiny'), vocab_size: 32 }));
  expect(makeConfigFile(20, file).vocab_size).toBe(32);
  expect(makeConfig(20, 'tiny').vocab_size).toBe(20);
  writeFileSync(file, JSON.stringify({ vocab_size: 10 }));
  expect(() => makeConfigFile(20, file)).toThrow(
    expect.objectContaining({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/vocab_size 10 is smaller than the tokenizer's 20/),
    }),
  );
});

test('a fine-tuned OPUS-MT folder keeps the original tokenizer files and HF-faithful configs, and reloads', async () => {
  const { model, tokenizer } = await loadModel(nodeFolder(folder));
  const out = join(tmp, 'saved');
  saveModel(model, nodeFolder(out));
  copyTokenizer(nodeFolder(folder), nodeFolder(out));
  for (const file of [
    'source.spm',
    'target.spm',
    'vocab.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
  ]) {
    expect(readFileSync(join(out, file)), file).toEqual(readFileSync(join(folder, file)));
  }
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  const original = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
  // Every field as published, metadata included; what is added are MarianConfig's defaults, made explicit.
  expect(config).toMatchObject(original);
  const added = Object.keys(config).filter((key) => !(key in original));
  expect(Object.fromEntries(added.map((key) => [key, config[key]]))).toEqual({ tie_word_embeddings: true });
  const generation = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8'));
  expect(generation).toMatchObject({
    bad_words_ids: [[388]],
    bos_token_id: 0,
    decoder_start_token_id: 388,
    eos_token_id: 0,
    forced_eos_token_id: 0,
    pad_token_id: 388,
    max_length: 64,
  });
  const saved = readSafetensors(readFileSync(join(out, 'model.safetensors'))).tensors;
  expect([...saved.keys()].sort()).toEqual([...reference.keys()].sort()); // no embed_positions, no tied copies
  const again = await loadModel(nodeFolder(out));
  expect(parameters(again.model)).toEqual(parameters(model));
  const text = 'the moment of parting';
  expect(again.tokenizer.encodeSource(text)).toEqual(tokenizer.encodeSource(text));
  model.dispose();
  again.model.dispose();
});

test('a folder published in float16 is written as float32, and its config says so', () => {
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
  const model = new MarianModel(parseConfig({ ...config, torch_dtype: 'float16' }), new Rng(2));
  const out = join(tmp, 'half');
  saveModel(model, nodeFolder(out));
  expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe('float32');
  const tensors = readSafetensors(readFileSync(join(out, 'model.safetensors'))).tensors;
  expect([...tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
  model.dispose();
});

test("the app's own folders: no bos_token_id equal to pad, bad_words_ids, a length cap HF shares", async () => {
  const model = new MarianModel(makeConfig(20, 'tiny'), new Rng(1));
  const out = join(tmp, 'own');
  saveModel(model, nodeFolder(out));
  const generation = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8'));
  expect(generation.bos_token_id).toBeUndefined();
  expect(generation.bad_words_ids).toEqual([[0]]);
  expect(generation.max_length).toBe(model.config.max_position_embeddings);
  expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).max_length).toBe(generation.max_length);
  const keys = [...readSafetensors(readFileSync(join(out, 'model.safetensors'))).tensors.keys()];
  expect(keys.some((k) => k.includes('embed_positions'))).toBe(false);
  model.dispose();
});

test('a folder with only pytorch_model.bin loads from it; a malicious one is refused', async () => {
  const binOnly = join(tmp, 'bin-only');
  cpSync(folder, binOnly, {
    recursive: true,
    filter: (path) => !/model\.safetensors$|variants|malicious/.test(path),
  });
  expect(existsSync(join(binOnly, 'model.safetensors'))).toBe(false);
  const { model } = await loadModel(nodeFolder(binOnly));
  for (const [name, tensor] of reference) expect(parameters(model).get(name), name).toEqual(tensor.data);
  // Asked for <folder>/model.safetensors, the loader falls back to the folder's pytorch_model.bin.
  const named = freshModel();
  loadWeights(named, nodeFolder(binOnly), 'model.safetensors');
  expect(parameters(named)).toEqual(parameters(model));
  named.dispose();
  model.dispose();
  cpSync(join(folder, 'malicious', 'pytorch_model.bin'), join(binOnly, 'pytorch_model.bin'));
  // 289 bytes cannot hold the model config.json describes: refused before anything is allocated or unpickled…
  await expect(loadModel(nodeFolder(binOnly))).rejects.toThrow(
    dataError(/config.json: the config describes \d+ parameters, more than the 289 bytes/),
  );
  // …and read anyway, the unpickler refuses the global it names.
  const target = freshModel();
  expect(() => loadWeights(target, nodeFolder(binOnly))).toThrow(
    dataError(/pytorch_model.bin.*refers to the Python global/),
  );
  target.dispose();
  expect(existsSync('/tmp/el-pwned')).toBe(false);
  // A vocabulary whose <pad> is not the config's pad_token_id (with the real weights back).
  cpSync(join(folder, 'pytorch_model.bin'), join(binOnly, 'pytorch_model.bin'));
  const vocab = JSON.parse(readFileSync(join(folder, 'vocab.json'), 'utf8'));
  [vocab['<pad>'], vocab['>>nld<<']] = [vocab['>>nld<<'], vocab['<pad>']];
  writeFileSync(join(binOnly, 'vocab.json'), JSON.stringify(vocab));
  await expect(loadModel(nodeFolder(binOnly))).rejects.toThrow(
    dataError(/<pad>=387 .* config.pad_token_id is 388/),
  );
});

test('a folder with a tokenizer.json instead of the SentencePiece files (as Xenova/opus-mt-* carry) loads', async () => {
  const converted = join(tmp, 'tokenizer-json');
  cpSync(folder, converted, {
    recursive: true,
    filter: (path) => !/\.spm$|vocab\.json$|tokenizer_config\.json$|variants|malicious/.test(path),
  });
  const { tokenizerJson, tokenizerConfig } = convertMarianTokenizer(nodeFolder(folder));
  writeFileSync(join(converted, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(converted, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  const { model, tokenizer } = await loadModel(nodeFolder(converted), { targetToken: '>>deu<<' });
  const marian = loadMarianTokenizer(nodeFolder(folder), { targetToken: '>>deu<<' });
  for (const text of ['the moment of parting', 'vote by show of hands', 'negative assortative mating']) {
    expect(tokenizer.encodeSource(text)).toEqual(marian.encodeSource(text));
  }
  expect(tokenizer.decode(marian.encodeTarget('Das Büro ist geschlossen.'))).toBe(
    'Das Büro ist geschlossen.',
  );
  await expect(loadModel(nodeFolder(converted), { targetToken: '>>fra<<' })).rejects.toThrow(
    expect.objectContaining({ code: 'INVALID_OPTION' }),
  );
  model.dispose();
});
