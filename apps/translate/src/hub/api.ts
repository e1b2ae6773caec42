import { HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { HubError } from './errors.js';
import { authHeaders, type HubContext, hubErrorFor, hubFetch } from './http.js';
import { isCommitSha } from './hub-id.js';

/**
 * Runs a call of the official `@huggingface/hub` client with the context's token and signal, turning its
 * `HubApiError` into a {@link HubError} that names the repository and the cause. The token goes in through `fetch`
 * rather than `accessToken`, which the client refuses unless it starts with `hf_` (a mirror's tokens need not); the
 * answer's `X-Error-Code`, which `HubApiError` drops, is kept for the error.
 */
async function withHubErrors<T>(
  context: HubContext,
  call: (fetch: typeof globalThis.fetch) => Promise<T>,
): Promise<T> {
  let last: { status: number; errorCode: string | null; url: string } | undefined;
  const fetchWithAuth = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const headers = {
      ...(init?.headers as Record<string, string> | undefined),
      ...authHeaders(context, url),
    };
    const response = await hubFetch(context, url, { ...init, headers });
    last = { status: response.status, errorCode: response.headers.get('x-error-code'), url };
    return response;
  };
  try {
    return await call(fetchWithAuth as typeof globalThis.fetch);
  } catch (error) {
    if (error instanceof HubApiError && last) {
      const message = (error.data as { error?: unknown } | undefined)?.error;
      throw hubErrorFor(context, { ...last, ...(typeof message === 'string' ? { message } : {}) });
    }
    throw error;
  }
}

/** The commit a revision is at and the repository's file list, through the official client's `modelInfo`. */
export async function revisionInfo(context: HubContext): Promise<{ commit: string; files: string[] }> {
  const info = await withHubErrors(context, (fetch) =>
    modelInfo({
      name: context.repo,
      revision: context.revision,
      hubUrl: context.endpoint,
      fetch,
      additionalFields: ['sha', 'filePaths'],
    }),
  );
  if (!isCommitSha(info.sha ?? '')) {
    throw new HubError(
      'HTTP',
      context.repo,
      `the Hub answered no commit sha for '${context.repo}@${context.revision}'`,
    );
  }
  return { commit: info.sha, files: info.filePaths ?? [] };
}

/** A top-level file of a revision: its blob name as the Python cache has it and its size. */
export interface HubTreeFile {
  /** sha256 for an LFS file (`lfs.oid`), the git blob sha1 otherwise (`oid`). */
  etag: string;
  size: number;
}

/**
 * The top-level files of a commit with their blob names and sizes, through the official client's `listFiles` (the
 * tree API, as Python's `snapshot_download` lists a repository). A browser needs it: it cannot read the `X-Linked-Etag`
 * of a redirect it follows.
 */
export async function treeFiles(context: HubContext, commit: string): Promise<Map<string, HubTreeFile>> {
  return withHubErrors(context, async (fetch) => {
    const files = new Map<string, HubTreeFile>();
    for await (const entry of listFiles({
      repo: { type: 'model', name: context.repo },
      revision: commit,
      hubUrl: context.endpoint,
      fetch,
    })) {
      const etag = entry.lfs?.oid ?? entry.oid;
      if (entry.type === 'file' && etag) files.set(entry.path, { etag, size: entry.lfs?.size ?? entry.size });
    }
    return files;
  });
}
