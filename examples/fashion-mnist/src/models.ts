import * as tf from '@tensorflow/tfjs-core';
import { glorotUniform } from './random.js';

/** The two models of the experiment. */
export const MODELS = ['mlp', 'cnn'] as const;
export type ModelName = (typeof MODELS)[number];

/** A model: its trainable variables and its forward pass from `[B, 784]` pixels to `[B, 10]` logits. */
export interface Model {
  name: ModelName;
  variables: tf.Variable[];
  /** Logits `[B, 10]` of images `[B, 784]` (call inside a tidy or a minimize). */
  apply(images: tf.Tensor2D): tf.Tensor2D;
  /** A one-line description, for results.json. */
  description: string;
  dispose(): void;
}

/**
 * x · W with its gradient written as plain matMuls of explicit transposes. tfjs-backend-wasm 4.22's BatchMatMul
 * is 8–15× slower with `transposeA`/`transposeB` than without (measured: 128×784ᵀ… 130–180 ms against 12 ms for
 * transpose + matMul), and tfjs's own matMul gradient uses those flags.
 */
const linear = tf.customGrad((x, kernel, save) => {
  (save as tf.GradSaveFunc)([x as tf.Tensor, kernel as tf.Tensor]);
  return {
    value: tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D),
    gradFunc: (dy, [savedX, savedKernel]) => [
      tf.matMul(dy as tf.Tensor2D, tf.transpose(savedKernel as tf.Tensor2D)),
      tf.matMul(tf.transpose(savedX as tf.Tensor2D), dy as tf.Tensor2D),
    ],
  };
}) as (x: tf.Tensor2D, kernel: tf.Tensor2D) => tf.Tensor2D;

/** {@link linear} for the first layer: no gradient flows to the images, so dx (a 128×256 · 256×784 matMul) is skipped. */
const inputLinear = tf.customGrad((x, kernel, save) => {
  (save as tf.GradSaveFunc)([x as tf.Tensor]);
  return {
    value: tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D),
    gradFunc: (dy, [savedX]) => [
      tf.zerosLike(savedX),
      tf.matMul(tf.transpose(savedX as tf.Tensor2D), dy as tf.Tensor2D),
    ],
  };
}) as (x: tf.Tensor2D, kernel: tf.Tensor2D) => tf.Tensor2D;

function dense(
  rows: number,
  columns: number,
  random: () => number,
  fans?: { fanIn: number; fanOut: number },
) {
  return {
    kernel: tf.variable(tf.tensor2d(glorotUniform(rows, columns, random, fans), [rows, columns])),
    bias: tf.variable(tf.zeros([columns])),
  };
}

/** MLP 784-256-128-10 with ReLU, Glorot-uniform weights and zero biases drawn from `random`. */
export function mlp(random: () => number): Model {
  const layers = [dense(784, 256, random), dense(256, 128, random), dense(128, 10, random)];
  const variables = layers.flatMap((l) => [l.kernel, l.bias]);
  return {
    name: 'mlp',
    variables,
    description: 'MLP 784-256(ReLU)-128(ReLU)-10',
    apply: (images) =>
      layers.reduce<tf.Tensor2D>((h, layer, i) => {
        const z = tf.add((i === 0 ? inputLinear : linear)(h, layer.kernel), layer.bias) as tf.Tensor2D;
        return i < layers.length - 1 ? tf.relu(z) : z;
      }, images),
    dispose: () => tf.dispose(variables),
  };
}

/**
 * Where each entry of one image's 3 × 3 "same" patches comes from: row (y, x) of the patches holds pixel
 * (y + dy − 1, x + dx − 1) at columns (3·dy + dx)·C … + C − 1, so entry 9·(y·W + x) + 3·dy + dx is that pixel's
 * offset in a `[H, W, C]` image, or −1 outside the image (the patches hold zeros there). One map per image shape,
 * shared by the patches and their adjoint; the loops over it stay monomorphic (a per-pixel callback here cost 13 ns
 * an entry, 5× the copy).
 */
const sourceMaps = new Map<string, Int32Array>();
function patchSources(height: number, width: number, channels: number): Int32Array {
  const key = `${height}x${width}x${channels}`;
  let sources = sourceMaps.get(key);
  if (sources === undefined) {
    sources = new Int32Array(height * width * 9);
    let o = 0;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let dy = 0; dy < 3; dy++)
          for (let dx = 0; dx < 3; dx++, o++) {
            const [yy, xx] = [y + dy - 1, x + dx - 1];
            sources[o] = yy >= 0 && yy < height && xx >= 0 && xx < width ? (yy * width + xx) * channels : -1;
          }
    sourceMaps.set(key, sources);
  }
  return sources;
}

/** The patches of a 3 × 3 "same" convolution (im2col): `[B, H, W, C]` → `[B·H·W, 9·C]` ({@link patchSources}). */
export function patches3x3(
  x: ArrayLike<number>,
  [batch, height, width, channels]: readonly number[],
): Float32Array {
  const sources = patchSources(height, width, channels);
  const out = new Float32Array(batch * sources.length * channels);
  for (let b = 0, o = 0; b < batch; b++) {
    const image = b * height * width * channels;
    for (let k = 0; k < sources.length; k++, o += channels) {
      if (sources[k] < 0) continue;
      const pixel = image + sources[k];
      for (let c = 0; c < channels; c++) out[o + c] = x[pixel + c];
    }
  }
  return out;
}

/** The adjoint of {@link patches3x3} (col2im): each image entry gets the sum of the patch entries it was copied to. */
export function patches3x3Adjoint(
  d: ArrayLike<number>,
  [batch, height, width, channels]: readonly number[],
): Float32Array {
  const sources = patchSources(height, width, channels);
  const out = new Float32Array(batch * height * width * channels);
  for (let b = 0, o = 0; b < batch; b++) {
    const image = b * height * width * channels;
    for (let k = 0; k < sources.length; k++, o += channels) {
      if (sources[k] < 0) continue;
      const pixel = image + sources[k];
      for (let c = 0; c < channels; c++) out[pixel + c] += d[o + c];
    }
  }
  return out;
}

/**
 * {@link patches3x3} as a differentiable op. Written on typed arrays because tfjs-backend-wasm 4.22 has no
 * Conv2DBackpropFilter kernel (`tf.conv2d` cannot be trained on wasm), and the same patches built from nine slices
 * and a concat spent three quarters of a CNN step in Slice, Concat and their gradients (tf.profile: 290 of 410 ms
 * at batch 128) moving one or eight floats at a time.
 */
const patches = tf.customGrad((x) => {
  const shape = (x as tf.Tensor4D).shape;
  const [batch, height, width, channels] = shape;
  return {
    value: tf.tensor2d(patches3x3((x as tf.Tensor).dataSync(), shape), [
      batch * height * width,
      9 * channels,
    ]),
    gradFunc: (dy) => tf.tensor4d(patches3x3Adjoint((dy as tf.Tensor).dataSync(), shape), shape),
  };
}) as (x: tf.Tensor4D) => tf.Tensor2D;

/**
 * 2 × 2 max-pooling with stride 2 of `[B, H, W, C]` (H, W even) on typed arrays, and where each maximum came from
 * (the first of equal entries, in row-major order of the window).
 */
export function maxPool2x2(x: ArrayLike<number>, [batch, height, width, channels]: readonly number[]) {
  const [h, w] = [height / 2, width / 2];
  const values = new Float32Array(batch * h * w * channels);
  const from = new Int32Array(values.length);
  let o = 0;
  for (let b = 0; b < batch; b++)
    for (let y = 0; y < h; y++)
      for (let x0 = 0; x0 < w; x0++)
        for (let c = 0; c < channels; c++, o++) {
          const i = ((b * height + 2 * y) * width + 2 * x0) * channels + c;
          const row = width * channels;
          let at = i;
          if (x[i + channels] > x[at]) at = i + channels;
          if (x[i + row] > x[at]) at = i + row;
          if (x[i + row + channels] > x[at]) at = i + row + channels;
          values[o] = x[at];
          from[o] = at;
        }
  return { values, from };
}

/**
 * {@link maxPool2x2} as a differentiable op: the gradient goes to the entry each maximum came from. tfjs-backend-wasm
 * 4.22's MaxPoolGrad took a quarter of the CNN step after the patches were fixed (28 of 113 ms at batch 128). Ties
 * occur after ReLU (zeros), where ReLU's own gradient is zero whichever entry gets it.
 */
const maxPool = tf.customGrad((x) => {
  const shape = (x as tf.Tensor4D).shape;
  const [batch, height, width, channels] = shape;
  const { values, from } = maxPool2x2((x as tf.Tensor).dataSync(), shape);
  return {
    value: tf.tensor4d(values, [batch, height / 2, width / 2, channels]),
    gradFunc: (dy) => {
      const d = (dy as tf.Tensor).dataSync();
      const dx = new Float32Array(batch * height * width * channels);
      for (let o = 0; o < from.length; o++) dx[from[o]] += d[o];
      return tf.tensor4d(dx, shape);
    },
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

/** A 3 × 3 "same" convolution: {@link patches} times a `[9·C, filters]` kernel (see {@link linear}). */
function conv3x3(x: tf.Tensor4D, kernel: tf.Tensor2D, bias: tf.Tensor1D, first: boolean): tf.Tensor4D {
  const [batch, height, width] = x.shape;
  const columns = first
    ? // No gradient flows to the images: their patches are plain data.
      tf.tensor2d(patches3x3(x.dataSync(), x.shape), [batch * height * width, 9 * x.shape[3]])
    : patches(x);
  const out = tf.add((first ? inputLinear : linear)(columns, kernel), bias);
  return tf.reshape(out, [batch, height, width, kernel.shape[1]]);
}

/**
 * Small CNN: conv 3×3 (8) ReLU, max-pool 2 → conv 3×3 (16) ReLU, max-pool 2 → dense 784 → 10. Glorot-uniform
 * kernels (fan-in 9·C_in, fan-out 9·C_out as Keras counts a conv kernel), zero biases.
 */
export function cnn(random: () => number): Model {
  const filters = [8, 16];
  const conv1 = dense(9, filters[0], random, { fanIn: 9, fanOut: 9 * filters[0] });
  const conv2 = dense(9 * filters[0], filters[1], random, { fanIn: 9 * filters[0], fanOut: 9 * filters[1] });
  const head = dense(7 * 7 * filters[1], 10, random);
  const layers = [conv1, conv2, head];
  const variables = layers.flatMap((l) => [l.kernel, l.bias]);
  const block = (x: tf.Tensor4D, layer: typeof conv1) =>
    maxPool(tf.relu(conv3x3(x, layer.kernel, layer.bias as tf.Tensor1D, layer === conv1)));
  return {
    name: 'cnn',
    variables,
    description: 'CNN conv3x3(8)-ReLU-maxpool2, conv3x3(16)-ReLU-maxpool2, dense 784-10',
    apply: (images) => {
      const x = tf.reshape(images, [images.shape[0], 28, 28, 1]) as tf.Tensor4D;
      const features = block(block(x, conv1), conv2);
      return tf.add(
        linear(tf.reshape(features, [images.shape[0], 7 * 7 * filters[1]]), head.kernel),
        head.bias,
      );
    },
    dispose: () => tf.dispose(variables),
  };
}

/** The model called `name`, initialised from `random`. */
export function createModel(name: ModelName, random: () => number): Model {
  return name === 'mlp' ? mlp(random) : cnn(random);
}
