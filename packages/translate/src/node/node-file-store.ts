import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { EncouragingLossError } from '@encouraging-loss/core';
import {
  type FileData,
  joinPath,
  type ModelStore,
  missingFile,
  pathSegments,
  type StoreCallOptions,
  throwIfAborted,
  toBytes,
} from '../store/model-store.js';

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a path component is not a folder',
  EISDIR: 'is a folder',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
};

function ioError(action: string, file: string, cause: unknown): never {
  const code = (cause as { code?: string })?.code;
  const reason = code ? `${CAUSES[code] ?? code.toLowerCase()} (${code})` : String((cause as Error)?.message);
  const error = new EncouragingLossError('IO_ERROR', `Cannot ${action} ${file}: ${reason}.`);
  (error as { cause?: unknown }).cause = cause;
  throw error;
}

const temporarySuffix = () => `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    await handle.sync().finally(() => handle.close());
  } catch {
    // Some file systems refuse to open folders; the rename is still atomic there.
  }
}

/** Writes `bytes` to `file` durably: open, write, fsync, close. */
async function writeDurably(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A {@link ModelStore} over a folder of the Node file system (`@encouraging-loss/translate/node`). A file is
 * written to a temporary name beside it, fsynced and renamed over the target; `publish` writes the checkpoint
 * into a temporary sibling folder, fsyncs it and renames it into place (the previous folder is moved aside first
 * and removed after), so a crash or a full disk leaves the previous checkpoint loadable and no temporary files.
 * File-system failures are `IO_ERROR` naming the file and the cause (`no space left on device (ENOSPC)`).
 *
 * @example
 * ```ts
 * const store = new NodeFileStore('runs/cel');
 * await store.publish('checkpoint', new Map([['config.json', '{}']]));
 * ```
 */
export class NodeFileStore implements ModelStore {
  readonly location: string;
  readonly readOnly = false;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.location = this.#root;
  }

  #path(path: string, allowEmpty = false): string {
    return join(this.#root, ...pathSegments(path, this.location, allowEmpty));
  }

  async read(path: string, options?: StoreCallOptions): Promise<Uint8Array> {
    const file = this.#path(path);
    try {
      return new Uint8Array(await readFile(file, { signal: options?.signal }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT') missingFile(this, path);
      if ((error as Error).name === 'AbortError') throw error;
      return ioError('read', file, error);
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      return (await stat(this.#path(path))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix = ''): Promise<string[]> {
    const start = this.#path(prefix, true);
    try {
      const entries = await readdir(start, { recursive: true, withFileTypes: true });
      return entries
        .filter((entry) => entry.isFile())
        .map((entry) => {
          const folder = (entry as { parentPath?: string; path?: string }).parentPath ?? entry.path;
          const relative = join(folder, entry.name).slice(start.length + 1);
          return joinPath(prefix, relative.split(/[\\/]/).join('/'));
        })
        .sort();
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return [];
      return ioError('list', start, error);
    }
  }

  async write(path: string, data: FileData, options?: StoreCallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    const file = this.#path(path);
    const temporary = file + temporarySuffix();
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeDurably(temporary, toBytes(data));
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      ioError('write', file, error);
    }
    await syncFolder(dirname(file));
  }

  async remove(path: string): Promise<void> {
    const file = this.#path(path);
    try {
      await rm(file, { recursive: true, force: true });
    } catch (error) {
      ioError('remove', file, error);
    }
  }

  async publish(
    folder: string,
    files: ReadonlyMap<string, FileData>,
    options?: StoreCallOptions,
  ): Promise<void> {
    const target = this.#path(folder);
    const entries = [...files].map(
      ([path, data]) => [pathSegments(path, this.location), toBytes(data)] as const,
    );
    const temporary = target + temporarySuffix();
    const previous = target + temporarySuffix();
    try {
      for (const [segments, bytes] of entries) {
        throwIfAborted(options?.signal);
        const file = join(temporary, ...segments);
        await mkdir(dirname(file), { recursive: true });
        await writeDurably(file, bytes);
      }
      await syncFolder(temporary);
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      if ((error as Error)?.name === 'AbortError') throw error;
      ioError('publish', target, error);
    }
    try {
      // The previous folder is moved aside, not deleted, until the new one is in place.
      const hadPrevious = await rename(target, previous).then(
        () => true,
        (error) => {
          if ((error as { code?: string }).code === 'ENOENT') return false;
          throw error;
        },
      );
      try {
        await rename(temporary, target);
      } catch (error) {
        if (hadPrevious) await rename(previous, target);
        throw error;
      }
      await syncFolder(dirname(target));
      if (hadPrevious) await rm(previous, { recursive: true, force: true });
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      ioError('publish', target, error);
    }
  }
}
