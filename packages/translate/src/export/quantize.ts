/**
 * Symmetric per-column 8-bit quantization of a MatMul weight `[rows, cols]` (row-major), stored as uint8 with
 * zero point 128: `w ≈ (q − 128) · scale[c]`, `scale[c] = max_r |w[r, c]| / 127`, so q ∈ [1, 255]. Unsigned
 * weights keep onnxruntime's x86 MatMulInteger kernels clear of the u8·s8 pair-sum saturation that signed
 * weights meet without `reduce_range`; one scale per output column follows the largest weight of that column
 * only.
 */
export function quantizeColumns(
  w: Float32Array,
  rows: number,
  cols: number,
): { values: Uint8Array; scales: Float32Array; zeroPoint: number } {
  const scales = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) scales[c] = Math.max(scales[c], Math.abs(w[r * cols + c]));
  }
  for (let c = 0; c < cols; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
  const values = new Uint8Array(w.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = Math.round(w[r * cols + c] / scales[c]);
      values[r * cols + c] = Math.max(-127, Math.min(127, q)) + 128;
    }
  }
  return { values, scales, zeroPoint: 128 };
}
