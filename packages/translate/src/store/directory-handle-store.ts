import { EncouragingLossError } from '@encouraging-loss/core';
import {
  type FileData,
  joinPath,
  type ModelStore,
  missingFile,
  pathSegments,
  type StoreCallOptions,
  storeIoError,
  throwIfAborted,
  toBytes,
} from './model-store.js';
import { readBody } from './read-body.js';

/** The part of the File System API's `FileSystemWritableFileStream` the store uses. */
export interface WritableLike {
  /** Bytes over an `ArrayBuffer` (not shared), as the File System API declares it. */
  write(data: Uint8Array<ArrayBuffer>): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** The part of `FileSystemFileHandle` the store uses. */
export interface FileHandleLike {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<Blob>;
  createWritable(): Promise<WritableLike>;
}

/**
 * The part of `FileSystemDirectoryHandle` the store uses (`showDirectoryPicker()`'s result, or
 * `navigator.storage.getDirectory()` for OPFS). `move` is Chromium's `FileSystemHandle.move`, used when present.
 */
export interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirectoryHandleLike>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  /**
   * Every browser has it; optional here because TypeScript declares it in the `DOM.AsyncIterable` lib only, and a
   * project with `lib: ["DOM"]` must still be able to pass its `FileSystemDirectoryHandle`.
   */
  entries?(): AsyncIterable<[string, DirectoryHandleLike | FileHandleLike]>;
  move?(parent: DirectoryHandleLike, name: string): Promise<void>;
}

const isNotFound = (error: unknown) =>
  (error as { name?: string })?.name === 'NotFoundError' ||
  (error as { name?: string })?.name === 'TypeMismatchError';

/**
 * A {@link ModelStore} over a browser folder: one the user picked (`showDirectoryPicker()`, with write
 * permission) or the origin-private file system (`await navigator.storage.getDirectory()`), where checkpoints
 * survive a reload. A file is written through `createWritable()`, which the browser commits on `close()` (a
 * reader sees the old file or the new one). `publish` writes the checkpoint into a temporary sibling folder
 * first and moves it into place with `move()` where the browser has it (Chromium). Without `move()` the previous
 * folder is replaced only after every new file has been written, and then copied into place: a failure during
 * that copy keeps the complete temporary folder (`.tmp-<name>-…`, named in the error) instead of losing both.
 *
 * @example
 * ```ts
 * const store = new DirectoryHandleStore(await navigator.storage.getDirectory(), 'OPFS');
 * await store.publish('runs/cel/checkpoint', new Map([['config.json', '{}']]));
 * ```
 */
export class DirectoryHandleStore implements ModelStore {
  readonly location: string;
  readonly readOnly = false;
  readonly #root: DirectoryHandleLike;

  constructor(root: DirectoryHandleLike, location = `folder ${root.name || '(root)'}`) {
    this.#root = root;
    this.location = location;
  }

  async #folder(segments: string[], create: boolean): Promise<DirectoryHandleLike | undefined> {
    let folder = this.#root;
    for (const name of segments) {
      try {
        folder = await folder.getDirectoryHandle(name, { create });
      } catch (error) {
        if (!create && isNotFound(error)) return undefined;
        throw error;
      }
    }
    return folder;
  }

  async #file(path: string): Promise<FileHandleLike | undefined> {
    const segments = pathSegments(path, this.location);
    const folder = await this.#folder(segments.slice(0, -1), false);
    if (!folder) return undefined;
    try {
      return await folder.getFileHandle(segments[segments.length - 1]);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async read(path: string, options?: StoreCallOptions): Promise<Uint8Array> {
    throwIfAborted(options?.signal);
    pathSegments(path, this.location);
    let handle: FileHandleLike | undefined;
    try {
      handle = await this.#file(path);
      if (handle) return readBody(await handle.getFile());
    } catch (error) {
      storeIoError(this.location, 'read', path, error);
    }
    return missingFile(this, path);
  }

  async exists(path: string): Promise<boolean> {
    return (await this.#file(path)) !== undefined;
  }

  async list(prefix = ''): Promise<string[]> {
    const start = await this.#folder(pathSegments(prefix, this.location, true), false);
    const out: string[] = [];
    const walk = async (folder: DirectoryHandleLike, at: string) => {
      if (!folder.entries) {
        throw new EncouragingLossError(
          'INVALID_OPTION',
          `${this.location}: the directory handle cannot list its entries (no entries()).`,
        );
      }
      for await (const [name, entry] of folder.entries()) {
        if (entry.kind === 'file') out.push(joinPath(at, name));
        else await walk(entry, joinPath(at, name));
      }
    };
    if (start) await walk(start, prefix);
    return out.sort();
  }

  async #writeInto(folder: DirectoryHandleLike, segments: string[], bytes: Uint8Array): Promise<void> {
    const parent = (await this.#descend(folder, segments.slice(0, -1))) as DirectoryHandleLike;
    const handle = await parent.getFileHandle(segments[segments.length - 1], { create: true });
    const writable = await handle.createWritable();
    try {
      // A view of a SharedArrayBuffer (a threaded wasm heap) is copied: the API takes ArrayBuffer-backed bytes.
      await writable.write(
        bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice(),
      );
      await writable.close();
    } catch (error) {
      await writable.abort(error).catch(() => {});
      throw error;
    }
  }

  async #descend(folder: DirectoryHandleLike, segments: string[]): Promise<DirectoryHandleLike> {
    let at = folder;
    for (const name of segments) at = await at.getDirectoryHandle(name, { create: true });
    return at;
  }

  async write(path: string, data: FileData, options?: StoreCallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    const segments = pathSegments(path, this.location);
    try {
      await this.#writeInto(this.#root, segments, toBytes(data));
    } catch (error) {
      storeIoError(this.location, 'write', path, error);
    }
  }

  async remove(path: string): Promise<void> {
    const segments = pathSegments(path, this.location);
    const parent = await this.#folder(segments.slice(0, -1), false);
    if (!parent) return;
    try {
      await parent.removeEntry(segments[segments.length - 1], { recursive: true });
    } catch (error) {
      if (!isNotFound(error)) storeIoError(this.location, 'remove', path, error);
    }
  }

  async publish(
    folder: string,
    files: ReadonlyMap<string, FileData>,
    options?: StoreCallOptions,
  ): Promise<void> {
    const segments = pathSegments(folder, this.location);
    const entries = [...files].map(
      ([path, data]) => [pathSegments(path, this.location), toBytes(data)] as const,
    );
    const parent = await this.#descend(this.#root, segments.slice(0, -1));
    const name = segments[segments.length - 1];
    const temporaryName = `.tmp-${name}-${Math.random().toString(36).slice(2, 10)}`;
    // 1. The whole checkpoint into a temporary sibling; a failure here leaves the previous folder as it was.
    let temporary: DirectoryHandleLike;
    try {
      temporary = await parent.getDirectoryHandle(temporaryName, { create: true });
      for (const [path, bytes] of entries) {
        throwIfAborted(options?.signal);
        await this.#writeInto(temporary, path, bytes);
      }
    } catch (error) {
      await parent.removeEntry(temporaryName, { recursive: true }).catch(() => {});
      if ((error as Error)?.name === 'AbortError') throw error;
      return storeIoError(this.location, 'publish', folder, error);
    }
    // 2. Into place: moved where the browser can (Chromium), else copied. From here a failure keeps the complete
    // temporary folder and names it.
    try {
      await parent.removeEntry(name, { recursive: true }).catch((error) => {
        if (!isNotFound(error)) throw error;
      });
      if (typeof temporary.move === 'function') {
        await temporary.move(parent, name);
        return;
      }
      const target = await parent.getDirectoryHandle(name, { create: true });
      for (const [path, bytes] of entries) await this.#writeInto(target, path, bytes);
    } catch (error) {
      storeIoError(
        this.location,
        'publish',
        `${folder} (the complete checkpoint is kept in ${temporaryName})`,
        error,
      );
    }
    await parent.removeEntry(temporaryName, { recursive: true }).catch(() => {});
  }
}
