import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import results from '../results.json' with { type: 'json' };
import { type LossName, type ResultRow, runOnce, withResultsTable } from './experiment.js';

const regenerate =
  'the published figures are stale: regenerate them with `pnpm --filter @encouraging-loss/example-tfjs-classifier build && pnpm --filter @encouraging-loss/example-tfjs-classifier start` and commit results.json and README.md';

describe('the committed results', () => {
  it('README.md shows the table results.json gives', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(withResultsTable(readme, results.results as ResultRow[]), regenerate).toBe(readme);
  });

  // Runs are deterministic (seeded data and weights, no shuffling), so a change to the library that moves a
  // training trajectory shows up here as a different accuracy: seed 1 of every loss, as main.ts runs it.
  it('seed 1 of every loss reproduces results.json', async () => {
    tf.env().set('PROD', true);
    await tf.setBackend('wasm');
    const seed = results.seeds[0];
    for (const row of results.results) {
      const accuracy = await runOnce({ loss: row.loss as LossName, seed });
      expect(accuracy, `${row.loss}, seed ${seed}: ${regenerate}`).toBe(row.accuracies[0]);
    }
  }, 900_000);
});
