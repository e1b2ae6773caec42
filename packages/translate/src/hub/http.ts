import { HubError } from './errors.js';

/** Progress of one file of a Hub download, for a progress bar per file. */
export interface HubDownloadProgress {
  repo: string;
  file: string;
  /** 0-based position of the file among `count`. */
  index: number;
  /** Files to fetch so far (shards are added once their index is read). */
  count: number;
  /** Bytes on disk: a resumed file starts at its `.incomplete` size; a cached file reports `total` at once. */
  bytes: number;
  total?: number;
  /** The file was already in the cache. */
  cached: boolean;
}

/** What every request to one repository shares. */
export interface HubContext {
  repo: string;
  revision: string;
  /** Base URL without a trailing slash, e.g. `https://huggingface.co`. */
  endpoint: string;
  token?: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
  /** How the caller's users fix what an error reports; default {@link DEFAULT_HUB_HINTS}. */
  hints?: HubHints;
}

/**
 * The advice that ends a {@link HubError}'s message, in the terms of the program that shows it: el-translate says
 * `set HF_TOKEN …` (its environment variables), a page says what its form offers.
 */
export interface HubHints {
  /** What to do to send a token with access, ending the message of a 401/403/private repository. */
  token: string;
  /** What to do when the endpoint cannot be reached (work from the cache, use a mirror); none by default. */
  network?: string;
  /** The id could also have been a local folder, so a missing repository's message says it is not one either. */
  localFolders?: boolean;
}

/** The hints of a caller that gives none: the options of `fetchHubModel`. */
export const DEFAULT_HUB_HINTS: Readonly<HubHints> = Object.freeze({
  token: 'pass a token with read access (the `token` option)',
});

/** `Authorization: Bearer …` for URLs of the endpoint's origin only: a token never goes to a CDN or elsewhere. */
export function hubAuthHeaders(context: HubContext, url: string): Record<string, string> {
  if (!context.token || new URL(url).origin !== new URL(context.endpoint).origin) return {};
  return { authorization: `Bearer ${context.token}` };
}

/** `fetch` with the context's signal; a failure to connect becomes a `NETWORK` {@link HubError}. */
export async function hubFetch(context: HubContext, url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await context.fetch(url, { ...init, signal: context.signal });
  } catch (error) {
    if (context.signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const hint = context.hints?.network;
    throw new HubError(
      'NETWORK',
      context.repo,
      `could not reach ${new URL(url).origin} for '${context.repo}' (${cause?.code ?? cause?.message ?? (error as Error).message})` +
        (hint ? `; ${hint}` : ''),
    );
  }
}

/**
 * The {@link HubError} for a Hub answer that is not a success, from its status and `X-Error-Code`, naming the
 * repository, the revision or file, and what to do.
 */
export function hubErrorFor(
  context: HubContext,
  answer: { status: number; errorCode?: string | null; message?: string; url: string; file?: string },
): HubError {
  const { repo, revision, endpoint, token } = context;
  const hints = context.hints ?? DEFAULT_HUB_HINTS;
  const detail = answer.message ? ` (${answer.message})` : '';
  if (answer.errorCode === 'RepoNotFound' || (answer.status === 404 && !answer.errorCode && !answer.file)) {
    return new HubError(
      'REPO_NOT_FOUND',
      repo,
      `'${repo}' ${hints.localFolders ? 'is not a local folder, and' : 'was not found:'} the Hub at ${endpoint} has ` +
        `no repository '${repo}'${detail}${token ? '' : `; if it is private, ${hints.token}`}`,
    );
  }
  if (answer.errorCode === 'GatedRepo') {
    return new HubError(
      'GATED',
      repo,
      token
        ? `'${repo}' is a gated repository and the token given has no access to it (${answer.status}); ` +
            `accept its conditions at ${endpoint}/${repo} with that token's account`
        : `'${repo}' is a gated repository (${answer.status}): accept its conditions at ${endpoint}/${repo}, then ` +
            hints.token,
    );
  }
  if (answer.status === 401 || answer.status === 403) {
    return new HubError(
      'UNAUTHORIZED',
      repo,
      `'${repo}': ${answer.status} ${answer.status === 401 ? 'unauthorised' : 'forbidden'}${detail}; ` +
        (token ? 'the token given has no access to it' : hints.token),
    );
  }
  if (answer.errorCode === 'RevisionNotFound') {
    return new HubError('REVISION_NOT_FOUND', repo, `'${repo}' has no revision '${revision}'${detail}`);
  }
  if (answer.errorCode === 'EntryNotFound' || (answer.status === 404 && answer.file)) {
    return new HubError(
      'ENTRY_NOT_FOUND',
      repo,
      `'${repo}' at ${revision} has no file '${answer.file ?? '?'}'`,
    );
  }
  return new HubError(
    'HTTP',
    repo,
    `'${repo}': unexpected answer ${answer.status} from ${answer.url}${detail}`,
  );
}

/** An ETag without `W/` and quotes, as huggingface_hub's `_normalize_etag` leaves it. */
export function normalizeHubEtag(etag: string | null): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

/** The `/resolve/` URL of `file` at `revision`. */
export function hubResolveUrl(context: HubContext, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${context.endpoint}/${context.repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}
