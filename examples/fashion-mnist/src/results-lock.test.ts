import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withResultsLock } from './results.js';

describe('withResultsLock', () => {
  const folder = () => mkdtempSync(join(tmpdir(), 'results-lock-'));

  it('runs the update, returns its value and leaves no lock behind, also when the update throws', () => {
    const file = join(folder(), 'results.json');
    expect(withResultsLock(file, () => 42)).toBe(42);
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(() =>
      withResultsLock(file, () => {
        throw new Error('bad update');
      }),
    ).toThrow('bad update');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('takes over a lock whose holder died (older than staleMs)', () => {
    const file = join(folder(), 'results.json');
    writeFileSync(`${file}.lock`, '');
    const old = new Date(Date.now() - 120_000);
    utimesSync(`${file}.lock`, old, old);
    expect(withResultsLock(file, () => 'ran', 60_000)).toBe('ran');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('waits while another process holds the lock, and runs after it lets go', async () => {
    const dir = folder();
    const file = join(dir, 'results.json');
    const done = join(dir, 'holder-done');
    // The other process: takes the lock, says so, keeps it for a while, marks its work done, then lets go.
    const holder = spawn(process.execPath, [
      '-e',
      `const fs = require('node:fs');
       fs.closeSync(fs.openSync(${JSON.stringify(`${file}.lock`)}, 'wx'));
       process.stdout.write('held\\n');
       setTimeout(() => { fs.writeFileSync(${JSON.stringify(done)}, ''); fs.unlinkSync(${JSON.stringify(`${file}.lock`)}); }, 300);`,
    ]);
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    // Only once the holder is done may the update run.
    expect(withResultsLock(file, () => existsSync(done))).toBe(true);
    await new Promise((resolve) => holder.once('exit', resolve));
  });
});
