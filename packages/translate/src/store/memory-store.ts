import {
  type FileData,
  joinPath,
  type ModelStore,
  missingFile,
  pathSegments,
  type StoreCallOptions,
  throwIfAborted,
  toBytes,
} from './model-store.js';

/**
 * A {@link ModelStore} in memory: for tests, and for pages that hold a model only for the session. Reads return
 * copies, so a caller cannot change what the store holds.
 *
 * @example
 * ```ts
 * const store = new MemoryStore({ 'config.json': '{"model_type":"marian"}' });
 * await store.write('notes.txt', 'hello');
 * console.log(await store.list()); // ['config.json', 'notes.txt']
 * ```
 */
export class MemoryStore implements ModelStore {
  readonly location: string;
  readonly readOnly = false;
  readonly #files = new Map<string, Uint8Array>();

  constructor(files: Record<string, FileData> = {}, location = 'memory') {
    this.location = location;
    for (const [path, data] of Object.entries(files)) {
      pathSegments(path, location);
      this.#files.set(path, toBytes(data).slice());
    }
  }

  async read(path: string, options?: StoreCallOptions): Promise<Uint8Array> {
    throwIfAborted(options?.signal);
    pathSegments(path, this.location);
    const bytes = this.#files.get(path);
    if (!bytes) missingFile(this, path);
    return bytes.slice();
  }

  async exists(path: string): Promise<boolean> {
    pathSegments(path, this.location);
    return this.#files.has(path);
  }

  async list(prefix = ''): Promise<string[]> {
    pathSegments(prefix, this.location, true);
    const start = prefix === '' ? '' : `${prefix}/`;
    return [...this.#files.keys()].filter((path) => path.startsWith(start)).sort();
  }

  async write(path: string, data: FileData, options?: StoreCallOptions): Promise<void> {
    throwIfAborted(options?.signal);
    pathSegments(path, this.location);
    this.#files.set(path, toBytes(data).slice());
  }

  async remove(path: string): Promise<void> {
    pathSegments(path, this.location);
    this.#files.delete(path);
    for (const key of [...this.#files.keys()]) if (key.startsWith(`${path}/`)) this.#files.delete(key);
  }

  async publish(
    folder: string,
    files: ReadonlyMap<string, FileData>,
    options?: StoreCallOptions,
  ): Promise<void> {
    throwIfAborted(options?.signal);
    pathSegments(folder, this.location);
    // Everything is checked and copied before the folder changes: all or nothing.
    const next = [...files].map(([path, data]) => {
      pathSegments(path, this.location);
      return [joinPath(folder, path), toBytes(data).slice()] as const;
    });
    await this.remove(folder);
    for (const [path, bytes] of next) this.#files.set(path, bytes);
  }
}
