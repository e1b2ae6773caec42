import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  accumulateGradients,
  learningRate,
  lossOptions,
  Rng,
  readSafetensors,
} from '@encouraging-loss/translate';
import { formatTsv, initNodeBackend, MarianModel, makeConfig } from '@encouraging-loss/translate/node';
import { beforeAll, describe, expect, test } from 'vitest';
import { GENERAL, generateCorpus } from '../demo/demo-data.js';
import { train } from './train.js';

const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'el-train-'));
const pairs = generateCorpus({ seed: 5, size: 160, lexicon: GENERAL });
const trainFile = join(dir, 'train.tsv');
const validFile = join(dir, 'valid.tsv');
writeFileSync(trainFile, formatTsv(pairs.slice(0, 140)));
writeFileSync(validFile, formatTsv(pairs.slice(140)));

function trainArgs(out: string, extra: string[] = []): string[] {
  return [
    CLI,
    'train',
    '--train',
    trainFile,
    '--valid',
    validFile,
    '--src',
    'en',
    '--tgt',
    'de',
    '--out',
    out,
    '--config',
    'tiny',
    '--vocab-size',
    '200',
    '--max-tokens',
    '300',
    '--loss',
    'cel',
    '--label-smoothing',
    '0.1',
    '--eval-every',
    '4',
    '--quiet',
    '--seed',
    '3',
    ...extra,
  ];
}

function run(args: string[], input?: string): string {
  return execFileSync('node', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function latestStep(out: string): number {
  const pointer = join(out, 'training_state', 'latest');
  if (!existsSync(pointer)) return 0;
  return Number(readFileSync(pointer, 'utf8').trim().replace('step-', ''));
}

beforeAll(async () => {
  await initNodeBackend('wasm');
});

test('learning-rate schedules: warmup to the peak, then inverse square root or linear decay to zero', () => {
  const [peak, warmup, maxSteps] = [1e-3, 10, 100];
  for (const schedule of ['inverse-sqrt', 'linear']) {
    expect(learningRate(1, peak, warmup, schedule, maxSteps)).toBeCloseTo(peak / warmup, 15);
    expect(learningRate(5, peak, warmup, schedule, maxSteps)).toBeCloseTo(peak / 2, 15);
    expect(learningRate(warmup, peak, warmup, schedule, maxSteps)).toBeCloseTo(peak, 15);
  }
  // fairseq: peak · sqrt(warmup / step) after warmup.
  expect(learningRate(40, peak, warmup, 'inverse-sqrt', maxSteps)).toBeCloseTo(peak / 2, 15);
  expect(learningRate(maxSteps, peak, warmup, 'inverse-sqrt', maxSteps)).toBeCloseTo(
    peak * Math.sqrt(0.1),
    15,
  );
  // Linear: peak · (maxSteps − step) / (maxSteps − warmup), 0 at the last step.
  expect(learningRate(55, peak, warmup, 'linear', maxSteps)).toBeCloseTo(peak / 2, 15);
  expect(learningRate(91, peak, warmup, 'linear', maxSteps)).toBeCloseTo(peak / 10, 15);
  expect(learningRate(maxSteps, peak, warmup, 'linear', maxSteps)).toBe(0);
});

test('--accumulate: two micro-batches give the gradient of one batch of all their tokens', () => {
  const model = new MarianModel(makeConfig(14, 'tiny'), new Rng(4));
  // Targets of 3, 6, 2 and 5 tokens: a mean of per-micro-batch means would weigh them unequally.
  const examples = [
    { source: [3, 4, 5, 1], target: [6, 7, 1] },
    { source: [8, 1], target: [9, 10, 11, 12, 13, 1] },
    { source: [4, 4, 6, 7, 8, 1], target: [5, 1] },
    { source: [13, 12, 1], target: [11, 3, 3, 2, 1] },
  ];
  const options = lossOptions({ kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 });
  const micro = accumulateGradients(model, examples, [[0, 1], [2], [3]], options);
  const whole = accumulateGradients(model, examples, [[0, 1, 2, 3]], options);
  expect(micro.tokens).toBe(16);
  expect(whole.tokens).toBe(16);
  expect([...micro.grads.keys()].sort()).toEqual([...whole.grads.keys()].sort());
  let largest = 0;
  for (const [name, g] of whole.grads) {
    const expected = g;
    const actual = micro.grads.get(name)!;
    expected.forEach((value, i) => {
      largest = Math.max(largest, Math.abs(value));
      expect(Math.abs(actual[i] - value), `${name}[${i}]`).toBeLessThan(1e-6 + 1e-4 * Math.abs(value));
    });
  }
  expect(largest).toBeGreaterThan(1e-3); // the comparison is not between zeros
  model.dispose();
});

test('--patience: training stops after N evaluations without a valid-BLEU gain', async () => {
  const out = join(dir, 'patience');
  const bleu = [5, 7, 6, 7, 9, 9];
  const evaluatedAt: number[] = [];
  const result = await train(
    {
      train: trainFile,
      sourceLanguage: 'en',
      targetLanguage: 'de',
      out,
      loss: { kind: 'ce' },
      maxSteps: 20,
      maxTokens: 300,
      evalEvery: 2,
      patience: 2,
      config: 'tiny',
      vocabSize: 200,
      quiet: true,
    },
    {
      validate: (step) => {
        evaluatedAt.push(step);
        return { nll: 1, bleu: bleu[evaluatedAt.length - 1], chrf: 0 };
      },
    },
  );
  // Best 7 at step 4; 6 (step 6) and 7 again (step 8, not a gain) are the two bad evaluations.
  expect(evaluatedAt).toEqual([2, 4, 6, 8]);
  expect(result).toMatchObject({ steps: 8, stoppedEarly: true, bestBleu: 7 });
  const valid = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((m) => m.type === 'valid');
  expect(valid.map((m) => m.bleu)).toEqual([5, 7, 6, 7]);
});

describe('checkpoints', () => {
  test('a run killed with SIGKILL resumes from its last checkpoint and ends where an uninterrupted run ends', async () => {
    const steps = '24';
    const straight = join(dir, 'straight');
    run(trainArgs(straight, ['--max-steps', steps]));

    const killed = join(dir, 'killed');
    const child: ChildProcess = spawn('node', trainArgs(killed, ['--max-steps', steps]), { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Kill as soon as a checkpoint past step 4 exists, mid-run.
    while (latestStep(killed) < 8) {
      if (child.exitCode !== null) throw new Error('training finished before it could be killed');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const killedAt = latestStep(killed);
    expect(killedAt).toBeGreaterThanOrEqual(8);
    expect(killedAt).toBeLessThan(24);
    // Whatever was on disk at the kill is complete and parses.
    const checkpoint = join(killed, 'training_state', `step-${String(killedAt).padStart(8, '0')}`);
    expect(readSafetensors(readFileSync(join(checkpoint, 'model.safetensors'))).tensors.size).toBeGreaterThan(
      10,
    );
    expect(JSON.parse(readFileSync(join(checkpoint, 'state.json'), 'utf8')).step).toBe(killedAt);

    const resumed = JSON.parse(run(trainArgs(killed, ['--max-steps', steps])));
    expect(resumed.resumedFrom).toBe(killedAt);
    expect(resumed.steps).toBe(24);
    // Model, optimizer state, RNG and data position were all restored: bit-identical final weights.
    const final = (out: string) =>
      readSafetensors(readFileSync(join(out, 'training_state', 'step-00000024', 'model.safetensors')))
        .tensors;
    const a = final(straight);
    const b = final(killed);
    for (const [name, tensor] of a) expect(b.get(name)?.data, name).toEqual(tensor.data);
  }, 120_000);
});

describe('Ctrl-C', () => {
  test('SIGINT writes a checkpoint at the current step, exits 130, and the same command resumes from it', async () => {
    const out = join(dir, 'interrupted');
    // Not --quiet: the interrupt notice goes to stderr (plain lines: stderr is a pipe).
    const args = trainArgs(out, [
      '--max-steps',
      '100000',
      '--eval-every',
      '100000',
      '--log-every',
      '1',
    ]).filter((a) => a !== '--quiet');
    const child = spawn('node', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const metrics = join(out, 'metrics.jsonl');
    // Interrupt once training has logged a few steps (no checkpoint exists before the interrupt).
    while (!existsSync(metrics) || readFileSync(metrics, 'utf8').trim().split('\n').length < 3) {
      if (child.exitCode !== null) throw new Error(`training ended early: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(latestStep(out)).toBe(0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const result = JSON.parse(stdout);
    expect(result.interrupted).toBe(true);
    const stoppedAt = latestStep(out);
    expect(stoppedAt).toBe(result.steps);
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    expect(stderr).toMatch(/checkpoint .* written at step \d+; run the same command to resume/);
    expect(stderr).toMatch(/^train 1\/100000 0% \| loss /m);
    expect(stderr).not.toContain('\r');
    const resumed = JSON.parse(
      run(
        trainArgs(out, ['--max-steps', String(stoppedAt + 2), '--eval-every', '100000', '--log-every', '1']),
      ),
    );
    expect(resumed).toMatchObject({ resumedFrom: stoppedAt, steps: stoppedAt + 2, interrupted: false });
  }, 120_000);
});

describe('end to end', () => {
  test('tiny train → eval --json → translate', () => {
    const out = join(dir, 'e2e');
    const result = JSON.parse(run(trainArgs(out, ['--max-steps', '12', '--loss', 'el'])));
    expect(result.steps).toBe(12);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    for (const file of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'metrics.jsonl',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'marian', d_model: 32, tie_word_embeddings: true });
    const names = [...readSafetensors(readFileSync(join(out, 'model.safetensors'))).tensors.keys()];
    expect(names).toContain('model.shared.weight');
    expect(names).toContain('model.decoder.layers.0.encoder_attn.q_proj.weight');
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const trainRecord = metrics.find((m) => m.type === 'train');
    // EL: the loss is the smoothed CE plus a negative bonus.
    expect(trainRecord.bonus).toBeLessThan(0);
    expect(metrics.some((m) => m.type === 'valid' && Number.isFinite(m.bleu))).toBe(true);

    const scores = JSON.parse(
      run([CLI, 'eval', '--model', out, '--data', validFile, '--beam', '2', '--json']),
    );
    expect(scores.sentences).toBe(20);
    expect(scores.bleu).toBeGreaterThanOrEqual(0);
    expect(scores.chrf).toBeGreaterThan(0);
    expect(scores.bleuSignature).toContain('tok:13a|smooth:exp');

    const lines = run(
      [CLI, 'translate', '--model', out, '--beam', '1'],
      'The dog sees the cat.\nA big man.\n',
    ).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
  }, 120_000);

  test('bad flags fail with INVALID_OPTION, bad files with INVALID_DATA, naming them', () => {
    expect(() =>
      run([CLI, 'train', '--train', trainFile, '--out', join(dir, 'x'), '--loss', 'foo', '--max-steps', '1']),
    ).toThrow(/\[INVALID_OPTION\] --loss must be ce, el or cel, got foo/);
    const bad = join(dir, 'bad.tsv');
    writeFileSync(bad, 'a\tb\nno tab\n');
    expect(() => run([CLI, 'eval', '--model', join(dir, 'e2e'), '--data', bad])).toThrow(
      /\[INVALID_DATA\] .*bad.tsv:2: expected source<TAB>target/,
    );
    expect(() => run([CLI, 'eval', '--model', dir, '--data', validFile])).toThrow(
      /\[INVALID_DATA\] .* is not a model folder/,
    );
  });
});
