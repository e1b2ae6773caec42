// Generates the WebAssembly SIMD kernel: writes src/wasm/kernel.wat (readable) and src/wasm/kernel-bytes.ts (the
// assembled module as base64, checked in so tests and the build need no extra step).
// Run after editing this file: `pnpm build:wasm` (in packages/core). `--check` fails if the checked-in files are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

// exp(x) for a v128 of x ≤ 0: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2 (ln2 = C1 + C2 with C1 short, so
// n·C1 and x − n·C1 are exact), n rounded to nearest by adding 1.5·2^(mantissa bits) (whose low bits then hold n),
// e^r by a polynomial, 2^n added to the exponent bits. Lanes with x ≤ low (where 2^n would leave the normal range),
// −∞ and NaN give 0. Polynomials 1 + r·Q(r) (so exp(0) = 1 exactly, as for ties at the max), Q a Chebyshev fit
// (mpmath.chebyfit) of (e^r − 1)/r on |r| ≤ 0.3468 (f32, P of degree 5) and |r| ≤ 0.34660 (f64, degree 9),
// coefficients rounded to the float type; relative error of the rounded polynomials 2.03e-7 and 3.70e-14. Whole
// exp: see scripts/verify-exp.mjs (every float32 input) and docs/performance.md (the float64 bound).
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
    log2e: Math.LOG2E,
    shifter: 1.5 * 2 ** 52,
    c1: 0x162e42fee * 2 ** -33, // fdlibm's ln2_hi
    c2: 0x1a39ef35793c76 * 2 ** -85, // ln2_lo
    ...poly([
      2.7625112348132093e-6, 2.487617540442212e-5, 0.0001984120873835699, 0.001388882165712301,
      0.008333333353726484, 0.041666666891059634, 0.16666666666648292, 0.4999999999979781, 1, 1,
    ]),
    low: -708,
  },
};
function poly(coefficients) {
  return Object.fromEntries(coefficients.map((c, i) => [`p${i}`, c]));
}
const CONSTANT_BASE = { f32: 0, f64: 64 };
/** Bytes below this hold the constants; the caller's data starts here. */
export const DATA_START = 256;
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
const dataSegment = () => {
  const bytes = new Uint8Array(DATA_START);
  new Float32Array(bytes.buffer, CONSTANT_BASE.f32).set(Object.values(CONSTANTS.f32));
  new Float64Array(bytes.buffer, CONSTANT_BASE.f64).set(Object.values(CONSTANTS.f64));
  const end = CONSTANT_BASE.f64 + 8 * Object.keys(CONSTANTS.f64).length;
  return `(data (i32.const 0) "${Array.from(bytes.subarray(0, end), (b) => `\\${b.toString(16).padStart(2, '0')}`).join('')}")`;
};
const k = (name) => `(local.get $k_${name})`;

function exp(t, x) {
  const V = t === 'f32' ? 'f32x4' : 'f64x2';
  const I = t === 'f32' ? 'i32x4' : 'i64x2';
  const degree = Object.keys(CONSTANTS[t]).filter((name) => name.startsWith('p')).length - 1;
  return `
      (local.set $x ${x})
      (local.set $n (${V}.add (${V}.mul (local.get $x) ${k('log2e')}) ${k('shifter')}))
      (local.set $r (${V}.sub (local.get $n) ${k('shifter')}))
      (local.set $r (${V}.sub (${V}.sub (local.get $x) (${V}.mul (local.get $r) ${k('c1')})) (${V}.mul (local.get $r) ${k('c2')})))
      (local.set $p ${k('p0')})
${Array.from({ length: degree }, (_, i) => `      (local.set $p (${V}.add (${V}.mul (local.get $p) (local.get $r)) ${k(`p${i + 1}`)}))`).join('\n')}
      (v128.and
        (${I}.add (local.get $p) (${I}.shl (local.get $n) (i32.const ${t === 'f32' ? 23 : 52})))
        (${V}.gt (local.get $x) ${k('low')}))`;
}
const exp32 = (x) => exp('f32', x);
const exp64 = (x) => exp('f64', x);

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
  const expLocals = '(local $x v128) (local $n v128) (local $r v128) (local $p v128)';
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
    (local $end i32) (local $x v128) (local $n v128) (local $r v128) (local $p v128) ${constLocals(t)}
    ${constants(t)}
    (local.set $end (i32.add (local.get $q) (i32.mul (local.get $count) (i32.const ${f32 ? 4 : 8}))))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q) (local.get $end)))
      (v128.store (local.get $q) ${(f32 ? exp32 : exp64)('(v128.load (local.get $q))')})
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br $l))))`;
};

// Label smoothing. sums(ptr, rows, K, out): Σ_j z_j per row in f64 (before the rows pass overwrites z).
// smooth(ptr, K, invTotal, logEnd, slope, logOneMinusEnd, out): with p_j = e_j · invTotal (every p_j ≤ 1/2: the
// caller zeroes the dominant class first), out ← [Σ b(p_j), Σ β(p_j)·p_j] in f64, b(p) = log(1 − p) or the tangent
// beyond logEnd, β·p = p/(1 − p) or slope·p. log(1 − p) = 2·atanh(s) (− ln2), s = −p/(2 − p), or
// s = (1 − 2p)/(3 − 2p) for p > 1 − √½: |s| ≤ 0.1716, atanh by its series to s^9 (f32) or s^19 (f64), relative
// truncation error ≤ s^10/11 = 2.1e-9 and s^20/21 = 2.4e-17.
// smoothGrad(ptr, K, invTotal, logEnd, slope, a, b, rho): e_j ← a·e_j − b·(1 + ρ·β(p_j)·p_j) in place.
function smooth(t) {
  const f32 = t === 'f32';
  const V = f32 ? 'f32x4' : 'f64x2';
  const S = t;
  const bytes = f32 ? 4 : 8;
  const lanes = 16 / bytes;
  const terms = f32 ? 5 : 10; // atanh(s)/s = Σ_{k<terms} s^{2k}/(2k+1)
  const splat = (v) => `(${V}.splat (${S}.const ${v}))`;
  const fromF64 = (name) =>
    f32 ? `(${V}.splat (f32.demote_f64 (local.get ${name})))` : `(${V}.splat (local.get ${name}))`;
  // b and β·p of the vector $e into $b and $bt.
  const bonus = (e) => `
      (local.set $p (${V}.mul ${e} (local.get $vinv)))
      (local.set $tan (${V}.gt (local.get $p) (local.get $vend)))
      (local.set $big (${V}.gt (local.get $p) (local.get $vsplit)))
      (local.set $s (${V}.div
        (v128.bitselect (${V}.sub (local.get $vone) (${V}.add (local.get $p) (local.get $p))) (${V}.neg (local.get $p)) (local.get $big))
        (v128.bitselect (${V}.sub (local.get $vthree) (${V}.add (local.get $p) (local.get $p))) (${V}.sub (local.get $vtwo) (local.get $p)) (local.get $big))))
      (local.set $s2 (${V}.mul (local.get $s) (local.get $s)))
      (local.set $q ${splat((1 / (2 * terms - 1)).toPrecision(17))})
${Array.from({ length: terms - 1 }, (_, i) => `      (local.set $q (${V}.add (${V}.mul (local.get $q) (local.get $s2)) ${splat((1 / (2 * (terms - 2 - i) + 1)).toPrecision(17))}))`).join('\n')}
      (local.set $b (${V}.add (${V}.mul (${V}.add (local.get $s) (local.get $s)) (local.get $q))
        (v128.and (${V}.neg (local.get $vln2)) (local.get $big))))
      (local.set $b (v128.bitselect
        (${V}.sub (local.get $vlog) (${V}.mul (${V}.sub (local.get $p) (local.get $vend)) (local.get $vslope)))
        (local.get $b) (local.get $tan)))
      (local.set $bt (v128.bitselect (${V}.mul (local.get $vslope) (local.get $p))
        (${V}.div (local.get $p) (${V}.sub (local.get $vone) (local.get $p))) (local.get $tan)))`;
  const locals = `(local $q2 i32) (local $end i32) (local $vend2 i32) (local $vinv v128) (local $vend v128) (local $vslope v128)
    (local $vlog v128) (local $vone v128) (local $vtwo v128) (local $vthree v128) (local $vln2 v128) (local $vsplit v128)
    (local $p v128) (local $tan v128) (local $big v128) (local $s v128) (local $s2 v128) (local $q v128) (local $b v128) (local $bt v128)`;
  const setup = `
    (local.set $vinv ${fromF64('$invTotal')}) (local.set $vend ${fromF64('$logEnd')}) (local.set $vslope ${fromF64('$slope')})
    (local.set $vone ${splat(1)}) (local.set $vtwo ${splat(2)}) (local.set $vthree ${splat(3)})
    (local.set $vln2 ${splat(Math.LN2.toPrecision(17))}) (local.set $vsplit ${splat((1 - Math.SQRT1_2).toPrecision(17))})
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
    (param $slope f64) (param $logOneMinusEnd f64) (param $out i32)
    ${locals} (local $sb v128) (local $sbt v128) (local $tb f64) (local $tbt f64)
    ${setup}
    (local.set $vlog ${fromF64('$logOneMinusEnd')})
    (local.set $sb (v128.const i64x2 0 0)) (local.set $sbt (v128.const i64x2 0 0))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q2) (local.get $vend2)))
      ${bonus('(v128.load (local.get $q2))')}
      ${acc('$sb', '(local.get $b)')}
      ${acc('$sbt', '(local.get $bt)')}
      (local.set $q2 (i32.add (local.get $q2) (i32.const 16)))
      (br $l)))
    (local.set $tb (f64.add (f64x2.extract_lane 0 (local.get $sb)) (f64x2.extract_lane 1 (local.get $sb))))
    (local.set $tbt (f64.add (f64x2.extract_lane 0 (local.get $sbt)) (f64x2.extract_lane 1 (local.get $sbt))))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q2) (local.get $end)))
      ${bonus(`(${V}.splat (${S}.load (local.get $q2)))`)}
      ${accTail('$tb', `(${V}.extract_lane 0 (local.get $b))`)}
      ${accTail('$tbt', `(${V}.extract_lane 0 (local.get $bt))`)}
      (local.set $q2 (i32.add (local.get $q2) (i32.const ${bytes})))
      (br $l)))
    (f64.store (local.get $out) (local.get $tb))
    (f64.store offset=8 (local.get $out) (local.get $tbt)))

  (func (export "smooth_grad_${t}") (param $ptr i32) (param $K i32) (param $invTotal f64) (param $logEnd f64)
    (param $slope f64) (param $a f64) (param $bb f64) (param $rho f64)
    ${locals} (local $va v128) (local $vb v128) (local $vrho v128) (local $e v128)
    ${setup}
    (local.set $va ${fromF64('$a')}) (local.set $vb ${fromF64('$bb')}) (local.set $vrho ${fromF64('$rho')})
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $q2) (local.get $end)))
      (if (i32.le_u (local.get $q2) (i32.sub (local.get $vend2) (i32.const 16)))
        (then (local.set $e (v128.load (local.get $q2))))
        (else (local.set $e (${V}.splat (${S}.load (local.get $q2))))))
      (local.set $p (${V}.mul (local.get $e) (local.get $vinv)))
      (local.set $tan (${V}.gt (local.get $p) (local.get $vend)))
      (local.set $bt (v128.bitselect (${V}.mul (local.get $vslope) (local.get $p))
        (${V}.div (local.get $p) (${V}.sub (local.get $vone) (local.get $p))) (local.get $tan)))
      (local.set $e (${V}.sub (${V}.mul (local.get $va) (local.get $e))
        (${V}.mul (local.get $vb) (${V}.add (local.get $vone) (${V}.mul (local.get $vrho) (local.get $bt))))))
      (if (i32.le_u (local.get $q2) (i32.sub (local.get $vend2) (i32.const 16)))
        (then
          (v128.store (local.get $q2) (local.get $e))
          (local.set $q2 (i32.add (local.get $q2) (i32.const 16))))
        (else
          (${S}.store (local.get $q2) (${V}.extract_lane 0 (local.get $e)))
          (local.set $q2 (i32.add (local.get $q2) (i32.const ${bytes})))))
      (br $l))))
`;
}

const wat = `;; Generated by scripts/build-wasm.mjs — do not edit by hand.
(module
  (memory (export "memory") 1)
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
