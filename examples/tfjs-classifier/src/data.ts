import { seededRandom } from '@encouraging-loss/core';
/** A seeded multi-class dataset: Gaussian blobs in D dimensions whose centres are close enough to overlap. */
export interface Dataset {
  /** Features `[N, D]`, row-major. */
  features: Float32Array;
  /** Class indices `[N]`. */
  labels: Int32Array;
  count: number;
  dimensions: number;
  classes: number;
}

/** Options of {@link gaussianMixture}. */
export interface MixtureOptions {
  /** Examples per class. */
  perClass: number;
  classes: number;
  dimensions: number;
  /** Standard deviation of each blob; the centres are drawn from N(0, 1) per coordinate. Default 0.9. */
  spread?: number;
  /** Seed of the centres (shared by the train and test splits of one task). */
  taskSeed: number;
  /** Seed of the samples. */
  sampleSeed: number;
}

/** Mulberry32, seeded: core's one generator. */
export const seeded = seededRandom;

/** Standard normal draws by Box–Muller. */
function normals(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Draws a Gaussian mixture: `perClass` examples around each of `classes` centres, interleaved by class. */
export function gaussianMixture(options: MixtureOptions): Dataset {
  const { perClass, classes, dimensions, spread = 0.9 } = options;
  const centreNormal = normals(seeded(options.taskSeed));
  const centres = Array.from({ length: classes }, () => Array.from({ length: dimensions }, centreNormal));
  const sampleNormal = normals(seeded(options.sampleSeed));
  const count = perClass * classes;
  const features = new Float32Array(count * dimensions);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let d = 0; d < dimensions; d++)
      features[i * dimensions + d] = centres[c][d] + spread * sampleNormal();
  }
  return { features, labels, count, dimensions, classes };
}
