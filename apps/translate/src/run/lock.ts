import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { invalidOption, ioError, isSystemError, withIo } from '@encouraging-loss/translate';

/** The lock file of a run folder. */
export const LOCK_FILE = 'train.lock';

/** What a lock file holds. */
export interface LockOwner {
  pid: number;
  hostname: string;
  started: string;
}

/** Whether process `pid` runs on this host (`EPERM`: it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return Number.isInteger(owner?.pid) && typeof owner.hostname === 'string' ? owner : undefined;
  } catch {
    return undefined; // unreadable or half-written: see below
  }
}

/**
 * Takes the lock of run folder `dir` (which exists): `train.lock`, created with an exclusive open (`wx`) and
 * holding this process's pid and host. A lock whose owner is dead (same host, no such pid) is stale and taken
 * over, with a message through `say`; a live owner, or one on another host, is `INVALID_OPTION` naming it.
 *
 * @returns the function that releases the lock (idempotent; only removes a lock this process holds).
 */
export function acquireLock(dir: string, say: (message: string) => void = () => {}): () => void {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, hostname: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST' || attempt >= 2) {
        if (isSystemError(error)) ioError('create', file, error);
        throw error;
      }
      const owner = readOwner(file);
      // Unreadable: its owner may be between the exclusive open and the write. Only a person can tell.
      if (!owner) {
        invalidOption(
          `${dir} has a lock file ${file} that names no owner; if no el-translate is training into ${dir}, delete it.`,
        );
      }
      if (owner.hostname !== me.hostname || processAlive(owner.pid)) {
        invalidOption(
          `${dir} is being trained by process ${owner.pid} on ${owner.hostname} (since ${owner.started}; lock file ${file}). Wait for it to finish, use another --out, or delete the lock file if that process is gone.`,
        );
      }
      say(`taking over the stale lock ${file}: process ${owner.pid} on ${owner.hostname} is gone`);
      rmSync(file, { force: true });
      continue;
    }
    withIo('write', file, () => {
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
    });
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.removeListener('exit', release);
      if (readOwner(file)?.pid === me.pid) rmSync(file, { force: true });
    };
    // A second Ctrl-C exits without unwinding: still leave no lock behind.
    process.on('exit', release);
    return release;
  }
}
