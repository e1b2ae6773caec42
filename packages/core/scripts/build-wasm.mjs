// Generates the WebAssembly SIMD kernel: writes src/wasm/kernel.wat (readable) and src/wasm/kernel-bytes.ts (the
// assembled module as base64, checked in so tests and the build need no extra step).
// Run after editing this file: `pnpm build:wasm` (in packages/core). `--check` fails if the checked-in files are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

// exp(x) for a v128 of x ≤ 0 (the kernel only evaluates x = z − max). Lanes with x ≤ low (where the result would
// leave the normal range), −∞ and NaN give 0; exp(0) = 1 exactly, as for ties at the max. Error bounds: see
// docs/performance.md and scripts/verify-exp.mjs.
//
// f32: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2 (ln2 = C1 + C2 with C1 short, so n·C1 and x − n·C1 are
// exact), n rounded to nearest by adding 1.5·2^23 (whose low bits then hold n), e^r = 1 + r·Q(r) with Q a
// Chebyshev fit (mpmath.chebyfit) of (e^r − 1)/r on |r| ≤ 0.3468 (P of degree 5), 2^n added to the exponent bits.
//
// f64: table-driven. x = n·ln2/N + r with N = 2^TABLE_BITS, |r| ≤ ln2/(2N) (Cody–Waite with fdlibm's ln2_hi/N,
// ln2_lo/N; n rounded by adding 1.5·2^52), n = N·k + j. The table holds the bits of T_j = 2^(j/N) (correctly
// rounded, computed exactly with BigInt below) minus j·2^(52 − TABLE_BITS), so adding n·2^(52 − TABLE_BITS) to
// entry j gives the bits of 2^k·T_j (the j part cancels; k lands in the exponent field, with wrap-around for n < 0).
// Result 2^k·T_j + 2^k·T_j·(r + r²·(1/2 + r/6 + …)): Taylor to degree EXP64_DEGREE, no fitted coefficients.
const TABLE_BITS = 8;
const EXP64_DEGREE = 4;
const TABLE_SIZE = 2 ** TABLE_BITS;
const CONSTANTS = {
  f32: {
    log2e: Math.LOG2E,
    shifter: 1.5 * 2 ** 23,
    c1: 355 / 512,
    c2: -2.1219444e-4,
    ...poly([0.008363212458789349, 0.041875917464494705, 0.16666576266288757, 0.4999937117099762, 1, 1]),
    low: -86.5,
  },
  f64: {
    log2eN: Math.LOG2E * TABLE_SIZE,
    shifter: 1.5 * 2 ** 52,
    c1: (0x162e42fee * 2 ** -33) / TABLE_SIZE, // fdlibm's ln2_hi / N (32 significant bits: n·c1 is exact)
    c2: (0x1a39ef35793c76 * 2 ** -85) / TABLE_SIZE, // ln2_lo / N
    // 1/d! from d = EXP64_DEGREE down to 2 (Horner order)
    ...poly(Array.from({ length: EXP64_DEGREE - 1 }, (_, i) => 1 / factorial(EXP64_DEGREE - i))),
    low: -708,
  },
};
function poly(coefficients) {
  return Object.fromEntries(coefficients.map((c, i) => [`p${i}`, c]));
}
function factorial(d) {
  return d <= 1 ? 1 : d * factorial(d - 1);
}
const CONSTANT_BASE = { f32: 0, f64: 64 };
/** The f64 exp table: TABLE_SIZE int64 entries. */
const TABLE_BASE = 256;
/**
 * Initial memory, 4 MiB (pages are touched only as used): the kernel's chunk and per-row scratch fit in it for rows
 * up to about 2 MiB (K = 500k float32, 250k float64), so the memory never grows for them. Growing detaches the old
 * ArrayBuffer, after which V8 adds detach checks to every typed-array loop of the process (a plain summing loop
 * runs about 1.9× slower for the rest of the process).
 */
const INITIAL_PAGES = 64;
/** Bytes below this hold the constants and the table; the caller's data starts here (exported as data_start). */
const DATA_START = TABLE_BASE + 8 * TABLE_SIZE;

/**
 * Bits of 2^(j/N) rounded to nearest, from the exact integer N-th root of 2^(j + N·P) (BigInt Newton), so the table
 * does not depend on the platform's Math.pow.
 */
function exp2Bits(j, N) {
  const P = 120n;
  const n = BigInt(N);
  const A = 1n << (BigInt(j) + n * P);
  // Newton from a float start: y ← ((N − 1)·y + A / y^(N−1)) / N, then fix up to floor(A^(1/N)).
  let y = BigInt(Math.floor(2 ** (j / N) * 2 ** 52)) << (P - 52n);
  for (let i = 0; i < 4; i++) y = ((n - 1n) * y + A / y ** (n - 1n)) / n;
  while (y ** n > A) y -= 1n;
  while ((y + 1n) ** n <= A) y += 1n;
  // y = floor(2^(j/N + P)), 2^(j/N) in [1, 2): keep 53 bits, round to nearest (never a tie: 2^(j/N) is irrational
  // for j > 0, and the discarded bits are checked to be away from one half).
  const drop = P - 52n;
  const half = 1n << (drop - 1n);
  const low = y & ((1n << drop) - 1n);
  if (j > 0 && (low === half - 1n || low === half)) throw new Error(`2^(${j}/${N}) is too close to a tie`);
  const mantissa = (y >> drop) + (low >= half ? 1n : 0n);
  return (1023n << 52n) + mantissa - (1n << 52n);
}

const dataSegment = () => {
  const bytes = new Uint8Array(DATA_START);
  new Float32Array(bytes.buffer, CONSTANT_BASE.f32).set(Object.values(CONSTANTS.f32));
  new Float64Array(bytes.buffer, CONSTANT_BASE.f64).set(Object.values(CONSTANTS.f64));
  const table = new BigInt64Array(bytes.buffer, TABLE_BASE, TABLE_SIZE);
  for (let j = 0; j < TABLE_SIZE; j++) {
    table[j] = BigInt.asIntN(64, exp2Bits(j, TABLE_SIZE) - (BigInt(j) << BigInt(52 - TABLE_BITS)));
  }
  const hex = (from, to) =>
    Array.from(bytes.subarray(from, to), (b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
  const end = CONSTANT_BASE.f64 + 8 * Object.keys(CONSTANTS.f64).length;
  return `(data (i32.const 0) "${hex(0, end)}")
  ;; f64 exp table: bits of 2^(j/${TABLE_SIZE}) − j·2^${52 - TABLE_BITS}, j = 0 … ${TABLE_SIZE - 1}
  (data (i32.const ${TABLE_BASE}) "${hex(TABLE_BASE, DATA_START)}")
  (global (export "exp_table") i32 (i32.const ${TABLE_BASE}))
  (global (export "data_start") i32 (i32.const ${DATA_START}))`;
};
const constLocals = (t) =>
  Object.keys(CONSTANTS[t])
    .map((name) => `(local $k_${name} v128)`)
    .join(' ');
const constants = (t) =>
  Object.keys(CONSTANTS[t])
    .map(
      (name, i) =>
        `(local.set $k_${name} (v128.load${t === 'f32' ? 32 : 64}_splat offset=${CONSTANT_BASE[t] + i * (t === 'f32' ? 4 : 8)} (i32.const 0)))`,
    )
    .join('\n    ');
const k = (name) => `(local.get $k_${name})`;

function exp32(x) {
  const degree = Object.keys(CONSTANTS.f32).filter((name) => name.startsWith('p')).length - 1;
  return `
      (local.set $x ${x})
      (local.set $n (f32x4.add (f32x4.mul (local.get $x) ${k('log2e')}) ${k('shifter')}))
      (local.set $r (f32x4.sub (local.get $n) ${k('shifter')}))
      (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $r) ${k('c1')})) (f32x4.mul (local.get $r) ${k('c2')})))
      (local.set $p ${k('p0')})
${Array.from({ length: degree }, (_, i) => `      (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) ${k(`p${i + 1}`)}))`).join('\n')}
      (v128.and
        (i32x4.add (local.get $p) (i32x4.shl (local.get $n) (i32.const 23)))
        (f32x4.gt (local.get $x) ${k('low')}))`;
}

// Byte offsets of the table entries: (n mod N)·8 (the low bits of n + 1.5·2^52 are n in two's complement).
const TABLE_MASK = `(v128.const i64x2 ${8 * (TABLE_SIZE - 1)} ${8 * (TABLE_SIZE - 1)})`;
function exp64(x) {
  const coefficients = Object.keys(CONSTANTS.f64).filter((name) => name.startsWith('p'));
  return `
      (local.set $x ${x})
      (local.set $n (f64x2.add (f64x2.mul (local.get $x) ${k('log2eN')}) ${k('shifter')}))
      (local.set $r (f64x2.sub (local.get $n) ${k('shifter')}))
      (local.set $r (f64x2.sub (f64x2.sub (local.get $x) (f64x2.mul (local.get $r) ${k('c1')})) (f64x2.mul (local.get $r) ${k('c2')})))
      (local.set $t (v128.and (i64x2.shl (local.get $n) (i32.const 3)) ${TABLE_MASK}))
      (local.set $t (v128.load64_lane offset=${TABLE_BASE} 1 (i32x4.extract_lane 2 (local.get $t))
        (v128.load64_zero offset=${TABLE_BASE} (i32x4.extract_lane 0 (local.get $t)))))
      (local.set $t (i64x2.add (local.get $t) (i64x2.shl (local.get $n) (i32.const ${52 - TABLE_BITS}))))
      (local.set $p ${k(coefficients[0])})
${coefficients
  .slice(1)
  .map((name) => `      (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) ${k(name)}))`)
  .join('\n')}
      (local.set $p (f64x2.add (f64x2.mul (f64x2.mul (local.get $r) (local.get $r)) (local.get $p)) (local.get $r)))
      (v128.and
        (f64x2.add (local.get $t) (f64x2.mul (local.get $t) (local.get $p)))
        (f64x2.gt (local.get $x) ${k('low')}))`;
}

// One kernel per float type. rows(ptr, rows, K, stats): per row of K values at ptr, max (NaN-free pmax) and its
// first index, then in place e_j = exp(z_j − max) with e_argmax = 1 and rest = Σ_{j≠argmax} e_j accumulated in f64
// (the argmax is set to −∞ first, so rest needs no subtraction). stats gets [max, argmax, rest] (f64) per row;
// argmax = −1 flags a row holding NaN or ±∞ (its Σ z is not finite; the row is left unchanged and the caller runs
// the JS kernel on it).
// scale(ptr, rows, K, coef): row r *= coef[r] (f64, rounded to the float type).
function kernel(t) {
  const f32 = t === 'f32';
  const bytes = f32 ? 4 : 8;
  const lanes = 16 / bytes;
  const V = f32 ? 'f32x4' : 'f64x2';
  const S = t; // scalar type
  const exp = f32 ? exp32 : exp64;
  const expLocals = '(local $x v128) (local $n v128) (local $r v128) (local $p v128) (local $t v128)';
  const negInf = `(${S}.const -inf)`;
  // Adds the lanes of a vector of e to the f64x2 accumulator $acc (f32: partial sums of at most 4 vectors per lane).
  const flush = f32
    ? `(local.set $acc (f64x2.add (local.get $acc) (f64x2.add (f64x2.promote_low_f32x4 (local.get $part))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $part) (local.get $part))))))`
    : '';
  const addPart = f32
    ? `(local.set $part (f32x4.add (local.get $part) (local.get $e)))`
    : `(local.set $acc (f64x2.add (local.get $acc) (local.get $e)))`;
  const expStep = `
      (local.set $e ${exp(`(${V}.sub (v128.load (local.get $q)) (local.get $vmax))`)})
      (v128.store (local.get $q) (local.get $e))
      ${addPart}
      (local.set $q (i32.add (local.get $q) (i32.const 16)))`;
  const toF64 = f32 ? (v) => `(f64.promote_f32 ${v})` : (v) => v;
  return `
  (func (export "rows_${t}") (param $ptr i32) (param $rows i32) (param $K i32) (param $stats i32)
    (local $row i32) (local $end i32) (local $vend i32) (local $q i32) (local $i i32) (local $argmax i32)
    (local $vmax v128) (local $vnan v128) (local $vmax2 v128) (local $vnan2 v128) (local $vmax3 v128) (local $vnan3 v128) (local $vmax4 v128) (local $vnan4 v128) (local $v v128) (local $e v128) (local $part v128) (local $acc v128)
    (local $max ${S}) (local $z ${S}) (local $rest f64) ${expLocals} ${constLocals(t)}
    ${constants(t)}
    (local.set $row (local.get $ptr))
    (block $done (loop $rowLoop
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $end (i32.add (local.get $row) (i32.mul (local.get $K) (i32.const ${bytes}))))
      (local.set $vend (i32.add (local.get $row) (i32.mul (i32.and (local.get $K) (i32.const ${-lanes})) (i32.const ${bytes}))))
      ;; max (pmax ignores NaN) and Σ z, which is non-finite iff some z is NaN or ±∞ (or the sum overflows: then the
      ;; row just takes the JS path); four accumulators each to break the dependency chains
      (local.set $vmax (${V}.splat ${negInf}))
      (local.set $vmax2 (local.get $vmax)) (local.set $vmax3 (local.get $vmax)) (local.set $vmax4 (local.get $vmax))
      (local.set $vnan (v128.const i64x2 0 0))
      (local.set $vnan2 (local.get $vnan)) (local.set $vnan3 (local.get $vnan)) (local.set $vnan4 (local.get $vnan))
      (local.set $q (local.get $row))
      (block $b (loop $l
        (br_if $b (i32.gt_u (i32.add (local.get $q) (i32.const 64)) (local.get $vend)))
        (local.set $v (v128.load (local.get $q)))
        (local.set $vmax (${V}.pmax (local.get $vmax) (local.get $v)))
        (local.set $vnan (${V}.add (local.get $vnan) (local.get $v)))
        (local.set $v (v128.load offset=16 (local.get $q)))
        (local.set $vmax2 (${V}.pmax (local.get $vmax2) (local.get $v)))
        (local.set $vnan2 (${V}.add (local.get $vnan2) (local.get $v)))
        (local.set $v (v128.load offset=32 (local.get $q)))
        (local.set $vmax3 (${V}.pmax (local.get $vmax3) (local.get $v)))
        (local.set $vnan3 (${V}.add (local.get $vnan3) (local.get $v)))
        (local.set $v (v128.load offset=48 (local.get $q)))
        (local.set $vmax4 (${V}.pmax (local.get $vmax4) (local.get $v)))
        (local.set $vnan4 (${V}.add (local.get $vnan4) (local.get $v)))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (br $l)))
      (block $b (loop $l
        (br_if $b (i32.ge_u (local.get $q) (local.get $vend)))
        (local.set $v (v128.load (local.get $q)))
        (local.set $vmax (${V}.pmax (local.get $vmax) (local.get $v)))
        (local.set $vnan (${V}.add (local.get $vnan) (local.get $v)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $l)))
      (local.set $vmax (${V}.pmax (${V}.pmax (local.get $vmax) (local.get $vmax2)) (${V}.pmax (local.get $vmax3) (local.get $vmax4))))
      (local.set $vnan (${V}.add (${V}.add (local.get $vnan) (local.get $vnan2)) (${V}.add (local.get $vnan3) (local.get $vnan4))))
      (local.set $max ${negInf})
${Array.from(
  { length: lanes },
  (_, k) => `      (local.set $z (${V}.extract_lane ${k} (local.get $vmax)))
      (if (${S}.gt (local.get $z) (local.get $max)) (then (local.set $max (local.get $z))))`,
).join('\n')}
      ;; $i: some lane of Σ z is not finite (x − x ≠ 0)
      (local.set $i (v128.any_true (${V}.ne (${V}.sub (local.get $vnan) (local.get $vnan)) (v128.const i64x2 0 0))))
      (block $b (loop $l
        (br_if $b (i32.ge_u (local.get $q) (local.get $end)))
        (local.set $z (${S}.load (local.get $q)))
        (if (${S}.gt (local.get $z) (local.get $max)) (then (local.set $max (local.get $z))))
        (if (${S}.ne (${S}.sub (local.get $z) (local.get $z)) (${S}.const 0)) (then (local.set $i (i32.const 1))))
        (local.set $q (i32.add (local.get $q) (i32.const ${bytes})))
        (br $l)))
      (if (i32.or (local.get $i) (i32.or (${S}.eq (local.get $max) (${S}.const inf)) (${S}.eq (local.get $max) ${negInf})))
        (then
          (f64.store (local.get $stats) ${toF64('(local.get $max)')})
          (f64.store offset=8 (local.get $stats) (f64.const -1)))
        (else
          ;; first index of the max: find the vector, then the lane
          (local.set $vmax (${V}.splat (local.get $max)))
          (local.set $q (local.get $row))
          (block $b (loop $l
            (br_if $b (i32.ge_u (local.get $q) (local.get $vend)))
            (br_if $b (v128.any_true (${V}.eq (v128.load (local.get $q)) (local.get $vmax))))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $l)))
          (block $b (loop $l
            (br_if $b (${S}.eq (${S}.load (local.get $q)) (local.get $max)))
            (local.set $q (i32.add (local.get $q) (i32.const ${bytes})))
            (br $l)))
          (local.set $argmax (local.get $q))
          (${S}.store (local.get $argmax) ${negInf})
          ;; e = exp(z − max) in place, rest = Σ e in f64
          (local.set $acc (v128.const i64x2 0 0))
          (local.set $q (local.get $row))
          (block $b (loop $l
            (br_if $b (i32.gt_u (i32.add (local.get $q) (i32.const 64)) (local.get $vend)))
            ${f32 ? '(local.set $part (v128.const i64x2 0 0))' : ''}
            ${expStep}${expStep}${expStep}${expStep}
            ${flush}
            (br $l)))
          (block $b (loop $l
            (br_if $b (i32.ge_u (local.get $q) (local.get $vend)))
            ${f32 ? '(local.set $part (v128.const i64x2 0 0))' : ''}
            ${expStep}
            ${flush}
            (br $l)))
          (local.set $rest (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))
          (block $b (loop $l
            (br_if $b (i32.ge_u (local.get $q) (local.get $end)))
            (local.set $z (${V}.extract_lane 0 ${exp(`(${V}.splat (${S}.sub (${S}.load (local.get $q)) (local.get $max)))`)}))
            (${S}.store (local.get $q) (local.get $z))
            (local.set $rest (f64.add (local.get $rest) ${toF64('(local.get $z)')}))
            (local.set $q (i32.add (local.get $q) (i32.const ${bytes})))
            (br $l)))
          (${S}.store (local.get $argmax) (${S}.const 1))
          (f64.store (local.get $stats) ${toF64('(local.get $max)')})
          (f64.store offset=8 (local.get $stats)
            (f64.convert_i32_u (i32.div_u (i32.sub (local.get $argmax) (local.get $row)) (i32.const ${bytes}))))
          (f64.store offset=16 (local.get $stats) (local.get $rest))))
      (local.set $row (local.get $end))
      (local.set $stats (i32.add (local.get $stats) (i32.const 24)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $rowLoop))))

  (func (export "scale_${t}") (param $ptr i32) (param $rows i32) (param $K i32) (param $coef i32)
    (local $end i32) (local $vend i32) (local $q i32) (local $c ${S}) (local $vc v128)
    (local.set $q (local.get $ptr))
    (block $done (loop $rowLoop
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $end (i32.add (local.get $q) (i32.mul (local.get $K) (i32.const ${bytes}))))
      (local.set $vend (i32.add (local.get $q) (i32.mul (i32.and (local.get $K) (i32.const ${-lanes})) (i32.const ${bytes}))))
      (local.set $c ${f32 ? '(f32.demote_f64 (f64.load (local.get $coef)))' : '(f64.load (local.get $coef))'})
      (local.set $vc (${V}.splat (local.get $c)))
      (block $b (loop $l
        (br_if $b (i32.gt_u (i32.add (local.get $q) (i32.const 32)) (local.get $vend)))
        (v128.store (local.get $q) (${V}.mul (v128.load (local.get $q)) (local.get $vc)))
        (v128.store offset=16 (local.get $q) (${V}.mul (v128.load offset=16 (local.get $q)) (local.get $vc)))
        (local.set $q (i32.add (local.get $q) (i32.const 32)))
        (br $l)))
      (block $b (loop $l
        (br_if $b (i32.ge_u (local.get $q) (local.get $end)))
        (${S}.store (local.get $q) (${S}.mul (${S}.load (local.get $q)) (local.get $c)))
        (local.set $q (i32.add (local.get $q) (i32.const ${bytes})))
        (br $l)))
      (local.set $coef (i32.add (local.get $coef) (i32.const 8)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $rowLoop))))
`;
}

// exp_f32/exp_f64(ptr, n): in-place exp of n values (n a multiple of the lane count), for scripts/verify-exp.mjs.
const expArray = (t) => {
  const f32 = t === 'f32';
  return `
  (func (export "exp_${t}") (param $q i32) (param $count i32)
    (local $end i32) (local $x v128) (local $n v128) (local $r v128) (local $p v128) (local $t v128) ${constLocals(t)}
    ${constants(t)}
    (local.set $end (i32.add (local.get $q) (i32.mul (local.get $count) (i32.const ${f32 ? 4 : 8}))))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q) (local.get $end)))
      (v128.store (local.get $q) ${(f32 ? exp32 : exp64)('(v128.load (local.get $q))')})
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br $l))))`;
};

// Label smoothing. sums(ptr, rows, K, out): Σ_j z_j per row in f64 (before the rows pass overwrites z).
// smooth(ptr, K, invTotal, logEnd, slope, logOneMinusEnd, fast, out, bt): with p_j = e_j · invTotal (every p_j ≤ 1/2:
// the caller zeroes the dominant class first), out ← [Σ b(p_j), Σ β(p_j)·p_j] in f64 and bt[j] ← β(p_j)·p_j, with
// b(p) = log(1 − p) or the tangent beyond logEnd, β·p = p/(1 − p) or slope·p. Two paths per vector:
// - every lane p ≤ fast (= min(2^-7, logEnd), the usual case): no division, log(1 − p) = −p·Σ_{k<n} p^k/(k + 1)
//   and p/(1 − p) = p·Σ_{k<n} p^k, n = SMALL_TERMS: relative truncation ≤ p^n/(1 − p) < 3.8e-9 (f32), 1.4e-17 (f64).
// - otherwise one division: R = 1/(D·(1 − p)); log(1 − p) = 2·atanh(s) (− ln2) with s = −p/(2 − p) = −p·(1 − p)·R,
//   D = 2 − p, or s = (1 − 2p)/(3 − 2p) = (1 − 2p)·(1 − p)·R, D = 3 − 2p, for p > 1 − √½; p/(1 − p) = p·D·R.
//   |s| ≤ 0.1716, atanh by its series to s^9 (f32) or s^19 (f64): relative truncation ≤ s^10/11 = 2.1e-9 and
//   s^20/21 = 2.4e-17.
// smoothGrad(ptr, K, bt, a, b, bRho): e_j ← a·e_j − b − bRho·bt[j] in place (bRho = b·ρ), no division.
// Terms of the division-free series, for p ≤ 2^-7 (the caller's `fast`, SMALL_P in src/wasm-kernel.ts).
const SMALL_TERMS = { f32: 4, f64: 8 };
function smooth(t) {
  const f32 = t === 'f32';
  const V = f32 ? 'f32x4' : 'f64x2';
  const S = t;
  const bytes = f32 ? 4 : 8;
  const lanes = 16 / bytes;
  const terms = f32 ? 5 : 10; // atanh(s)/s = Σ_{k<terms} s^{2k}/(2k+1)
  const small = SMALL_TERMS[t];
  const num = (v) => (Number.isInteger(v) ? String(v) : v.toPrecision(17));
  const splat = (v) => `(${V}.splat (${S}.const ${num(v)}))`;
  const fromF64 = (name) =>
    f32 ? `(${V}.splat (f32.demote_f64 (local.get ${name})))` : `(${V}.splat (local.get ${name}))`;
  const horner = (acc, x, coefficients) =>
    [
      `(local.set ${acc} ${splat(coefficients[0])})`,
      ...coefficients
        .slice(1)
        .map((c) => `(local.set ${acc} (${V}.add (${V}.mul (local.get ${acc}) ${x}) ${splat(c)}))`),
    ].join('\n        ');
  // b and β·p of the vector $e into $b and $bt.
  const bonus = (e) => `
      (local.set $p (${V}.mul ${e} (local.get $vinv)))
      (if (v128.any_true (${V}.gt (local.get $p) (local.get $vfast)))
        (then
        (local.set $tan (${V}.gt (local.get $p) (local.get $vend)))
        (local.set $big (${V}.gt (local.get $p) (local.get $vsplit)))
        (local.set $d (v128.bitselect (${V}.sub (local.get $vthree) (${V}.add (local.get $p) (local.get $p))) (${V}.sub (local.get $vtwo) (local.get $p)) (local.get $big)))
        (local.set $m (${V}.sub (local.get $vone) (local.get $p)))
        (local.set $q (${V}.div (local.get $vone) (${V}.mul (local.get $d) (local.get $m))))
        (local.set $s (${V}.mul (${V}.mul
          (v128.bitselect (${V}.sub (local.get $vone) (${V}.add (local.get $p) (local.get $p))) (${V}.neg (local.get $p)) (local.get $big))
          (local.get $m)) (local.get $q)))
        (local.set $bt (v128.bitselect (${V}.mul (local.get $vslope) (local.get $p))
          (${V}.mul (${V}.mul (local.get $p) (local.get $d)) (local.get $q)) (local.get $tan)))
        (local.set $s2 (${V}.mul (local.get $s) (local.get $s)))
        ${horner(
          '$q',
          '(local.get $s2)',
          Array.from({ length: terms }, (_, i) => 1 / (2 * (terms - 1 - i) + 1)),
        )}
        (local.set $b (${V}.add (${V}.mul (${V}.add (local.get $s) (local.get $s)) (local.get $q))
          (v128.and (${V}.neg (local.get $vln2)) (local.get $big))))
        (local.set $b (v128.bitselect
          (${V}.sub (local.get $vlog) (${V}.mul (${V}.sub (local.get $p) (local.get $vend)) (local.get $vslope)))
          (local.get $b) (local.get $tan))))
        (else
        ${horner(
          '$q',
          '(local.get $p)',
          Array.from({ length: small }, (_, i) => 1 / (small - i)),
        )}
        (local.set $b (${V}.neg (${V}.mul (local.get $p) (local.get $q))))
        ${horner(
          '$q',
          '(local.get $p)',
          Array.from({ length: small }, () => 1),
        )}
        (local.set $bt (${V}.mul (local.get $p) (local.get $q)))))`;
  const locals = `(local $q2 i32) (local $end i32) (local $vend2 i32) (local $vinv v128) (local $vend v128) (local $vslope v128)
    (local $vlog v128) (local $vone v128) (local $vtwo v128) (local $vthree v128) (local $vln2 v128) (local $vsplit v128)
    (local $vfast v128) (local $p v128) (local $tan v128) (local $big v128) (local $s v128) (local $s2 v128) (local $q v128)
    (local $b v128) (local $bt v128) (local $d v128) (local $m v128)`;
  const setup = `
    (local.set $vinv ${fromF64('$invTotal')}) (local.set $vend ${fromF64('$logEnd')}) (local.set $vslope ${fromF64('$slope')})
    (local.set $vfast ${fromF64('$fast')})
    (local.set $vone ${splat(1)}) (local.set $vtwo ${splat(2)}) (local.set $vthree ${splat(3)})
    (local.set $vln2 ${splat(Math.LN2)}) (local.set $vsplit ${splat(1 - Math.SQRT1_2)})
    (local.set $end (i32.add (local.get $ptr) (i32.mul (local.get $K) (i32.const ${bytes}))))
    (local.set $vend2 (i32.add (local.get $ptr) (i32.mul (i32.and (local.get $K) (i32.const ${-lanes})) (i32.const ${bytes}))))
    (local.set $q2 (local.get $ptr))`;
  const acc = (name, v) =>
    f32
      ? `(local.set ${name} (f64x2.add (local.get ${name}) (f64x2.add (f64x2.promote_low_f32x4 ${v})
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${v} ${v})))))`
      : `(local.set ${name} (f64x2.add (local.get ${name}) ${v}))`;
  const accTail = (name, v) =>
    `(local.set ${name} (f64.add (local.get ${name}) ${f32 ? `(f64.promote_f32 ${v})` : v}))`;
  return `
  (func (export "sums_${t}") (param $ptr i32) (param $rows i32) (param $K i32) (param $out i32)
    (local $end i32) (local $vend i32) (local $acc v128) (local $v v128) (local $sum f64)
    (block $done (loop $rowLoop
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $end (i32.add (local.get $ptr) (i32.mul (local.get $K) (i32.const ${bytes}))))
      (local.set $vend (i32.add (local.get $ptr) (i32.mul (i32.and (local.get $K) (i32.const ${-lanes})) (i32.const ${bytes}))))
      (local.set $acc (v128.const i64x2 0 0))
      (block $b (loop $l
        (br_if $b (i32.ge_u (local.get $ptr) (local.get $vend)))
        (local.set $v (v128.load (local.get $ptr)))
        ${acc('$acc', '(local.get $v)')}
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $l)))
      (local.set $sum (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))
      (block $b (loop $l
        (br_if $b (i32.ge_u (local.get $ptr) (local.get $end)))
        ${accTail('$sum', `(${S}.load (local.get $ptr))`)}
        (local.set $ptr (i32.add (local.get $ptr) (i32.const ${bytes})))
        (br $l)))
      (f64.store (local.get $out) (local.get $sum))
      (local.set $out (i32.add (local.get $out) (i32.const 8)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $rowLoop))))

  (func (export "smooth_${t}") (param $ptr i32) (param $K i32) (param $invTotal f64) (param $logEnd f64)
    (param $slope f64) (param $logOneMinusEnd f64) (param $fast f64) (param $out i32) (param $btPtr i32)
    ${locals} (local $sb v128) (local $sbt v128) (local $tb f64) (local $tbt f64)
    ${setup}
    (local.set $vlog ${fromF64('$logOneMinusEnd')})
    (local.set $sb (v128.const i64x2 0 0)) (local.set $sbt (v128.const i64x2 0 0))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q2) (local.get $vend2)))
      ${bonus('(v128.load (local.get $q2))')}
      (v128.store (local.get $btPtr) (local.get $bt))
      ${acc('$sb', '(local.get $b)')}
      ${acc('$sbt', '(local.get $bt)')}
      (local.set $q2 (i32.add (local.get $q2) (i32.const 16)))
      (local.set $btPtr (i32.add (local.get $btPtr) (i32.const 16)))
      (br $l)))
    (local.set $tb (f64.add (f64x2.extract_lane 0 (local.get $sb)) (f64x2.extract_lane 1 (local.get $sb))))
    (local.set $tbt (f64.add (f64x2.extract_lane 0 (local.get $sbt)) (f64x2.extract_lane 1 (local.get $sbt))))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q2) (local.get $end)))
      ${bonus(`(${V}.splat (${S}.load (local.get $q2)))`)}
      (${S}.store (local.get $btPtr) (${V}.extract_lane 0 (local.get $bt)))
      ${accTail('$tb', `(${V}.extract_lane 0 (local.get $b))`)}
      ${accTail('$tbt', `(${V}.extract_lane 0 (local.get $bt))`)}
      (local.set $q2 (i32.add (local.get $q2) (i32.const ${bytes})))
      (local.set $btPtr (i32.add (local.get $btPtr) (i32.const ${bytes})))
      (br $l)))
    (f64.store (local.get $out) (local.get $tb))
    (f64.store offset=8 (local.get $out) (local.get $tbt)))

  (func (export "smooth_grad_${t}") (param $ptr i32) (param $K i32) (param $btPtr i32) (param $a f64) (param $bb f64)
    (param $bRho f64)
    (local $end i32) (local $vend i32) (local $va v128) (local $vb v128) (local $vbr v128) (local $sa ${S}) (local $sb ${S}) (local $sbr ${S})
    (local.set $sa ${f32 ? '(f32.demote_f64 (local.get $a))' : '(local.get $a)'})
    (local.set $sb ${f32 ? '(f32.demote_f64 (local.get $bb))' : '(local.get $bb)'})
    (local.set $sbr ${f32 ? '(f32.demote_f64 (local.get $bRho))' : '(local.get $bRho)'})
    (local.set $va (${V}.splat (local.get $sa))) (local.set $vb (${V}.splat (local.get $sb))) (local.set $vbr (${V}.splat (local.get $sbr)))
    (local.set $end (i32.add (local.get $ptr) (i32.mul (local.get $K) (i32.const ${bytes}))))
    (local.set $vend (i32.add (local.get $ptr) (i32.mul (i32.and (local.get $K) (i32.const ${-lanes})) (i32.const ${bytes}))))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $ptr) (local.get $vend)))
      (v128.store (local.get $ptr) (${V}.sub (${V}.sub (${V}.mul (local.get $va) (v128.load (local.get $ptr))) (local.get $vb))
        (${V}.mul (local.get $vbr) (v128.load (local.get $btPtr)))))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
      (local.set $btPtr (i32.add (local.get $btPtr) (i32.const 16)))
      (br $l)))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $ptr) (local.get $end)))
      (${S}.store (local.get $ptr) (${S}.sub (${S}.sub (${S}.mul (local.get $sa) (${S}.load (local.get $ptr))) (local.get $sb))
        (${S}.mul (local.get $sbr) (${S}.load (local.get $btPtr)))))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const ${bytes})))
      (local.set $btPtr (i32.add (local.get $btPtr) (i32.const ${bytes})))
      (br $l))))
`;
}

const wat = `;; Generated by scripts/build-wasm.mjs — do not edit by hand.
(module
  (memory (export "memory") ${INITIAL_PAGES})
  ${dataSegment()}
${kernel('f32')}
${kernel('f64')}
${smooth('f32')}
${smooth('f64')}
${expArray('f32')}
${expArray('f64')}
)
`;

const wabt = await wabtInit();
const module = wabt.parseWat('kernel.wat', wat, { simd: true });
module.validate();
const { buffer } = module.toBinary({});
module.destroy();
const base64 = Buffer.from(buffer).toString('base64');
const ts = `// Generated by scripts/build-wasm.mjs from src/wasm/kernel.wat — do not edit by hand.
/** The WebAssembly SIMD kernel (${buffer.length} bytes), base64. */
export const KERNEL_WASM_BASE64 =
  '${base64}';
`;
const watUrl = new URL('../src/wasm/kernel.wat', import.meta.url);
const tsUrl = new URL('../src/wasm/kernel-bytes.ts', import.meta.url);
if (process.argv.includes('--check')) {
  const stale = [
    [watUrl, wat],
    [tsUrl, ts],
  ].filter(([url, text]) => {
    try {
      return readFileSync(url, 'utf8') !== text;
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(`Stale: ${stale.map(([url]) => url.pathname).join(', ')}; run pnpm build:wasm.`);
    process.exit(1);
  }
} else {
  writeFileSync(watUrl, wat);
  writeFileSync(tsUrl, ts);
  console.log(`kernel.wat → ${buffer.length} bytes of WebAssembly`);
}
