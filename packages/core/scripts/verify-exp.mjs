// Measures the error of the WASM kernel's vectorised exp against Math.exp (≤ 1 ulp in float64).
// float32: every float32 x in (−86.5, 0] (about 1.1e9 values; the kernel only evaluates x = z − max ≤ 0), so the
// float32 maximum is a proof, not a sample. float64: 2e7 random x in [−708, 0] plus the reduction boundaries; the
// float64 bound itself is derived in docs/performance.md. Run: `node scripts/verify-exp.mjs` (about a minute).
import { readFileSync } from 'node:fs';

const source = readFileSync(new URL('../src/wasm/kernel-bytes.ts', import.meta.url), 'utf8');
const base64 = /'([A-Za-z0-9+/=]+)'/.exec(source)[1];
const { exports: wasm } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64')));
const DATA_START = 256;
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

// float64, sampled.
{
  const values = new Float64Array(wasm.memory.buffer, DATA_START, batch);
  const inputs = new Float64Array(batch);
  let worst = 0;
  let worstX = 0;
  let seed = 1;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32 + Math.imul(seed, 2654435761) / 2 ** 64;
  };
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < batch; i++) {
      // Uniform in [−708, 0] and in [−2, 0], and n·ln2/2 boundaries (where |r| is largest).
      const kind = i % 3;
      inputs[i] =
        kind === 0
          ? -708 * random()
          : kind === 1
            ? -2 * random()
            : -(Math.floor(random() * 2040) + 0.5) * Math.LN2 * (1 + (random() - 0.5) * 1e-12);
    }
    values.set(inputs);
    wasm.exp_f64(DATA_START, batch);
    for (let i = 0; i < batch; i++) {
      const x = inputs[i];
      if (!(x > -708)) continue;
      const exact = Math.exp(x);
      const error = Math.abs(values[i] - exact) / exact;
      if (error > worst) {
        worst = error;
        worstX = x;
      }
    }
  }
  console.log(
    `float64 exp: max relative error ${worst.toExponential(3)} at x = ${worstX} over ${20 * batch} samples in (−708, 0] ` +
      '(Math.exp itself is within 1.1e-16)',
  );
}
