import * as tf from '@tensorflow/tfjs-core';
import { appKernelsEnabled } from './switch.js';

/** Names of the kernels registered with tfjs for the wasm backend. */
export const LAYER_NORM_KERNEL = 'ElTranslateLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'ElTranslateLayerNormGrad';

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface LayerNormAttrs {
  epsilon: number;
}

/** A float32 view of a tensor in the wasm heap. Take views after every `makeOutput`: growing the heap detaches. */
function view(backend: WasmBackendLike, info: tf.TensorInfo): Float32Array {
  const size = info.shape.reduce((a, b) => a * b, 1);
  const offset = backend.dataIdMap.get(info.dataId).memoryOffset;
  return new Float32Array(backend.wasm.HEAPU8.buffer, offset, size);
}

/**
 * y = (x − μ) · r · γ + β per row of `x` `[N, d]`, with μ the row mean and r = 1/√(σ² + ε), σ² the row variance
 * (two passes, accumulated in float64).
 */
const forwardKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmBackendLike;
  const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
  const { epsilon } = attrs as unknown as LayerNormAttrs;
  const d = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / d;
  const yInfo = backend.makeOutput(x.shape, 'float32');
  const [xs, g, b, y] = [x, gamma, beta, yInfo].map((t) => view(backend, t));
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += xs[o + j];
    const mean = sum / d;
    let squares = 0;
    for (let j = 0; j < d; j++) {
      const c = xs[o + j] - mean;
      squares += c * c;
    }
    const rstd = 1 / Math.sqrt(squares / d + epsilon);
    for (let j = 0; j < d; j++) y[o + j] = (xs[o + j] - mean) * rstd * g[j] + b[j];
  }
  return [yInfo];
};

/**
 * With x̂ = (x − μ)·r (μ, r recomputed in float64) and g = dy·γ: dx = r · (g − mean(g) − x̂ · mean(g · x̂)) per row, dγ = Σ_rows dy·x̂,
 * dβ = Σ_rows dy (accumulated in float64).
 */
const gradKernel: tf.KernelFunc = ({ inputs, backend: kernelBackend, attrs }) => {
  const backend = kernelBackend as unknown as WasmBackendLike;
  const { dy, x, gamma } = inputs as Record<string, tf.TensorInfo>;
  const { epsilon } = attrs as unknown as LayerNormAttrs;
  const d = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / d;
  const dxInfo = backend.makeOutput(x.shape, 'float32');
  const dGammaInfo = backend.makeOutput([d], 'float32');
  const dBetaInfo = backend.makeOutput([d], 'float32');
  const [dys, xs, g, dx, dGamma, dBeta] = [dy, x, gamma, dxInfo, dGammaInfo, dBetaInfo].map((t) =>
    view(backend, t),
  );
  const sumGamma = new Float64Array(d);
  const sumBeta = new Float64Array(d);
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    // μ and r again in float64 (the forward's outputs are float32: rounding μ would shift x̂ by |μ|·r·2^-24).
    let sum = 0;
    for (let j = 0; j < d; j++) sum += xs[o + j];
    const mu = sum / d;
    let squares = 0;
    for (let j = 0; j < d; j++) {
      const c = xs[o + j] - mu;
      squares += c * c;
    }
    const rs = 1 / Math.sqrt(squares / d + epsilon);
    let meanG = 0;
    let meanGx = 0;
    for (let j = 0; j < d; j++) {
      const xhat = (xs[o + j] - mu) * rs;
      const gj = dys[o + j] * g[j];
      meanG += gj;
      meanGx += gj * xhat;
      sumGamma[j] += dys[o + j] * xhat;
      sumBeta[j] += dys[o + j];
    }
    meanG /= d;
    meanGx /= d;
    for (let j = 0; j < d; j++) {
      const xhat = (xs[o + j] - mu) * rs;
      dx[o + j] = rs * (dys[o + j] * g[j] - meanG - xhat * meanGx);
    }
  }
  dGamma.set(sumGamma);
  dBeta.set(sumBeta);
  return [dxInfo, dGammaInfo, dBetaInfo];
};

function ensureKernels(): boolean {
  if (!appKernelsEnabled() || tf.getBackend() !== 'wasm') return false;
  if (tf.getKernel(LAYER_NORM_KERNEL, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: LAYER_NORM_KERNEL, backendName: 'wasm', kernelFunc: forwardKernel });
    tf.registerKernel({ kernelName: LAYER_NORM_GRAD_KERNEL, backendName: 'wasm', kernelFunc: gradKernel });
  }
  return true;
}

/** The composed form (tfjs ops, autodiff): the definition the kernels are tested against. */
export function layerNormOps(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normed, gamma), beta);
}

/**
 * LayerNorm over the last axis, `(x − μ)/√(σ² + ε) · γ + β` (biased variance, as `torch.nn.LayerNorm`): `x`
 * `[..., d]`, `gamma` and `beta` `[d]`. On wasm one JS pass per row forward and backward over the heap (tfjs's
 * composed form runs about eight ops forward and twice as many backward); elsewhere {@link layerNormOps}.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): tf.Tensor {
  if (x.dtype !== 'float32' || !ensureKernels()) return layerNormOps(x, gamma, beta, epsilon);
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
