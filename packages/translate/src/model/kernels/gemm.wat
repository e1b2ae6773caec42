;; C = A·B in float32, two ways (build-wasm.mjs assembles this into gemm-bytes.ts). Both take A [m, k], B [k, n],
;; C [m, n], row-major and contiguous, n a multiple of 8, and cut the shared dimension into blocks of kb: each C entry
;; is the sum over l in order within a block, the blocks in order. So the two give bit-identical values for the same
;; kb, whatever the split of rows between threads, and gemm.ts picks one by speed alone.
;;
;; gemm(a, b, c, m, k, n, kb): operands read in place. XNNPACK's fully-connected operator (what tfjs-backend-wasm
;; runs for a 2-D matMul) streams the whole of A's rows and B's packed panels for every tile of C; with k = 58101 (the
;; vocabulary: dh = G·W in the output projection's backward) neither fits a cache and the product runs at half
;; speed. Here a block of B (kb × n floats) stays in L2 while every tile of C is updated from it. Tiles are 4 rows ×
;; 8 columns in eight v128 accumulators (A's entries splatted, B's rows loaded as two vectors); the m mod 4 rows left
;; over run one row at a time. The faster of the two below n = 256 (the decoder's skinny products, 64-token chunks of
;; the logits), where packing costs more than it saves.
;;
;; gemmPacked(a, b, c, m, k, n, lda, ldb, ldc, trans, kb, mb, scratch): the classic packed layout (GotoBLAS) in
;; 128-bit SIMD. Each operand's rows are ld floats apart (a column range of a wider product is how a pool splits one
;; by columns), and either operand may be stored transposed (trans bit 0: A as [k, m], bit 1: B as [n, k]: dW = dyᵀ·x
;; and x·Wᵀ without a transposed copy; packing reads them where they are, so the values are those of the copy's
;; product); mb a multiple of 4; scratch 4·(mb + 8)·kb bytes, 16-byte aligned, used by nothing else during the call. The rows are cut into
;; blocks of mb too. For each (k, row) block, A's rows are packed four at a time with their entries interleaved
;; (packA[(q·kc + l)·4 + r] = A[i0 + 4q + r, k0 + l], transposed four by four in registers): the tile loop then reads
;; one sequential stream with constant offsets instead of four rows k floats apart, each with its own pointer. For
;; each panel of 8 columns, the panel of B (kc × 8) is packed contiguous: at n = 1,024 or 4,096 B's rows are a
;; multiple of 4 KiB apart, all in one L1 set, and a panel read in place never stays in L1. The same 4 × 8 tiles then
;; run from the two packed operands; the m mod 4 rows left over run one at a time from A itself. 1.5–1.6× gemm's
;; speed at n = 1,024 and 2,048, 1.1–1.3× at 256–512 (`node bench/run-speed.mjs gemm`).
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
        (br $blocks))))
;; gemmPacked(a, b, c, m, k, n, lda, ldb, ldc, trans, kb, mb, scratch): see the header. A(i, l) is at
;; a + 4·(i·lda + l), or a + 4·(l·lda + i) with trans & 1 (A stored transposed, [k, m]); B(l, j) at b + 4·(l·ldb + j),
;; or b + 4·(j·ldb + l) with trans & 2 ([n, k]); C(i, j) at c + 4·(i·ldc + j).
  (func (export "gemmPacked")
    (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (param $lda i32) (param $ldb i32) (param $ldc i32) (param $trans i32)
    (param $kb i32) (param $mb i32) (param $scratch i32)
    (local $k0 i32) (local $kc i32) (local $i0 i32) (local $mc i32) (local $quads i32) (local $i i32) (local $j i32)
    (local $l i32) (local $r i32) (local $ap i32) (local $bp i32) (local $cp i32) (local $end i32)
    (local $p0 i32) (local $packB i32) (local $cRowBytes i32) (local $aRowBytes i32) (local $bRowBytes i32)
    (local $aStep i32) (local $half i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (local.set $aRowBytes (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $bRowBytes (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $cRowBytes (i32.shl (local.get $ldc) (i32.const 2)))
    ;; the step from A(r, l) to A(r, l + 1), for the rows left over read in place
    (local.set $aStep (select (local.get $aRowBytes) (i32.const 4) (i32.and (local.get $trans) (i32.const 1))))
    (local.set $packB (i32.add (local.get $scratch) (i32.shl (i32.mul (local.get $mb) (local.get $kb)) (i32.const 2))))
    ;; C's n columns of each row to zero (the row may be wider: a column range of a larger product)
    (local.set $cp (local.get $c))
    (local.set $i (i32.const 0))
    (block $clear_done
      (loop $clear
        (br_if $clear_done (i32.ge_u (local.get $i) (local.get $m)))
        (memory.fill (local.get $cp) (i32.const 0) (i32.shl (local.get $n) (i32.const 2)))
        (local.set $cp (i32.add (local.get $cp) (local.get $cRowBytes)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $clear)))
    (local.set $k0 (i32.const 0))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $k0) (local.get $k)))
        (local.set $kc (i32.sub (local.get $k) (local.get $k0)))
        (if (i32.gt_u (local.get $kc) (local.get $kb)) (then (local.set $kc (local.get $kb))))
        (local.set $end (i32.add (local.get $packB) (i32.shl (local.get $kc) (i32.const 5))))
        (local.set $i0 (i32.const 0))
        (block $rowblocks_done
          (loop $rowblocks
            (br_if $rowblocks_done (i32.ge_u (local.get $i0) (local.get $m)))
            (local.set $mc (i32.sub (local.get $m) (local.get $i0)))
            (if (i32.gt_u (local.get $mc) (local.get $mb)) (then (local.set $mc (local.get $mb))))
            (local.set $quads (i32.shr_u (local.get $mc) (i32.const 2)))
            ;; pack A[i0 .. i0 + 4·quads, k0 .. k0 + kc] as packA[(q·kc + l)·4 + r] = A(i0 + 4q + r, k0 + l)
            (local.set $ap (local.get $scratch))
            (local.set $i (i32.const 0))
            (block $pa_done
              (loop $pa
                (br_if $pa_done (i32.ge_u (local.get $i) (local.get $quads)))
                (local.set $l (i32.const 0))
                (if (i32.and (local.get $trans) (i32.const 1))
                  (then
                    ;; A stored transposed: the four entries of A(i .. i + 4, l) are adjacent, one vector per l
                    (local.set $p0 (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $lda))
                      (i32.add (local.get $i0) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
                    (block $pat_done
                      (loop $pat
                        (br_if $pat_done (i32.ge_u (local.get $l) (local.get $kc)))
                        (v128.store (local.get $ap) (v128.load (local.get $p0)))
                        (local.set $p0 (i32.add (local.get $p0) (local.get $aRowBytes)))
                        (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
                        (local.set $l (i32.add (local.get $l) (i32.const 1)))
                        (br $pat))))
                  (else
                    ;; four entries of four rows at a time, transposed in registers
                    (local.set $p0 (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (i32.add (local.get $i0)
                      (i32.shl (local.get $i) (i32.const 2))) (local.get $lda)) (local.get $k0)) (i32.const 2))))
                    (block $pal_done
                      (loop $pal
                        (br_if $pal_done (i32.gt_u (i32.add (local.get $l) (i32.const 4)) (local.get $kc)))
                        (local.set $c0 (v128.load (local.get $p0)))
                        (local.set $c1 (v128.load (i32.add (local.get $p0) (local.get $aRowBytes))))
                        (local.set $c2 (v128.load (i32.add (local.get $p0) (i32.shl (local.get $aRowBytes) (i32.const 1)))))
                        (local.set $c3 (v128.load (i32.add (local.get $p0) (i32.mul (local.get $aRowBytes) (i32.const 3)))))
                        (local.set $c4 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c0) (local.get $c1)))
                        (local.set $c5 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c0) (local.get $c1)))
                        (local.set $c6 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c2) (local.get $c3)))
                        (local.set $c7 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c2) (local.get $c3)))
                        (v128.store (local.get $ap) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c4) (local.get $c6)))
                        (v128.store offset=16 (local.get $ap) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c4) (local.get $c6)))
                        (v128.store offset=32 (local.get $ap) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c5) (local.get $c7)))
                        (v128.store offset=48 (local.get $ap) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c5) (local.get $c7)))
                        (local.set $p0 (i32.add (local.get $p0) (i32.const 16)))
                        (local.set $ap (i32.add (local.get $ap) (i32.const 64)))
                        (local.set $l (i32.add (local.get $l) (i32.const 4)))
                        (br $pal)))
                    (block $pas_done
                      (loop $pas
                        (br_if $pas_done (i32.ge_u (local.get $l) (local.get $kc)))
                        (f32.store (local.get $ap) (f32.load (local.get $p0)))
                        (f32.store offset=4 (local.get $ap) (f32.load (i32.add (local.get $p0) (local.get $aRowBytes))))
                        (f32.store offset=8 (local.get $ap)
                          (f32.load (i32.add (local.get $p0) (i32.shl (local.get $aRowBytes) (i32.const 1)))))
                        (f32.store offset=12 (local.get $ap)
                          (f32.load (i32.add (local.get $p0) (i32.mul (local.get $aRowBytes) (i32.const 3)))))
                        (local.set $p0 (i32.add (local.get $p0) (i32.const 4)))
                        (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
                        (local.set $l (i32.add (local.get $l) (i32.const 1)))
                        (br $pas)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $pa)))
            (local.set $j (i32.const 0))
            (block $panels_done
              (loop $panels
                (br_if $panels_done (i32.ge_u (local.get $j) (local.get $n)))
                ;; pack B[k0 .. k0 + kc, j .. j + 8] as packB[l·8 + q] = B(k0 + l, j + q), 32 bytes a row
                (if (i32.and (local.get $trans) (i32.const 2))
                  (then
                    ;; B stored transposed: columns j .. j + 8 are 8 rows along l; four entries of four of them at a
                    ;; time, transposed in registers as A's, the first four columns to bytes 0–15 of each packed row
                    ;; and the last four to bytes 16–31
                    (local.set $half (i32.const 0))
                    (block $pbt_done
                      (loop $pbt
                        (br_if $pbt_done (i32.ge_u (local.get $half) (i32.const 2)))
                        (local.set $bp (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (i32.add (local.get $j)
                          (i32.shl (local.get $half) (i32.const 2))) (local.get $ldb)) (local.get $k0)) (i32.const 2))))
                        (local.set $cp (i32.add (local.get $packB) (i32.shl (local.get $half) (i32.const 4))))
                        (local.set $l (i32.const 0))
                        (block $pbl_done
                          (loop $pbl
                            (br_if $pbl_done (i32.gt_u (i32.add (local.get $l) (i32.const 4)) (local.get $kc)))
                            (local.set $c0 (v128.load (local.get $bp)))
                            (local.set $c1 (v128.load (i32.add (local.get $bp) (local.get $bRowBytes))))
                            (local.set $c2 (v128.load (i32.add (local.get $bp) (i32.shl (local.get $bRowBytes) (i32.const 1)))))
                            (local.set $c3 (v128.load (i32.add (local.get $bp) (i32.mul (local.get $bRowBytes) (i32.const 3)))))
                            (local.set $c4 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c0) (local.get $c1)))
                            (local.set $c5 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c0) (local.get $c1)))
                            (local.set $c6 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c2) (local.get $c3)))
                            (local.set $c7 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c2) (local.get $c3)))
                            (v128.store (local.get $cp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c4) (local.get $c6)))
                            (v128.store offset=32 (local.get $cp) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c4) (local.get $c6)))
                            (v128.store offset=64 (local.get $cp) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c5) (local.get $c7)))
                            (v128.store offset=96 (local.get $cp) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c5) (local.get $c7)))
                            (local.set $bp (i32.add (local.get $bp) (i32.const 16)))
                            (local.set $cp (i32.add (local.get $cp) (i32.const 128)))
                            (local.set $l (i32.add (local.get $l) (i32.const 4)))
                            (br $pbl)))
                        (block $pbs_done
                          (loop $pbs
                            (br_if $pbs_done (i32.ge_u (local.get $l) (local.get $kc)))
                            (f32.store (local.get $cp) (f32.load (local.get $bp)))
                            (f32.store offset=4 (local.get $cp) (f32.load (i32.add (local.get $bp) (local.get $bRowBytes))))
                            (f32.store offset=8 (local.get $cp)
                              (f32.load (i32.add (local.get $bp) (i32.shl (local.get $bRowBytes) (i32.const 1)))))
                            (f32.store offset=12 (local.get $cp)
                              (f32.load (i32.add (local.get $bp) (i32.mul (local.get $bRowBytes) (i32.const 3)))))
                            (local.set $bp (i32.add (local.get $bp) (i32.const 4)))
                            (local.set $cp (i32.add (local.get $cp) (i32.const 32)))
                            (local.set $l (i32.add (local.get $l) (i32.const 1)))
                            (br $pbs)))
                        (local.set $half (i32.add (local.get $half) (i32.const 1)))
                        (br $pbt))))
                  (else
                    (local.set $bp (i32.add (local.get $b)
                      (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $ldb)) (local.get $j)) (i32.const 2))))
                    (local.set $cp (local.get $packB))
                    (block $copy_done
                      (loop $copy
                        (br_if $copy_done (i32.ge_u (local.get $cp) (local.get $end)))
                        (v128.store (local.get $cp) (v128.load (local.get $bp)))
                        (v128.store offset=16 (local.get $cp) (v128.load offset=16 (local.get $bp)))
                        (local.set $cp (i32.add (local.get $cp) (i32.const 32)))
                        (local.set $bp (i32.add (local.get $bp) (local.get $bRowBytes)))
                        (br $copy)))))
                ;; the 4 × 8 tiles of C[i0 .., j .. j + 8]
                (local.set $ap (local.get $scratch))
                (local.set $i (i32.const 0))
                (block $tiles_done
                  (loop $tiles
                    (br_if $tiles_done (i32.ge_u (local.get $i) (local.get $quads)))
                    (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (i32.add (local.get $i0)
                      (i32.shl (local.get $i) (i32.const 2))) (local.get $ldc)) (local.get $j)) (i32.const 2))))
                (local.set $c0 (v128.load (local.get $cp)))
                (local.set $c1 (v128.load offset=16 (local.get $cp)))
                (local.set $c2 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 1)))))
                (local.set $c3 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 1)))))
                (local.set $c4 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 2)))))
                (local.set $c5 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 2)))))
                (local.set $c6 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 3)))))
                (local.set $c7 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 3)))))
                    (local.set $bp (local.get $packB))
                    (block $inner_done
                      (loop $inner
                        (br_if $inner_done (i32.ge_u (local.get $bp) (local.get $end)))
                        (local.set $b0 (v128.load (local.get $bp)))
                        (local.set $b1 (v128.load offset=16 (local.get $bp)))
                    (local.set $s (v128.load32_splat offset=0 (local.get $ap)))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat offset=4 (local.get $ap)))
                    (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat offset=8 (local.get $ap)))
                    (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $s) (local.get $b1))))
                    (local.set $s (v128.load32_splat offset=12 (local.get $ap)))
                    (local.set $c6 (f32x4.add (local.get $c6) (f32x4.mul (local.get $s) (local.get $b0))))
                    (local.set $c7 (f32x4.add (local.get $c7) (f32x4.mul (local.get $s) (local.get $b1))))
                        (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
                        (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
                        (br $inner)))
                (v128.store (local.get $cp) (local.get $c0))
                (v128.store offset=16 (local.get $cp) (local.get $c1))
                (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 1))) (local.get $c2))
                (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 1))) (local.get $c3))
                (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 2))) (local.get $c4))
                (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 2))) (local.get $c5))
                (v128.store (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 3))) (local.get $c6))
                (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $cRowBytes) (i32.const 3))) (local.get $c7))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $tiles)))
                ;; the rows of the block left over (mc mod 4: the last block only), one at a time from A itself
                (local.set $r (i32.add (local.get $i0) (i32.shl (local.get $quads) (i32.const 2))))
                (block $rows_done
                  (loop $rows
                    (br_if $rows_done (i32.ge_u (local.get $r) (i32.add (local.get $i0) (local.get $mc))))
                    (local.set $cp (i32.add (local.get $c)
                      (i32.shl (i32.add (i32.mul (local.get $r) (local.get $ldc)) (local.get $j)) (i32.const 2))))
                    (local.set $c0 (v128.load (local.get $cp)))
                    (local.set $c1 (v128.load offset=16 (local.get $cp)))
                    (local.set $ap (i32.add (local.get $a) (i32.shl (select
                      (i32.add (i32.mul (local.get $k0) (local.get $lda)) (local.get $r))
                      (i32.add (i32.mul (local.get $r) (local.get $lda)) (local.get $k0))
                      (i32.and (local.get $trans) (i32.const 1))) (i32.const 2))))
                    (local.set $bp (local.get $packB))
                    (block $rinner_done
                      (loop $rinner
                        (br_if $rinner_done (i32.ge_u (local.get $bp) (local.get $end)))
                        (local.set $s (v128.load32_splat (local.get $ap)))
                        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s) (v128.load (local.get $bp)))))
                        (local.set $c1 (f32x4.add (local.get $c1)
                          (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $bp)))))
                        (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
                        (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
                        (br $rinner)))
                    (v128.store (local.get $cp) (local.get $c0))
                    (v128.store offset=16 (local.get $cp) (local.get $c1))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br $rows)))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $panels)))
            (local.set $i0 (i32.add (local.get $i0) (local.get $mb)))
            (br $rowblocks)))
        (local.set $k0 (i32.add (local.get $k0) (local.get $kb)))
        (br $blocks))))
)
