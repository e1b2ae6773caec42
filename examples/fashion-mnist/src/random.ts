/**
 * A seeded pseudo-random generator (mulberry32: 32-bit state, period 2^32), uniform in [0, 1). Every random choice
 * of a run (initial weights, batch order) draws from one of these, so a run is a function of its seed.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `values` in place (Fisher–Yates) with `random`, and returns it. */
export function shuffle<T extends { [i: number]: number; length: number }>(
  values: T,
  random: () => number,
): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const v = values[i];
    values[i] = values[j];
    values[j] = v;
  }
  return values;
}

/** `fanIn × fanOut` weights drawn from Glorot (Xavier) uniform, ±√(6 / (fanIn + fanOut)), as Keras initialises. */
export function glorotUniform(
  rows: number,
  columns: number,
  random: () => number,
  { fanIn = rows, fanOut = columns } = {},
): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const weights = new Float32Array(rows * columns);
  for (let i = 0; i < weights.length; i++) weights[i] = (2 * random() - 1) * limit;
  return weights;
}
