// Measures the error of the WASM kernel's vectorised exp (docs/performance.md derives the bounds).
// float32: every float32 x in (−86.5, 0] (about 1.1e9 values; the kernel only evaluates x = z − max ≤ 0) against
// Math.exp in float64, so the float32 maximum is a proof, not a sample.
// float64: (1) every entry of the 2^(j/N) table against decimal.js at 40 digits (≤ 0.5 ulp: correctly rounded);
// (2) 2e5 x in (−708, 0] against decimal.js at 40 digits: uniform, near 0, and both ends of reduction intervals
// (|r| largest), x converted to decimal exactly; (3) 2e7 x against Math.exp (itself within 1 ulp), a denser check.
// Run: `node scripts/verify-exp.mjs` (about a minute).
import { readFileSync } from 'node:fs';
import DecimalJs from 'decimal.js';

const Decimal = DecimalJs.clone({ precision: 40 });

const source = readFileSync(new URL('../src/wasm/kernel-bytes.ts', import.meta.url), 'utf8');
const base64 = /'([A-Za-z0-9+/=]+)'/.exec(source)[1];
const { exports: wasm } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64')));
const DATA_START = wasm.data_start.value;
const TABLE = wasm.exp_table.value;
const TABLE_SIZE = (DATA_START - TABLE) / 8;
const batch = 1 << 20;
wasm.memory.grow(Math.ceil((DATA_START + batch * 8) / 65536));

// float32, exhaustive: bit patterns from −0 (0x80000000) up to −86.5 (0xc2ad0000), exclusive.
{
  const bits = new Uint32Array(wasm.memory.buffer, DATA_START, batch);
  const values = new Float32Array(wasm.memory.buffer, DATA_START, batch);
  const inputs = new Float32Array(batch);
  let worst = 0;
  let worstX = 0;
  const first = 0x80000000;
  const last = 0xc2ad0000;
  for (let start = first; start < last; start += batch) {
    const count = Math.min(batch, last - start) & ~3;
    for (let i = 0; i < count; i++) bits[i] = start + i;
    inputs.set(values.subarray(0, count));
    wasm.exp_f32(DATA_START, count);
    for (let i = 0; i < count; i++) {
      const x = inputs[i];
      const exact = Math.exp(x);
      const error = Math.abs(values[i] - exact) / exact;
      if (error > worst) {
        worst = error;
        worstX = x;
      }
    }
  }
  const low = new Float32Array([-86.5, -86.50001, -100, Number.NEGATIVE_INFINITY]);
  values.set(low);
  wasm.exp_f32(DATA_START, 4);
  const flushed = Array.from(values.subarray(0, 4)).every((v) => v === 0);
  console.log(
    `float32 exp: max relative error ${worst.toExponential(3)} at x = ${worstX} over every float32 in (−86.5, 0]; ` +
      `x ≤ −86.5 and −∞ give 0: ${flushed}`,
  );
}

/** The exact value of a double as a Decimal (a decimal string of the shortest round trip is not exact). */
function exact(x) {
  if (x === 0) return new Decimal(0);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const exponent = (hi >>> 20) & 0x7ff;
  const mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  const m = exponent === 0 ? mantissa : mantissa | (1n << 52n);
  const e = (exponent === 0 ? 1 : exponent) - 1075;
  return new Decimal(m.toString()).mul(new Decimal(2).pow(e)).mul(Math.sign(x));
}

// float64 (1): the table. Entry j holds the bits of T_j minus j·2^(52 − log2 N).
{
  const table = new BigInt64Array(wasm.memory.buffer, TABLE, TABLE_SIZE);
  const shift = BigInt(52 - Math.log2(TABLE_SIZE));
  const view = new DataView(new ArrayBuffer(8));
  let worst = 0;
  for (let j = 0; j < TABLE_SIZE; j++) {
    view.setBigInt64(0, table[j] + (BigInt(j) << shift));
    const t = view.getFloat64(0);
    const reference = new Decimal(2).pow(new Decimal(j).div(TABLE_SIZE));
    const ulps = exact(t)
      .sub(reference)
      .abs()
      .div(2 ** -52)
      .toNumber();
    worst = Math.max(worst, ulps);
  }
  console.log(
    `float64 exp table: ${TABLE_SIZE} entries 2^(j/${TABLE_SIZE}), max error ${worst.toFixed(4)} ulp`,
  );
}

let seed = 1;
const random = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32 + Math.imul(seed, 2654435761) / 2 ** 64;
};
const step = Math.LN2 / TABLE_SIZE;
// Uniform in [−708, 0] and in [−2, 0], and (k + 1/2)·ln2/N, where |r| is largest.
const sample = (i) =>
  i % 3 === 0
    ? -708 * random()
    : i % 3 === 1
      ? -2 * random()
      : -(Math.floor(random() * (708 / step)) + 0.5) * step * (1 + (random() - 0.5) * 1e-12);

// float64 (2): against 40-digit decimal exp.
{
  const count = 200_000;
  const values = new Float64Array(wasm.memory.buffer, DATA_START, count);
  const inputs = Float64Array.from({ length: count }, (_, i) => sample(i));
  inputs.set([0, -1e-300, -step / 2, -step / 2 - 1e-18, -707.99]);
  values.set(inputs);
  wasm.exp_f64(DATA_START, count);
  let worst = 0;
  let worstX = 0;
  for (let i = 0; i < count; i++) {
    const x = inputs[i];
    if (!(x > -708)) continue;
    const reference = exact(x).exp();
    const error = exact(values[i]).sub(reference).abs().div(reference).toNumber();
    if (error > worst) {
      worst = error;
      worstX = x;
    }
  }
  console.log(
    `float64 exp: max relative error ${worst.toExponential(3)} at x = ${worstX} over ${count} samples in (−708, 0] ` +
      'against 40-digit decimal exp',
  );
}

// float64 (3): denser, against Math.exp.
{
  const values = new Float64Array(wasm.memory.buffer, DATA_START, batch);
  const inputs = new Float64Array(batch);
  let worst = 0;
  let worstX = 0;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < batch; i++) inputs[i] = sample(i);
    values.set(inputs);
    wasm.exp_f64(DATA_START, batch);
    for (let i = 0; i < batch; i++) {
      const x = inputs[i];
      if (!(x > -708)) continue;
      const reference = Math.exp(x);
      const error = Math.abs(values[i] - reference) / reference;
      if (error > worst) {
        worst = error;
        worstX = x;
      }
    }
  }
  const low = new Float64Array([-708, -708.5, -1000, Number.NEGATIVE_INFINITY, 0, -0]);
  values.set(low);
  wasm.exp_f64(DATA_START, 6);
  const ends = Array.from(values.subarray(0, 6));
  console.log(
    `float64 exp: max relative difference ${worst.toExponential(3)} at x = ${worstX} over ${20 * batch} samples ` +
      `against Math.exp (within 1 ulp itself); x ≤ −708 and −∞ give 0: ${ends.slice(0, 4).every((v) => v === 0)}; ` +
      `exp(±0) = 1: ${ends[4] === 1 && ends[5] === 1}`,
  );
}
