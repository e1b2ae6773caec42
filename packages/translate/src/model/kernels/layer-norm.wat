;; LayerNorm forward and backward over rows of d float32 values (build-wasm.mjs assembles this into
;; layer-norm-bytes.ts; layer-norm.ts runs it on tfjs-backend-wasm's heap). Row statistics are taken in float64, two
;; passes (μ, then Σ (x − μ)²), two lanes at a time (f64x2, each f32x4 load promoted in halves); outputs are
;; computed in float64 and rounded once to float32, as the JavaScript kernel they replace did.
(module
  (import "env" "memory" (memory 1))

  ;; Σ x[0..d) in float64.
  (func $sum (param $x i32) (param $d i32) (result f64)
    (local $acc0 v128) (local $acc1 v128) (local $v v128) (local $end i32) (local $s f64)
    (local.set $acc0 (f64x2.splat (f64.const 0)))
    (local.set $acc1 (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $d) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.promote_low_f32x4 (local.get $v))))
        (local.set $acc1 (f64x2.add (local.get $acc1)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $vec)))
    (local.set $acc0 (f64x2.add (local.get $acc0) (local.get $acc1)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $d) (i32.const 3)) (i32.const 2))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $s (f64.add (local.get $s) (f64.promote_f32 (f32.load (local.get $x)))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $tail)))
    (local.get $s))

  ;; Σ (x − μ)² over x[0..d) in float64.
  (func $squares (param $x i32) (param $d i32) (param $mu f64) (result f64)
    (local $acc0 v128) (local $acc1 v128) (local $v v128) (local $m v128) (local $c v128) (local $end i32)
    (local $s f64) (local $t f64)
    (local.set $m (f64x2.splat (local.get $mu)))
    (local.set $acc0 (f64x2.splat (f64.const 0)))
    (local.set $acc1 (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.and (local.get $d) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $c (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $m)))
        (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $c) (local.get $c))))
        (local.set $c (f64x2.sub
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
          (local.get $m)))
        (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $c) (local.get $c))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $vec)))
    (local.set $acc0 (f64x2.add (local.get $acc0) (local.get $acc1)))
    (local.set $s (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $d) (i32.const 3)) (i32.const 2))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $t (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $mu)))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $t) (local.get $t))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $tail)))
    (local.get $s))

  ;; y = (x − μ)·r·γ + β per row; r = 1/√(σ² + ε).
  (func (export "forward")
    (param $x i32) (param $gamma i32) (param $beta i32) (param $y i32) (param $rows i32) (param $d i32)
    (param $eps f64)
    (local $r i32) (local $j i32) (local $mu f64) (local $rs f64) (local $df f64) (local $rowBytes i32)
    (local.set $df (f64.convert_i32_u (local.get $d)))
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $mu (f64.div (call $sum (local.get $x) (local.get $d)) (local.get $df)))
        (local.set $rs (f64.div (f64.const 1)
          (f64.sqrt (f64.add (f64.div (call $squares (local.get $x) (local.get $d) (local.get $mu)) (local.get $df))
            (local.get $eps)))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (f32.store (i32.add (local.get $y) (local.get $j))
              (f32.demote_f64 (f64.add
                (f64.mul
                  (f64.mul (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $j)))) (local.get $mu))
                    (local.get $rs))
                  (f64.promote_f32 (f32.load (i32.add (local.get $gamma) (local.get $j)))))
                (f64.promote_f32 (f32.load (i32.add (local.get $beta) (local.get $j)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $cols)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; With x̂ = (x − μ)·r and g = dy·γ: dx = r·(g − mean g − x̂·mean(g·x̂)) per row; dγ = Σ_rows dy·x̂ and
  ;; dβ = Σ_rows dy accumulated in float64 in `acc` (2·d float64, cleared here) and written as float32.
  (func (export "backward")
    (param $dy i32) (param $x i32) (param $gamma i32) (param $dx i32) (param $dGamma i32) (param $dBeta i32)
    (param $acc i32) (param $rows i32) (param $d i32) (param $eps f64)
    (local $r i32) (local $j i32) (local $mu f64) (local $rs f64) (local $df f64) (local $rowBytes i32)
    (local $xhat f64) (local $dyj f64) (local $gj f64) (local $meanG f64) (local $meanGx f64) (local $a i32)
    (local.set $df (f64.convert_i32_u (local.get $d)))
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $d) (i32.const 4)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $mu (f64.div (call $sum (local.get $x) (local.get $d)) (local.get $df)))
        (local.set $rs (f64.div (f64.const 1)
          (f64.sqrt (f64.add (f64.div (call $squares (local.get $x) (local.get $d) (local.get $mu)) (local.get $df))
            (local.get $eps)))))
        (local.set $meanG (f64.const 0))
        (local.set $meanGx (f64.const 0))
        (local.set $j (i32.const 0))
        (local.set $a (local.get $acc))
        (block $sums_done
          (loop $sums
            (br_if $sums_done (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $xhat (f64.mul
              (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $j)))) (local.get $mu))
              (local.get $rs)))
            (local.set $dyj (f64.promote_f32 (f32.load (i32.add (local.get $dy) (local.get $j)))))
            (local.set $gj (f64.mul (local.get $dyj) (f64.promote_f32 (f32.load (i32.add (local.get $gamma) (local.get $j))))))
            (local.set $meanG (f64.add (local.get $meanG) (local.get $gj)))
            (local.set $meanGx (f64.add (local.get $meanGx) (f64.mul (local.get $gj) (local.get $xhat))))
            (f64.store (local.get $a) (f64.add (f64.load (local.get $a)) (f64.mul (local.get $dyj) (local.get $xhat))))
            (f64.store offset=8 (local.get $a) (f64.add (f64.load offset=8 (local.get $a)) (local.get $dyj)))
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $sums)))
        (local.set $meanG (f64.div (local.get $meanG) (local.get $df)))
        (local.set $meanGx (f64.div (local.get $meanGx) (local.get $df)))
        (local.set $j (i32.const 0))
        (block $grads_done
          (loop $grads
            (br_if $grads_done (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $xhat (f64.mul
              (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $j)))) (local.get $mu))
              (local.get $rs)))
            (local.set $gj (f64.mul
              (f64.promote_f32 (f32.load (i32.add (local.get $dy) (local.get $j))))
              (f64.promote_f32 (f32.load (i32.add (local.get $gamma) (local.get $j))))))
            (f32.store (i32.add (local.get $dx) (local.get $j))
              (f32.demote_f64 (f64.mul (local.get $rs)
                (f64.sub (f64.sub (local.get $gj) (local.get $meanG)) (f64.mul (local.get $xhat) (local.get $meanGx))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $grads)))
        (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
        (local.set $dy (i32.add (local.get $dy) (local.get $rowBytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
    ;; dγ, dβ to float32
    (local.set $j (i32.const 0))
    (local.set $a (local.get $acc))
    (block $out_done
      (loop $out
        (br_if $out_done (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $dGamma) (local.get $j)) (f32.demote_f64 (f64.load (local.get $a))))
        (f32.store (i32.add (local.get $dBeta) (local.get $j)) (f32.demote_f64 (f64.load offset=8 (local.get $a))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $out)))))
