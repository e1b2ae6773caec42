import type { EncouragingLossOptions } from '@encouraging-loss/core';
import { EncouragingLossSession } from '@encouraging-loss/onnxruntime-web/session';
import { ort } from './runtime.js';
import type { ReferenceLogits } from './translator.js';

export const SCORED_LOSSES = ['CE', 'EL', 'CEL'] as const;
export type ScoredLoss = (typeof SCORED_LOSSES)[number];

/** The scoring controls. */
export interface ScoreSettings {
  logEnd: number;
  bonusWeight: number;
  labelSmoothing: number;
}

/** Per-token losses (`reduction: 'none'`) of each loss, and the target probability of each token. */
export interface TokenScores {
  probabilities: number[];
  losses: Record<ScoredLoss, number[]>;
}

/** The loss options of each column (the same mapping as the figure and the Train view). */
export function scoredLossOptions(loss: ScoredLoss, settings: ScoreSettings): EncouragingLossOptions {
  const common = { labelSmoothing: settings.labelSmoothing, reduction: 'none' as const };
  if (loss === 'CE') return { ...common, bonusWeight: 0, logEnd: 1 };
  if (loss === 'EL') return { ...common, bonusWeight: settings.bonusWeight, logEnd: 1 };
  return { ...common, bonusWeight: settings.bonusWeight, logEnd: settings.logEnd };
}

/** Softmax probability of each target, in float64 with the max shift. */
function targetProbabilities({ logits, targets, vocabulary }: ReferenceLogits): number[] {
  return targets.map((target, t) => {
    const row = logits.subarray(t * vocabulary, (t + 1) * vocabulary);
    let max = -Infinity;
    for (const z of row) max = Math.max(max, z);
    let sum = 0;
    for (const z of row) sum += Math.exp(z - max);
    return Math.exp(row[target] - max) / sum;
  });
}

/**
 * Scores the reference's tokens with CE, EL and CEL through `@encouraging-loss/onnxruntime-web` sessions (the loss
 * as an ONNX graph) on the page's ONNX Runtime: logits `[1, T, V]`, int64 targets `[1, T]`, per-token losses `[1, T]`.
 */
export async function scoreTokens(reference: ReferenceLogits, settings: ScoreSettings): Promise<TokenScores> {
  const length = reference.targets.length;
  const logits = new ort.Tensor('float32', reference.logits, [1, length, reference.vocabulary]);
  const targets = new ort.Tensor('int64', BigInt64Array.from(reference.targets, BigInt), [1, length]);
  const losses = {} as Record<ScoredLoss, number[]>;
  for (const loss of SCORED_LOSSES) {
    const session = await EncouragingLossSession.create(
      scoredLossOptions(loss, settings),
      { executionProviders: ['wasm'] },
      ort,
    );
    try {
      const result = await session.run(logits, targets);
      losses[loss] = Array.from(result.loss.data as Float32Array);
    } finally {
      await session.release();
    }
  }
  return { probabilities: targetProbabilities(reference), losses };
}
