import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { applyEdits, byteEdits, fuzzParameters, outcome } from '../../test/checkpoint-builders.js';
import { parseJson } from '../data/data.js';
import { makeConfigFile } from '../node/config-file.js';
import { readJsonFile } from '../node/data-files.js';
import {
  CONFIG_LIMITS,
  checkConfigFitsWeights,
  configElementCount,
  type MarianConfig,
  makeConfig,
  parseConfig,
} from './config.js';

const folder = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const source = join(folder, 'config.json');
const text = readFileSync(source, 'utf8');
const published = JSON.parse(text) as Record<string, unknown>;
const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });

test('sizes beyond the stated caps, negative, fractional or non-numeric are INVALID_DATA naming file and field', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'max_position_embeddings',
      1e9,
      /config.max_position_embeddings must be at most 65536 \(a bound of this app\), got 1000000000/,
    ],
    ['max_position_embeddings', 2e7, /config.max_position_embeddings must be at most 65536/],
    [
      'encoder_layers',
      100_000,
      /config.encoder_layers must be at most 256 \(a bound of this app\), got 100000/,
    ],
    ['decoder_layers', 257, /config.decoder_layers must be at most 256/],
    ['d_model', 2 ** 20, /config.d_model must be at most 16384/],
    ['encoder_ffn_dim', 1e6, /config.encoder_ffn_dim must be at most 65536/],
    ['vocab_size', 1e8, /config.vocab_size must be at most 2097152/],
    ['num_beams', 1e6, /config.num_beams must be at most 1024/],
    ['max_length', 1e9, /config.max_length must be at most 65536/],
    ['encoder_layers', -1, /config.encoder_layers must be a positive integer, got -1/],
    ['encoder_layers', 1.5, /config.encoder_layers must be a positive integer, got 1.5/],
    ['d_model', '16', /config.d_model must be a positive integer, got "16"/],
    ['d_model', null, /config.d_model must be a positive integer, got null/],
    ['vocab_size', 1e300, /config.vocab_size must be at most/],
  ];
  for (const [field, value, message] of cases) {
    expect(() => parseConfig({ ...published, [field]: value }, source), `${field}: ${value}`).toThrow(
      dataError(new RegExp(`^${source.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${message.source}`)),
    );
  }
  // Each size within its cap, the whole model past 2^29 values: d_model 4096 × 256 + 256 layers.
  const big = { ...published, d_model: 4096, encoder_layers: 256, decoder_layers: 256, vocab_size: 389 };
  expect(() => parseConfig(big, source)).toThrow(
    dataError(/describes a model of \d+ values, more than the 536870912 this app loads/),
  );
  // A value nested a million levels deep is named, not printed (JSON.stringify would overflow the stack).
  let deep: unknown = [];
  for (let i = 0; i < 1_000_000; i++) deep = [deep];
  expect(() => parseConfig({ ...published, d_model: deep }, source)).toThrow(
    dataError(/config.d_model must be a positive integer, got a value nested too deeply to print/),
  );
});

test('the element count follows the HF parameter layout: the fixture has the parameters its weights hold', () => {
  const config = parseConfig(published, source);
  const weights = statSync(join(folder, 'model.safetensors')).size;
  // model.safetensors stores float32 parameters (no position table): 4 bytes each, plus a header of a few KB.
  const parameters = configElementCount(config) - config.max_position_embeddings * config.d_model;
  expect(parameters * 4).toBeLessThanOrEqual(weights);
  expect(parameters * 4).toBeGreaterThan(weights - 8192);
  expect(() => checkConfigFitsWeights(config, weights, source)).not.toThrow();
  const deeper = parseConfig({ ...published, encoder_layers: 20 }, source);
  expect(() => checkConfigFitsWeights(deeper, weights, source)).toThrow(
    dataError(
      /config.json: the config describes \d+ parameters, more than the 53364 bytes of weights beside it/,
    ),
  );
});

test('config.json that is not JSON is INVALID_DATA with file:line:column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'el-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, '{\n  "d_model": 16,\n}\n');
  expect(() => readJsonFile(file)).toThrow(dataError(/config.json:3:1: not valid JSON/));
});

/** Every size of an accepted config is within its cap, and the model within the element cap. */
function checkBounded(config: MarianConfig): void {
  expect(configElementCount(config)).toBeLessThanOrEqual(CONFIG_LIMITS.elements);
  expect(config.max_position_embeddings).toBeLessThanOrEqual(CONFIG_LIMITS.positions);
  expect(Math.max(config.encoder_layers, config.decoder_layers)).toBeLessThanOrEqual(CONFIG_LIMITS.layers);
}

test('config.json mutated as structure or as text: INVALID_DATA naming the file, or a bounded config (fast-check)', () => {
  const sizeFields = [
    'vocab_size',
    'd_model',
    'encoder_layers',
    'decoder_layers',
    'encoder_attention_heads',
    'encoder_ffn_dim',
    'max_position_embeddings',
    'num_beams',
    'pad_token_id',
    'bad_words_ids',
    'architectures',
    'dropout',
    'model_type',
  ];
  const value = fc.oneof(
    fc.constantFrom(
      1e9,
      2e7,
      100_000,
      65_536,
      65_537,
      256,
      257,
      -1,
      0,
      1.5,
      2 ** 53,
      1e308,
      null,
      '16',
      [],
      {},
      true,
    ),
    fc.integer({ min: -10, max: 100_000 }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const structural = fc.array(fc.tuple(fc.constantFrom(...sizeFields, ...Object.keys(published)), value), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(fc.oneof(structural, byteEdits(text.length, [], 3)), (mutation) => {
      const bytes =
        Array.isArray(mutation) && Array.isArray(mutation[0])
          ? JSON.stringify({ ...published, ...Object.fromEntries(mutation as [string, unknown][]) })
          : new TextDecoder().decode(applyEdits(new TextEncoder().encode(text), mutation as never));
      const result = outcome(source, () => parseConfig(parseJson(bytes, source), source), 1 << 20);
      if (result.ok) checkBounded(result.value);
    }),
    fuzzParameters(400, 31),
  );
});

test('a --config file that is JSON but not an object is INVALID_DATA naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'el-config-'));
  for (const content of ['null', '[1]', '"tiny"', '7']) {
    const file = join(dir, 'sizes.json');
    writeFileSync(file, content);
    expect(() => makeConfigFile(389, file), content).toThrow(
      dataError(/sizes.json: a config must be a JSON object/),
    );
  }
});

test('makeConfig takes parsed --config content (no file system needed) and names its source', () => {
  expect(makeConfig(20, { d_model: 64 }, 'sizes.json').d_model).toBe(64);
  expect(() => makeConfig(20, { vocab_size: 10 }, 'sizes.json')).toThrow(
    expect.objectContaining({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/--config sizes.json: vocab_size 10/),
    }),
  );
  expect(() => makeConfig(20, [1] as never, 'sizes.json')).toThrow(
    dataError(/sizes.json: a config must be a JSON object/),
  );
});
