import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EncouragingLossError } from '@encouraging-loss/core';

/** Where Debian's `dataset-fashion-mnist` package installs the four IDX files (gzip-compressed). */
export const DEBIAN_DATA_DIR = '/usr/share/datasets/fashion-mnist';

/** The ten classes, in label order (Zalando's README). */
export const CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/**
 * SHA-256 of the four IDX files **after decompression**. The compressed files' hashes depend on the gzip that
 * wrote them (Debian recompressed Zalando's archives, so their MD5s differ from the ones Zalando publishes for
 * the `.gz` files); the IDX bytes do not. These values are published by third-party loaders that check files
 * matching Zalando's gzip MD5s (e.g. a Rust `dataset_ml` crate, `FASHION_RAW_SHA256` tables in PyTorch code), and
 * the decompressed MD5s of the same bytes (f4a8712d…, 9018921c…, 8181f547…, 15d48437…) match torchvision-style
 * `raw_data` tables; Debian's copy matches both.
 */
export const IDX_SHA256 = {
  'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
} as const;

export type IdxName = keyof typeof IDX_SHA256;

/** One split: `count` images of 28 × 28 pixels scaled to [0, 1], row-major, and their labels 0–9. */
export interface Split {
  /** `[count, 784]`, pixel / 255. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** The two splits of Fashion-MNIST, as Zalando publishes them (60,000 train, 10,000 test). */
export interface FashionMnist {
  train: Split;
  test: Split;
  /** The directory the files came from. */
  dir: string;
}

const IMAGE_SIZE = 28 * 28;

function fail(message: string): never {
  throw new EncouragingLossError('INVALID_DATA', message);
}

/** Reads `dir/name` or `dir/name.gz` and returns the IDX bytes (decompressed), checked against their SHA-256. */
export function readIdxFile(dir: string, name: IdxName): Uint8Array {
  const plain = join(dir, name);
  const gz = `${plain}.gz`;
  let bytes: Uint8Array;
  let path: string;
  if (existsSync(plain)) {
    path = plain;
    bytes = readFileSync(plain);
  } else if (existsSync(gz)) {
    path = gz;
    try {
      bytes = gunzipSync(readFileSync(gz));
    } catch (error) {
      fail(`${gz} is not a readable gzip file (${(error as Error).message}).`);
    }
  } else {
    fail(
      `Fashion-MNIST file ${name} (or ${name}.gz) not found in ${dir}: install Debian's dataset-fashion-mnist ` +
        `(apt-get install dataset-fashion-mnist) or pass --data DIR with Zalando's four files.`,
    );
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== IDX_SHA256[name]) {
    fail(
      `${path}: SHA-256 of the IDX bytes is ${sha256}, expected ${IDX_SHA256[name]} (Fashion-MNIST ${name}).`,
    );
  }
  return bytes;
}

/**
 * Parses an IDX file (big-endian: magic 0x0000 08 rank, then `rank` 32-bit dimensions, then unsigned bytes).
 * Returns the dimensions and a view of the data.
 */
export function parseIdx(bytes: Uint8Array, name: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) fail(`${name}: ${bytes.length} bytes is too short for an IDX header.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = (magic >>> 8) & 0xff;
  const rank = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || rank < 1 || rank > 3) {
    fail(`${name}: magic number 0x${magic.toString(16).padStart(8, '0')} is not an unsigned-byte IDX file.`);
  }
  const header = 4 + 4 * rank;
  if (bytes.length < header) fail(`${name}: ${bytes.length} bytes is too short for a rank-${rank} header.`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) {
    fail(
      `${name}: header says ${dims.join(' × ')} = ${size} bytes of data, the file has ${bytes.length - header}.`,
    );
  }
  return { dims, data: bytes.subarray(header) };
}

function readSplit(dir: string, images: IdxName, labels: IdxName): Split {
  const x = parseIdx(readIdxFile(dir, images), images);
  const y = parseIdx(readIdxFile(dir, labels), labels);
  const count = x.dims[0];
  if (x.dims.length !== 3 || x.dims[1] !== 28 || x.dims[2] !== 28) {
    fail(`${images}: expected [N, 28, 28] images, got [${x.dims.join(', ')}].`);
  }
  if (y.dims.length !== 1 || y.dims[0] !== count) {
    fail(`${labels}: expected ${count} labels, got [${y.dims.join(', ')}].`);
  }
  const pixels = new Float32Array(count * IMAGE_SIZE);
  for (let i = 0; i < pixels.length; i++) pixels[i] = x.data[i] / 255;
  return { images: pixels, labels: Int32Array.from(y.data), count };
}

/**
 * Loads Fashion-MNIST from `dir` (default: Debian's copy), each of the four IDX files plain or `.gz`, and checks
 * each against {@link IDX_SHA256}. Throws `EncouragingLossError` (`INVALID_DATA`) naming the file that is missing,
 * unreadable or different.
 */
export function loadFashionMnist(dir: string = DEBIAN_DATA_DIR): FashionMnist {
  return {
    train: readSplit(dir, 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test: readSplit(dir, 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
    dir,
  };
}

/** The images and labels at `indices` of a split, in that order. */
export function subset(split: Split, indices: ArrayLike<number>): Split {
  const images = new Float32Array(indices.length * IMAGE_SIZE);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(split.images.subarray(j * IMAGE_SIZE, (j + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = split.labels[j];
  }
  return { images, labels, count: indices.length };
}

/**
 * The long-tailed training set of the paper's protocol (imbalance ratio 100, as for CIFAR-10-LT): class c keeps
 * its first ⌊n · (1/ratio)^(c/9)⌋ images in file order, n = 6,000. The same subset for every seed.
 *
 * @returns the indices kept, and the count per class.
 */
export function longTailIndices(
  labels: Int32Array,
  { perClass = 6000, imbalance = 100, classes = 10 } = {},
): { indices: Int32Array; counts: number[] } {
  const counts = Array.from({ length: classes }, (_, c) =>
    Math.floor(perClass * (1 / imbalance) ** (c / (classes - 1))),
  );
  const taken = new Array<number>(classes).fill(0);
  const kept: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (taken[c] < counts[c]) {
      taken[c]++;
      kept.push(i);
    }
  }
  taken.forEach((t, c) => {
    if (t !== counts[c]) fail(`long-tailed subset: class ${c} has ${t} images, ${counts[c]} wanted.`);
  });
  return { indices: Int32Array.from(kept), counts };
}
