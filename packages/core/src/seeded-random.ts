/**
 * One step of mulberry32 (a 32-bit-state generator, period 2³²): the next state and the uniform in [0, 1) it
 * yields. The whole state is one uint32, so a training run can checkpoint it and resume the exact stream.
 */
export function mulberry32Step(state: number): { state: number; value: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { state: next, value: ((t ^ (t >>> 14)) >>> 0) / 4294967296 };
}

/**
 * A seeded generator of uniforms in [0, 1) (mulberry32): the one the conformance cases, the examples and the apps
 * draw their data, weights and batch orders from, so a run is a function of its seed.
 *
 * @example
 * ```ts
 * const random = seededRandom(1);
 * const logits = Array.from({ length: 12 }, () => 6 * random() - 3);
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const step = mulberry32Step(state);
    state = step.state;
    return step.value;
  };
}
