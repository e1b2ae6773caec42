import fc from 'fast-check';
import { expect, test } from 'vitest';
import { ADAM_SHARED, ADAM_UNSHARED } from './adam-bytes.js';

// The module on its own memory (HostAdam's tests run it on tfjs's heap, optimizer.test.ts): both variants, the
// shared one as tfjs-backend-wasm's threaded build would instantiate it.
interface Exports {
  adam(...args: number[]): void;
  squares(g: number, n: number): number;
}

function instantiate(base64: string, memory: WebAssembly.Memory): Exports {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports as unknown as Exports;
}

const variants = [
  { name: 'unshared', base64: ADAM_UNSHARED, memory: () => new WebAssembly.Memory({ initial: 1 }) },
  {
    name: 'shared',
    base64: ADAM_SHARED,
    memory: () => new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }),
  },
];

for (const { name, base64, memory: makeMemory } of variants) {
  test(`${name} memory: squares is Σ g² in float64 and adam the float32 formula, any length`, () => {
    fc.assert(
      fc.property(
        fc.float32Array({
          minLength: 0,
          maxLength: 37,
          noDefaultInfinity: true,
          noNaN: true,
          min: -4,
          max: 4,
        }),
        fc.float32Array({ minLength: 37, maxLength: 37, noNaN: true, min: -1, max: 1 }),
        (g, m0) => {
          const memory = makeMemory();
          const kernel = instantiate(base64, memory);
          const n = g.length;
          // p at 0, out at 256, g at 512, m at 768, v at 1024 (bytes); unaligned by 4 to exercise any alignment.
          const heap = new Float32Array(memory.buffer);
          const p = Float32Array.from({ length: n }, (_, i) => i / 7 - 2);
          const m = m0.slice(0, n);
          const v = Float32Array.from(m, (x) => x * x);
          heap.set(p, 1);
          heap.set(g, 129);
          heap.set(m, 193);
          heap.set(v, 257);
          let want = 0;
          for (const x of g) want += x * x;
          const got = kernel.squares(516, n);
          expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-14 * want);
          const c = { scale: 0.75, beta1: 0.9, beta2: 0.98, step: 0.01, root: 1.5, epsilon: 1e-9 };
          kernel.adam(
            4,
            260,
            516,
            772,
            1028,
            n,
            c.scale,
            c.beta1,
            1 - c.beta1,
            c.beta2,
            1 - c.beta2,
            c.step,
            c.root,
            c.epsilon,
          );
          const f = Math.fround;
          for (let i = 0; i < n; i++) {
            // The same operations one by one, each rounded to float32.
            const gamma = f(f(c.scale) * g[i]);
            const mi = f(f(f(c.beta1) * m[i]) + f(f(1 - c.beta1) * gamma));
            const vi = f(f(f(c.beta2) * v[i]) + f(f(f(1 - c.beta2) * gamma) * gamma));
            const denominator = f(f(f(Math.sqrt(vi)) * f(c.root)) + f(c.epsilon));
            const out = f(p[i] - f(f(f(c.step) * mi) / denominator));
            expect([heap[193 + i], heap[257 + i], heap[65 + i]]).toEqual([mi, vi, out]);
          }
          // Nothing written past n.
          expect(heap[65 + n]).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
}
