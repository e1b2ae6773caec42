import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { formatTsv } from './data.js';
import { GENERAL, generateCorpus } from './demo-data.js';
import { readSafetensors } from './safetensors.js';
import { learningRate } from './train.js';

const CLI = fileURLToPath(new URL('../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
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

test('learning-rate schedules', () => {
  expect(learningRate(5, 1e-3, 10, 'inverse-sqrt', 100)).toBeCloseTo(5e-4, 12);
  expect(learningRate(40, 1e-3, 10, 'inverse-sqrt', 100)).toBeCloseTo(1e-3 * Math.sqrt(10 / 40), 12);
  expect(learningRate(55, 1e-3, 10, 'linear', 100)).toBeCloseTo(5e-4, 12);
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

  test('bad flags and bad data fail with a message naming them', () => {
    expect(() =>
      run([CLI, 'train', '--train', trainFile, '--out', join(dir, 'x'), '--loss', 'foo', '--max-steps', '1']),
    ).toThrow(/--loss must be ce, el or cel, got foo/);
    const bad = join(dir, 'bad.tsv');
    writeFileSync(bad, 'a\tb\nno tab\n');
    expect(() => run([CLI, 'eval', '--model', join(dir, 'e2e'), '--data', bad])).toThrow(
      /bad.tsv:2: expected source<TAB>target/,
    );
  });
});
