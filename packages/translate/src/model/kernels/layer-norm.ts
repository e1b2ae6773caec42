import * as tf from '@tensorflow/tfjs-core';
import { heapMemory, heapModule, heapOffset, type WasmHeapBackend } from './heap-module.js';
import { LAYER_NORM_SHARED, LAYER_NORM_UNSHARED } from './layer-norm-bytes.js';
import { appKernelReady } from './registration.js';

/** Names of the kernels registered with tfjs for the wasm backend. */
export const LAYER_NORM_KERNEL = 'ElTranslateLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'ElTranslateLayerNormGrad';

interface LayerNormAttrs {
  epsilon: number;
}

interface LayerNormModule {
  forward(x: number, gamma: number, beta: number, y: number, rows: number, d: number, eps: number): void;
  backward(
    dy: number,
    x: number,
    gamma: number,
    dx: number,
    dGamma: number,
    dBeta: number,
    acc: number,
    rows: number,
    d: number,
    eps: number,
  ): void;
}

const MODULE = { unshared: LAYER_NORM_UNSHARED, shared: LAYER_NORM_SHARED };

/** The module instantiated on the backend's own memory (tensors are read and written in place). */
function moduleFor(backend: WasmHeapBackend): LayerNormModule {
  return heapModule<LayerNormModule>(MODULE, heapMemory(backend));
}

/**
 * y = (x − μ) · r · γ + β per row of `x` `[N, d]`, with μ the row mean and r = 1/√(σ² + ε), σ² the row variance
 * (two passes, accumulated in float64; `layer-norm.wat`).
 */
const forwardKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
  const { epsilon } = attrs as unknown as LayerNormAttrs;
  const d = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / d;
  const y = backend.makeOutput(x.shape, 'float32');
  const [xo, go, bo, yo] = [x, gamma, beta, y].map((t) => heapOffset(backend, t));
  moduleFor(backend).forward(xo, go, bo, yo, rows, d, epsilon);
  return [y];
};

/**
 * With x̂ = (x − μ)·r (μ, r recomputed in float64) and g = dy·γ: dx = r · (g − mean(g) − x̂ · mean(g · x̂)) per row, dγ = Σ_rows dy·x̂,
 * dβ = Σ_rows dy (accumulated in float64 in a scratch tensor).
 */
const gradKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmHeapBackend;
  const { dy, x, gamma } = inputs as Record<string, tf.TensorInfo>;
  const { epsilon } = attrs as unknown as LayerNormAttrs;
  const d = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / d;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dGamma = backend.makeOutput([d], 'float32');
  const dBeta = backend.makeOutput([d], 'float32');
  const scratch = backend.makeOutput([4 * d], 'float32'); // 2·d float64 accumulators
  const [dyo, xo, go, dxo, dgo, dbo, acc] = [dy, x, gamma, dx, dGamma, dBeta, scratch].map((t) =>
    heapOffset(backend, t),
  );
  moduleFor(backend).backward(dyo, xo, go, dxo, dgo, dbo, acc, rows, d, epsilon);
  backend.disposeData(scratch.dataId);
  return [dx, dGamma, dBeta];
};

/** {@link layerNorm}'s kernels for tfjs-backend-wasm, registered by `registerAppKernels` (register-all.ts). */
export const layerNormConfig: tf.KernelConfig = {
  kernelName: LAYER_NORM_KERNEL,
  backendName: 'wasm',
  kernelFunc: forwardKernel,
};
export const layerNormGradConfig: tf.KernelConfig = {
  kernelName: LAYER_NORM_GRAD_KERNEL,
  backendName: 'wasm',
  kernelFunc: gradKernel,
};

/** The composed form (tfjs ops, autodiff): the definition the kernels are tested against. */
export function layerNormOps(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normed, gamma), beta);
}

/**
 * LayerNorm over the last axis, `(x − μ)/√(σ² + ε) · γ + β` (biased variance, as `torch.nn.LayerNorm`): `x`
 * `[..., d]`, `gamma` and `beta` `[d]`. On wasm a WebAssembly SIMD kernel forward and backward over the heap
 * (`layer-norm.wat`; tfjs's composed form runs about eight ops forward and twice as many backward); elsewhere
 * {@link layerNormOps}.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): tf.Tensor {
  if (
    x.dtype !== 'float32' ||
    !appKernelReady(LAYER_NORM_KERNEL) ||
    !appKernelReady(LAYER_NORM_GRAD_KERNEL)
  ) {
    return layerNormOps(x, gamma, beta, epsilon);
  }
  const fused = tf.customGrad((...inputs) => {
    const [input, scale, shift, save] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const attrs = { epsilon } as unknown as tf.NamedAttrMap;
    const [y] = tf
      .engine()
      .runKernel(LAYER_NORM_KERNEL, { x: input, gamma: scale, beta: shift }, attrs) as tf.Tensor[];
    save([input, scale]); // the backward recomputes μ and r in float64
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg] = saved;
        return tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy, x: sx, gamma: sg }, attrs) as tf.Tensor[];
      },
    };
  }) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
  return fused(x, gamma, beta);
}
