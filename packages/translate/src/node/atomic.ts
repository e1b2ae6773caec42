import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ioError, isSystemError } from '../errors.js';

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    // Some filesystems refuse to open directories; the rename is still atomic there.
  }
}

/**
 * The write call under {@link writeFileAtomic}: a seam, so tests can fail a write as a full disk would
 * (`ENOSPC` after part of the bytes) without a real small file system.
 */
export const fileWriter = {
  write(fd: number, bytes: Uint8Array, offset: number, length: number): number {
    return writeSync(fd, bytes, offset, length);
  },
  /**
   * The most bytes asked of one write: `fs.writeSync` refuses a length above 2³¹ − 1 (`ERR_OUT_OF_RANGE`), and a
   * 600M-parameter model's float32 weights are 2.46 GB.
   */
  maxChunk: 2 ** 30,
};

/** A temporary name beside `path`, unique per process and call (two writers never share one). */
export function temporaryName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * Writes `data` to `path` so a reader sees the old file or the new one, never a partial one: write a temporary
 * file beside it, fsync, rename over the target, fsync the directory. A failure (disk full, permission denied)
 * removes the temporary file, leaves `path` as it was and throws `IO_ERROR` naming `path` and the cause.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const temporary = temporaryName(path);
  try {
    const fd = openSync(temporary, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let offset = 0;
      while (offset < bytes.length) {
        offset += fileWriter.write(fd, bytes, offset, Math.min(bytes.length - offset, fileWriter.maxChunk));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    if (isSystemError(error)) ioError('write', path, error);
    throw error;
  }
  syncDir(dirname(path));
}

/** Renames a fully written directory into place (atomic on one filesystem), replacing any old one. */
export function publishDirectory(temporary: string, target: string): void {
  try {
    rmSync(target, { recursive: true, force: true });
    renameSync(temporary, target);
  } catch (error) {
    if (isSystemError(error)) ioError('publish', target, error);
    throw error;
  }
  syncDir(dirname(target));
}
