import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../checkpoint/safetensors.js';

/**
 * Loaded weights a model is created with instead of random ones (`ModelFamily.create`'s third argument): tensors
 * by HF name, resolved as `from_pretrained` resolves a checkpoint's keys, and the file they came from, for messages.
 * Creating the model from them, rather than creating it at random and assigning the weights after, keeps one copy
 * of the weights in tfjs's heap instead of two at the peak — NLLB-200-distilled-600M's float32 weights are 2.46 GB
 * of a 4 GiB wasm heap — and skips drawing 615M random values in JavaScript.
 */
export interface InitialValues {
  tensors: ReadonlyMap<string, NamedTensor>;
  source: string;
}

/**
 * The first value of parameter `name`: a tensor of the loaded values when `initial` is given (a missing name or
 * another shape throws, naming the file), else `make()` (the model's random initialisation).
 */
export function firstValue(
  initial: InitialValues | undefined,
  name: string,
  shape: number[],
  make: () => tf.Tensor,
): tf.Tensor {
  if (!initial) return make();
  const t = initial.tensors.get(name);
  if (!t) throw new Error(`${initial.source}: parameter ${name} is missing.`);
  if (t.shape.join(',') !== shape.join(',')) {
    throw new Error(
      `${initial.source}: parameter ${name} has shape [${t.shape}], the config needs [${shape}].`,
    );
  }
  // A copy: the loaded array may be a view into the whole file, which the tensor would otherwise keep alive.
  return tf.tensor(Float32Array.from(t.data as Float32Array), shape);
}

/**
 * `tf.variable(value)` without the leak: a variable shares its first value's memory and takes a reference to it,
 * so the value must be disposed here, or its memory outlives the variable's first assignment (the optimizer's
 * first step, or loading weights) — a second copy of every parameter.
 */
export function variableFrom(value: tf.Tensor, trainable: boolean, name: string): tf.Variable {
  const variable = tf.variable(value, trainable, name);
  value.dispose();
  return variable;
}

/** Assigns `values` to `variable`, releasing the temporary tensor (the variable keeps its own reference). */
export function assignValues(variable: tf.Variable, values: Float32Array): void {
  const value = tf.tensor(Float32Array.from(values), variable.shape);
  variable.assign(value);
  value.dispose();
}
