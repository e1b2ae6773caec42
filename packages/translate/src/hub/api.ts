import { HubError } from './errors.js';
import { type HubContext, hubAuthHeaders, hubErrorFor, hubFetch } from './http.js';
import { isCommitSha } from './hub-id.js';

// The two Hub API calls are plain `fetch`es of the URLs `@huggingface/hub`'s `modelInfo` and `listFiles` request.
// That client's bundle reaches `fs`, `os` and `stream` through lazy imports even in its browser build, which the
// library's main entry must not (src/platform-neutral.test.ts); el-translate used it before the client moved here.

/** GETs a Hub API URL as JSON; a failure becomes the {@link HubError} of its status and `X-Error-Code`. */
async function getJson(context: HubContext, url: string): Promise<{ body: unknown; response: Response }> {
  const response = await hubFetch(context, url, {
    headers: { accept: 'application/json', ...hubAuthHeaders(context, url) },
  });
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let message: unknown;
    try {
      message = (JSON.parse(text) as { error?: unknown }).error;
    } catch {
      message = text.slice(0, 200) || undefined;
    }
    throw hubErrorFor(context, {
      status: response.status,
      errorCode: response.headers.get('x-error-code'),
      url,
      ...(typeof message === 'string' && message ? { message } : {}),
    });
  }
  try {
    return { body: await response.json(), response };
  } catch (error) {
    throw hubErrorFor(context, {
      status: response.status,
      message: `not JSON: ${(error as Error).message}`,
      url,
    });
  }
}

/**
 * The commit a revision is at and the repository's file list: `GET /api/models/{repo}/revision/{revision}` with
 * `sha` and `siblings` expanded (what `@huggingface/hub`'s `modelInfo` asks for `additionalFields: ['sha',
 * 'filePaths']`).
 *
 * @throws {HubError} naming the repository and the cause.
 */
export async function hubRevisionInfo(context: HubContext): Promise<{ commit: string; files: string[] }> {
  const url =
    `${context.endpoint}/api/models/${context.repo}/revision/${encodeURIComponent(context.revision)}` +
    '?expand=sha&expand=siblings';
  const info = (await getJson(context, url)).body as {
    sha?: unknown;
    siblings?: Array<{ rfilename?: unknown }>;
  };
  if (typeof info.sha !== 'string' || !isCommitSha(info.sha)) {
    throw new HubError(
      'HTTP',
      context.repo,
      `the Hub answered no commit sha for '${context.repo}@${context.revision}'`,
    );
  }
  const files = (info.siblings ?? []).flatMap((sibling) =>
    typeof sibling?.rfilename === 'string' ? [sibling.rfilename] : [],
  );
  return { commit: info.sha, files };
}

/** A top-level file of a revision: its blob name as the Python cache has it and its size. */
export interface HubTreeFile {
  /** sha256 for an LFS file (`lfs.oid`), the git blob sha1 otherwise (`oid`). */
  etag: string;
  size: number;
}

interface TreeEntry {
  type?: string;
  path?: string;
  oid?: string;
  size?: number;
  lfs?: { oid?: string; size?: number };
}

/**
 * The top-level files of a commit with their blob names and sizes: `GET /api/models/{repo}/tree/{commit}`, following
 * its `Link: <…>; rel="next"` pages (the tree API, as Python's `snapshot_download` and `@huggingface/hub`'s
 * `listFiles` list a repository). A browser needs it: it cannot read the `X-Linked-Etag` of a redirect it follows.
 *
 * @throws {HubError} naming the repository and the cause.
 */
export async function hubTreeFiles(context: HubContext, commit: string): Promise<Map<string, HubTreeFile>> {
  const files = new Map<string, HubTreeFile>();
  let url: string | undefined =
    `${context.endpoint}/api/models/${context.repo}/tree/${encodeURIComponent(commit)}?recursive=false&expand=false`;
  for (let page = 0; url && page < 1000; page++) {
    const { body, response } = await getJson(context, url);
    if (!Array.isArray(body)) {
      throw hubErrorFor(context, { status: response.status, message: 'the tree is not a list', url });
    }
    for (const entry of body as TreeEntry[]) {
      const etag = entry.lfs?.oid ?? entry.oid;
      const size = entry.lfs?.size ?? entry.size;
      if (entry.type === 'file' && typeof entry.path === 'string' && etag && typeof size === 'number')
        files.set(entry.path, { etag, size });
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
    url = next ? new URL(next, url).href : undefined;
  }
  return files;
}
