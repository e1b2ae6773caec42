;; The Adam update and the gradient's sum of squares in WebAssembly SIMD, on tfjs-backend-wasm's own memory (the
;; module imports it; build-wasm.mjs assembles this file into adam-bytes.ts, once as is and once with a shared
;; memory import for tfjs's threaded build). Addresses are byte offsets into that memory, lengths are elements.
(module
  (import "env" "memory" (memory 1))

  ;; adam(p, out, g, m, v, n, scale, beta1, 1 − beta1, beta2, 1 − beta2, step, root, epsilon), for i < n, in float32:
  ;;   γ = scale · g[i]
  ;;   m[i] ← beta1 · m[i] + (1 − beta1) · γ
  ;;   v[i] ← beta2 · v[i] + (1 − beta2) · γ²
  ;;   out[i] = p[i] − step · m[i] / (√v[i] · root + epsilon)
  ;; with step = lr / (1 − beta1ᵗ) and root = 1 / √(1 − beta2ᵗ). `out` may be `p`; g, m, v must not overlap out.
  (func (export "adam")
    (param $p i32) (param $out i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $scale f32) (param $beta1 f32) (param $rest1 f32) (param $beta2 f32) (param $rest2 f32)
    (param $step f32) (param $root f32) (param $epsilon f32)
    (local $i i32) (local $vectorEnd i32) (local $end i32)
    (local $scale4 v128) (local $beta1x4 v128) (local $rest1x4 v128) (local $beta2x4 v128) (local $rest2x4 v128)
    (local $step4 v128) (local $root4 v128) (local $epsilon4 v128)
    (local $gamma4 v128) (local $m4 v128) (local $v4 v128)
    (local $gamma f32) (local $mi f32) (local $vi f32)
    (local.set $scale4 (f32x4.splat (local.get $scale)))
    (local.set $beta1x4 (f32x4.splat (local.get $beta1)))
    (local.set $rest1x4 (f32x4.splat (local.get $rest1)))
    (local.set $beta2x4 (f32x4.splat (local.get $beta2)))
    (local.set $rest2x4 (f32x4.splat (local.get $rest2)))
    (local.set $step4 (f32x4.splat (local.get $step)))
    (local.set $root4 (f32x4.splat (local.get $root)))
    (local.set $epsilon4 (f32x4.splat (local.get $epsilon)))
    ;; byte offsets: four lanes while 16 bytes remain, then one element at a time
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vectorEnd (i32.and (local.get $end) (i32.const -16)))
    (local.set $i (i32.const 0))
    (block $vectors_done
      (loop $vectors
        (br_if $vectors_done (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $gamma4 (f32x4.mul (local.get $scale4) (v128.load (i32.add (local.get $g) (local.get $i)))))
        (local.set $m4 (f32x4.add
          (f32x4.mul (local.get $beta1x4) (v128.load (i32.add (local.get $m) (local.get $i))))
          (f32x4.mul (local.get $rest1x4) (local.get $gamma4))))
        (local.set $v4 (f32x4.add
          (f32x4.mul (local.get $beta2x4) (v128.load (i32.add (local.get $v) (local.get $i))))
          (f32x4.mul (f32x4.mul (local.get $rest2x4) (local.get $gamma4)) (local.get $gamma4))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.sub
            (v128.load (i32.add (local.get $p) (local.get $i)))
            (f32x4.div
              (f32x4.mul (local.get $step4) (local.get $m4))
              (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $v4)) (local.get $root4)) (local.get $epsilon4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vectors)))
    (block $scalars_done
      (loop $scalars
        (br_if $scalars_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gamma (f32.mul (local.get $scale) (f32.load (i32.add (local.get $g) (local.get $i)))))
        (local.set $mi (f32.add
          (f32.mul (local.get $beta1) (f32.load (i32.add (local.get $m) (local.get $i))))
          (f32.mul (local.get $rest1) (local.get $gamma))))
        (local.set $vi (f32.add
          (f32.mul (local.get $beta2) (f32.load (i32.add (local.get $v) (local.get $i))))
          (f32.mul (f32.mul (local.get $rest2) (local.get $gamma)) (local.get $gamma))))
        (f32.store (i32.add (local.get $m) (local.get $i)) (local.get $mi))
        (f32.store (i32.add (local.get $v) (local.get $i)) (local.get $vi))
        (f32.store (i32.add (local.get $out) (local.get $i))
          (f32.sub
            (f32.load (i32.add (local.get $p) (local.get $i)))
            (f32.div
              (f32.mul (local.get $step) (local.get $mi))
              (f32.add (f32.mul (f32.sqrt (local.get $vi)) (local.get $root)) (local.get $epsilon)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalars))))

  ;; squares(g, n) = Σ_{i<n} g[i]², each term and the sum in float64 (four accumulators of two lanes).
  (func (export "squares") (param $g i32) (param $n i32) (result f64)
    (local $i i32) (local $vectorEnd i32) (local $end i32)
    (local $x v128) (local $y v128) (local $lo v128) (local $hi v128)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $s f64) (local $e f64)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vectorEnd (i32.and (local.get $end) (i32.const -32)))
    (local.set $i (i32.const 0))
    (block $vectors_done
      (loop $vectors
        (br_if $vectors_done (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $x (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $y (v128.load offset=16 (i32.add (local.get $g) (local.get $i))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $hi (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $y)))
        (local.set $hi (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))))
        (local.set $acc2 (f64x2.add (local.get $acc2) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $acc3 (f64x2.add (local.get $acc3) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $vectors)))
    (local.set $acc0 (f64x2.add
      (f64x2.add (local.get $acc0) (local.get $acc1))
      (f64x2.add (local.get $acc2) (local.get $acc3))))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))
    (block $scalars_done
      (loop $scalars
        (br_if $scalars_done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $e (f64.promote_f32 (f32.load (i32.add (local.get $g) (local.get $i)))))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $e) (local.get $e))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalars)))
    (local.get $s)))
