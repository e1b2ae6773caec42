import { invalidOption } from '../errors.js';
import { type MemoryFolder, memoryFolder } from '../store/folder.js';
import { readBody } from '../store/read-body.js';
import { type HubTreeFile, hubRevisionInfo, hubTreeFiles } from './api.js';
import { type HubBlobStore, memoryBlobStore } from './blob-store.js';
import { HubError } from './errors.js';
import {
  type HubContext,
  type HubDownloadProgress,
  type HubHints,
  hubAuthHeaders,
  hubErrorFor,
  hubFetch,
  hubResolveUrl,
} from './http.js';
import { DEFAULT_HUB_ENDPOINT, isCommitSha, parseHubId, repoFolderName } from './hub-id.js';
import { selectModelFiles, shardsOfIndex } from './select-files.js';

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
  /** `fetch` to use. Default the global one. */
  fetch?: typeof fetch;
  /** Cancels the requests and downloads; nothing partial is kept. */
  signal?: AbortSignal;
  /** Called as each file's bytes arrive (a file already in `store` reports its size at once, `cached: true`). */
  onProgress?: (progress: HubDownloadProgress) => void;
  /** The advice ending error messages, in the caller's terms. Default {@link DEFAULT_HUB_HINTS}. */
  hints?: HubHints;
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
  const url = hubResolveUrl(context, commit, file);
  // Redirects are followed: a page cannot read a redirect's `X-Linked-Etag`, so the expected hash comes from the
  // tree listing; the fetch standard drops `Authorization` when the redirect leaves the origin.
  const response = await hubFetch(context, url, { headers: hubAuthHeaders(context, url) });
  if (!response.ok || !response.body) {
    throw hubErrorFor(context, {
      status: response.status,
      errorCode: response.headers.get('x-error-code'),
      url,
      file,
    });
  }
  report(0, entry.size, false);
  const bytes = await readBody(response, (received) => report(received, entry.size, false));
  const received = bytes.length;
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
 * Fetches a Hub model's files with `fetch` and Web Crypto alone (a page, a worker, Node): `ORG/NAME[@revision]` →
 * `{ commit, files }`, kept in `store` (Cache API, OPFS) so the next call makes no request. The same files as
 * el-translate's `resolveModel` (configuration, tokenizer, one weights format: {@link selectModelFiles}), each
 * checked against the tree listing's hash (sha256 for LFS files, git sha1 otherwise) before it is kept; a snapshot
 * is recorded only once all its files are in, so an interrupted download leaves no half model to load.
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
  // A snapshot from the store reports its files as cached, so a progress display lists them either way.
  const served = (commit: string, files: Map<string, Uint8Array>): HubModelFiles => {
    let index = 0;
    for (const [file, bytes] of files) {
      const size = bytes.length;
      options.onProgress?.({
        repo,
        file,
        index: index++,
        count: files.size,
        bytes: size,
        total: size,
        cached: true,
      });
    }
    return { repo, revision, commit, files };
  };

  if (options.offline || !options.refresh || isCommitSha(revision)) {
    const ref = isCommitSha(revision) ? revision : await store.read(`${prefix}/refs/${revision}`);
    const commit = typeof ref === 'string' ? ref : ref && decoder.decode(ref);
    const files = commit ? await readSnapshot(store, prefix, commit) : undefined;
    if (commit && files) return served(commit, files);
    if (options.offline) {
      throw new HubError(
        'OFFLINE_NOT_CACHED',
        repo,
        `offline, and '${repo}@${revision}' is not in the store`,
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
    ...(options.hints ? { hints: options.hints } : {}),
  };
  let info: { commit: string; files: string[] };
  try {
    info = await hubRevisionInfo(context);
  } catch (error) {
    // Offline with nothing kept: say both, since either fixes it (a connection, or a store that has the model).
    if (!(error instanceof HubError && error.reason === 'NETWORK') || options.refresh) throw error;
    throw new HubError(
      'NETWORK',
      repo,
      `${error.message}; offline, and '${repo}@${revision}' is not cached in the store either`,
    );
  }
  const { commit, files: names } = info;
  const cached = await readSnapshot(store, prefix, commit);
  if (cached) {
    if (revision !== commit) await store.write(`${prefix}/refs/${revision}`, encoder.encode(commit));
    return served(commit, cached);
  }
  const selection = selectModelFiles(names);
  const unsupported = (what: string) =>
    new HubError(
      'UNSUPPORTED_REPO',
      repo,
      `'${repo}' at ${commit.slice(0, 7)} is not a translation model: ${what}`,
    );
  if (typeof selection === 'string') throw unsupported(selection);
  const tree = await hubTreeFiles(context, commit);

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

/** A Hub model as {@link fetchHubFolder} returns it: the files as a folder the loaders read. */
export interface HubModelFolder extends HubModelFiles {
  /** The files as a {@link MemoryFolder} named `ORG/NAME@commit` (7 digits), for `loadModel` and the readers. */
  folder: MemoryFolder;
}

/**
 * {@link fetchHubModel}, with the files as a {@link MemoryFolder}: a Hub id straight into `loadModel`, in a page or a
 * worker. Downloads are kept in `options.store` (a {@link cacheApiBlobStore} or {@link directoryBlobStore}), so a
 * reload loads the model without a request.
 *
 * @throws {HubError} naming the repository and the cause (see {@link fetchHubModel}).
 * @example
 * ```ts
 * const store = cacheApiBlobStore(await caches.open('hub'));
 * const { folder, commit } = await fetchHubFolder('Helsinki-NLP/opus-mt-en-de@main', { store });
 * const { model, tokenizer } = await loadModel(folder);
 * ```
 */
export async function fetchHubFolder(
  spec: string,
  options: FetchHubModelOptions = {},
): Promise<HubModelFolder> {
  const model = await fetchHubModel(spec, options);
  return { ...model, folder: memoryFolder(`${model.repo}@${model.commit.slice(0, 7)}`, model.files) };
}
