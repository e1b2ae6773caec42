// Generates the WebAssembly SIMD kernels of incremental decoding: writes decode-scan.wat (readable) and
// decode-scan-bytes.ts (the module as base64, importing an unshared memory for tfjs-backend-wasm's single-threaded
// build, and a shared one for its threaded build). Both files are checked in.
// Run after editing this file: `node src/model/kernels/decode-build-wasm.mjs` (in packages/translate); `--check` fails
// if the checked-in files are stale.
//
// scan(x, rows, vocab, k, skip, out): for each row r of the logits x [rows, vocab] (float32), in one pass the row
// maximum m and the k largest logits with their ids (best first; equal logits keep the lower id first, as a scan
// in id order that inserts after equals; id `skip` is never a candidate but counts in m and the sum), then in a
// second pass s = Σ_v exp(x_v − m), exp in float32 SIMD (Cephes expf: Cody–Waite reduction by ln 2, degree-5
// polynomial, relative error ~1e-7; 0 below −87.3 where float32 underflows) summed in float64. Row r of `out`
// (8k + 16 bytes) holds k float32 logits, k int32 ids, m (float32), the candidate count (int32, < k only when the
// row has fewer than k candidates) and s (float64).
//
// gather(src, rows, n, rowBytes, dst): dst row i ← src row rows[i] (int32 ids), rows of rowBytes bytes.
// append(cache, rows, n, heads, t, headBytes, fresh, dst): the key/value cache [N, H, t, dh] gathered by rows
// (int32; 0 for the identity) and extended by fresh [n, H, 1, dh] into dst [n, H, t + 1, dh]; headBytes = 4·dh.
import { assembleVariants, bytesFile, MEMORY_IMPORTS, writeOrCheck } from './assemble-wasm.mjs';

const here = new URL('.', import.meta.url);

const f32x4 = (v) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;

/** exp of the v128 local `t` (≤ 0 expected) into local `e`; uses locals n, r, z. */
const exp = `
    (local.set $t (f32x4.max (local.get $t) ${f32x4(-87.5)}))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $t) ${f32x4(Math.LOG2E)})))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $t) (f32x4.mul (local.get $n) ${f32x4(0.693359375)}))
      (f32x4.mul (local.get $n) ${f32x4(-2.1219444e-4)})))
    (local.set $z (f32x4.mul (local.get $r) (local.get $r)))
    (local.set $e ${f32x4(1.98756915e-4)})
    (local.set $e (f32x4.add (f32x4.mul (local.get $e) (local.get $r)) ${f32x4(1.39819995e-3)}))
    (local.set $e (f32x4.add (f32x4.mul (local.get $e) (local.get $r)) ${f32x4(8.33345191e-3)}))
    (local.set $e (f32x4.add (f32x4.mul (local.get $e) (local.get $r)) ${f32x4(4.16657959e-2)}))
    (local.set $e (f32x4.add (f32x4.mul (local.get $e) (local.get $r)) ${f32x4(1.66666655e-1)}))
    (local.set $e (f32x4.add (f32x4.mul (local.get $e) (local.get $r)) ${f32x4(5.00000012e-1)}))
    (local.set $e (f32x4.add (f32x4.add (f32x4.mul (local.get $e) (local.get $z)) (local.get $r)) ${f32x4(1)}))
    ;; × 2^n through the exponent bits (n ≥ −126 after the clamp), then 0 where t < −87.3
    (local.set $e (f32x4.mul (local.get $e)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (local.set $e (v128.and (local.get $e) (f32x4.ge (local.get $t) ${f32x4(-87.3)})))
    (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.promote_low_f32x4 (local.get $e))))
    (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.promote_low_f32x4
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $e) (local.get $e)))))`;

/** Offers logit `$v` with id `$j` to the row's sorted list (values at $vals, ids at $ids). */
const offer = `
    (if (i32.and (i32.ne (local.get $j) (local.get $skip))
          (i32.or (i32.lt_u (local.get $count) (local.get $k)) (f32.gt (local.get $v) (local.get $thr))))
      (then
        (local.set $count (call $insert (local.get $vals) (local.get $ids) (local.get $count) (local.get $k)
          (local.get $v) (local.get $j)))
        (if (i32.ge_u (local.get $count) (local.get $k))
          (then (local.set $thr (f32.load (i32.add (local.get $vals)
            (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 2)))))))))`;

function wat(memoryImport) {
  return `(module
  ${memoryImport}
  ;; Inserts (v, j) into the sorted list of count entries (capacity k; when full, v beats the last one): after the
  ;; entries ≥ v, dropping the last when full. Returns the new count.
  (func $insert (param $vals i32) (param $ids i32) (param $count i32) (param $k i32) (param $v f32) (param $j i32)
    (result i32)
    (local $i i32) (local $prev f32)
    (if (i32.lt_u (local.get $count) (local.get $k))
      (then
        (local.set $i (local.get $count))
        (local.set $count (i32.add (local.get $count) (i32.const 1))))
      (else (local.set $i (i32.sub (local.get $k) (i32.const 1)))))
    (block $placed
      (loop $shift
        (br_if $placed (i32.eqz (local.get $i)))
        (local.set $prev (f32.load (i32.add (local.get $vals) (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 2)))))
        (br_if $placed (i32.eqz (f32.lt (local.get $prev) (local.get $v))))
        (f32.store (i32.add (local.get $vals) (i32.shl (local.get $i) (i32.const 2))) (local.get $prev))
        (i32.store (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))
          (i32.load (i32.add (local.get $ids) (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 2)))))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $shift)))
    (f32.store (i32.add (local.get $vals) (i32.shl (local.get $i) (i32.const 2))) (local.get $v))
    (i32.store (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2))) (local.get $j))
    (local.get $count))

  (func (export "scan") (param $x i32) (param $rows i32) (param $vocab i32) (param $k i32) (param $skip i32)
    (param $out i32)
    (local $row i32) (local $p i32) (local $j i32) (local $vals i32) (local $ids i32) (local $count i32)
    (local $v f32) (local $max f32) (local $thr f32) (local $lane i32)
    (local $block v128) (local $maxv v128) (local $m v128)
    (local $t v128) (local $n v128) (local $r v128) (local $z v128) (local $e v128) (local $acc0 v128) (local $acc1 v128)
    (local.set $p (local.get $x))
    (local.set $vals (local.get $out))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $ids (i32.add (local.get $vals) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $count (i32.const 0))
        (local.set $thr (f32.const -inf))
        (local.set $max (f32.const -inf))
        (local.set $j (i32.const 0))
        ;; until the list is full, every candidate enters
        (block $fill_done
          (loop $fill
            (br_if $fill_done (i32.or (i32.ge_u (local.get $count) (local.get $k))
              (i32.ge_u (local.get $j) (local.get $vocab))))
            (local.set $v (f32.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $max (f32.max (local.get $max) (local.get $v)))
            ${offer}
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $fill)))
        ;; four logits at a time: the lanes are looked at one by one only when one beats the list's last entry
        (local.set $maxv (f32x4.splat (local.get $max)))
        (block $simd_done
          (loop $simd
            (br_if $simd_done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $vocab)))
            (local.set $block (v128.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $maxv (f32x4.max (local.get $maxv) (local.get $block)))
            (if (v128.any_true (f32x4.gt (local.get $block) (f32x4.splat (local.get $thr))))
              (then
                (local.set $lane (i32.const 0))
                (block $lanes_done
                  (loop $lanes
                    (br_if $lanes_done (i32.ge_u (local.get $lane) (i32.const 4)))
                    (local.set $v (f32.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2)))))
                    ${offer}
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (local.set $lane (i32.add (local.get $lane) (i32.const 1)))
                    (br $lanes))))
              (else (local.set $j (i32.add (local.get $j) (i32.const 4)))))
            (br $simd)))
        (local.set $max (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $maxv)) (f32x4.extract_lane 1 (local.get $maxv)))
          (f32.max (f32x4.extract_lane 2 (local.get $maxv)) (f32x4.extract_lane 3 (local.get $maxv)))))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $vocab)))
            (local.set $v (f32.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $max (f32.max (local.get $max) (local.get $v)))
            ${offer}
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (f32.store (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2))) (local.get $max))
        (i32.store offset=4 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2))) (local.get $count))
        ;; Σ exp(x − m)
        (local.set $m (f32x4.splat (local.get $max)))
        (local.set $acc0 (v128.const f64x2 0 0))
        (local.set $acc1 (v128.const f64x2 0 0))
        (local.set $j (i32.const 0))
        (block $exp_done
          (loop $exps
            (br_if $exp_done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $vocab)))
            (local.set $t (f32x4.sub (v128.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))
              (local.get $m)))
            ${exp}
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $exps)))
        ;; the last vocab mod 4 logits, the other lanes −inf (exp 0)
        (if (i32.lt_u (local.get $j) (local.get $vocab))
          (then
            (local.set $block ${f32x4('-inf')})
            (local.set $block (f32x4.replace_lane 0 (local.get $block)
              (f32.load (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))))
            (if (i32.lt_u (i32.add (local.get $j) (i32.const 1)) (local.get $vocab))
              (then (local.set $block (f32x4.replace_lane 1 (local.get $block)
                (f32.load offset=4 (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))))))
            (if (i32.lt_u (i32.add (local.get $j) (i32.const 2)) (local.get $vocab))
              (then (local.set $block (f32x4.replace_lane 2 (local.get $block)
                (f32.load offset=8 (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $t (f32x4.sub (local.get $block) (local.get $m)))
            ${exp}))
        (f64.store offset=8 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))
          (f64.add
            (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0)))
            (f64.add (f64x2.extract_lane 0 (local.get $acc1)) (f64x2.extract_lane 1 (local.get $acc1)))))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $vocab) (i32.const 2))))
        (local.set $vals (i32.add (local.get $vals) (i32.add (i32.shl (local.get $k) (i32.const 3)) (i32.const 16))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

  (func (export "gather") (param $src i32) (param $rows i32) (param $n i32) (param $rowBytes i32) (param $dst i32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (memory.copy (local.get $dst)
          (i32.add (local.get $src) (i32.mul (i32.load (local.get $rows)) (local.get $rowBytes)))
          (local.get $rowBytes))
        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
        (local.set $rows (i32.add (local.get $rows) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  (func (export "append") (param $cache i32) (param $rows i32) (param $n i32) (param $heads i32) (param $t i32)
    (param $headBytes i32) (param $fresh i32) (param $dst i32)
    (local $i i32) (local $h i32) (local $from i32) (local $span i32)
    ;; bytes of one head's t cached positions
    (local.set $span (i32.mul (local.get $t) (local.get $headBytes)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $from (i32.add (local.get $cache) (i32.mul (i32.mul
          (if (result i32) (local.get $rows)
            (then (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))))
            (else (local.get $i)))
          (local.get $heads)) (local.get $span))))
        (local.set $h (i32.const 0))
        (block $heads_done
          (loop $each_head
            (br_if $heads_done (i32.ge_u (local.get $h) (local.get $heads)))
            (memory.copy (local.get $dst) (local.get $from) (local.get $span))
            (memory.copy (i32.add (local.get $dst) (local.get $span)) (local.get $fresh) (local.get $headBytes))
            (local.set $from (i32.add (local.get $from) (local.get $span)))
            (local.set $dst (i32.add (i32.add (local.get $dst) (local.get $span)) (local.get $headBytes)))
            (local.set $fresh (i32.add (local.get $fresh) (local.get $headBytes)))
            (local.set $h (i32.add (local.get $h) (i32.const 1)))
            (br $each_head)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))))
`;
}

const text = `;; Generated by decode-build-wasm.mjs (the unshared-memory variant; the shared one differs in its import only).\n${wat(MEMORY_IMPORTS.unshared)}`;
const bytes = bytesFile({
  header: '// Generated by decode-build-wasm.mjs from the module in decode-scan.wat; do not edit.',
  what: "The decoding kernels' module",
  constant: 'DECODE',
  encoded: assembleVariants('decode-scan', wat(MEMORY_IMPORTS.unshared)),
});
writeOrCheck(
  [
    [new URL('decode-scan.wat', here), text],
    [new URL('decode-scan-bytes.ts', here), bytes],
  ],
  'decode-build-wasm.mjs',
);
