import * as tf from '@tensorflow/tfjs-core';
import { invalidData } from '../errors.js';
import { type AdamConstants, openAdamKernel } from '../model/kernels/adam.js';

/** Adam's hyper-parameters (the fairseq transformer recipe: β = (0.9, 0.98), ε = 1e-9). */
export const ADAM = { beta1: 0.9, beta2: 0.98, epsilon: 1e-9 };

/**
 * Adam with global-norm clipping whose moments live in plain `Float32Array`s outside the tfjs wasm heap (32-bit,
 * 4 GiB: at OPUS-MT base size parameters, gradients, two moments and the activations do not fit in it together).
 * Gradients arrive as host arrays. Each updated parameter is a new tensor (tfjs-backend-wasm caches XNNPACK
 * operators by tensor id, so a parameter must not change under the same one); on the wasm backend a SIMD kernel
 * writes it straight into the new tensor's heap memory (model/kernels/adam.ts), elsewhere a host loop does.
 *
 * m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε), in float32
 * as θ − s · m / (√v · r + ε) with s = lr / (1 − β₁ᵗ) and r = 1 / √(1 − β₂ᵗ) (one division and one root per element).
 */
export class HostAdam {
  /** First and second moments by parameter name (read and restored by checkpoints). */
  readonly moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  /**
   * Steps each parameter went without a gradient (LayerDrop skipped its layer, or it is frozen): its own step count,
   * for the bias correction, is `t` minus these, as PyTorch's Adam counts `state['step']` per parameter.
   */
  readonly skipped = new Map<string, number>();

  constructor(params: ReadonlyMap<string, tf.Variable>) {
    for (const [name, p] of params) {
      this.moments.set(name, { m: new Float32Array(p.size), v: new Float32Array(p.size) });
    }
  }

  /**
   * One update at step `t` (1-based) with gradients by parameter name: `g = gradientScale · grads` (default 1; the
   * trainer passes its 1/tokens here instead of scaling every gradient on the host first), clipped by
   * `min(1, clip / (‖g‖ + 10⁻⁶))`. Parameters without a gradient (frozen, or in a layer LayerDrop skipped) are left
   * alone, moments included, and their step count does not advance (see {@link skipped}); ‖g‖ is over the gradients
   * given, as `clip_grad_norm_` skips a `None` gradient. Returns ‖g‖ (before clipping).
   */
  step(
    params: ReadonlyMap<string, tf.Variable>,
    grads: ReadonlyMap<string, Float32Array>,
    options: { lr: number; t: number; clip: number; gradientScale?: number },
  ): number {
    for (const [name, g] of grads) {
      const param = params.get(name);
      const moments = this.moments.get(name);
      if (!param || !moments || g.length !== param.size || moments.m.length !== param.size) {
        invalidData(
          `HostAdam: the gradient of ${name} has ${g.length} elements; its parameter ${param ? `has ${param.size}` : 'does not exist'}.`,
        );
      }
    }
    const kernel = openAdamKernel();
    try {
      const gradientScale = options.gradientScale ?? 1;
      const squares = kernel ? kernel.squares(grads.values()) : sumOfSquares(grads.values());
      const norm = gradientScale * Math.sqrt(squares);
      const { beta1, beta2, epsilon } = ADAM;
      for (const name of this.moments.keys()) {
        if (!grads.has(name)) this.skipped.set(name, (this.skipped.get(name) ?? 0) + 1);
      }
      const scale = gradientScale * Math.min(1, options.clip / (norm + 1e-6));
      for (const [name, g] of grads) {
        const t = options.t - (this.skipped.get(name) ?? 0);
        const constants: AdamConstants = {
          scale,
          beta1,
          beta2,
          epsilon,
          step: options.lr / (1 - beta1 ** t),
          root: 1 / Math.sqrt(1 - beta2 ** t),
        };
        const param = params.get(name)!;
        const { m, v } = this.moments.get(name)!;
        const updated = kernel
          ? kernel.update(param, g, m, v, constants)
          : hostUpdate(param, g, m, v, constants);
        param.assign(updated);
        updated.dispose();
      }
      return norm;
    } finally {
      kernel?.close();
    }
  }
}

function sumOfSquares(gradients: Iterable<Float32Array>): number {
  let sum = 0;
  for (const g of gradients) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return sum;
}

/** The update off the wasm backend: the kernel's formula in float64, rounded to float32 on every store. */
function hostUpdate(param: tf.Tensor, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamConstants) {
  const p = param.dataSync() as Float32Array;
  const out = new Float32Array(p.length);
  const { scale, beta1, beta2, step, root, epsilon } = c;
  const rest1 = 1 - beta1;
  const rest2 = 1 - beta2;
  for (let i = 0; i < g.length; i++) {
    const gamma = scale * g[i];
    const mi = beta1 * m[i] + rest1 * gamma;
    const vi = beta2 * v[i] + rest2 * gamma * gamma;
    m[i] = mi;
    v[i] = vi;
    out[i] = p[i] - (step * m[i]) / (Math.sqrt(v[i]) * root + epsilon);
  }
  return tf.tensor(out, param.shape);
}
