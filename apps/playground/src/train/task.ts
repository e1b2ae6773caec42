import { seededRandom } from '@encouraging-loss/core';
/** A seeded 2-D classification task: K interleaved noisy spiral arms, the classic picture of a decision boundary. */
export interface Task {
  /** Points `[N, 2]`, row-major. */
  points: Float32Array;
  /** Class indices `[N]`. */
  labels: Int32Array;
  count: number;
  classes: number;
}

/** Options of {@link spirals}. */
export interface SpiralOptions {
  classes: number;
  perClass: number;
  /** Standard deviation of the Gaussian noise added to each point (the arms are about 1 apart at the rim). */
  noise: number;
  seed: number;
}

/** Mulberry32, seeded: core's one generator. */
export const seeded = seededRandom;

/** K spiral arms of radius 0 → 1 turning 1.25 times, sampled with noise; examples interleaved by class. */
export function spirals({ classes, perClass, noise, seed }: SpiralOptions): Task {
  const random = seeded(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const count = classes * perClass;
  const points = new Float32Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    const r = 0.1 + 0.9 * random();
    const angle = (2 * Math.PI * c) / classes + 2.5 * Math.PI * r;
    points[2 * i] = r * Math.cos(angle) + noise * normal();
    points[2 * i + 1] = r * Math.sin(angle) + noise * normal();
    labels[i] = c;
  }
  return { points, labels, count, classes };
}
