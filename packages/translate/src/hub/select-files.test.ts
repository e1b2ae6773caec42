import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HUB_CONFIG_FILES,
  HUB_TOKENIZER_FILES,
  HUB_WEIGHT_FILES,
  selectModelFiles,
  shardsOfIndex,
} from './select-files.js';

// The files of Helsinki-NLP/opus-mt-en-de on the Hub, as its `siblings` list them.
const OPUS_MT_EN_DE = [
  '.gitattributes',
  'README.md',
  'config.json',
  'flax_model.msgpack',
  'generation_config.json',
  'metadata.json',
  'model.safetensors',
  'onnx/decoder_model.onnx',
  'pytorch_model.bin',
  'rust_model.ot',
  'source.spm',
  'target.spm',
  'tf_model.h5',
  'tokenizer_config.json',
  'vocab.json',
];

describe('selectModelFiles', () => {
  it('takes config, tokenizer and the safetensors weights of an OPUS-MT repository, nothing else', () => {
    expect(selectModelFiles(OPUS_MT_EN_DE)).toEqual({
      files: [
        'config.json',
        'generation_config.json',
        'source.spm',
        'target.spm',
        'vocab.json',
        'tokenizer_config.json',
        'model.safetensors',
      ],
    });
  });

  it('falls back to pytorch_model.bin, and to a sharded index', () => {
    const noSafetensors = OPUS_MT_EN_DE.filter((file) => file !== 'model.safetensors');
    expect(selectModelFiles(noSafetensors)).toMatchObject({
      files: expect.arrayContaining(['pytorch_model.bin']),
    });
    const sharded = [
      'config.json',
      'tokenizer.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'pytorch_model.bin.index.json',
    ];
    expect(selectModelFiles(sharded)).toEqual({
      files: ['config.json', 'tokenizer.json', 'model.safetensors.index.json'],
      weightIndex: 'model.safetensors.index.json',
    });
  });

  it('says what a repository lacks', () => {
    expect(selectModelFiles(['tf_model.h5', 'vocab.json'])).toBe('no config.json');
    expect(selectModelFiles(['config.json', 'tf_model.h5', 'rust_model.ot', 'tokenizer.json'])).toMatch(
      /^no weights/,
    );
    expect(selectModelFiles(['config.json', 'model.safetensors', 'source.spm', 'vocab.json'])).toMatch(
      /^no tokenizer/,
    );
  });

  it('only ever selects known top-level names present in the list, config and weights included', () => {
    const known = [...HUB_CONFIG_FILES, ...HUB_TOKENIZER_FILES, ...HUB_WEIGHT_FILES];
    const names = fc.constantFrom(...known, ...OPUS_MT_EN_DE, 'onnx/model.safetensors', 'sub/config.json');
    fc.assert(
      fc.property(fc.uniqueArray(names, { maxLength: 20 }), (files) => {
        const selection = selectModelFiles(files);
        if (typeof selection === 'string') return;
        for (const file of selection.files) {
          expect(files).toContain(file);
          expect(known).toContain(file);
        }
        expect(selection.files[0]).toBe('config.json');
        expect(
          selection.files.filter((file) => (HUB_WEIGHT_FILES as readonly string[]).includes(file)),
        ).toHaveLength(1);
      }),
    );
  });
});

describe('shardsOfIndex', () => {
  const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const index = (weightMap: Record<string, string>) =>
    JSON.stringify({ metadata: {}, weight_map: weightMap });

  it('lists each shard once, in first-use order', () => {
    const text = index({ a: files[1], b: files[0], c: files[1] });
    expect(shardsOfIndex(text, files)).toEqual([files[1], files[0]]);
  });

  it('refuses shards outside the snapshot or missing from the repository', () => {
    expect(shardsOfIndex(index({ a: '../../../etc/passwd' }), files)).toMatch(/not a plain file name/);
    expect(shardsOfIndex(index({ a: 'onnx/model.safetensors' }), files)).toMatch(/not a plain file name/);
    expect(shardsOfIndex(index({ a: 'model-00003-of-00003.safetensors' }), files)).toMatch(/does not have/);
    expect(shardsOfIndex('{', files)).toMatch(/not JSON/);
    expect(shardsOfIndex('{}', files)).toMatch(/no weight_map/);
  });
});
