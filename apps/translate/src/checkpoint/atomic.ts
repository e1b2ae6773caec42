import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

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
 * Writes `data` to `path` so a reader sees the old file or the new one, never a partial one: write a temporary
 * file beside it, fsync, rename over the target, fsync the directory.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  syncDir(dirname(path));
}

/** Renames a fully written directory into place (atomic on one filesystem), replacing any old one. */
export function publishDirectory(temporary: string, target: string): void {
  rmSync(target, { recursive: true, force: true });
  renameSync(temporary, target);
  syncDir(dirname(target));
}
