import * as tf from '@tensorflow/tfjs-core';

/** Adam's hyper-parameters (the fairseq transformer recipe: β = (0.9, 0.98), ε = 1e-9). */
export const ADAM = { beta1: 0.9, beta2: 0.98, epsilon: 1e-9 };

/**
 * Adam with global-norm clipping whose moments live in plain `Float32Array`s outside the tfjs wasm heap (32-bit,
 * 4 GiB: at OPUS-MT base size parameters, gradients, two moments and the activations do not fit in it together).
 * Gradients arrive as host arrays; each parameter is read, updated in place on the host and written back as one
 * new tensor, so the heap holds at most one extra copy of the largest parameter during a step.
 *
 * m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε).
 */
export class HostAdam {
  readonly moments = new Map<string, { m: Float32Array; v: Float32Array }>();

  constructor(params: ReadonlyMap<string, tf.Variable>) {
    for (const [name, p] of params) {
      this.moments.set(name, { m: new Float32Array(p.size), v: new Float32Array(p.size) });
    }
  }

  /**
   * One update at step `t` (1-based) with gradients by parameter name, scaled by `min(1, clip / ‖g‖)` first.
   * Parameters without a gradient (frozen) are left alone. Returns the gradient norm before clipping.
   */
  step(
    params: ReadonlyMap<string, tf.Variable>,
    grads: ReadonlyMap<string, Float32Array>,
    options: { lr: number; t: number; clip: number },
  ): number {
    let squares = 0;
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
    const norm = Math.sqrt(squares);
    const scale = Math.min(1, options.clip / (norm + 1e-6));
    const { beta1, beta2, epsilon } = ADAM;
    const correction1 = 1 - beta1 ** options.t;
    const correction2 = 1 - beta2 ** options.t;
    for (const [name, g] of grads) {
      const param = params.get(name)!;
      const { m, v } = this.moments.get(name)!;
      // wasm's dataSync is a copy of heap memory; the cpu backend's is the tensor's own array, so copy it there.
      const read = param.dataSync() as Float32Array;
      const values = tf.getBackend() === 'wasm' ? read : read.slice();
      for (let i = 0; i < g.length; i++) {
        const gi = g[i] * scale;
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        values[i] -= (options.lr * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + epsilon);
      }
      const updated = tf.tensor(values, param.shape);
      param.assign(updated);
      updated.dispose();
    }
    return norm;
  }
}
