import { seededRandom } from '@encouraging-loss/core';
/** Mulberry32, seeded: core's one generator. */
export const mulberry32 = seededRandom;

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
