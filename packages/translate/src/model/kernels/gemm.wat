;; C = A·B, blocked along the shared dimension (build-wasm.mjs assembles this into gemm-bytes.ts).
;;
;; gemm(a, b, c, m, k, n, kb): A [m, k], B [k, n], C [m, n], all float32, row-major and contiguous, n a multiple
;; of 8. XNNPACK's fully-connected operator (what tfjs-backend-wasm runs for a 2-D matMul) streams the whole of A's
;; rows and B's packed panels for every tile of C; with k = 58101 (the vocabulary: dh = G·W in the output
;; projection's backward) neither fits a cache and the product runs at half speed. Here the shared dimension is
;; cut into blocks of kb: a block of B (kb × n floats) stays in L2 while every tile of C is updated from it.
;; Tiles are 4 rows × 8 columns in eight v128 accumulators (A's entries splatted, B's rows loaded as two vectors);
;; the m mod 4 rows left over run one row at a time. Each C entry is the sum over l in order within a block, the
;; blocks in order.
(module
  (import "env" "memory" (memory 1))
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32) (param $kb i32)
    (local $k0 i32) (local $kc i32) (local $i i32) (local $j i32) (local $l i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32) (local $cp i32)
    (local $rowBytes i32) (local $aRowBytes i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $aRowBytes (i32.shl (local.get $k) (i32.const 2)))
    (memory.fill (local.get $c) (i32.const 0) (i32.mul (local.get $m) (local.get $rowBytes)))
    (local.set $k0 (i32.const 0))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $k0) (local.get $k)))
        (local.set $kc (i32.sub (local.get $k) (local.get $k0)))
        (if (i32.gt_u (local.get $kc) (local.get $kb)) (then (local.set $kc (local.get $kb))))
        ;; rows four at a time
        (local.set $i (i32.const 0))
        (block $quads_done
          (loop $quads
            (br_if $quads_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
            (local.set $j (i32.const 0))
            (block $cols_done
              (loop $cols
                (br_if $cols_done (i32.ge_u (local.get $j) (local.get $n)))
                (local.set $cp (i32.add (local.get $c)
                  (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))))
                (local.set $c0 (v128.load (local.get $cp)))
                (local.set $c1 (v128.load offset=16 (local.get $cp)))
                (local.set $c2 (v128.load (i32.add (local.get $cp) (local.get $rowBytes))))
                (local.set $c3 (v128.load offset=16 (i32.add (local.get $cp) (local.get $rowBytes))))
                (local.set $c4 (v128.load (i32.add (local.get $cp) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                (local.set $c5 (v128.load offset=16
                  (i32.add (local.get $cp) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                (local.set $c6 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $rowBytes) (i32.const 3)))))
                (local.set $c7 (v128.load offset=16
                  (i32.add (local.get $cp) (i32.mul (local.get $rowBytes) (i32.const 3)))))
                (local.set $a0 (i32.add (local.get $a)
                  (i32.shl (i32.add (i32.mul (local.get $i) (local.get $k)) (local.get $k0)) (i32.const 2))))
                (local.set $a1 (i32.add (local.get $a0) (local.get $aRowBytes)))
                (local.set $a2 (i32.add (local.get $a1) (local.get $aRowBytes)))
                (local.set $a3 (i32.add (local.get $a2) (local.get $aRowBytes)))
                (local.set $bp (i32.add (local.get $b)
                  (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $n)) (local.get $j)) (i32.const 2))))
                (local.set $l (local.get $kc))
                (block $inner_done
                  (loop $inner
                    (br_if $inner_done (i32.eqz (local.get $l)))
                    (local.set $b0 (v128.load (local.get $bp)))
                    (local.set $b1 (v128.load offset=16 (local.get $bp)))
                    (local.set $s (v128.load32_splat (local.get $a0)))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat (local.get $a1)))
                    (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat (local.get $a2)))
                    (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat (local.get $a3)))
                    (local.set $c6 (f32x4.add (local.get $c6) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c7 (f32x4.add (local.get $c7) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
                    (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
                    (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
                    (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
                    (local.set $bp (i32.add (local.get $bp) (local.get $rowBytes)))
                    (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                    (br $inner)))
                (v128.store (local.get $cp) (local.get $c0))
                (v128.store offset=16 (local.get $cp) (local.get $c1))
                (v128.store (i32.add (local.get $cp) (local.get $rowBytes)) (local.get $c2))
                (v128.store offset=16 (i32.add (local.get $cp) (local.get $rowBytes)) (local.get $c3))
                (v128.store (i32.add (local.get $cp) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $c4))
                (v128.store offset=16
                  (i32.add (local.get $cp) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $c5))
                (v128.store (i32.add (local.get $cp) (i32.mul (local.get $rowBytes) (i32.const 3))) (local.get $c6))
                (v128.store offset=16
                  (i32.add (local.get $cp) (i32.mul (local.get $rowBytes) (i32.const 3))) (local.get $c7))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $cols)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $quads)))
        ;; the rows left over, one at a time
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $m)))
            (local.set $j (i32.const 0))
            (block $rcols_done
              (loop $rcols
                (br_if $rcols_done (i32.ge_u (local.get $j) (local.get $n)))
                (local.set $cp (i32.add (local.get $c)
                  (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))))
                (local.set $c0 (v128.load (local.get $cp)))
                (local.set $c1 (v128.load offset=16 (local.get $cp)))
                (local.set $a0 (i32.add (local.get $a)
                  (i32.shl (i32.add (i32.mul (local.get $i) (local.get $k)) (local.get $k0)) (i32.const 2))))
                (local.set $bp (i32.add (local.get $b)
                  (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $n)) (local.get $j)) (i32.const 2))))
                (local.set $l (local.get $kc))
                (block $rinner_done
                  (loop $rinner
                    (br_if $rinner_done (i32.eqz (local.get $l)))
                    (local.set $s (v128.load32_splat (local.get $a0)))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s) (v128.load (local.get $bp)))))
                    (local.set $c1 (f32x4.add (local.get $c1)
                      (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $bp)))))
                    (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
                    (local.set $bp (i32.add (local.get $bp) (local.get $rowBytes)))
                    (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                    (br $rinner)))
                (v128.store (local.get $cp) (local.get $c0))
                (v128.store offset=16 (local.get $cp) (local.get $c1))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $rcols)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows)))
        (local.set $k0 (i32.add (local.get $k0) (local.get $kb)))
        (br $blocks)))))
