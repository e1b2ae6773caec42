import { type FloatArray, fusedEncouragingLoss, type KernelResult } from './fused-kernel.js';
import type { ResolvedEncouragingLossOptions } from './options.js';
import { bonusTerms, NO_DOMINANT } from './row-terms.js';
import { KERNEL_WASM_BASE64 } from './wasm/kernel-bytes.js';

interface KernelExports {
  memory: WebAssembly.Memory;
  /** WASM memory below this holds the kernel's constants and exp table. */
  data_start: WebAssembly.Global;
  rows_f32(ptr: number, rows: number, K: number, stats: number): void;
  rows_f64(ptr: number, rows: number, K: number, stats: number): void;
  scale_f32(ptr: number, rows: number, K: number, coef: number): void;
  scale_f64(ptr: number, rows: number, K: number, coef: number): void;
  sums_f32(ptr: number, rows: number, K: number, out: number): void;
  sums_f64(ptr: number, rows: number, K: number, out: number): void;
  smooth_f32: SmoothPass;
  smooth_f64: SmoothPass;
  smooth_grad_f32: SmoothGradPass;
  smooth_grad_f64: SmoothGradPass;
}

type SmoothPass = (
  ptr: number,
  K: number,
  invTotal: number,
  logEnd: number,
  slope: number,
  logOneMinusEnd: number,
  fast: number,
  out: number,
  bt: number,
) => void;
type SmoothGradPass = (ptr: number, K: number, bt: number, a: number, b: number, bRho: number) => void;

// undefined: not tried yet; null: unavailable (no WebAssembly SIMD) or still compiling asynchronously.
let kernel: KernelExports | null | undefined;

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The WebAssembly SIMD kernel, compiled on first use. Node compiles it synchronously; where synchronous compilation
 * of a module this size is refused (a browser's main thread allows 4 KB), it compiles asynchronously and the JS
 * kernel runs until it is ready. Returns undefined where WebAssembly SIMD is missing.
 */
export function wasmKernel(): KernelExports | undefined {
  if (kernel === undefined) {
    kernel = null;
    if (typeof WebAssembly !== 'object') return undefined;
    const bytes = decode(KERNEL_WASM_BASE64);
    try {
      kernel = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as KernelExports;
    } catch (error) {
      // A CompileError means no SIMD: stay on JS. Anything else (RangeError on a browser's main thread): go async.
      if (!(error instanceof WebAssembly.CompileError)) {
        WebAssembly.instantiate(bytes).then(
          ({ instance }) => {
            kernel = instance.exports as unknown as KernelExports;
          },
          () => {},
        );
      }
    }
  }
  return kernel ?? undefined;
}

// Rows per WASM call: about 64 KiB of logits, so a chunk stays in L2 between the passes (at least one row).
const CHUNK_BYTES = 1 << 16;
// Dominant rows whose Σ_{j≠a} e_j falls below this run the JS kernel (its runner-up shift). Higher than the JS
// kernel's 1e-30 because the WASM exp flushes values below ~3e-38 (float32) to 0: K · 3e-38 stays < 1e-12 · this.
const RUNNER_UP_THRESHOLD = 1e-20;
// Largest p_j for the division-free log(1 − p) and p/(1 − p) series of the smoothing pass (scripts/build-wasm.mjs).
const SMALL_P = 2 ** -7;

/**
 * {@link fusedEncouragingLoss} on the WebAssembly SIMD kernel: chunks of rows are copied into WASM memory;
 * max/argmax and e_j = exp(z_j − max) are computed there (vectorised exp, error ≤ 3e-7 float32 and 2.61e-16
 * float64 relative, table-driven in float64; Σ e in f64), with label smoothing also Σ_j q_j b(p_j) and
 * Σ_j q_j β_j p_j (vectorised log(1 − p)); the per-row scalars of the loss and gradient here (same formulas as the
 * JS kernel); the gradient rows are scaled there and copied out into the gradient buffer. Extra memory: the
 * gradient buffer and the module's memory (4 MiB reserved; one chunk of about 64 KiB or one row, and one row of
 * scratch, are used). Rows the vector path does not cover exactly (a dominant class whose runner-up sum
 * underflows, NaN or infinite logits) run the JS kernel. Returns undefined without WASM SIMD.
 * `gradOut` (the logits' type and length) receives the gradient instead of a new buffer; it may be the logits
 * themselves (in place: a chunk's logits are copied into WASM memory before its gradient rows are written).
 * `onNonFinite` is called for a row holding NaN or ±∞ before anything is returned (the deferred finite check: the
 * max pass finds them for free).
 */
export function wasmEncouragingLoss(
  logits: FloatArray,
  targets: ArrayLike<number | bigint>,
  classCount: number,
  options: ResolvedEncouragingLossOptions,
  withGrad: boolean,
  onNonFinite?: () => void,
  gradOut?: FloatArray,
): KernelResult | undefined {
  const wasm = wasmKernel();
  if (!wasm) return undefined;
  const K = classCount;
  const rows = logits.length / K;
  const float32 = logits instanceof Float32Array;
  const bytesPer = float32 ? 4 : 8;
  const { logEnd, bonusWeight: rho, labelSmoothing: eps, ignoreIndex, reduction, classWeights } = options;
  const offTarget = eps / K;
  const onTarget = 1 - eps + offTarget;
  const terms = bonusTerms(options);
  const { slope, logOneMinusEnd, bonusOf, betaTimes } = terms;
  // The smoothing pass's division-free series serve vectors whose p_j are all at most this (on the log part).
  const fastLimit = Math.min(SMALL_P, logEnd);

  const DATA_START = wasm.data_start.value as number;
  const chunkRows = Math.max(1, Math.min(rows, Math.floor(CHUNK_BYTES / (K * bytesPer))));
  const dataBytes = chunkRows * K * bytesPer;
  const statsPtr = DATA_START + ((dataBytes + 15) & ~15);
  const coefPtr = statsPtr + chunkRows * 24;
  const sumsPtr = coefPtr + chunkRows * 8;
  const smoothPtr = sumsPtr + chunkRows * 8;
  // β_j·p_j of one row, from the smoothing pass to the smoothed gradient pass.
  const btPtr = (smoothPtr + 31) & ~15;
  const needed = btPtr + K * bytesPer;
  const memory = wasm.memory;
  // Rows beyond ~2 MiB only: the module's initial 4 MiB serve the rest. Growing detaches the old buffer, which makes
  // V8 add detach checks to every typed-array loop in the process from then on.
  if (memory.buffer.byteLength < needed) {
    memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
  }
  const buffer = memory.buffer;
  const data = float32
    ? new Float32Array(buffer, DATA_START, chunkRows * K)
    : new Float64Array(buffer, DATA_START, chunkRows * K);
  const stats = new Float64Array(buffer, statsPtr, chunkRows * 3);
  const coef = new Float64Array(buffer, coefPtr, chunkRows);
  const sums = new Float64Array(buffer, sumsPtr, chunkRows);
  const smoothSums = new Float64Array(buffer, smoothPtr, 2);
  // Entries set after the copy-out: the target's, and with label smoothing the dominant class's.
  const targetGrad = new Float64Array(chunkRows);
  const dominantIndex = new Int32Array(chunkRows);
  const dominantGrad = new Float64Array(chunkRows);
  const rowsPass = float32 ? wasm.rows_f32 : wasm.rows_f64;
  const scalePass = float32 ? wasm.scale_f32 : wasm.scale_f64;
  const sumsPass = float32 ? wasm.sums_f32 : wasm.sums_f64;
  const smoothPass = float32 ? wasm.smooth_f32 : wasm.smooth_f64;
  const smoothGradPass = float32 ? wasm.smooth_grad_f32 : wasm.smooth_grad_f64;

  const perRow = reduction === 'none';
  const loss = new Float64Array(perRow ? rows : 1);
  const crossEntropy = new Float64Array(perRow ? rows : 1);
  const bonus = new Float64Array(perRow ? rows : 1);
  const grad = withGrad
    ? (gradOut ?? (float32 ? new Float32Array(logits.length) : new Float64Array(logits.length)))
    : undefined;

  // Σ w[y] first, so the reduction's divisor folds into each row's coefficient.
  let weightTotal = 0;
  for (let r = 0; r < rows; r++) {
    const y = Number(targets[r]);
    if (y !== ignoreIndex) weightTotal += classWeights ? classWeights[y] : 1;
  }
  const divisor = reduction === 'mean' && weightTotal > 0 ? weightTotal : 1;
  const rowOptions = { ...options, reduction: 'sum' as const, classWeights: undefined };
  // Rows the vector path leaves: ≥ 0 a row for the JS kernel, −1 − r an ignored row r.
  const fixups: number[] = [];
  const rowGrads: { row: number; grad: FloatArray; scale: number }[] = [];

  for (let start = 0; start < rows; start += chunkRows) {
    const count = Math.min(chunkRows, rows - start);
    data.set(logits.subarray(start * K, (start + count) * K));
    if (eps > 0) sumsPass(DATA_START, count, K, sumsPtr);
    rowsPass(DATA_START, count, K, statsPtr);
    fixups.length = 0;
    for (let i = 0; i < count; i++) {
      const r = start + i;
      const y = Number(targets[r]);
      coef[i] = 0;
      dominantIndex[i] = -1;
      // A row with NaN or ±∞ (or a sum of logits that overflows): the caller's finite check, deferred to here.
      if (stats[3 * i + 1] < 0) onNonFinite?.();
      if (y === ignoreIndex) {
        fixups.push(-1 - r);
        continue;
      }
      const max = stats[3 * i];
      const argmax = stats[3 * i + 1];
      const rest = stats[3 * i + 2];
      const total = 1 + rest;
      const pArgmax = 1 / total;
      const dominant = argmax >= 0 && pArgmax > 0.5 ? argmax : -1;
      const weight = classWeights ? classWeights[y] : 1;
      const index = perRow ? r : 0;
      if (argmax < 0 || (dominant >= 0 && rest < RUNNER_UP_THRESHOLD)) {
        fixups.push(r);
        continue;
      }
      const logTotal = Math.log1p(rest);
      const logOneMinusDominant = dominant >= 0 ? Math.log(rest) - logTotal : 0;
      const logProbTarget = logits[r * K + y] - max - logTotal;
      const pTarget = Math.exp(logProbTarget);

      // The dominant class's bonus and −β_a(1 − p_a) term.
      const {
        bonus: dominantBonus,
        self: dominantSelf,
        beta: dominantBeta,
        inLog: dominantInLog,
      } = dominant >= 0 ? terms.dominant(pArgmax, logOneMinusDominant) : NO_DOMINANT;
      const invTotal = 1 / total;
      const scale = weight / divisor;
      if (eps > 0) {
        // Label smoothing: Σ_k q_k b(p_k) and W' = −Σ_{k≠a} q_k β_k p_k from one vector pass over the classes
        // other than the dominant one (zeroed for it), the target's extra weight added here.
        const o = i * K;
        const eTarget = data[o + y];
        if (dominant >= 0) data[o + dominant] = 0;
        const rowPtr = DATA_START + o * bytesPer;
        smoothPass(rowPtr, K, invTotal, logEnd, slope, logOneMinusEnd, fastLimit, smoothPtr, btPtr);
        let rowBonus = offTarget * smoothSums[0];
        let restW = -offTarget * smoothSums[1];
        const pY = eTarget * invTotal;
        if (y !== dominant) {
          rowBonus += (onTarget - offTarget) * bonusOf(pY);
          restW -= (onTarget - offTarget) * betaTimes(pY);
        }
        const qDominant = dominant === y ? onTarget : offTarget;
        if (dominant >= 0) rowBonus += qDominant * dominantBonus;
        // −Σ_k q_k log p_k = −ε/K Σ_k (z_k − max − log S) − (1 − ε) log p_y
        const rowCrossEntropy = -offTarget * (sums[i] - K * (max + logTotal)) - (1 - eps) * logProbTarget;
        loss[index] += weight * (rowCrossEntropy + rho * rowBonus);
        crossEntropy[index] += weight * rowCrossEntropy;
        bonus[index] += weight * rowBonus;
        if (!grad) continue;
        // ∂ℓ/∂z_j = p_j − q_j + ρ (−q_j β_j p_j − p_j W') + ρ q_a p_a β_a p_j for j ≠ a: a·e_j − b·(1 + ρ β_j p_j)
        // with β_a p_j = e_j / rest (EL log part) or β_a · p_j; the target and dominant entries are set apart.
        const dominantFactor = dominant >= 0 ? rho * qDominant * pArgmax : 0;
        const ratio = dominant >= 0 ? (dominantInLog ? 1 / rest : dominantBeta * invTotal) : 0;
        const a = invTotal * (1 - rho * restW) + dominantFactor * ratio;
        smoothGradPass(rowPtr, K, btPtr, a * scale, offTarget * scale, offTarget * scale * rho);
        const gDominant = invTotal - qDominant - rho * invTotal * restW + dominantFactor * dominantSelf;
        if (y === dominant) {
          targetGrad[i] = gDominant * scale;
        } else {
          targetGrad[i] =
            (pY -
              onTarget +
              rho * (-onTarget * betaTimes(pY) - pY * restW) +
              dominantFactor * ratio * eTarget) *
            scale;
          if (dominant >= 0) {
            dominantIndex[i] = dominant;
            dominantGrad[i] = gDominant * scale;
          }
        }
        continue;
      }
      const rowCrossEntropy = -logProbTarget;
      const rowBonus = y === dominant ? dominantBonus : bonusOf(pTarget);
      loss[index] += weight * (rowCrossEntropy + rho * rowBonus);
      crossEntropy[index] += weight * rowCrossEntropy;
      bonus[index] += weight * rowBonus;
      if (!grad) continue;

      // ∂ℓ/∂z_j = (p_j − δ_jy)(1 + ρ p_y β): e_j times one coefficient, the target entry apart.
      if (y === dominant && dominantInLog) {
        coef[i] = (invTotal + (rho * pTarget) / rest) * scale;
        targetGrad[i] = (-Math.exp(logOneMinusDominant) - rho * pTarget) * scale;
      } else {
        const { beta, self, oneMinus } =
          y === dominant
            ? { beta: dominantBeta, self: dominantSelf, oneMinus: Math.exp(logOneMinusDominant) }
            : terms.target(pTarget);
        coef[i] = (1 + rho * pTarget * beta) * invTotal * scale;
        targetGrad[i] = (-oneMinus + rho * pTarget * self) * scale;
      }
    }
    // The JS kernel on its rows alone, weighted and reduced like the rest; before the copy-out, which overwrites
    // their logits when the gradient is written in place.
    rowGrads.length = 0;
    for (const f of fixups) {
      if (f < 0) continue;
      const o = f * K;
      const y = Number(targets[f]);
      const weight = classWeights ? classWeights[y] : 1;
      const one = fusedEncouragingLoss(logits.subarray(o, o + K), [y], K, rowOptions, withGrad);
      const index = perRow ? f : 0;
      loss[index] += weight * one.loss[0];
      crossEntropy[index] += weight * one.crossEntropy[0];
      bonus[index] += weight * one.bonus[0];
      if (one.grad) rowGrads.push({ row: f, grad: one.grad, scale: weight / divisor });
    }
    if (grad) {
      if (eps === 0) scalePass(DATA_START, count, K, coefPtr);
      grad.set(data.subarray(0, count * K), start * K);
      for (let i = 0; i < count; i++) {
        const y = Number(targets[start + i]);
        if (y !== ignoreIndex) grad[(start + i) * K + y] = targetGrad[i];
        if (dominantIndex[i] >= 0) grad[(start + i) * K + dominantIndex[i]] = dominantGrad[i];
      }
      for (const f of fixups) if (f < 0) grad.fill(0, (-1 - f) * K, -f * K);
      for (const { row, grad: rowGrad, scale } of rowGrads) {
        for (let j = 0; j < K; j++) grad[row * K + j] = rowGrad[j] * scale;
      }
    }
  }

  if (reduction === 'mean') {
    loss[0] /= divisor;
    crossEntropy[0] /= divisor;
    bonus[0] /= divisor;
  }
  return { loss, crossEntropy, bonus, grad };
}
