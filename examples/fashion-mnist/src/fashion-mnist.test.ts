import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEBIAN_DATA_DIR,
  type FashionMnist,
  IDX_SHA256,
  type IdxName,
  loadFashionMnist,
  longTailIndices,
  parseIdx,
} from './fashion-mnist.js';

const NAMES = Object.keys(IDX_SHA256) as IdxName[];

// These tests read Debian's dataset-fashion-mnist (installed by .ci/run): files another tool wrote, never ours.
describe("Debian's Fashion-MNIST", () => {
  let data: FashionMnist;
  beforeAll(() => {
    data = loadFashionMnist();
  });

  it('has 60,000 training and 10,000 test images of 784 pixels in [0, 1]', () => {
    expect(data.train.count).toBe(60_000);
    expect(data.test.count).toBe(10_000);
    expect(data.train.images.length).toBe(60_000 * 784);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of data.test.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
  });

  it('is balanced as Zalando describes it: 6,000 / 1,000 images per class', () => {
    const count = (labels: Int32Array) => {
      const perClass = new Array(10).fill(0);
      for (const y of labels) perClass[y]++;
      return perClass;
    };
    expect(count(data.train.labels)).toEqual(new Array(10).fill(6000));
    expect(count(data.test.labels)).toEqual(new Array(10).fill(1000));
  });

  it('starts with the labels of the published file (ankle boot, T-shirt, T-shirt, dress, …)', () => {
    expect(Array.from(data.train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
  });

  it('keeps ⌊6000 · 0.01^(c/9)⌋ images of class c in the long-tailed set, the first ones in file order', () => {
    const { indices, counts } = longTailIndices(data.train.labels);
    // Computed by hand (Python: [math.floor(6000 * 0.01 ** (c / 9)) for c in range(10)]).
    expect(counts).toEqual([6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]);
    expect(indices.length).toBe(14_886);
    // Class 9 keeps exactly its first 60 images.
    const all9 = Array.from(data.train.labels.keys()).filter((i) => data.train.labels[i] === 9);
    const kept9 = Array.from(indices).filter((i) => data.train.labels[i] === 9);
    expect(kept9).toEqual(all9.slice(0, 60));
  });
});

describe('loadFashionMnist --data DIR', () => {
  it('reads plain (decompressed) IDX files as well as .gz ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fashion-mnist-'));
    for (const name of NAMES)
      writeFileSync(join(dir, name), gunzipSync(readFileSync(join(DEBIAN_DATA_DIR, `${name}.gz`))));
    const plain = loadFashionMnist(dir);
    expect(plain.test.count).toBe(10_000);
    expect(Array.from(plain.test.labels.subarray(0, 5))).toEqual([9, 2, 1, 1, 6]);
  });

  it('refuses a copy whose bytes differ, naming the file and both hashes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fashion-mnist-'));
    for (const name of NAMES) copyFileSync(join(DEBIAN_DATA_DIR, `${name}.gz`), join(dir, `${name}.gz`));
    const labels = gunzipSync(readFileSync(join(DEBIAN_DATA_DIR, 't10k-labels-idx1-ubyte.gz')));
    labels[100] = (labels[100] + 1) % 10;
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels);
    expect(() => loadFashionMnist(dir)).toThrowError(
      expect.objectContaining({
        code: 'INVALID_DATA',
        message: expect.stringMatching(/t10k-labels-idx1-ubyte: SHA-256 .* expected 0402a96d/),
      }),
    );
  });

  it('names the missing file and how to get it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fashion-mnist-'));
    expect(() => loadFashionMnist(dir)).toThrowError(
      /train-images-idx3-ubyte .* not found in .*dataset-fashion-mnist/,
    );
  });
});

describe('parseIdx', () => {
  const header = (...words: number[]) => {
    const bytes = new Uint8Array(4 * words.length);
    const view = new DataView(bytes.buffer);
    words.forEach((w, i) => {
      view.setUint32(4 * i, w);
    });
    return bytes;
  };

  it('reads the big-endian dimensions and the data after them', () => {
    const bytes = new Uint8Array([...header(0x00000802, 2, 3), 1, 2, 3, 4, 5, 6]);
    const { dims, data } = parseIdx(bytes, 'x');
    expect(dims).toEqual([2, 3]);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rejects another element type and a length that disagrees with the header', () => {
    expect(() => parseIdx(new Uint8Array([...header(0x00000d01, 1), 0, 0, 0, 0]), 'floats')).toThrowError(
      /floats: magic number 0x00000d01/,
    );
    expect(() => parseIdx(new Uint8Array([...header(0x00000801, 5), 1, 2]), 'short')).toThrowError(
      /short: header says 5 = 5 bytes of data, the file has 2/,
    );
  });
});
