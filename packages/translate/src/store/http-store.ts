import { EncouragingLossError } from '@encouraging-loss/core';
import {
  type FileData,
  type ModelStore,
  missingFile,
  pathSegments,
  readOnlyStore,
  type StoreCallOptions,
  storeIoError,
} from './model-store.js';
import { readBody } from './read-body.js';

/** Options of {@link HttpStore}. */
export interface HttpStoreOptions {
  /** The `fetch` to use (default: the global one); e.g. one that adds an `Authorization` header. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/**
 * A read-only {@link ModelStore} over HTTP: a model folder served as static files (the playground's server, a
 * CDN, a Hub mirror's `resolve/<revision>/` URL). Files are fetched by name; an HTTP folder cannot be listed, so
 * `list` is `INVALID_OPTION`. A 404 is `INVALID_DATA` naming the URL; other failures are `IO_ERROR`.
 *
 * @example
 * ```ts
 * const store = new HttpStore('https://example.org/models/opus-mt-en-de/');
 * const config = JSON.parse(await readText(store, 'config.json'));
 * ```
 */
export class HttpStore implements ModelStore {
  readonly location: string;
  readonly readOnly = true;
  readonly #base: URL;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;

  constructor(baseUrl: string | URL, options: HttpStoreOptions = {}) {
    let base: URL;
    try {
      base = new URL(String(baseUrl));
    } catch {
      throw new EncouragingLossError(
        'INVALID_OPTION',
        `HttpStore needs an absolute URL, got ${String(baseUrl)}.`,
      );
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.#base = base;
    this.location = base.href;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#headers = options.headers ?? {};
  }

  #url(path: string): string {
    return new URL(pathSegments(path, this.location).map(encodeURIComponent).join('/'), this.#base).href;
  }

  async #request(path: string, method: 'GET' | 'HEAD', options?: StoreCallOptions): Promise<Response> {
    const url = this.#url(path);
    try {
      return await this.#fetch(url, { method, headers: this.#headers, signal: options?.signal });
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') throw error;
      return storeIoError(this.location, method === 'GET' ? 'fetch' : 'look up', path, error);
    }
  }

  async read(path: string, options?: StoreCallOptions): Promise<Uint8Array> {
    const response = await this.#request(path, 'GET', options);
    if (response.status === 404) missingFile(this, path);
    if (!response.ok) {
      storeIoError(this.location, 'fetch', path, new Error(`HTTP ${response.status} ${response.statusText}`));
    }
    return readBody(response);
  }

  async exists(path: string, options?: StoreCallOptions): Promise<boolean> {
    const response = await this.#request(path, 'HEAD', options);
    if (response.status === 404) return false;
    if (!response.ok) {
      storeIoError(
        this.location,
        'look up',
        path,
        new Error(`HTTP ${response.status} ${response.statusText}`),
      );
    }
    return true;
  }

  async list(prefix = ''): Promise<string[]> {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Cannot list ${prefix || 'the files'} of ${this.location}: an HTTP folder is read by file name only.`,
    );
  }

  async write(path: string, _data: FileData): Promise<void> {
    readOnlyStore(this, 'write', path);
  }

  async remove(path: string): Promise<void> {
    readOnlyStore(this, 'remove', path);
  }

  async publish(folder: string, _files?: ReadonlyMap<string, FileData>): Promise<void> {
    readOnlyStore(this, 'publish', folder);
  }
}
