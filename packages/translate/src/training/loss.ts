/**
 * The training loss, from `@encouraging-loss/tfjs`: a `tf.customGrad` whose gradient is core's closed form. On the
 * cpu and wasm backends the adapter's fused kernel reads the logits in place, so a step costs one pass over
 * `[B, T, V]` for the loss and its gradient together.
 */

import { lossPreset } from '@encouraging-loss/core';
import {
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  type TfjsEncouragingLossOptions,
} from '@encouraging-loss/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { invalidOption } from '../errors.js';
import { blockedMatMul } from '../model/kernels/gemm.js';

export type LossKind = 'ce' | 'el' | 'cel';

/** The loss flags of `el-translate train`. */
export interface LossSettings {
  kind: LossKind;
  /** CEL's tangent point (ignored for `ce`; `el` uses 1). Default `0.5` (the paper's MT setting). */
  logEnd?: number;
  /** ρ. Default `1`. */
  bonusWeight?: number;
  /** ε, applied to the bonus too. Default `0` (the demo passes 0.1). */
  labelSmoothing?: number;
}

/** Targets equal to this are padding and contribute nothing. */
export const IGNORE_INDEX = -100;

/**
 * Adapter options for a setting: CE (with or without label smoothing) is EL with bonusWeight 0; EL is logEnd 1;
 * CEL keeps `logEnd`. The reduction is a sum over non-padding tokens: the trainer divides by the step's token
 * count, so accumulated micro-batches weigh every token alike.
 */
export function lossOptions(settings: LossSettings): TfjsEncouragingLossOptions {
  if (!['ce', 'el', 'cel'].includes(settings.kind))
    invalidOption(`--loss must be ce, el or cel, got ${settings.kind}.`);
  return {
    ...lossPreset(settings.kind, {
      logEnd: settings.logEnd ?? 0.5,
      bonusWeight: settings.bonusWeight,
      labelSmoothing: settings.labelSmoothing ?? 0,
    }),
    ignoreIndex: IGNORE_INDEX,
    reduction: 'sum',
  };
}

/**
 * Summed loss over the non-padding tokens of logits `[B, T, V]` against labels `[B, T]` (int32, `IGNORE_INDEX`
 * for padding), differentiable with respect to the logits.
 */
export function tokenLoss(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: TfjsEncouragingLossOptions,
): tf.Scalar {
  return encouragingLoss(logits, labels, options) as tf.Scalar;
}

/** Per-token means of the loss, NLL (plain CE: no smoothing, no bonus) and bonus, for logging and validation. */
export interface LossParts {
  loss: number;
  nll: number;
  bonus: number;
  /** Non-padding tokens. */
  tokens: number;
}

/**
 * {@link LossParts} of logits `[B, T, V]` and labels `[B, T]`: the loss and the bonus from the adapter's components
 * in one pass; the NLL for perplexity is the `crossEntropy` component at ε = 0 and ρ = 0 (with label smoothing the
 * loss's own `crossEntropy` is the smoothed one, so that takes a second pass; without smoothing it is the NLL).
 */
export function tokenLossParts(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: TfjsEncouragingLossOptions,
): LossParts {
  const sums = tf.tidy(() => componentSums(logits, labels, options));
  let tokens = 0;
  for (const t of labels.dataSync()) if (t !== IGNORE_INDEX) tokens++;
  const per = Math.max(1, tokens);
  return { loss: sums.loss / per, nll: sums.nll / per, bonus: sums.bonus / per, tokens };
}

/** Summed loss, bonus and NLL (`crossEntropy` at ε = 0) of some logits rows. Call inside a tidy. */
function componentSums(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: TfjsEncouragingLossOptions,
): { loss: number; bonus: number; nll: number } {
  const summed = { ...options, reduction: 'sum' as const };
  const parts = encouragingLossComponents(logits, labels, summed);
  const smoothed = (options.labelSmoothing ?? 0) > 0;
  const nll = smoothed
    ? encouragingLossComponents(logits, labels, { ...summed, bonusWeight: 0, labelSmoothing: 0 }).crossEntropy
    : parts.crossEntropy;
  return { loss: parts.loss.dataSync()[0], bonus: parts.bonus.dataSync()[0], nll: nll.dataSync()[0] };
}

/** Logit elements per chunk of {@link projectedTokenLoss}: 2²⁴ floats (64 MiB), 288 tokens at V = 58101, 64 at 256,206. */
export const CHUNK_ELEMENTS = 1 << 24;

/** Options of {@link projectedTokenLoss}. */
export interface ProjectedLossSettings {
  /** Differentiable (inside `tf.variableGrads`): the gradient is computed chunk by chunk in the forward. */
  grad?: boolean;
  /** Also differentiate with respect to `weight` (off with `--freeze-embeddings`). Default `true`. */
  trainWeight?: boolean;
  /** Also return {@link LossParts} (one more kernel pass per chunk, two with label smoothing). */
  parts?: boolean;
  /** Also return each token's −log p_y (ε = 0, ρ = 0), `NaN` for ignored tokens (one more kernel pass). */
  perToken?: boolean;
  /** Tokens per chunk. Default ⌊{@link CHUNK_ELEMENTS} / V⌋, rounded down to a multiple of 8 when at least 8. */
  chunkTokens?: number;
}

/** What {@link projectedTokenLoss} returns. */
export interface ProjectedLoss {
  /** The summed loss over non-ignored tokens (differentiable with `grad`). */
  loss: tf.Scalar;
  parts?: LossParts;
  perToken?: Float64Array;
}

/** What {@link projectedLossWithGrad} returns: the summed loss and its gradients (the caller disposes them). */
export interface ProjectedLossWithGrad {
  loss: number;
  /** ∂loss/∂hidden `[N, d]` (zero rows for ignored tokens). */
  dHidden: tf.Tensor2D;
  /** ∂loss/∂weight `[V, d]`, unless `trainWeight` is false. */
  dWeight?: tf.Tensor2D;
  parts?: LossParts;
}

/**
 * The output projection and the summed token loss together, in chunks of tokens, so the `[N, V]` logits never
 * exist at once: for each chunk of non-ignored rows, z = h·Wᵀ + b, the adapter's fused loss and its gradient G
 * (one pass, written into a heap tensor on wasm), then dh = G·W and dW += Gᵀ·h. Peak extra memory: one chunk's
 * logits (twice: z is computed as (W·hᵀ)ᵀ) and gradient (and Gᵀ, dW with `trainWeight`), XNNPACK's packed copy of
 * W. `bias` (`final_logits_bias`) is a fixed buffer and gets no gradient, as in HF.
 *
 * @param hidden - decoder output `[N, d]` (N = B·T).
 * @param weight - the output projection `[V, d]` (the tied embedding).
 * @param bias - `[1, V]`.
 * @param labels - N target ids, {@link IGNORE_INDEX} for padding.
 */
export function projectedLossWithGrad(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias: tf.Tensor,
  labels: Int32Array,
  options: TfjsEncouragingLossOptions,
  settings: Omit<ProjectedLossSettings, 'grad' | 'perToken'> = {},
): ProjectedLossWithGrad {
  const pass = chunkedPass(hidden, weight, bias, labels, options, {
    ...settings,
    grad: true,
    trainWeight: settings.trainWeight ?? true,
  });
  return {
    loss: pass.total,
    dHidden: tf.tensor2d(pass.dh!, hidden.shape),
    dWeight: pass.dW as tf.Tensor2D | undefined,
    parts: pass.parts,
  };
}

/**
 * {@link projectedLossWithGrad} as a differentiable scalar (a `tf.customGrad` whose backward only scales the
 * gradients computed in the forward), or, without `grad`, the loss alone; with `perToken`, also each token's
 * −log p_y (ε = 0, ρ = 0), `NaN` for ignored tokens.
 */
export function projectedTokenLoss(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias: tf.Tensor,
  labels: Int32Array,
  options: TfjsEncouragingLossOptions,
  settings: ProjectedLossSettings = {},
): ProjectedLoss {
  const [n, d] = hidden.shape;
  const vocab = weight.shape[0];
  let loss: tf.Scalar;
  let pass: ReturnType<typeof chunkedPass> | undefined;
  if (!settings.grad) {
    pass = chunkedPass(hidden, weight, bias, labels, options, { ...settings, trainWeight: false });
    loss = tf.scalar(pass.total);
  } else if (settings.trainWeight ?? true) {
    const op = tf.customGrad((...inputs) => {
      const [h, w, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      pass = chunkedPass(h, w, bias, labels, options, { ...settings, trainWeight: true });
      save([tf.tensor2d(pass.dh!, [n, d]), pass.dW ?? tf.zeros([vocab, d])]);
      return {
        value: tf.scalar(pass.total),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(saved[0], dy), tf.mul(saved[1], dy)],
      };
    });
    loss = op(hidden, weight) as tf.Scalar;
  } else {
    // The weight is closed over, not an input: tfjs sends it no gradient.
    const op = tf.customGrad((...inputs) => {
      const [h, save] = inputs as [tf.Tensor2D, tf.GradSaveFunc];
      pass = chunkedPass(h, weight, bias, labels, options, { ...settings, trainWeight: false });
      save([tf.tensor2d(pass.dh!, [n, d])]);
      return {
        value: tf.scalar(pass.total),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(saved[0], dy)],
      };
    });
    loss = op(hidden) as tf.Scalar;
  }
  return { loss, parts: pass?.parts, perToken: pass?.perToken };
}

/**
 * ⌊{@link CHUNK_ELEMENTS} / V⌋ tokens, down to a multiple of 8: the chunk is the logits product's right operand's
 * width (W·xᵀ), and `blockedMatMul` takes widths that are multiples of 8 only (else XNNPACK, which repacks the
 * chunk: 65 tokens at NLLB's V = 256,206 ran at 20 GFLOP/s there, 64 at 21.5 on the blocked kernel).
 */
function defaultChunkTokens(vocab: number): number {
  const tokens = Math.floor(CHUNK_ELEMENTS / vocab);
  return tokens >= 8 ? tokens - (tokens % 8) : tokens;
}

/** One pass over the chunks of non-ignored rows; with `grad` also dh (host) and, with `trainWeight`, dW. */
function chunkedPass(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias: tf.Tensor,
  labels: Int32Array,
  options: TfjsEncouragingLossOptions,
  settings: ProjectedLossSettings,
) {
  const [n, d] = hidden.shape;
  const vocab = weight.shape[0];
  const chunk = Math.max(1, settings.chunkTokens ?? defaultChunkTokens(vocab));
  const withGrad = !!settings.grad;
  const withWeight = withGrad && !!settings.trainWeight;
  const rows: number[] = [];
  labels.forEach((y, i) => {
    if (y !== IGNORE_INDEX) rows.push(i);
  });
  const summed = { ...options, reduction: 'sum' as const };
  const sums = { loss: 0, bonus: 0, nll: 0 };
  const perToken = settings.perToken ? new Float64Array(n).fill(Number.NaN) : undefined;
  const hData = hidden.dataSync() as Float32Array;
  const dh = withGrad ? new Float32Array(n * d) : undefined;
  let dW: tf.Tensor | undefined;
  let total = 0;
  for (let start = 0; start < rows.length; start += chunk) {
    const picked = rows.slice(start, start + chunk);
    const count = picked.length;
    const hChunk = new Float32Array(count * d);
    const yChunk = new Int32Array(count);
    picked.forEach((row, i) => {
      hChunk.set(hData.subarray(row * d, (row + 1) * d), i * d);
      yChunk[i] = labels[row];
    });
    const kept = tf.tidy(() => {
      const x = tf.tensor2d(hChunk, [count, d]);
      const y = tf.tensor1d(yChunk, 'int32');
      // (W·xᵀ)ᵀ rather than x·Wᵀ: no [V, d]-sized transpose of the weight per step, and only the chunk's [d, count]
      // as the right operand (XNNPACK packs every new right operand; at V = 58101 x·Wᵀ took twice as long). From
      // 256 tokens a chunk x is read in place as the transposed right operand.
      const logits = tf.add(tf.transpose(blockedMatMul(weight, x, false, true)), bias);
      if (settings.parts) {
        const s = componentSums(logits, y, options);
        sums.loss += s.loss;
        sums.bonus += s.bonus;
        sums.nll += s.nll;
      }
      if (perToken) {
        const nll = encouragingLossComponents(logits, y, {
          ...options,
          bonusWeight: 0,
          labelSmoothing: 0,
          reduction: 'none',
        }).crossEntropy.dataSync();
        picked.forEach((row, i) => {
          perToken[row] = nll[i];
        });
      }
      if (!withGrad) {
        total += encouragingLossComponents(logits, y, summed).loss.dataSync()[0];
        return undefined;
      }
      const { loss, grad } = encouragingLossWithGrad(logits, y, summed);
      total += loss.dataSync()[0];
      const dx = blockedMatMul(grad, weight).dataSync() as Float32Array;
      picked.forEach((row, i) => {
        dh!.set(dx.subarray(i * d, (i + 1) * d), row * d);
      });
      if (!withWeight) return undefined;
      // Gᵀ·x with G read in place ([count, V]: at 288 tokens and V = 58101 a 67 MB transposed copy per chunk).
      const part = blockedMatMul(grad, x, true, false);
      return dW ? tf.add(dW, part) : part;
    });
    if (kept) {
      dW?.dispose();
      dW = kept;
    }
  }
  const per = Math.max(1, rows.length);
  const parts = settings.parts
    ? { loss: sums.loss / per, nll: sums.nll / per, bonus: sums.bonus / per, tokens: rows.length }
    : undefined;
  if (withWeight && !dW) dW = tf.zeros([vocab, d]);
  return { total, dh, dW, parts, perToken };
}
