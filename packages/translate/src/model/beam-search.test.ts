import { describe, expect, test } from 'vitest';
import { BeamSearch } from './beam-search.js';

/*
 * `forcedBosTokenId` (HF's ForcedBOSTokenLogitsProcessor, NLLB-200 / M2M100's target language) on a scripted
 * distribution: whatever the first step's log-probabilities say, the forced token is the only candidate, with
 * log-probability 0, and the search goes on from it.
 */

// Vocabulary of 6: </s> = 0, <pad> = 1 (also the decoder start), language token 5.
const config = {
  eos_token_id: 0,
  pad_token_id: 1,
  decoder_start_token_id: 1,
  vocab_size: 6,
  max_position_embeddings: 64,
};
const row = (probabilities: number[]) => probabilities.map(Math.log);
// The first step would pick token 2 (0.9); the language token 5 is the least likely.
const FIRST = row([0.02, 0, 0.9, 0.05, 0.02, 0.01]);
// From the language token: 3 (0.6) or 4 (0.4); then </s>.
const SECOND = row([0, 0, 0, 0.6, 0.4, 0]);
const LAST = row([1, 0, 0, 0, 0, 0]);

function run(beam: number, forcedBosTokenId: number | undefined): { tokens: number[][]; rows: number[] } {
  const search = new BeamSearch([3, 3], config, { beam, forcedBosTokenId, lengthPenalty: 0 });
  const steps = [FIRST, SECOND, LAST, LAST];
  const rows: number[] = [];
  for (let step = 0; !search.done; step++) {
    rows.push(search.rows);
    const logProbs = Array.from({ length: search.rows }, () => steps[step]).flat();
    const { rows: moved } = search.step(logProbs);
    expect(moved.length).toBeLessThanOrEqual(2 * beam);
  }
  return { tokens: search.best(), rows };
}

describe('BeamSearch forcedBosTokenId', () => {
  test.each([1, 3])('beam %i: the forced token comes first, then the search as usual', (beam) => {
    const forced = run(beam, 5);
    expect(forced.tokens).toEqual([
      [5, 3],
      [5, 3],
    ]);
    // One live row per sentence after the forced step (a single candidate), then up to `beam`.
    expect(forced.rows[0]).toBe(2);
    expect(forced.rows[1]).toBe(2);
    const free = run(beam, undefined);
    expect(free.tokens.every((tokens) => tokens[0] === 2)).toBe(true);
  });

  test('the forced step adds log-probability 0 (only later tokens rank hypotheses)', () => {
    // Beam 2 keeps both continuations of the forced token; with α = 0 the best is the likelier one, 5 3 </s>.
    const search = new BeamSearch([3], config, { beam: 2, forcedBosTokenId: 5, lengthPenalty: 0 });
    search.step(FIRST);
    expect(search.lastTokens()).toEqual([5]);
    search.step(SECOND);
    expect(search.lastTokens()).toEqual([3, 4]);
    search.step([...LAST, ...LAST]);
    expect(search.done).toBe(true);
    expect(search.best()).toEqual([[5, 3]]);
  });
});
