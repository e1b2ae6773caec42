// Generates the WebAssembly SIMD batched matrix product of the attention layers: writes batch-matmul.wat (readable)
// and batch-matmul-bytes.ts (two assembled modules as base64: one importing an unshared memory, for tfjs-backend-wasm's
// single-threaded build, one a shared memory, for its threaded build). Both files are checked in. It also assembles
// the hand-written adam.wat into adam-bytes.ts (the same two variants).
// Run after editing this file: `node src/model/kernels/build-wasm.mjs` (in packages/translate); `--check` fails if
// the checked-in files are stale.
//
// Why: tfjs-backend-wasm 4.22 sends every BatchMatMul with a batch above 1 (attention's [B·H, L, d/H] products and
// their gradients) to a scalar triple loop (`slow_batch_matmul`); only batch-1 products reach XNNPACK.
//
// bmm(a, b, c, batch, m, k, n, aRow, aCol, bRow, bCol): for p < batch, i < m, j < n (element strides; batch p of A
// starts at a + 4·p·m·k, of B at b + 4·p·k·n, of C at c + 4·p·m·n; C is contiguous)
//   C[p][i·n + j] = Σ_{l<k} A[p][i·aRow + l·aCol] · B[p][l·bRow + j·bCol]
// in float32, summed in order of l per output lane. Transposes are strides: Aᵀ has aRow = 1, aCol = m.
// Paths: bCol = 1 (B's rows contiguous): 8 and 4 columns of C at a time in v128 accumulators, A[i, l] splatted;
// aCol = 1 and bRow = 1 (both operands contiguous along l, i.e. A·Bᵀ): v128 dot products along l, then summed
// across lanes; anything else: scalar.
import { readFileSync } from 'node:fs';
import { assembleVariants, bytesFile, MEMORY_IMPORTS, writeOrCheck } from './assemble-wasm.mjs';

const here = new URL('.', import.meta.url);

function wat(memoryImport) {
  return `(module
  ${memoryImport}
  (func (export "bmm")
    (param $a i32) (param $b i32) (param $c i32) (param $batch i32) (param $m i32) (param $k i32) (param $n i32)
    (param $aRow i32) (param $aCol i32) (param $bRow i32) (param $bCol i32)
    (local $p i32) (local $i i32) (local $j i32) (local $l i32)
    (local $ap i32) (local $bp i32) (local $cp i32)
    (local $aStep i32) (local $bStep i32)
    (local $acc0 v128) (local $acc1 v128) (local $av v128) (local $s f32)
    ;; byte strides
    (local.set $aStep (i32.shl (local.get $aCol) (i32.const 2)))
    (local.set $bStep (i32.shl (local.get $bRow) (i32.const 2)))
    (local.set $p (i32.const 0))
    (block $batches_done
      (loop $batches
        (br_if $batches_done (i32.ge_u (local.get $p) (local.get $batch)))
        (local.set $i (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $i) (local.get $m)))
            (local.set $j (i32.const 0))
            (if (i32.eq (local.get $bCol) (i32.const 1))
              (then
                ;; 8 columns at a time
                (block $c8_done
                  (loop $c8
                    (br_if $c8_done (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $n)))
                    (local.set $acc0 (v128.const f32x4 0 0 0 0))
                    (local.set $acc1 (v128.const f32x4 0 0 0 0))
                    (local.set $ap (i32.add (local.get $a)
                      (i32.shl (i32.mul (local.get $i) (local.get $aRow)) (i32.const 2))))
                    (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
                    (local.set $l (local.get $k))
                    (block $k8_done
                      (loop $k8
                        (br_if $k8_done (i32.eqz (local.get $l)))
                        (local.set $av (f32x4.splat (f32.load (local.get $ap))))
                        (local.set $acc0 (f32x4.add (local.get $acc0)
                          (f32x4.mul (local.get $av) (v128.load (local.get $bp)))))
                        (local.set $acc1 (f32x4.add (local.get $acc1)
                          (f32x4.mul (local.get $av) (v128.load offset=16 (local.get $bp)))))
                        (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
                        (local.set $bp (i32.add (local.get $bp) (local.get $bStep)))
                        (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                        (br $k8)))
                    (local.set $cp (i32.add (local.get $c)
                      (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))))
                    (v128.store (local.get $cp) (local.get $acc0))
                    (v128.store offset=16 (local.get $cp) (local.get $acc1))
                    (local.set $j (i32.add (local.get $j) (i32.const 8)))
                    (br $c8)))
                ;; 4 columns
                (if (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $n))
                  (then
                    (local.set $acc0 (v128.const f32x4 0 0 0 0))
                    (local.set $ap (i32.add (local.get $a)
                      (i32.shl (i32.mul (local.get $i) (local.get $aRow)) (i32.const 2))))
                    (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
                    (local.set $l (local.get $k))
                    (block $k4_done
                      (loop $k4
                        (br_if $k4_done (i32.eqz (local.get $l)))
                        (local.set $acc0 (f32x4.add (local.get $acc0)
                          (f32x4.mul (f32x4.splat (f32.load (local.get $ap))) (v128.load (local.get $bp)))))
                        (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
                        (local.set $bp (i32.add (local.get $bp) (local.get $bStep)))
                        (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                        (br $k4)))
                    (v128.store (i32.add (local.get $c)
                      (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2)))
                      (local.get $acc0))
                    (local.set $j (i32.add (local.get $j) (i32.const 4)))))
                ;; the last n mod 4 columns, one at a time
                (block $c1_done
                  (loop $c1
                    (br_if $c1_done (i32.ge_u (local.get $j) (local.get $n)))
                    (local.set $s (f32.const 0))
                    (local.set $ap (i32.add (local.get $a)
                      (i32.shl (i32.mul (local.get $i) (local.get $aRow)) (i32.const 2))))
                    (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
                    (local.set $l (local.get $k))
                    (block $k1_done
                      (loop $k1
                        (br_if $k1_done (i32.eqz (local.get $l)))
                        (local.set $s (f32.add (local.get $s)
                          (f32.mul (f32.load (local.get $ap)) (f32.load (local.get $bp)))))
                        (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
                        (local.set $bp (i32.add (local.get $bp) (local.get $bStep)))
                        (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                        (br $k1)))
                    (f32.store (i32.add (local.get $c)
                      (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2)))
                      (local.get $s))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $c1))))
              (else
                ;; C[i, j] = Σ_l A[i·aRow + l·aCol] · B[l·bRow + j·bCol], one column at a time
                (block $dot_done
                  (loop $dot
                    (br_if $dot_done (i32.ge_u (local.get $j) (local.get $n)))
                    (local.set $ap (i32.add (local.get $a)
                      (i32.shl (i32.mul (local.get $i) (local.get $aRow)) (i32.const 2))))
                    (local.set $bp (i32.add (local.get $b)
                      (i32.shl (i32.mul (local.get $j) (local.get $bCol)) (i32.const 2))))
                    (local.set $l (local.get $k))
                    (local.set $s (f32.const 0))
                    (if (i32.and (i32.eq (local.get $aCol) (i32.const 1)) (i32.eq (local.get $bRow) (i32.const 1)))
                      (then
                        ;; both contiguous along l: four lanes of partial sums, then across lanes
                        (local.set $acc0 (v128.const f32x4 0 0 0 0))
                        (block $v_done
                          (loop $v
                            (br_if $v_done (i32.lt_u (local.get $l) (i32.const 4)))
                            (local.set $acc0 (f32x4.add (local.get $acc0)
                              (f32x4.mul (v128.load (local.get $ap)) (v128.load (local.get $bp)))))
                            (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
                            (local.set $bp (i32.add (local.get $bp) (i32.const 16)))
                            (local.set $l (i32.sub (local.get $l) (i32.const 4)))
                            (br $v)))
                        (local.set $s (f32.add
                          (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
                          (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))))
                    (block $s_done
                      (loop $sl
                        (br_if $s_done (i32.eqz (local.get $l)))
                        (local.set $s (f32.add (local.get $s)
                          (f32.mul (f32.load (local.get $ap)) (f32.load (local.get $bp)))))
                        (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
                        (local.set $bp (i32.add (local.get $bp) (local.get $bStep)))
                        (local.set $l (i32.sub (local.get $l) (i32.const 1)))
                        (br $sl)))
                    (f32.store (i32.add (local.get $c)
                      (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2)))
                      (local.get $s))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $dot)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows)))
        (local.set $a (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $k)) (i32.const 2))))
        (local.set $b (i32.add (local.get $b) (i32.shl (i32.mul (local.get $k) (local.get $n)) (i32.const 2))))
        (local.set $c (i32.add (local.get $c) (i32.shl (i32.mul (local.get $m) (local.get $n)) (i32.const 2))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $batches)))))
`;
}

const encoded = assembleVariants('batch-matmul', wat(MEMORY_IMPORTS.unshared));
const text = `;; Generated by build-wasm.mjs (the unshared-memory variant; the shared one differs in its import only).\n${wat(MEMORY_IMPORTS.unshared)}`;
const bytes = bytesFile({
  header: '// Generated by build-wasm.mjs from the module in batch-matmul.wat; do not edit.',
  what: 'The batched matmul module',
  constant: 'BATCH_MATMUL',
  encoded,
});
// The hand-written modules adam.wat, gemm.wat (the blocked product) and layer-norm.wat go to <name>-bytes.ts.
const handWritten = [
  ['adam', 'ADAM', 'The Adam module'],
  ['gemm', 'GEMM', 'The blocked product module'],
  ['layer-norm', 'LAYER_NORM', 'The LayerNorm module'],
].map(([file, constant, what]) => [
  new URL(`${file}-bytes.ts`, here),
  bytesFile({
    header: `// Generated by build-wasm.mjs from ${file}.wat; do not edit.`,
    what,
    constant,
    encoded: assembleVariants(file, readFileSync(new URL(`${file}.wat`, here), 'utf8')),
  }),
]);
writeOrCheck(
  [
    [new URL('batch-matmul.wat', here), text],
    [new URL('batch-matmul-bytes.ts', here), bytes],
    ...handWritten,
  ],
  'build-wasm.mjs',
);
