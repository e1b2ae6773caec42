import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { experimental_decodeOnnxModel as decodeOnnxModel } from '@encouraging-loss/onnxruntime-web/graph';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  FIXTURE_SENTENCES,
  M2M100_FIXTURES,
  writePerturbedM2M100,
  writeTinyModel,
} from '../../test/export-fixture.js';
import { nodeFolder } from '../node/node-folder.js';
import { initBackend } from '../training/backend.js';
import { type ExportOptions, exportModelFolder } from './export-folder.js';
import { initializerRecords, withoutInitializers } from './graph-check.js';
import { EXTERNAL_DATA_ALIGNMENT, EXTERNAL_DATA_MIN_BYTES } from './graph-writer.js';

ort.env.wasm.numThreads = 1;

// Every folder is exported from the same weights twice: weights inside the .onnx files ('never') and in
// `<file>.onnx_data` beside them ('always'), so the second can be compared with the first bit for bit.
const root = mkdtempSync(join(tmpdir(), 'el-external-data-'));
const FILES = ['encoder_model', 'decoder_model_merged'];
const SUFFIXES = ['', '_quantized'];

interface Family {
  name: string;
  model: string;
  /** transformers.js translation options (NLLB: the language pair). */
  languages: Record<string, string>;
  sentences: string[];
}

const families: Family[] = [
  { name: 'marian', model: join(root, 'marian-model'), languages: {}, sentences: FIXTURE_SENTENCES },
  {
    name: 'nllb',
    model: join(root, 'nllb-model'),
    languages: { src_lang: 'eng_Latn', tgt_lang: 'deu_Latn' },
    sentences: [
      ...JSON.parse(readFileSync(join(M2M100_FIXTURES, 'nllb-200-tiny', 'reference.json'), 'utf8')).pairs.map(
        (p: { source: string }) => p.source,
      ),
      'The printer is broken.',
    ],
  },
];
const single = (f: Family) => join(root, `${f.name}-single`);
/** How the data is laid out: one file per graph, or chunks of at most 16 KiB (`_data`, `_data_1`, …). */
const VARIANTS = [
  { variant: 'external', maxDataFileBytes: undefined },
  { variant: 'chunked', maxDataFileBytes: 16 * 1024 },
];
const CASES = families.flatMap((f) => VARIANTS.map((v) => ({ ...v, f, name: f.name })));

function exportTo(f: Family, out: string, options: Partial<ExportOptions>) {
  return exportModelFolder({
    model: nodeFolder(f.model),
    out: nodeFolder(out),
    quantize: 'int8',
    ...options,
  });
}

beforeAll(async () => {
  await initBackend('wasm');
  writeTinyModel(families[0].model, { seed: 8 }).dispose();
  writePerturbedM2M100('nllb-200-tiny', families[1].model, {
    srcLang: 'eng_Latn',
    tgtLang: 'deu_Latn',
  }).model.dispose();
  for (const f of families) {
    exportTo(f, single(f), { externalData: 'never' });
    for (const { variant, maxDataFileBytes } of VARIANTS)
      exportTo(f, join(root, `${f.name}-${variant}`), { externalData: 'always', maxDataFileBytes });
  }
}, 120_000);

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const bytesOf = (data: ArrayBufferView) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** The data files of `onnx/<name>` in a folder, in chunk order: `<name>_data`, `<name>_data_1`, … */
function dataFiles(folder: string, name: string): string[] {
  const files: string[] = [];
  for (let i = 0; existsSync(join(folder, 'onnx', `${name}_data${i === 0 ? '' : `_${i}`}`)); i++)
    files.push(`${name}_data${i === 0 ? '' : `_${i}`}`);
  return files;
}

/** Teacher-forced logits of the folder's graphs in onnxruntime-web, from bytes (and the data files, if any). */
async function logits(folder: string, suffix: string, withData: boolean): Promise<Float32Array> {
  const session = (file: string) => {
    const name = `${file}${suffix}.onnx`;
    const externalData = withData
      ? dataFiles(folder, name).map((path) => ({ path, data: readFileSync(join(folder, 'onnx', path)) }))
      : undefined;
    return ort.InferenceSession.create(readFileSync(join(folder, 'onnx', name)), {
      executionProviders: ['wasm'],
      externalData,
    });
  };
  const config = readJson(join(folder, 'config.json'));
  const { decoder_layers: layers, decoder_attention_heads: heads, d_model: d } = config;
  const ids = (rows: number[][]) =>
    new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
  // Ids below every fixture's vocabulary; two rows, no padding.
  const sources = [
    [4, 9, 17, 23, 2],
    [11, 5, 8, 3, 2],
  ];
  const targets = [
    [2, 5, 8, 13],
    [2, 21, 3, 7],
  ];
  const encoder = await session('encoder_model');
  const decoder = await session('decoder_model_merged');
  const ones = ids(sources.map((r) => r.map(() => 1)));
  const { last_hidden_state } = await encoder.run({ input_ids: ids(sources), attention_mask: ones });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: ids(targets),
    encoder_hidden_states: last_hidden_state,
    encoder_attention_mask: ones,
    use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
  };
  for (let i = 0; i < layers; i++)
    for (const kind of ['decoder', 'encoder'])
      for (const part of ['key', 'value'])
        feeds[`past_key_values.${i}.${kind}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [
          2,
          heads,
          0,
          d / heads,
        ]);
  const result = (await decoder.run(feeds)).logits.data as Float32Array;
  await encoder.release();
  await decoder.release();
  return result;
}

async function transformersJs() {
  const module = await import('@huggingface/transformers');
  module.env.allowRemoteModels = false;
  module.env.localModelPath = `${root}/`;
  return module;
}

describe.each(CASES)('$name exported with external data ($variant)', ({ f, variant }) => {
  const external = () => join(root, `${f.name}-${variant}`);

  test.each(SUFFIXES)(
    'onnxruntime-web loads graphs%s with their data files: logits bit for bit those of the single files',
    async (suffix) => {
      const expected = await logits(single(f), suffix, false);
      const actual = await logits(external(), suffix, true);
      expect(actual.length).toBeGreaterThan(0);
      expect(Buffer.from(bytesOf(actual)).equals(bytesOf(expected))).toBe(true);
      // The weights really are outside the .onnx file: without the data file the session cannot be made.
      const alone = readFileSync(join(external(), 'onnx', `encoder_model${suffix}.onnx`));
      await expect(ort.InferenceSession.create(alone, { executionProviders: ['wasm'] })).rejects.toThrow();
    },
    60_000,
  );

  test('config.json counts the data files for transformers.js (use_external_data_format)', async () => {
    const config = readJson(join(external(), 'config.json'));
    const counts = Object.fromEntries(
      SUFFIXES.flatMap((s) =>
        FILES.map((file) => [`${file}${s}.onnx`, dataFiles(external(), `${file}${s}.onnx`).length]),
      ),
    );
    expect(config['transformers.js_config']).toEqual({ use_external_data_format: counts });
    const chunks = Object.values(counts);
    if (variant === 'external') expect(chunks.every((n) => n === 1)).toBe(true);
    else expect(Math.max(...chunks)).toBeGreaterThan(2);
    expect(readJson(join(single(f), 'config.json'))['transformers.js_config']).toBeUndefined();
    // transformers.js 4.x reads it: the files it would download for each dtype include the data files.
    const { ModelRegistry } = await transformersJs();
    for (const [dtype, suffix] of [
      ['fp32', ''],
      ['q8', '_quantized'],
    ]) {
      const files = await ModelRegistry.get_model_files(`${f.name}-${variant}`, { dtype: dtype as 'fp32' });
      for (const file of FILES) {
        expect(files).toContain(`onnx/${file}${suffix}.onnx`);
        for (const data of dataFiles(external(), `${file}${suffix}.onnx`))
          expect(files).toContain(`onnx/${data}`);
      }
      const inline = await ModelRegistry.get_model_files(`${f.name}-single`, { dtype: dtype as 'fp32' });
      expect(inline.filter((file: string) => file.endsWith('_data'))).toEqual([]);
    }
  });

  test.each(['fp32', 'q8'])(
    '@huggingface/transformers 4.x pipeline("translation") translates as with the single files (%s)',
    async (dtype) => {
      const { pipeline } = await transformersJs();
      const translate = async (folder: string) => {
        const translator = await pipeline('translation', folder, { dtype: dtype as 'fp32' });
        const texts: string[] = [];
        for (const sentence of f.sentences) {
          const [result] = (await translator(sentence, {
            ...f.languages,
            max_new_tokens: 12,
            num_beams: 1,
          } as never)) as { translation_text: string }[];
          texts.push(result.translation_text);
        }
        await translator.dispose();
        return texts;
      };
      const expected = await translate(`${f.name}-single`);
      expect(await translate(`${f.name}-${variant}`)).toEqual(expected);
      expect(expected.some((t) => t.trim().length > 0)).toBe(true);
    },
    120_000,
  );

  test.each(SUFFIXES.flatMap((s) => FILES.map((file) => `${file}${s}.onnx`)))(
    '%s: tensors of 1 KiB or more are EXTERNAL, page-aligned, in order, each the bytes of the single file',
    (file) => {
      const model = readFileSync(join(external(), 'onnx', file));
      const locations = dataFiles(external(), file);
      const data = locations.map((location) => readFileSync(join(external(), 'onnx', location)));
      const ends = locations.map(() => 0);
      const expected = decodeOnnxModel(readFileSync(join(single(f), 'onnx', file))).graph.initializers ?? [];
      const records = initializerRecords(model);
      expect(records.map((r) => r.name)).toEqual(expected.map((t) => t.name));
      let externalCount = 0;
      records.forEach((record, i) => {
        const want = bytesOf(expected[i].data);
        expect(record.dims).toEqual(expected[i].dims);
        if (want.length < EXTERNAL_DATA_MIN_BYTES) {
          // Scalars and shape constants stay inline, as onnx.save_model keeps tensors under its size_threshold.
          expect(record.dataLocation).toBe(0);
          expect(record.externalData).toEqual([]);
          expect(Buffer.from(record.rawData ?? []).equals(want)).toBe(true);
          return;
        }
        externalCount++;
        expect(record.dataLocation, record.name).toBe(1);
        expect(record.rawData).toBeUndefined();
        expect(record.externalData.map(([key]) => key)).toEqual(['location', 'offset', 'length']);
        const place = Object.fromEntries(record.externalData);
        // Files fill in order: a tensor goes to the current file or opens the next.
        const chunk = locations.indexOf(place.location);
        expect(chunk, place.location).toBeGreaterThanOrEqual(0);
        expect(ends.slice(chunk + 1).every((e) => e === 0)).toBe(true);
        const offset = Number(place.offset);
        const length = Number(place.length);
        expect(String(offset)).toBe(place.offset);
        expect(offset % EXTERNAL_DATA_ALIGNMENT).toBe(0);
        // After the previous tensor of its file, with less than one alignment step of zeros between.
        const end = ends[chunk];
        expect(offset).toBeGreaterThanOrEqual(end);
        expect(offset - end).toBeLessThan(EXTERNAL_DATA_ALIGNMENT);
        expect(data[chunk].subarray(end, offset).every((b) => b === 0)).toBe(true);
        expect(length).toBe(want.length);
        expect(Buffer.from(data[chunk].subarray(offset, offset + length)).equals(want)).toBe(true);
        ends[chunk] = offset + length;
      });
      expect(externalCount).toBeGreaterThan(0);
      expect(data.map((d) => d.length)).toEqual(ends);
      // A chunk holds more than one tensor only within the limit.
      const limit = VARIANTS.find((v) => v.variant === variant)?.maxDataFileBytes ?? Number.POSITIVE_INFINITY;
      data.forEach((d, i) => {
        const tensorsIn = records.filter((r) => Object.fromEntries(r.externalData).location === locations[i]);
        if (tensorsIn.length > 1) expect(d.length).toBeLessThanOrEqual(limit);
      });
      // Nodes, inputs and outputs are the single file's, byte for byte.
      const singleModel = readFileSync(join(single(f), 'onnx', file));
      expect(Buffer.from(withoutInitializers(model)).equals(withoutInitializers(singleModel))).toBe(true);
    },
  );
});

describe("externalData: 'auto'", () => {
  const f = families[1];
  const size = (folder: string, file: string) => statSync(join(folder, 'onnx', file)).size;

  test('moves the weights of a file beyond the threshold only; int8 files below it stay single', async () => {
    const fp32 = FILES.map((file) => size(single(f), `${file}.onnx`));
    const int8 = FILES.map((file) => size(single(f), `${file}_quantized.onnx`));
    // A threshold 1 byte under the smaller fp32 file: it and the larger go out, the int8 files (smaller) stay.
    const threshold = Math.min(...fp32) - 1;
    expect(Math.max(...int8)).toBeLessThanOrEqual(threshold);
    const out = join(root, 'nllb-auto');
    // Over an 'always' export of the same folder: the int8 data files it left must go.
    exportTo(f, out, { externalData: 'always' });
    const { files } = exportTo(f, out, { externalData: 'auto', externalDataThreshold: threshold });
    for (const file of FILES) {
      expect(existsSync(join(out, 'onnx', `${file}.onnx_data`))).toBe(true);
      expect(existsSync(join(out, 'onnx', `${file}_quantized.onnx_data`))).toBe(false);
      expect(
        readFileSync(join(out, 'onnx', `${file}_quantized.onnx`)).equals(
          readFileSync(join(single(f), 'onnx', `${file}_quantized.onnx`)),
        ),
      ).toBe(true);
    }
    expect(files.map((w) => w.path)).toContain('onnx/decoder_model_merged.onnx_data');
    expect(files[0].path).toBe('config.json');
    expect(readJson(join(out, 'config.json'))['transformers.js_config']).toEqual({
      use_external_data_format: { 'encoder_model.onnx': 1, 'decoder_model_merged.onnx': 1 },
    });
    const { ModelRegistry } = await transformersJs();
    expect(await ModelRegistry.get_model_files('nllb-auto', { dtype: 'q8' })).not.toContain(
      'onnx/decoder_model_merged_quantized.onnx_data',
    );
  });

  test('the threshold compares with the exact single-file size: equal stays single, one byte more goes out', () => {
    const decoder = size(single(f), 'decoder_model_merged.onnx');
    const out = join(root, 'nllb-boundary');
    exportTo(f, out, { externalData: 'auto', externalDataThreshold: decoder });
    expect(
      readFileSync(join(out, 'onnx', 'decoder_model_merged.onnx')).equals(
        readFileSync(join(single(f), 'onnx', 'decoder_model_merged.onnx')),
      ),
    ).toBe(true);
    expect(existsSync(join(out, 'onnx', 'decoder_model_merged.onnx_data'))).toBe(false);
    exportTo(f, out, { externalData: 'auto', externalDataThreshold: decoder - 1 });
    expect(existsSync(join(out, 'onnx', 'decoder_model_merged.onnx_data'))).toBe(true);
  });

  test('the default threshold keeps the tiny fixtures single, and never is single whatever the threshold', () => {
    const out = join(root, 'nllb-default');
    exportTo(f, out, {});
    exportTo(f, join(root, 'nllb-never'), { externalData: 'never', externalDataThreshold: 0 });
    for (const folder of [out, join(root, 'nllb-never')]) {
      for (const s of SUFFIXES)
        for (const file of FILES) {
          const name = `${file}${s}.onnx`;
          expect(
            readFileSync(join(folder, 'onnx', name)).equals(readFileSync(join(single(f), 'onnx', name))),
          ).toBe(true);
        }
      expect(readJson(join(folder, 'config.json'))['transformers.js_config']).toBeUndefined();
    }
  });

  test('an unknown externalData value is INVALID_OPTION', () => {
    expect(() => exportTo(f, join(root, 'nllb-bad'), { externalData: 'sometimes' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});
