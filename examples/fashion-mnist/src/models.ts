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
 * A 3 × 3 "same" convolution written as im2col + matMul: the nine shifted copies of the padded input, side by
 * side along the channels, times a `[9·C, filters]` kernel (see {@link linear}). tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter
 * kernel, so `tf.conv2d` cannot be trained on wasm; this is the same function with gradients from slice, concat
 * and matMul, which it has.
 */
function conv3x3(x: tf.Tensor4D, kernel: tf.Tensor2D, bias: tf.Tensor1D, first: boolean): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
  const shifted: tf.Tensor4D[] = [];
  for (let dy = 0; dy < 3; dy++)
    for (let dx = 0; dx < 3; dx++)
      shifted.push(tf.slice(padded, [0, dy, dx, 0], [batch, height, width, channels]));
  const patches = tf.reshape(tf.concat(shifted, 3), [batch * height * width, 9 * channels]);
  const out = tf.add((first ? inputLinear : linear)(patches as tf.Tensor2D, kernel), bias);
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
    tf.maxPool(tf.relu(conv3x3(x, layer.kernel, layer.bias as tf.Tensor1D, layer === conv1)), 2, 2, 'valid');
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
