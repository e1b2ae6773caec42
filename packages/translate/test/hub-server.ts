import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A local stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, for tests: nothing leaves the machine.
 *
 * It answers what `huggingface_hub` and `@huggingface/hub` ask of the real Hub:
 * - `GET /api/models/{org}/{name}` and `/api/models/{org}/{name}/revision/{rev}` → `{ id, sha, siblings, gated, … }`;
 * - `GET /api/models/{org}/{name}/tree/{rev}` → the files with their blob ids and LFS sha256 (Python's
 *   `snapshot_download` and `@huggingface/hub`'s `listFiles` list a repository this way; one page);
 * - `HEAD`/`GET /{org}/{name}/resolve/{rev}/{file}` with `X-Repo-Commit` and `ETag` (the git blob sha1); an LFS file
 *   is answered with a 302 to a CDN origin (a second port) carrying `X-Linked-Etag` (its sha256) and
 *   `X-Linked-Size`, a regular file with its bytes; both honour `Range`;
 * - errors as the Hub sends them: 404 + `X-Error-Code: RepoNotFound` / `RevisionNotFound` / `EntryNotFound`, and
 *   for a gated repo without an accepted token 401 (no token) or 403 (a token without access) +
 *   `X-Error-Code: GatedRepo`. Gating covers downloads only, as on the Hub; the metadata stays public.
 *
 * CORS headers as the Hub's (and preflights answered) let a page on another origin use it. Every request is recorded
 * (method, path, `Authorization`, `Range`, which origin) and every body byte counted.
 */
export interface HubFixtureRepo {
  /** Files of each commit (40-hex sha → path → bytes). */
  commits: Record<string, Record<string, Uint8Array>>;
  /** Branches and tags → commit sha; `main` is the default revision. */
  refs: Record<string, string>;
  /** Downloads need a token listed in {@link HubServerOptions.tokens}. */
  gated?: boolean;
}

export interface HubServerOptions {
  /** Repositories by id (`org/name`). */
  repos: Record<string, HubFixtureRepo>;
  /** Tokens that may download gated repos. */
  tokens?: string[];
  /** sha256s of LFS files whose bytes the CDN alters (last byte flipped) to test checksum verification. */
  corruptLfs?: string[];
  /**
   * Host name in the LFS redirect (the CDN listens on 127.0.0.1 either way). Default `127.0.0.1`; Python's
   * `huggingface_hub` follows a `HEAD` redirect to the same host name whatever the port, so a test of it uses
   * `localhost` to make the CDN another host, as on the Hub.
   */
  cdnHostname?: string;
  /**
   * `Cross-Origin-Resource-Policy` sent on every answer of both origins (e.g. `cross-origin`), for a page that is
   * cross-origin isolated (`COEP: require-corp`) and loads from the server without CORS. Default none.
   */
  crossOriginResourcePolicy?: 'same-origin' | 'same-site' | 'cross-origin';
}

export interface RecordedRequest {
  origin: 'hub' | 'cdn';
  method: string;
  path: string;
  authorization?: string;
  range?: string;
}

export interface HubServer {
  /** Base URL to use as `HF_ENDPOINT`, e.g. `http://127.0.0.1:40123`. */
  endpoint: string;
  /** Base URL of the CDN origin LFS files redirect to. */
  cdn: string;
  /** Every request answered, in order. */
  requests: RecordedRequest[];
  /** Body bytes served so far, over both origins. */
  bytesServed(): number;
  /** Forgets recorded requests and served bytes. */
  reset(): void;
  close(): Promise<void>;
}

/** Files stored with Git LFS, as the Hub's default `.gitattributes` has them. */
export function isLfsPath(path: string): boolean {
  return /\.(safetensors|bin|spm|model|h5|ot|msgpack|onnx)$/.test(path);
}

/** The git blob id of `bytes`: sha1 of `blob <size>\0` + bytes (the Hub's ETag for a regular file). */
export function gitBlobSha1(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A deterministic 40-hex commit sha for a label. */
export function fakeCommit(label: string): string {
  return createHash('sha1').update(`commit ${label}`).digest('hex');
}

/** The regular files at the top of `dir` (sub-folders skipped), path → bytes. */
export function readFixtureFiles(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files[name] = new Uint8Array(readFileSync(path));
  }
  return files;
}

function lfsPointer(bytes: Uint8Array): Uint8Array {
  return new TextEncoder().encode(
    `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(bytes)}\nsize ${bytes.length}\n`,
  );
}

function sendError(
  response: ServerResponse,
  status: number,
  code: string | undefined,
  message: string,
): void {
  const body = JSON.stringify({ error: message });
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...(code ? { 'X-Error-Code': code } : {}),
  });
  response.end(body);
}

/** Parses `bytes=a-` / `bytes=a-b` against `size`; `undefined` when absent, `null` when unsatisfiable. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined | null {
  if (!header) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

/** Starts the Hub and CDN listeners on 127.0.0.1 (ephemeral ports). */
export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const requests: RecordedRequest[] = [];
  let served = 0;
  const corrupt = new Set(options.corruptLfs ?? []);
  const tokens = new Set(options.tokens ?? []);
  const lfsBlobs = new Map<string, Uint8Array>();
  for (const repo of Object.values(options.repos)) {
    for (const files of Object.values(repo.commits)) {
      for (const [path, bytes] of Object.entries(files))
        if (isLfsPath(path)) lfsBlobs.set(sha256(bytes), bytes);
    }
  }

  let cdnBase = '';

  function sendBytes(
    request: IncomingMessage,
    response: ServerResponse,
    bytes: Uint8Array,
    headers: object,
  ): void {
    const range = parseRange(request.headers.range, bytes.length);
    if (range === null) {
      response.writeHead(416, { 'Content-Range': `bytes */${bytes.length}`, ...headers });
      response.end();
      return;
    }
    const { start, end } = range ?? { start: 0, end: bytes.length - 1 };
    const body = bytes.subarray(start, end + 1);
    response.writeHead(range ? 206 : 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Accept-Ranges': 'bytes',
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${bytes.length}` } : {}),
      ...headers,
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    served += body.length;
    response.end(body);
  }

  /** CORS as the Hub sends it, so a page on another origin can call the server; answers preflights itself. */
  function cors(request: IncomingMessage, response: ServerResponse): boolean {
    response.setHeader('Access-Control-Allow-Origin', '*');
    if (options.crossOriginResourcePolicy)
      response.setHeader('Cross-Origin-Resource-Policy', options.crossOriginResourcePolicy);
    response.setHeader(
      'Access-Control-Expose-Headers',
      'X-Repo-Commit, X-Linked-Etag, X-Linked-Size, ETag, Content-Range, Content-Length, X-Error-Code',
    );
    if (request.method !== 'OPTIONS') return false;
    response.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type',
    });
    response.end();
    return true;
  }

  function record(origin: 'hub' | 'cdn', request: IncomingMessage): void {
    requests.push({
      origin,
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
      ...(request.headers.range ? { range: request.headers.range } : {}),
    });
  }

  function resolveRevision(
    response: ServerResponse,
    repoId: string,
    revision: string,
  ): { repo: HubFixtureRepo; commit: string } | undefined {
    const repo = options.repos[repoId];
    if (!repo) {
      sendError(response, 404, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    const commit = repo.commits[revision] ? revision : repo.refs[revision];
    if (!commit || !repo.commits[commit]) {
      sendError(response, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return undefined;
    }
    return { repo, commit };
  }

  /** `/api/models/{repo}/tree/{rev}[/{path}]?recursive=true`: the files under `path` with their blob ids (one page). */
  function sendTree(
    response: ServerResponse,
    files: Record<string, Uint8Array>,
    under: string,
    recursive: boolean,
  ): void {
    const prefix = under ? `${under}/` : '';
    const inside = Object.entries(files).filter(([path]) => path.startsWith(prefix));
    const folders = new Set<string>();
    const entries: object[] = [];
    for (const [path] of inside) {
      const rest = path.slice(prefix.length).split('/');
      if (!recursive && rest.length > 1) folders.add(prefix + rest[0]);
    }
    for (const folder of folders)
      entries.push({ type: 'directory', path: folder, size: 0, oid: fakeCommit(folder) });
    const listed = inside.filter(([path]) => recursive || !path.slice(prefix.length).includes('/'));
    entries.push(
      ...listed.map(([path, bytes]) => ({
        type: 'file',
        path,
        size: isLfsPath(path) ? lfsPointer(bytes).length : bytes.length,
        oid: gitBlobSha1(isLfsPath(path) ? lfsPointer(bytes) : bytes),
        ...(isLfsPath(path)
          ? { lfs: { oid: sha256(bytes), size: bytes.length, pointerSize: lfsPointer(bytes).length } }
          : {}),
      })),
    );
    response.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify(entries));
  }

  function hub(request: IncomingMessage, response: ServerResponse): void {
    record('hub', request);
    if (cors(request, response)) return;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const segments = url.pathname.split('/').slice(1);
    if (segments[0] === 'api' && segments[1] === 'models' && segments.length >= 4) {
      const repoId = `${decodeURIComponent(segments[2])}/${decodeURIComponent(segments[3])}`;
      if (segments[4] === 'tree' && segments.length >= 6) {
        const found = resolveRevision(response, repoId, decodeURIComponent(segments[5]));
        if (found) {
          const under = segments.slice(6).map(decodeURIComponent).join('/');
          sendTree(
            response,
            found.repo.commits[found.commit],
            under,
            url.searchParams.get('recursive') === 'true',
          );
        }
        return;
      }
      let revision = 'main';
      if (segments.length === 6 && segments[4] === 'revision') revision = decodeURIComponent(segments[5]);
      else if (segments.length !== 4) {
        sendError(response, 404, undefined, 'Not found');
        return;
      }
      const found = resolveRevision(response, repoId, revision);
      if (!found) return;
      const body = JSON.stringify({
        _id: fakeCommit(repoId).slice(0, 24),
        id: repoId,
        modelId: repoId,
        author: repoId.split('/')[0],
        sha: found.commit,
        private: false,
        gated: found.repo.gated ? 'manual' : false,
        disabled: false,
        downloads: 0,
        likes: 0,
        lastModified: '2024-01-01T00:00:00.000Z',
        pipeline_tag: 'translation',
        tags: ['transformers', 'marian', 'translation'],
        siblings: Object.keys(found.repo.commits[found.commit]).map((rfilename) => ({ rfilename })),
      });
      response.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      response.end(body);
      return;
    }
    if (segments.length >= 5 && segments[2] === 'resolve') {
      const repoId = `${decodeURIComponent(segments[0])}/${decodeURIComponent(segments[1])}`;
      const found = resolveRevision(response, repoId, decodeURIComponent(segments[3]));
      if (!found) return;
      if (found.repo.gated) {
        const token = request.headers.authorization?.replace(/^Bearer /, '');
        if (!token) {
          sendError(response, 401, 'GatedRepo', `Access to model ${repoId} is restricted. Please log in.`);
          return;
        }
        if (!tokens.has(token)) {
          sendError(
            response,
            403,
            'GatedRepo',
            `Access to model ${repoId} is restricted and you are not in the authorized list.`,
          );
          return;
        }
      }
      const path = segments.slice(4).map(decodeURIComponent).join('/');
      const bytes = found.repo.commits[found.commit][path];
      if (!bytes) {
        sendError(response, 404, 'EntryNotFound', `Entry not found: ${path}`);
        return;
      }
      if (isLfsPath(path)) {
        const digest = sha256(bytes);
        response.writeHead(302, {
          Location: `${cdnBase}/repos/${digest.slice(0, 2)}/${digest}?Expires=1&Signature=fixture`,
          'X-Repo-Commit': found.commit,
          ETag: `"${gitBlobSha1(lfsPointer(bytes))}"`,
          'X-Linked-Etag': `"${digest}"`,
          'X-Linked-Size': String(bytes.length),
          'Content-Length': 0,
        });
        response.end();
        return;
      }
      sendBytes(request, response, bytes, { 'X-Repo-Commit': found.commit, ETag: `"${gitBlobSha1(bytes)}"` });
      return;
    }
    sendError(response, 404, undefined, 'Not found');
  }

  function cdn(request: IncomingMessage, response: ServerResponse): void {
    record('cdn', request);
    if (cors(request, response)) return;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const digest = url.pathname.split('/').pop() ?? '';
    const bytes = lfsBlobs.get(digest);
    if (!bytes) {
      response.writeHead(404);
      response.end();
      return;
    }
    let body = bytes;
    if (corrupt.has(digest)) {
      body = bytes.slice();
      body[body.length - 1] ^= 0xff;
    }
    sendBytes(request, response, body, { ETag: `"${digest}"` });
  }

  const listen = async (server: Server): Promise<string> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const hubServer = createServer(hub);
  const cdnServer = createServer(cdn);
  const endpoint = await listen(hubServer);
  cdnBase = (await listen(cdnServer)).replace('127.0.0.1', options.cdnHostname ?? '127.0.0.1');
  const closeServer = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  return {
    endpoint,
    cdn: cdnBase,
    requests,
    bytesServed: () => served,
    reset() {
      requests.length = 0;
      served = 0;
    },
    close: async () => {
      await Promise.all([closeServer(hubServer), closeServer(cdnServer)]);
    },
  };
}
