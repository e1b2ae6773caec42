/**
 * One step of mulberry32 (a 32-bit-state generator, period 2³²): the state after `state`. The whole state is one
 * uint32, so a training run can checkpoint it and resume the exact stream.
 */
export function mulberry32Next(state: number): number {
  return (state + 0x6d2b79f5) >>> 0;
}

/** The uniform in [0, 1) that mulberry32 yields for an advanced state (from {@link mulberry32Next}). */
export function mulberry32Value(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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
    state = mulberry32Next(state);
    return mulberry32Value(state);
  };
}
