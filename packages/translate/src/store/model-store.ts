import { EncouragingLossError } from '@encouraging-loss/core';

/** The bytes or text of one file. Text is written as UTF-8. */
export type FileData = Uint8Array | string;

/** Options of the calls that may wait on a disk or a network. */
export interface StoreCallOptions {
  /** Cancels a pending read or write (`AbortSignal`, as `fetch` takes it). */
  signal?: AbortSignal;
}

/**
 * Where a model folder lives: the one seam between the translation engine and a platform's storage. Paths are
 * relative and `/`-separated (`config.json`, `onnx/encoder_model.onnx`, `checkpoints/step-40/model.safetensors`);
 * `..`, absolute paths and empty segments are `INVALID_OPTION`. Implementations: {@link MemoryStore} (tests,
 * pages), {@link HttpStore} (read-only: a served folder, a Hub mirror), {@link DirectoryHandleStore} (a folder the
 * user picked in the browser, or OPFS), and `NodeFileStore` from `@encouraging-loss/translate/node`.
 *
 * Every failure is an `EncouragingLossError`: `INVALID_DATA` for a missing file, `IO_ERROR` for a storage failure
 * (disk full, permission denied, a network error), `INVALID_OPTION` for a bad path or a write to a read-only store;
 * the message names the store and the path.
 */
export interface ModelStore {
  /** A human-readable location for messages: a folder path, a URL, `memory`. */
  readonly location: string;
  /** `true` for stores that cannot be written (HTTP). */
  readonly readOnly: boolean;
  /** The bytes of a file; a missing file is `INVALID_DATA` naming it. */
  read(path: string, options?: StoreCallOptions): Promise<Uint8Array>;
  /** Whether a file exists (folders are not files). */
  exists(path: string, options?: StoreCallOptions): Promise<boolean>;
  /** Every file below `prefix` (a folder path, `''` for all), recursively, as full relative paths, sorted. */
  list(prefix?: string, options?: StoreCallOptions): Promise<string[]>;
  /** Writes one file, creating its folders; a reader sees the old file or the new one, never a part. */
  write(path: string, data: FileData, options?: StoreCallOptions): Promise<void>;
  /** Removes a file, or a folder with everything below it; nothing there is not an error. */
  remove(path: string, options?: StoreCallOptions): Promise<void>;
  /**
   * Publishes a checkpoint: writes `files` (relative to `folder`) so that `folder` afterwards holds exactly them,
   * all or nothing — a reader sees the previous folder or the complete new one, and a failure part-way leaves the
   * previous one (and no temporary files) behind.
   */
  publish(folder: string, files: ReadonlyMap<string, FileData>, options?: StoreCallOptions): Promise<void>;
}

/** Checks a store path and returns its segments: relative, `/`-separated, no `.`, `..` or empty segments. */
export function pathSegments(path: string, store: string, allowEmpty = false): string[] {
  if (typeof path !== 'string') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `A path in ${store} must be a string, got ${String(path)}.`,
    );
  }
  if (path === '' && allowEmpty) return [];
  const segments = path.split('/');
  const bad = segments.find(
    (s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'),
  );
  if (bad !== undefined || path.startsWith('/')) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Path ${JSON.stringify(path)} in ${store} must be relative and '/'-separated, without '.', '..', empty segments, backslashes or NUL.`,
    );
  }
  return segments;
}

/** `prefix` and `path` joined (either may be `''`). */
export function joinPath(prefix: string, path: string): string {
  return prefix === '' ? path : path === '' ? prefix : `${prefix}/${path}`;
}

/** The bytes of `data` (text as UTF-8). */
export function toBytes(data: FileData): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

/** Reads a file as UTF-8 text. */
export async function readText(store: ModelStore, path: string, options?: StoreCallOptions): Promise<string> {
  return new TextDecoder('utf-8', { fatal: false }).decode(await store.read(path, options));
}

/** Throws `INVALID_DATA`: `path` is not in `store`. */
export function missingFile(store: ModelStore | string, path: string): never {
  const where = typeof store === 'string' ? store : store.location;
  throw new EncouragingLossError('INVALID_DATA', `${where} has no file ${path}.`);
}

/** Throws `IO_ERROR` naming the store, the path, what was being done and why. */
export function storeIoError(store: string, action: string, path: string, cause: unknown): never {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const error = new EncouragingLossError('IO_ERROR', `Cannot ${action} ${path} in ${store}: ${reason}`);
  (error as { cause?: unknown }).cause = cause;
  throw error;
}

/** Throws `INVALID_OPTION`: the store cannot be written. */
export function readOnlyStore(store: ModelStore, action: string, path: string): never {
  throw new EncouragingLossError(
    'INVALID_OPTION',
    `Cannot ${action} ${path}: ${store.location} is a read-only store (write to a MemoryStore, a picked folder or the file system instead).`,
  );
}

/** Throws the signal's reason as an `AbortError` when it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}
