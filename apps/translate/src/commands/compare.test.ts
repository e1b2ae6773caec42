import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import type { CompareResult } from '../compare/compare.js';

/*
 * `el-translate compare` end to end on the OPUS-MT-shaped fixture (fixtures/opus-mt-tiny, written by torch and
 * spm_train): 2 losses × 2 seeds × 2 steps, run by the CLI the tests build.
 */
const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url),
);
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'el-compare-'));
const out = join(dir, 'out');

const run = (args: string[]) => spawnSync('node', [CLI, ...args], { encoding: 'utf8', timeout: 240_000 });

const en = readFileSync(join(FIXTURE, 'test-sentences.en'), 'utf8').trim().split('\n');
const de = readFileSync(join(FIXTURE, 'test-sentences.de'), 'utf8').trim().split('\n');
const write = (name: string, from: number, to: number) => {
  const path = join(dir, name);
  writeFileSync(
    path,
    en
      .slice(from, to)
      .map((s, i) => `${s}\t${de[from + i]}\n`)
      .join(''),
  );
  return path;
};
const files = {
  train: write('train.tsv', 0, 40),
  valid: write('valid.tsv', 40, 48),
  test: write('test.tsv', 48, 72),
};
const args = [
  'compare',
  '--init',
  FIXTURE,
  '--train',
  files.train,
  '--valid',
  files.valid,
  '--test',
  files.test,
  '--out',
  out,
  '--losses',
  'ls,cel',
  '--seeds',
  '1,2',
  '--max-steps',
  '2',
  '--lr',
  '1e-3',
  '--beam',
  '2',
  '--json',
];

let first: CompareResult;
let firstStderr: string;

beforeAll(() => {
  const result = run(args);
  expect(result.status, result.stderr).toBe(0);
  first = JSON.parse(result.stdout) as CompareResult;
  firstStderr = result.stderr;
}, 300_000);

describe('el-translate compare on the tiny OPUS-MT fixture', () => {
  test('--json: one result with each arm, its seeds, scores and paired bootstrap against the first arm', () => {
    expect(first).toMatchObject({
      format: 1,
      interrupted: false,
      test: { sentences: 24, skipped: 0 },
      beam: 2,
      seeds: [1, 2],
      baseline: 'ls',
      bootstrap: { method: 'paired-bs', resamples: 1000, seed: 12345, alpha: 0.05 },
    });
    expect(first.arms.map((a) => [a.name, a.label])).toEqual([
      ['ls', 'CE, ε=0.1'],
      ['cel', 'CEL logEnd 0.5, ε=0.1'],
    ]);
    expect(first.arms[1].loss).toEqual({
      bonusWeight: 1,
      logEnd: 0.5,
      labelSmoothing: 0.1,
      bonusFloor: 1e-5,
    });
    for (const [a, arm] of first.arms.entries()) {
      expect(arm.runs.map((r) => r.seed)).toEqual([1, 2]);
      for (const r of arm.runs) {
        expect(r.dir).toBe(join(out, `${arm.name}-seed${r.seed}`));
        expect(r.training).toMatchObject({ steps: 2, interrupted: false });
        expect(r.evaluation).toBe('translated');
        for (const key of ['bleu', 'chrf'] as const) {
          const b = r.bootstrap[key];
          expect(b.score).toBeCloseTo(r[key], 9);
          expect(b.lower).toBeLessThanOrEqual(b.upper);
          expect(b.ci).toBeCloseTo((b.upper - b.lower) / 2, 12);
          if (a === 0) expect(b.pValue).toBeNull();
          else {
            expect(b.pValue).toBeGreaterThanOrEqual(1 / 1001);
            expect(b.pValue).toBeLessThanOrEqual(1);
          }
        }
      }
      // Mean and sample std over the two seeds, from the runs' own scores.
      const [x, y] = arm.runs.map((r) => r.bleu);
      expect(arm.bleu.mean).toBeCloseTo((x + y) / 2, 9);
      expect(arm.bleu.std).toBeCloseTo(Math.abs(x - y) / Math.SQRT2, 9);
    }
    expect(first.arms[0].significant).toBeNull();
    expect(first.arms[1].significant).toEqual({
      bleu: first.arms[1].runs.filter((r) => r.bootstrap.bleu.pValue! < 0.05).length,
      chrf: first.arms[1].runs.filter((r) => r.bootstrap.chrf.pValue! < 0.05).length,
    });
  });

  test('writes the run folders, translations, compare.json, the Vega-Lite spec, its SVG and the report', () => {
    for (const name of ['ls-seed1', 'ls-seed2', 'cel-seed1', 'cel-seed2']) {
      expect(existsSync(join(out, name, 'run.json')), name).toBe(true);
      const evaluation = JSON.parse(readFileSync(join(out, 'evaluations', `${name}.json`), 'utf8'));
      expect(evaluation.hypotheses).toHaveLength(24);
      expect(evaluation.beam).toBe(2);
    }
    expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'))).toEqual(first);
    const spec = JSON.parse(readFileSync(join(out, 'compare-scores.vl.json'), 'utf8'));
    expect(spec.$schema).toMatch(/vega-lite/);
    // A dot per run and a mean per arm, for each metric.
    expect(spec.data.values.filter((v: { kind: string }) => v.kind === 'seed')).toHaveLength(8);
    expect(spec.data.values.filter((v: { kind: string }) => v.kind === 'mean')).toHaveLength(4);
    const svg = readFileSync(join(out, 'compare-scores.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('CEL logEnd 0.5, ε=0.1');
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Loss comparison against CE, ε=0.1');
    expect(report).toContain('| loss | seeds | BLEU | chrF2 |');
    expect(report).toContain('![test scores per loss](compare-scores.svg)');
    expect(report).toMatch(
      /\| 2 \| CEL logEnd 0\.5, ε=0\.1 \| [\d.]+ \| [\d.]+ ± [\d.]+ \| [01]\.\d{4}\*? \|/,
    );
    expect(firstStderr).toContain('[4/4] CEL logEnd 0.5, ε=0.1, seed 2');
  });

  test('re-running the same command is a no-op: runs already complete, translations reused, same result', () => {
    const stamp = (name: string) => statSync(join(out, name, 'model.safetensors')).mtimeMs;
    const before = ['ls-seed1', 'cel-seed2'].map(stamp);
    const again = run(args);
    expect(again.status, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as CompareResult;
    for (const arm of second.arms) {
      for (const r of arm.runs) {
        expect(r.training.alreadyComplete).toBe(true);
        expect(r.evaluation).toBe('cached');
      }
    }
    expect(['ls-seed1', 'cel-seed2'].map(stamp)).toEqual(before);
    const strip = (result: CompareResult) =>
      result.arms.map((a) => ({ ...a, runs: a.runs.map(({ training, evaluation, ...rest }) => rest) }));
    expect(strip(second)).toEqual(strip(first));
    expect(again.stderr).toContain('already complete');
  });

  test('a damaged translation record is translated anew; the others are reused', () => {
    const record = join(out, 'evaluations', 'cel-seed1.json');
    const saved = readFileSync(record, 'utf8');
    writeFileSync(record, '{"format": 1, "hypo');
    const again = run(args);
    expect(again.status, again.stderr).toBe(0);
    const runs = (JSON.parse(again.stdout) as CompareResult).arms.flatMap((a) =>
      a.runs.map((r) => [`${a.name}-seed${r.seed}`, r.evaluation]),
    );
    expect(Object.fromEntries(runs)).toEqual({
      'ls-seed1': 'cached',
      'ls-seed2': 'cached',
      'cel-seed1': 'translated',
      'cel-seed2': 'cached',
    });
    expect(JSON.parse(readFileSync(record, 'utf8')).hypotheses).toEqual(JSON.parse(saved).hypotheses);
  });

  test('a run folder refuses other settings instead of mixing two runs', () => {
    const changed = run(args.map((a) => (a === '1e-3' ? '2e-3' : a)));
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(/INVALID_OPTION.*run with other settings/s);
    expect(changed.stderr).toMatch(/lr: recorded 0\.001, now 0\.002/);
  });

  test('the text output is the two tables and the report path; bad flags are INVALID_OPTION', () => {
    const text = execFileSync('node', [CLI, ...args.filter((a) => a !== '--json')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(text).toContain('| loss | seeds | BLEU | chrF2 | BLEU vs CE, ε=0.1: p per seed |');
    expect(text).toContain('| seed | loss | BLEU | μ ± 95 % CI | p |');
    expect(text).toContain(`report: ${join(out, 'report.md')}`);
    for (const [flag, value] of [
      ['--losses', 'ce,focal'],
      ['--losses', 'ce,ce'],
      ['--seeds', '1,1'],
      ['--beam', '0'],
      ['--bootstrap-seed', '0.5'],
      ['--bootstrap-seed', '4294967296'],
    ]) {
      const bad = run([
        'compare',
        '--init',
        FIXTURE,
        '--train',
        files.train,
        '--test',
        files.test,
        '--out',
        out,
        flag,
        value,
      ]);
      expect(bad.status, `${flag} ${value}`).toBe(1);
      expect(bad.stderr).toContain(`[INVALID_OPTION] ${flag}`);
    }
  });
});
