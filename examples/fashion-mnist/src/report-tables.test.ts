import { describe, expect, it } from 'vitest';
import { classGroups, longerTrainingSection, resultsSection } from './report-tables.js';
import type { ResultsFile, RunRecord } from './results.js';

describe('classGroups', () => {
  it('splits the imbalance-100 counts into many > 100, medium 20–100, few < 20, and names the rarest three', () => {
    const groups = classGroups([6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]);
    expect(groups.map((g) => [g.name, g.classes])).toEqual([
      ['many (>100)', [0, 1, 2, 3, 4, 5, 6, 7]],
      ['medium (20–100)', [8, 9]],
      ['few (<20)', []],
      ['rarest 3', [7, 8, 9]],
    ]);
  });
});

describe('resultsSection', () => {
  /** The table row of `loss` in a section (the first table that has one). */
  const rowOf = (section: string, loss: string) =>
    section.split('\n').find((l) => l.startsWith(`| ${loss} |`)) ?? '';
  const run = (loss: RunRecord['loss'], seed: number, testAccuracy: number): RunRecord => ({
    model: 'mlp',
    set: 'balanced',
    loss,
    seed,
    epochs: 1,
    lossSettings: {},
    testAccuracy,
    perClassAccuracy: new Array(10).fill(testAccuracy),
    ece: 0.01,
    nll: 0.3,
    trainLoss: [0.5],
    seconds: 1,
  });
  const file = (runs: RunRecord[]) =>
    ({
      settings: {
        longTailedCounts: [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60],
        models: { mlp: 'MLP' },
      },
      runs,
    }) as unknown as ResultsFile;

  it('pairs by seed, and says win only when every one of at least 5 seeds agrees', () => {
    const ce = [0.8, 0.82, 0.81, 0.8, 0.8].map((a, i) => run('CE', i + 1, a));
    const el = [0.81, 0.83, 0.815, 0.81, 0.805].map((a, i) => run('EL', i + 1, a));
    const ls = [0.81, 0.81, 0.82, 0.81, 0.81].map((a, i) => run('LS-CE', i + 1, a));
    const section = resultsSection(file([...ce, ...el, ...ls]));
    // EL: 81, 83, 81.5, 81, 80.5 % → mean 81.40, sample std 0.96; EL − CE: +1, +1, +0.5, +1, +0.5 pp → +0.80 ± 0.27.
    expect(rowOf(section, 'EL')).toContain('| 81.40 ± 0.96 | +0.80 ± 0.27 [+0.5, +1.0] | 5↑ 0↓ of 5 | win |');
    // LS-CE − CE: +1, −1, +1, +1, +1 pp → +0.60 ± 0.89.
    expect(rowOf(section, 'LS-CE')).toContain('| +0.60 ± 0.89 [−1.0, +1.0] | 4↑ 1↓ of 5 | tie |');
    expect(section).toContain(
      'balanced: 3 losses × seeds 1,2,3,4,5, 1 epochs (15 runs); long-tailed: not run',
    );
  });

  it('gives no verdict from fewer than 5 seeds', () => {
    const section = resultsSection(
      file([run('CE', 1, 0.8), run('CE', 2, 0.8), run('EL', 1, 0.9), run('EL', 2, 0.9)]),
    );
    expect(section).toContain('| +10.00 ± 0.00 [+10.0, +10.0] | 2↑ 0↓ of 2 | (2 seeds) |');
  });

  it('shows only the seeds every arm has, so that means and paired differences are over the same seeds', () => {
    // CE has seed 3, EL not yet (an experiment stopped between the two): CE's mean is over seeds 1–2, not 1–3.
    const section = resultsSection(
      file([
        run('CE', 1, 0.8),
        run('CE', 2, 0.82),
        run('CE', 3, 0.5),
        run('EL', 1, 0.81),
        run('EL', 2, 0.83),
      ]),
    );
    expect(rowOf(section, 'CE')).toContain('| 81.00 ± 1.41 | (baseline) |');
    expect(rowOf(section, 'EL')).toContain(
      '| 82.00 ± 1.41 | +1.00 ± 0.00 [+1.0, +1.0] | 2↑ 0↓ of 2 | (2 seeds) |',
    );
    expect(section).toContain(
      'balanced: 2 losses × seeds 1,2, 1 epochs (4 runs; 1 more left out: at fewer epochs, or of a seed not every arm has run yet)',
    );
  });

  it('shows only the runs at the longest training when the file holds runs of several lengths', () => {
    const at = (r: RunRecord, epochs: number): RunRecord => ({ ...r, epochs });
    const short = [at(run('CE', 1, 0.5), 1), at(run('EL', 1, 0.9), 1)];
    const long = [at(run('CE', 1, 0.8), 4), at(run('EL', 1, 0.81), 4)];
    const section = resultsSection(file([...short, ...long]));
    expect(rowOf(section, 'EL')).toContain('| 81.00 ± 0.00 | +1.00 ± 0.00 [+1.0, +1.0] | 1↑ 0↓ of 1 |');
    expect(section).toContain('balanced: 2 losses × seeds 1, 4 epochs (2 runs; 2 more left out');
  });

  it('shows the learning curve at half-way, three quarters and the end of runs that recorded it', () => {
    // 8 epochs: marks 4, 6, 8 → epochs 2–4, 4–6, 6–8. Seed 1's curve ends at 0.86, seed 2's at 0.88.
    const curve = (end: number) => [0.7, 0.8, 0.82, 0.84, 0.85, end - 0.01, end, end + 0.01];
    const withCurve = (seed: number, end: number): RunRecord => ({
      ...run('CE', seed, end + 0.01),
      epochs: 8,
      trainLoss: [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],
      testAccuracyByEpoch: curve(end),
    });
    const section = resultsSection(file([withCurve(1, 0.86), withCurve(2, 0.88), run('EL', 1, 0.8)]));
    // half: mean(0.8, 0.82, 0.84) = 0.82; ¾: mean(0.84, 0.85, end − 0.01) = 0.84667 / 0.85333 → 0.85;
    // end: mean(end − 0.01, end, end + 0.01) = 0.86 / 0.88 → 0.87; last quarter +2.00 pp.
    expect(section).toContain(
      '| balanced | CE | 2 | 4 / 6 / 8 | 82.00 → 85.00 → 87.00 | +2.00 | 0.600 → 0.200 |',
    );
    // EL's run has no curve: no row.
    expect(section).not.toContain('| balanced | EL |');
  });

  describe('longerTrainingSection', () => {
    // The grid ran 4 epochs; the longer file has CE and EL of seed 1 at 8 epochs (marks 4, 6, 8).
    const curveRun = (loss: RunRecord['loss'], curve: number[]): RunRecord => ({
      ...run(loss, 1, curve[curve.length - 1]),
      epochs: curve.length,
      trainLoss: curve.map((_, i) => 1 - i / 10),
      testAccuracyByEpoch: curve,
    });
    const grid = file([curveRun('CE', [0.7, 0.8, 0.8, 0.8]), curveRun('EL', [0.6, 0.7, 0.7, 0.7])]);
    const ce = curveRun('CE', [0.7, 0.8, 0.8, 0.8, 0.81, 0.81, 0.81, 0.84]);
    const el = curveRun('EL', [0.6, 0.7, 0.7, 0.7, 0.75, 0.8, 0.85, 0.87]);

    it("reads each longer run at the grid's budget, half-way and the end, with the same seed's CE", () => {
      const section = longerTrainingSection(file([ce, el]), grid);
      // CE: epochs 2–4 → 80.00, 4–6 → 80.67, 6–8 → 82.00; training loss epoch 4 → 8: 0.700 → 0.300.
      expect(section).toContain(
        '| MLP, balanced | CE | 1 | 4 / 6 / 8 | 80.00 → 80.67 → 82.00 | (baseline) | 84.00 | 0.700 → 0.300 |',
      );
      // EL: 70.00 → 75.00 → 84.00; vs CE: 70 − 80 = −10.00 at 4, 84 − 82 = +2.00 at 8.
      expect(section).toContain(
        '| MLP, balanced | EL | 1 | 4 / 6 / 8 | 70.00 → 75.00 → 84.00 | −10.00 → +2.00 | 87.00 | 0.700 → 0.300 |',
      );
    });

    it('is empty when nothing in the file ran past the grid', () => {
      expect(longerTrainingSection(grid, grid)).toBe('');
    });
  });
});
