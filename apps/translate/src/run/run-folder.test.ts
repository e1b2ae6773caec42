import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileWriter, initNodeBackend, temporaryName } from '@encouraging-loss/translate/node';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { type TrainOptions, train } from '../train/train.js';
import { acquireLock, LOCK_FILE } from './lock.js';
import { RUN_FILE } from './run-folder.js';
import type { RunRecord } from './run-settings.js';

const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url),
);
const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'el-run-folder-'));
const trainFile = join(dir, 'train.tsv');
const otherFile = join(dir, 'other.tsv');

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** SHA-256 of every file under `folder`, by relative path. */
function hashes(folder: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(folder, path), sha256(path));
    }
  };
  walk(folder);
  return out;
}

const options = (out: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  train: trainFile,
  sourceLanguage: 'en',
  targetLanguage: 'de',
  out,
  loss: { kind: 'cel', labelSmoothing: 0.1 },
  maxSteps: 2,
  maxTokens: 300,
  config: 'tiny',
  vocabSize: 120,
  quiet: true,
  ...extra,
});

const record = (out: string) => JSON.parse(readFileSync(join(out, RUN_FILE), 'utf8')) as RunRecord;
const latest = (out: string) => readFileSync(join(out, 'training_state', 'latest'), 'utf8').trim();

beforeAll(async () => {
  await initNodeBackend('wasm');
  const en = readFileSync(join(FIXTURE, 'test-sentences.en'), 'utf8').trim().split('\n');
  const de = readFileSync(join(FIXTURE, 'test-sentences.de'), 'utf8').trim().split('\n');
  const tsv = (from: number, to: number) =>
    en
      .slice(from, to)
      .map((s, i) => `${s}\t${de[from + i]}\n`)
      .join('');
  writeFileSync(trainFile, tsv(0, 16));
  writeFileSync(otherFile, tsv(16, 30));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a run folder is an identity', () => {
  test('the first run records its settings: loss, schedule, seed, batch, data hashes, package', async () => {
    const out = join(dir, 'first');
    await train(options(out, { lr: 2e-3, seed: 7, accumulate: 2 }));
    const { settings, package: pkg, result } = record(out);
    expect(settings.loss).toEqual({
      kind: 'cel',
      logEnd: 0.5,
      bonusWeight: 1,
      labelSmoothing: 0.1,
      bonusFloor: 1e-5,
    });
    expect(settings).toMatchObject({ lr: 2e-3, schedule: 'inverse-sqrt', warmup: 1, seed: 7, accumulate: 2 });
    expect(settings.maxTokens).toBe(300);
    expect(settings.train).toEqual([
      { path: trainFile, bytes: statSync(trainFile).size, sha256: sha256(trainFile) },
    ]);
    expect(settings.model).toEqual({ config: 'tiny', vocabSize: 120, tokenizer: null });
    expect(pkg.name).toBe('@encouraging-loss/el-translate');
    expect(result).toMatchObject({ steps: 2, interrupted: false });
  });

  test('fine-tuning records the --init folder by the hashes of its config and weights', async () => {
    const out = join(dir, 'fine-tuned');
    await train(options(out, { init: FIXTURE, config: undefined, vocabSize: undefined, maxSteps: 1 }));
    const { model } = record(out).settings as { model: { config: { sha256: string }; weights: unknown[] } };
    expect(model.config.sha256).toBe(sha256(join(FIXTURE, 'config.json')));
    expect(model.weights).toEqual([
      expect.objectContaining({ sha256: sha256(join(FIXTURE, 'model.safetensors')) }),
    ]);
  });

  test('resuming with other settings is refused, naming each difference and the ways out; nothing changes', async () => {
    const out = join(dir, 'changed');
    await train(options(out));
    const before = hashes(out);
    const attempt = train(options(out, { loss: { kind: 'ce' }, lr: 0.01, train: otherFile, maxSteps: 3 }));
    await expect(attempt).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    const message = await attempt.catch((e: Error) => e.message);
    expect(message).toMatch(/loss\.kind: recorded "cel", now "ce"/);
    expect(message).toMatch(/loss\.labelSmoothing: recorded 0\.1, now 0/);
    expect(message).toMatch(/lr: recorded 0\.001, now 0\.01/);
    expect(message).toMatch(/train: recorded .*train\.tsv .*, now .*other\.tsv/);
    expect(message).toMatch(/another --out/);
    expect(message).toMatch(/--overwrite/);
    expect(message).not.toMatch(/maxSteps/);
    expect(hashes(out)).toEqual(before);
  });

  test('a changed data file under the same name is a different run', async () => {
    const out = join(dir, 'edited');
    const file = join(dir, 'edited.tsv');
    cpSync(trainFile, file);
    await train(options(out, { train: file }));
    writeFileSync(file, `${readFileSync(file, 'utf8')}One more.\tNoch einer.\n`);
    await expect(train(options(out, { train: file, maxSteps: 3 }))).rejects.toThrow(
      /train: recorded .*edited\.tsv \(\d+ bytes.*now .*edited\.tsv \(\d+ bytes/,
    );
  });

  test('--max-steps may grow: the run resumes from its checkpoint with the recorded warmup', async () => {
    const out = join(dir, 'grown');
    await train(options(out));
    const resumed = await train(options(out, { maxSteps: 40, evalEvery: 2 }));
    expect(resumed).toMatchObject({ resumedFrom: 2, steps: 40 });
    // The default warmup of 40 steps (4) would differ from the recorded one of 2 steps (1).
    expect(record(out).settings.warmup).toBe(1);
  });

  test('a finished run re-run with the same settings trains nothing and returns its recorded result', async () => {
    const out = join(dir, 'finished');
    const first = await train(options(out));
    const before = hashes(out);
    const again = await train(options(out));
    expect(again).toEqual({ ...first, alreadyComplete: true });
    expect(hashes(out)).toEqual(before);
  });

  test('--overwrite starts a run with other settings over', async () => {
    const out = join(dir, 'overwritten');
    await train(options(out, { maxSteps: 4 }));
    const result = await train(options(out, { loss: { kind: 'ce' }, overwrite: true }));
    expect(result).toMatchObject({ resumedFrom: 0, steps: 2 });
    expect(record(out).settings.loss.kind).toBe('ce');
    expect(latest(out)).toBe('step-00000002');
    expect(readdirSync(join(out, 'training_state'))).not.toContain('step-00000004');
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(Math.max(...steps)).toBe(2); // the old run's steps 3 and 4 are gone
  });

  test('a non-empty folder that is not a run folder is refused; --overwrite replaces only model files', async () => {
    const out = join(dir, 'foreign');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me\n');
    writeFileSync(join(out, 'pytorch_model.bin'), 'stale weights');
    await expect(train(options(out))).rejects.toThrow(/is not empty and is not an el-translate run folder/);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'pytorch_model.bin']);
    await train(options(out, { overwrite: true }));
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me\n');
    expect(existsSync(join(out, 'pytorch_model.bin'))).toBe(false); // no stale weights beside the new ones
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  });
});

describe('nothing is written until the inputs validate', () => {
  test.each([
    ['an empty training file', { train: join(dir, 'empty.tsv') }, /empty\.tsv has no sentence pairs/],
    ['a missing --init folder', { init: join(dir, 'nothere') }, /--init folder .*nothere does not exist/],
    ['a missing valid file', { valid: join(dir, 'nothere.tsv') }, /nothere\.tsv does not exist/],
    // Fails after the run folder is set up (every pair is longer than the model's positions): removed again.
    ['sentences longer than the model', { config: join(dir, 'short.json') }, /no usable sentence pairs/],
  ] as const)('%s leaves no folder', async (_, extra, message) => {
    writeFileSync(join(dir, 'empty.tsv'), '');
    writeFileSync(join(dir, 'short.json'), JSON.stringify({ d_model: 16, max_position_embeddings: 2 }));
    const out = join(dir, `never-${_.replaceAll(' ', '-')}`);
    await expect(train(options(out, extra))).rejects.toThrow(message);
    expect(existsSync(out)).toBe(false);
  });

  test('an empty folder given as --out is left empty by a failed run', async () => {
    const out = join(dir, 'empty-out');
    mkdirSync(out);
    writeFileSync(join(dir, 'short.json'), JSON.stringify({ d_model: 16, max_position_embeddings: 2 }));
    await expect(train(options(out, { config: join(dir, 'short.json') }))).rejects.toThrow(/no usable/);
    expect(readdirSync(out)).toEqual([]);
  });

  test.each([
    ['is', (init: string) => init],
    ['is inside', (init: string) => join(init, 'fine-tuned')],
    ['contains', (init: string) => join(init, '..')],
  ])('--out that %s --init is refused and the model folder is untouched', async (how, outOf) => {
    const init = join(dir, `init-${how.replace(' ', '-')}`, 'model');
    cpSync(FIXTURE, init, { recursive: true });
    const before = hashes(init);
    await expect(train(options(outOf(init), { init }))).rejects.toThrow(new RegExp(`--out .* ${how} --init`));
    expect(hashes(init)).toEqual(before);
  });
});

describe('disk full or permission denied while checkpointing', () => {
  test.each([
    ['ENOSPC', 'no space left on device'],
    ['EACCES', 'permission denied'],
  ])(
    '%s: IO_ERROR names the file and cause; the previous checkpoint stays; the run resumes',
    async (code, cause) => {
      const out = join(dir, `full-${code}`);
      await train(options(out, { evalEvery: 2 }));
      expect(latest(out)).toBe('step-00000002');
      const kept = hashes(join(out, 'training_state', 'step-00000002'));
      // The device fills up part-way through the next checkpoint's first file.
      vi.spyOn(fileWriter, 'write').mockImplementation((fd, bytes, offset, length) => {
        writeSync(fd, bytes, offset, Math.min(length, 100));
        throw Object.assign(new Error(`${code}: ${cause}, write`), { code, errno: -28, syscall: 'write' });
      });
      const attempt = train(options(out, { maxSteps: 4, evalEvery: 2 }));
      await expect(attempt).rejects.toMatchObject({ code: 'IO_ERROR' });
      const message = await attempt.catch((e: Error) => e.message);
      expect(message).toMatch(
        new RegExp(
          `Cannot write .*training_state/\\.tmp-step-00000004.*/model\\.safetensors: ${cause} \\(${code}\\)`,
        ),
      );
      vi.restoreAllMocks();
      // The previous checkpoint is intact and still the latest; no partial temporary file or folder is left.
      expect(latest(out)).toBe('step-00000002');
      expect(hashes(join(out, 'training_state', 'step-00000002'))).toEqual(kept);
      expect([...hashes(out).keys()].filter((f) => f.includes('.tmp-'))).toEqual([]);
      expect(existsSync(join(out, LOCK_FILE))).toBe(false);
      // Space freed: the same call resumes from the kept checkpoint.
      expect(await train(options(out, { maxSteps: 4, evalEvery: 2 }))).toMatchObject({
        resumedFrom: 2,
        steps: 4,
      });
    },
  );

  test('temporary names are unique per process and per call', () => {
    const a = temporaryName('/x/step-1');
    expect(a).toContain(`.tmp-${process.pid}-`);
    expect(temporaryName('/x/step-1')).not.toBe(a);
  });
});

describe('one process per run folder', () => {
  test('a live lock refuses; a stale one (dead pid on this host) is taken over with a message', () => {
    const out = join(dir, 'locked');
    mkdirSync(out);
    const lock = join(out, LOCK_FILE);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, hostname: hostname(), started: 'now' }));
    expect(() => acquireLock(out)).toThrow(
      new RegExp(`being trained by process ${process.pid} on ${hostname()}`),
    );
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(lock, JSON.stringify({ pid: dead, hostname: hostname(), started: 'then' }));
    const said: string[] = [];
    const release = acquireLock(out, (m) => said.push(m));
    expect(said).toEqual([expect.stringMatching(new RegExp(`stale lock .*process ${dead} .* is gone`))]);
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname() });
    release();
    expect(existsSync(lock)).toBe(false);
  });

  test('a lock held on another host is not taken over', () => {
    const out = join(dir, 'other-host');
    mkdirSync(out);
    writeFileSync(
      join(out, LOCK_FILE),
      JSON.stringify({ pid: 1, hostname: `not-${hostname()}`, started: 'x' }),
    );
    expect(() => acquireLock(out)).toThrow(/being trained by process 1 on not-/);
  });

  test('a second el-translate into a folder being trained fails at once, and the first is unharmed', async () => {
    const out = join(dir, 'two');
    const args = [
      CLI,
      'train',
      '--train',
      trainFile,
      '--out',
      out,
      '--config',
      'tiny',
      '--vocab-size',
      '120',
    ];
    const first: ChildProcess = spawn(process.execPath, [...args, '--max-steps', '100000', '--quiet'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => first.on('exit', resolve));
    while (!existsSync(join(out, 'metrics.jsonl'))) {
      if (first.exitCode !== null) throw new Error('the first run ended early');
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = spawnSync(process.execPath, [...args, '--max-steps', '100000'], { encoding: 'utf8' });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`\\[INVALID_OPTION\\] .* is being trained by process ${first.pid}`),
    );
    first.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    expect(readFileSync(join(out, 'training_state', 'latest'), 'utf8')).toMatch(/^step-/);
  }, 60_000);
});
