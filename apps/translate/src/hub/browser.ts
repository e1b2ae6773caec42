import { invalidOption } from '../errors.js';
import { type HubTreeFile, revisionInfo, treeFiles } from './api.js';
import { HubError } from './errors.js';
import {
  authHeaders,
  type HubContext,
  type HubDownloadProgress,
  hubErrorFor,
  hubFetch,
  resolveUrl,
} from './http.js';
import { DEFAULT_HUB_ENDPOINT, isCommitSha, parseHubId, repoFolderName } from './hub-id.js';
import { selectModelFiles, shardsOfIndex } from './select-files.js';

/**
 * Where a page keeps Hub downloads, keyed by paths of the Python cache layout: `models--ORG--NAME/blobs/{etag}`,
 * `…/refs/{revision}` (the commit) and `…/snapshots/{commit}.json` (file → etag; a browser store has no symlinks).
 * {@link cacheApiBlobStore} (Cache API), {@link directoryBlobStore} (OPFS or a picked folder) and
 * {@link memoryBlobStore} implement it.
 */
export interface HubBlobStore {
  read(key: string): Promise<Uint8Array | undefined>;
  /** Stores `bytes` whole: a reader never sees part of them. */
  write(key: string, bytes: Uint8Array): Promise<void>;
}

/** A {@link HubBlobStore} in memory (tests, or a page that keeps nothing). */
export function memoryBlobStore(): HubBlobStore & { readonly entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    read: async (key) => entries.get(key),
    write: async (key, bytes) => {
      entries.set(key, bytes);
    },
  };
}

/**
 * A {@link HubBlobStore} over a Cache API cache (`await caches.open('hub')`), one entry per key under `base` (a URL no
 * request ever goes to).
 */
export function cacheApiBlobStore(
  cache: Cache,
  base = 'https://hub-cache.el-translate.invalid/',
): HubBlobStore {
  const url = (key: string) => new URL(key, base).href;
  return {
    async read(key) {
      const response = await cache.match(url(key));
      return response ? new Uint8Array(await response.arrayBuffer()) : undefined;
    },
    async write(key, bytes) {
      await cache.put(url(key), new Response(bytes as Uint8Array<ArrayBuffer>));
    },
  };
}

/**
 * A {@link HubBlobStore} in a directory: the origin private file system (`await navigator.storage.getDirectory()`)
 * or a folder the user picked. A key's `/`-separated parts are folders. `createWritable` writes to a swap file that
 * replaces the file only on `close()`, so a reload mid-download leaves no partial blob.
 */
export function directoryBlobStore(root: FileSystemDirectoryHandle): HubBlobStore {
  async function folder(parts: string[], create: boolean): Promise<FileSystemDirectoryHandle> {
    let handle = root;
    for (const part of parts) handle = await handle.getDirectoryHandle(part, { create });
    return handle;
  }
  return {
    async read(key) {
      const parts = key.split('/');
      try {
        const file = await (await folder(parts.slice(0, -1), false)).getFileHandle(parts[parts.length - 1]);
        return new Uint8Array(await (await file.getFile()).arrayBuffer());
      } catch (error) {
        if ((error as DOMException).name === 'NotFoundError') return undefined;
        throw error;
      }
    },
    async write(key, bytes) {
      const parts = key.split('/');
      const file = await (await folder(parts.slice(0, -1), true)).getFileHandle(parts[parts.length - 1], {
        create: true,
      });
      const writable = await file.createWritable();
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
    },
  };
}

/** Options of {@link fetchHubModel}. */
export interface FetchHubModelOptions {
  /** Hub base URL, or a Hub-compatible mirror's. Default `https://huggingface.co`. */
  endpoint?: string;
  /** Access token sent as `Authorization: Bearer` to the endpoint's origin. */
  token?: string;
  /** Where downloads are kept. Default a {@link memoryBlobStore} (nothing kept across calls). */
  store?: HubBlobStore;
  /** Use only `store`. Default `false`. */
  offline?: boolean;
  /** Ask the Hub for the revision's commit even when `store` holds it. Default `false`. */
  refresh?: boolean;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (progress: HubDownloadProgress) => void;
}

/** A Hub model's files in memory, ready for the library's `Uint8Array` readers. */
export interface HubModelFiles {
  repo: string;
  revision: string;
  /** The commit sha the revision resolved to: record it in a fine-tuned folder. */
  commit: string;
  /** File name → bytes: configuration, tokenizer and weights (shards included). */
  files: Map<string, Uint8Array>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function hex(algorithm: 'SHA-1' | 'SHA-256', data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest(algorithm, data as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The hash `bytes` has in the etag's terms: sha256 (LFS), git blob sha1 (`blob {size}\0` + bytes), or none. */
async function etagHash(etag: string, bytes: Uint8Array): Promise<string | undefined> {
  if (/^[0-9a-f]{64}$/.test(etag)) return hex('SHA-256', bytes);
  if (!/^[0-9a-f]{40}$/.test(etag)) return undefined;
  const header = encoder.encode(`blob ${bytes.length}\0`);
  const blob = new Uint8Array(header.length + bytes.length);
  blob.set(header);
  blob.set(bytes, header.length);
  return hex('SHA-1', blob);
}

async function download(
  context: HubContext,
  commit: string,
  file: string,
  entry: HubTreeFile,
  report: (bytes: number, total: number, cached: boolean) => void,
): Promise<Uint8Array> {
  const url = resolveUrl(context, commit, file);
  // Redirects are followed: a page cannot read a redirect's `X-Linked-Etag`, so the expected hash comes from the
  // tree listing; the fetch standard drops `Authorization` when the redirect leaves the origin.
  const response = await hubFetch(context, url, { headers: authHeaders(context, url) });
  if (!response.ok || !response.body) {
    throw hubErrorFor(context, {
      status: response.status,
      errorCode: response.headers.get('x-error-code'),
      url,
      file,
    });
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  report(0, entry.size, false);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    report(received, entry.size, false);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  const actual = await etagHash(entry.etag, bytes);
  if (received !== entry.size || (actual !== undefined && actual !== entry.etag)) {
    throw new HubError(
      'CHECKSUM_MISMATCH',
      context.repo,
      `'${file}' of '${context.repo}' does not match the Hub's checksum: got ${received} bytes` +
        `${actual ? ` hashing to ${actual}` : ''}, expected ${entry.size} bytes hashing to ${entry.etag}; nothing was kept`,
    );
  }
  return bytes;
}

async function readSnapshot(
  store: HubBlobStore,
  prefix: string,
  commit: string,
): Promise<Map<string, Uint8Array> | undefined> {
  const manifest = await store.read(`${prefix}/snapshots/${commit}.json`);
  if (!manifest) return undefined;
  const files = new Map<string, Uint8Array>();
  for (const [file, etag] of Object.entries(JSON.parse(decoder.decode(manifest)) as Record<string, string>)) {
    const bytes = await store.read(`${prefix}/blobs/${etag}`);
    if (!bytes) return undefined;
    files.set(file, bytes);
  }
  return files;
}

/**
 * Fetches a Hub model's files into a page: `ORG/NAME[@revision]` → `{ commit, files }`, kept in `store` (Cache API,
 * OPFS) so the next call makes no request. The same files as `resolveModel` in Node (configuration,
 * tokenizer, one weights format), each checked against the tree listing's hash (sha256 for LFS files, git sha1
 * otherwise) before it is kept. The repository listing and the commit come through the official `@huggingface/hub`
 * client (`modelInfo`, `listFiles`), which bundles for the browser.
 *
 * @throws {HubError} naming the repository and the cause (not found, gated, revision not found, offline and not
 *   cached, checksum mismatch, network).
 * @example
 * ```ts
 * const store = cacheApiBlobStore(await caches.open('hub'));
 * const { files, commit } = await fetchHubModel('Helsinki-NLP/opus-mt-en-de', { store, onProgress });
 * ```
 */
export async function fetchHubModel(
  spec: string,
  options: FetchHubModelOptions = {},
): Promise<HubModelFiles> {
  const id = parseHubId(spec);
  if (!id)
    return invalidOption(`model '${spec}' is not a Hugging Face Hub id (ORG/NAME or ORG/NAME@revision)`);
  const { repo, revision } = id;
  const store = options.store ?? memoryBlobStore();
  const prefix = repoFolderName(repo);

  if (options.offline || !options.refresh || isCommitSha(revision)) {
    const ref = isCommitSha(revision) ? revision : await store.read(`${prefix}/refs/${revision}`);
    const commit = typeof ref === 'string' ? ref : ref && decoder.decode(ref);
    const files = commit ? await readSnapshot(store, prefix, commit) : undefined;
    if (commit && files) return { repo, revision, commit, files };
    if (options.offline) {
      throw new HubError(
        'OFFLINE_NOT_CACHED',
        repo,
        `offline, and '${repo}@${revision}' is not in the page's store`,
      );
    }
  }

  const context: HubContext = {
    repo,
    revision,
    endpoint: (options.endpoint || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, ''),
    fetch: options.fetch ?? fetch.bind(globalThis),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.token ? { token: options.token } : {}),
  };
  const { commit, files: names } = await revisionInfo(context);
  const cached = await readSnapshot(store, prefix, commit);
  if (cached) {
    if (revision !== commit) await store.write(`${prefix}/refs/${revision}`, encoder.encode(commit));
    return { repo, revision, commit, files: cached };
  }
  const selection = selectModelFiles(names);
  const unsupported = (what: string) =>
    new HubError(
      'UNSUPPORTED_REPO',
      repo,
      `'${repo}' at ${commit.slice(0, 7)} is not a translation model: ${what}`,
    );
  if (typeof selection === 'string') throw unsupported(selection);
  const tree = await treeFiles(context, commit);

  const list = [...selection.files];
  const files = new Map<string, Uint8Array>();
  const manifest: Record<string, string> = {};
  for (let index = 0; index < list.length; index++) {
    const file = list[index];
    const entry = tree.get(file);
    if (!entry)
      throw hubErrorFor(context, { status: 404, errorCode: 'EntryNotFound', url: context.endpoint, file });
    const report = (bytes: number, total: number, cachedFile: boolean) =>
      options.onProgress?.({ repo, file, index, count: list.length, bytes, total, cached: cachedFile });
    const key = `${prefix}/blobs/${entry.etag}`;
    let bytes = await store.read(key);
    if (bytes) {
      report(bytes.length, bytes.length, true);
    } else {
      bytes = await download(context, commit, file, entry, report);
      await store.write(key, bytes);
    }
    files.set(file, bytes);
    manifest[file] = entry.etag;
    if (file === selection.weightIndex) {
      const shards = shardsOfIndex(decoder.decode(bytes), names);
      if (typeof shards === 'string') throw unsupported(`${file} ${shards}`);
      list.push(...shards);
    }
  }
  // The manifest last: a snapshot is found only once all its blobs are in.
  await store.write(`${prefix}/snapshots/${commit}.json`, encoder.encode(JSON.stringify(manifest)));
  if (revision !== commit) await store.write(`${prefix}/refs/${revision}`, encoder.encode(commit));
  return { repo, revision, commit, files };
}
