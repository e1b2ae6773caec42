import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { EncouragingLossError } from '@encouraging-loss/core';
import type { IDX_SHA256 } from './fashion-mnist.js';
import { describeLoss, LOSSES, type LossName } from './losses.js';
import { MODELS, type ModelName } from './models.js';
import type { TRAINING } from './train.js';

/** The two training sets. */
export const SETS = ['balanced', 'long-tailed'] as const;
export type SetName = (typeof SETS)[number];

/** One run's record in results.json. */
export interface RunRecord {
  model: ModelName;
  set: SetName;
  loss: LossName;
  seed: number;
  epochs: number;
  /** The loss as it ran (core options with defaults applied). */
  lossSettings: Record<string, unknown>;
  testAccuracy: number;
  perClassAccuracy: number[];
  ece: number;
  nll: number;
  trainLoss: number[];
  /** Test accuracy after each epoch (runs written before the curve was recorded have none). */
  testAccuracyByEpoch?: number[];
  seconds: number;
}

/** results.json. */
export interface ResultsFile {
  description: string;
  /** Settings every run shares; a file whose settings differ from the code's is not resumed. */
  settings: {
    idxSha256: typeof IDX_SHA256;
    training: typeof TRAINING;
    longTailedCounts: number[];
    models: Record<ModelName, string>;
  };
  environment: { node: string; backend: string; updated: string };
  runs: RunRecord[];
}

/** The file the experiment writes and the report reads: results.json beside package.json. */
export const RESULTS_URL = new URL('../results.json', import.meta.url);

/** Runs of the grid trained past its epochs (the longer-training check), read by the report beside results.json. */
export const LONGER_RESULTS_URL = new URL('../results-longer.json', import.meta.url);

/** Reads a results file, or returns undefined if there is none. */
export function readResults(path: URL | string = RESULTS_URL): ResultsFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
  } catch (error) {
    throw new EncouragingLossError(
      'INVALID_DATA',
      `${String(path)} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/** Writes the file whole (to a temporary name first, so an interruption never leaves half a file). */
export function writeResults(results: ResultsFile, path: URL | string = RESULTS_URL): void {
  const sorted = [...results.runs].sort(
    (a, b) =>
      MODELS.indexOf(a.model) - MODELS.indexOf(b.model) ||
      SETS.indexOf(a.set) - SETS.indexOf(b.set) ||
      LOSSES.indexOf(a.loss) - LOSSES.indexOf(b.loss) ||
      a.seed - b.seed,
  );
  const temporary = `${path instanceof URL ? path.pathname : path}.partial`;
  writeFileSync(temporary, `${JSON.stringify({ ...results, runs: sorted }, null, 2)}\n`);
  renameSync(temporary, path);
}

/**
 * Runs `update` (a read of the file, a merge, a write) while holding `<file>.lock`, so that two experiments writing
 * one results file (one per training set, say) never interleave their read and write and drop each other's run. The
 * lock is a file created exclusively; a lock older than `staleMs` (its holder died) is taken over.
 */
export function withResultsLock<T>(path: URL | string, update: () => T, staleMs = 60_000): T {
  const lock = `${path instanceof URL ? path.pathname : path}.lock`;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > staleMs) unlinkSync(lock);
      } catch {
        // Released (or taken over) between the two calls: try again.
      }
      Atomics.wait(pause, 0, 0, 20);
    }
  }
  try {
    return update();
  } finally {
    unlinkSync(lock);
  }
}

/** Whether `run` is the record of (model, set, loss, seed, epochs) with the loss as the code now defines it. */
export function isCurrent(
  run: RunRecord,
  model: ModelName,
  set: SetName,
  loss: LossName,
  seed: number,
  epochs: number,
) {
  return (
    run.model === model &&
    run.set === set &&
    run.loss === loss &&
    run.seed === seed &&
    run.epochs === epochs &&
    JSON.stringify(run.lossSettings) === JSON.stringify(describeLoss(loss))
  );
}
