import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_HUB_ENDPOINT,
  type HubContext,
  type HubDownloadProgress,
  HubError,
  type HubHints,
  hubResolveUrl,
  hubRevisionInfo,
  invalidOption,
  isCommitSha,
  parseHubId,
  repoFolderName,
  selectModelFiles,
  shardsOfIndex,
} from '@encouraging-loss/translate';
import {
  type HubEnv,
  hfHome,
  hubCacheDir,
  linkSnapshotFile,
  readRef,
  snapshotGaps,
  writeRef,
} from './cache.js';
import { downloadBlob, fileMetadata } from './download.js';

/** Options of {@link resolveModel}; each defaults to what `huggingface_hub` reads from the environment. */
export interface ResolveModelOptions {
  /** Environment to read `HF_*` variables from. Default `process.env`. */
  env?: HubEnv;
  /** Hub base URL. Default `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Cache folder. Default `HF_HUB_CACHE` → `HF_HOME/hub` → `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Access token sent as `Authorization: Bearer`. Default `HF_TOKEN`, else the file `huggingface-cli login` wrote. */
  token?: string;
  /** Use only the cache (resolve the revision through `refs/`). Default `HF_HUB_OFFLINE` is 1/ON/YES/TRUE. */
  offline?: boolean;
  /**
   * Ask the Hub which commit the revision is at even when the cache already holds it. Default `false`: a cached
   * branch or tag is used with no request at all (a commit sha always is).
   */
  refresh?: boolean;
  /** `fetch` to use. Default the global one. */
  fetch?: typeof fetch;
  /** Cancels requests and downloads; a partial download is kept to be continued. */
  signal?: AbortSignal;
  /** Called as each file's bytes arrive. */
  onProgress?: (progress: HubDownloadProgress) => void;
}

/** A model folder to read: a local path as given, or a snapshot of the Hub cache. */
export interface ResolvedModel {
  /** The folder (or file) to load. */
  dir: string;
  /** The Hub repository (`org/name`); absent for a local path. */
  repo?: string;
  /** The revision asked for (`main` unless the id said `@…`). */
  revision?: string;
  /** The commit sha the revision resolved to: record it in a fine-tuned folder. */
  commit?: string;
}

/** The advice ending a Hub error's message, in the terms of the environment variables el-translate reads. */
const ENV_HINTS: HubHints = {
  token: 'set HF_TOKEN to a token with read access',
  network: 'set HF_HUB_OFFLINE=1 to use only the local cache, or HF_ENDPOINT to use a mirror',
  localFolders: true,
};

function isTrue(value: string | undefined): boolean {
  return ['1', 'ON', 'YES', 'TRUE'].includes((value ?? '').trim().toUpperCase());
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function defaultToken(env: HubEnv): Promise<string | undefined> {
  const fromEnv = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  try {
    return (await readFile(env.HF_TOKEN_PATH || join(hfHome(env), 'token'), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Downloads the files of `selection` at `commit` into the cache and links them into `snapshots/{commit}/`. */
async function downloadSnapshot(
  context: HubContext,
  repoDir: string,
  commit: string,
  repositoryFiles: string[],
  onProgress: ResolveModelOptions['onProgress'],
): Promise<void> {
  const selection = selectModelFiles(repositoryFiles);
  const unsupported = (what: string) =>
    new HubError(
      'UNSUPPORTED_REPO',
      context.repo,
      `'${context.repo}' at ${commit.slice(0, 7)} is not a translation model this tool reads: ${what}; its files: ` +
        `${repositoryFiles.slice(0, 30).join(', ') || '(none)'}`,
    );
  if (typeof selection === 'string') throw unsupported(selection);
  const files = [...selection.files];
  const links: Array<{ file: string; etag: string }> = [];

  const fetchFile = async (file: string, index: number): Promise<string> => {
    const pointer = join(repoDir, 'snapshots', commit, file);
    const report = (bytes: number, total: number | undefined, cached: boolean) =>
      onProgress?.({ repo: context.repo, file, index, count: files.length, bytes, total, cached });
    if (await exists(pointer)) {
      const size = (await stat(pointer)).size;
      report(size, size, true);
      return pointer;
    }
    const metadata = await fileMetadata(context, hubResolveUrl(context, commit, file), file);
    const blobPath = join(repoDir, 'blobs', metadata.etag);
    if (await exists(blobPath)) {
      const size = (await stat(blobPath)).size;
      report(size, size, true);
    } else {
      await downloadBlob(context, {
        file,
        metadata,
        blobPath,
        onProgress: (bytes, total) => report(bytes, total, false),
      });
    }
    links.push({ file, etag: metadata.etag });
    return blobPath;
  };

  for (let index = 0; index < files.length; index++) {
    const path = await fetchFile(files[index], index);
    if (files[index] === selection.weightIndex) {
      const shards = shardsOfIndex(await readFile(path, 'utf8'), repositoryFiles);
      if (typeof shards === 'string') throw unsupported(`${selection.weightIndex} ${shards}`);
      files.push(...shards);
    }
  }
  // Links last, so a snapshot folder only ever shows files whose blobs are all verified and in place.
  for (const { file, etag } of links) await linkSnapshotFile(repoDir, commit, file, etag);
}

/**
 * Resolves a model argument (`--init`, `--model`) to a folder: an existing local path is returned as is; otherwise
 * `ORG/NAME[@revision]` is a Hugging Face Hub model, fetched into the standard Hub cache (shared with Python's
 * `huggingface_hub`: `models--ORG--NAME/{blobs,snapshots/<commit>,refs/<revision>}`) and its snapshot folder returned.
 *
 * - Only what a translation model needs is fetched: `config.json`, `generation_config.json`, the tokenizer files, and
 *   one weights format (safetensors, else sharded safetensors, else `pytorch_model.bin`, …), never TF/Flax/Rust/ONNX.
 * - A revision already in the cache (`refs/<revision>`, or a commit sha, with a complete snapshot) is used without a
 *   request, unless `refresh`. Offline (`HF_HUB_OFFLINE=1`) only the cache is used.
 * - Each download goes to `blobs/<etag>.incomplete`, continues with a `Range` request if that file exists, is checked
 *   against the ETag (sha256 for LFS files, git sha1 otherwise) and renamed into place.
 * - `HF_ENDPOINT` and `HF_TOKEN` are honoured; the token is sent to the endpoint's origin only.
 *
 * @returns `{ dir }` for a local path; `{ dir, repo, revision, commit }` for a Hub model (`commit` to record).
 * @throws {HubError} (an `EncouragingLossError`) naming the repository and the cause: not found, gated, revision not
 *   found, offline and not cached, checksum mismatch, network; `INVALID_OPTION` for a spec that is neither.
 * @example
 * ```ts
 * const { dir, commit } = await resolveModel('Helsinki-NLP/opus-mt-en-de', {
 *   onProgress: ({ file, bytes, total }) => bar.update(file, bytes, total),
 * });
 * ```
 */
export async function resolveModel(spec: string, options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  if (await exists(spec)) return { dir: spec };
  const id = parseHubId(spec);
  if (!id) {
    return invalidOption(
      `model '${spec}' is neither an existing folder nor a Hugging Face Hub id (ORG/NAME or ORG/NAME@revision)`,
    );
  }
  const { repo, revision } = id;
  const env = options.env ?? process.env;
  const repoDir = join(options.cacheDir ?? hubCacheDir(env), repoFolderName(repo));
  const offline = options.offline ?? isTrue(env.HF_HUB_OFFLINE);
  const resolved = (commit: string): ResolvedModel => ({
    dir: join(repoDir, 'snapshots', commit),
    repo,
    revision,
    commit,
  });

  if (offline || !options.refresh || isCommitSha(revision)) {
    const commit = isCommitSha(revision) ? revision : await readRef(repoDir, revision);
    const gaps = commit ? await snapshotGaps(join(repoDir, 'snapshots', commit)) : ['the revision'];
    if (commit && gaps.length === 0) return resolved(commit);
    if (offline) {
      throw new HubError(
        'OFFLINE_NOT_CACHED',
        repo,
        `offline (HF_HUB_OFFLINE), and '${repo}@${revision}' is not in the cache ${repoDir} ` +
          `(missing: ${gaps.join(', ')}); run once online, or unset HF_HUB_OFFLINE`,
      );
    }
  }

  const context: HubContext = {
    repo,
    revision,
    endpoint: (options.endpoint || env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, ''),
    fetch: options.fetch ?? fetch,
    hints: ENV_HINTS,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const token = options.token ?? (await defaultToken(env));
  if (token) context.token = token;

  const { commit, files } = await hubRevisionInfo(context);
  if ((await snapshotGaps(join(repoDir, 'snapshots', commit))).length > 0) {
    await downloadSnapshot(context, repoDir, commit, files, options.onProgress);
  }
  if (revision !== commit) await writeRef(repoDir, revision, commit);
  return resolved(commit);
}
