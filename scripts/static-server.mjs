// The repository's one static file server: the playground (`pnpm playground`, its browser test, its measurements)
// and el-translate's browser test serve their pages and model folders with it. Local use only, so it is strict:
// 127.0.0.1, GET/HEAD, no directory listings, no dotfiles, nothing outside the mounted folders.
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** The only address the server listens on: nothing outside this machine reaches it. */
export const HOST = '127.0.0.1';

/**
 * The decoded path of a request target, or the status that refuses it: 400 for a target that is not an
 * origin-form path or whose percent-encoding is not UTF-8 (`/%`, `/%E0%A4%A`, `/..%c0%af`), 403 for `.` / `..`
 * segments, backslashes and NUL (encoded or not). Decoded once: `%252e` stays the file name `%2e`.
 *
 * @example
 * requestPath('/models/a%20b/config.json?x=1') // { path: '/models/a b/config.json' }
 * requestPath('/..%2f..%2fetc/passwd')          // { status: 403 }
 */
export function requestPath(target) {
  if (typeof target !== 'string' || !target.startsWith('/')) return { status: 400 };
  const raw = target.split(/[?#]/, 1)[0];
  let path;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return { status: 400 };
  }
  if (path.includes('\0') || path.includes('\\')) return { status: 403 };
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) return { status: 403 };
  return { path };
}

function inside(root, file) {
  const path = relative(root, file);
  return path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path);
}

function send(response, status, headers = {}, body = '') {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(body);
}

/**
 * The headers that make a page cross-origin isolated (`crossOriginIsolated`: SharedArrayBuffer, so WebAssembly
 * threads): the page gets its own browsing-context group, and may embed only same-origin resources or ones that
 * opt in. Pass as `serveStatic(mounts, { headers: CROSS_ORIGIN_ISOLATION })`.
 */
export const CROSS_ORIGIN_ISOLATION = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
});

/**
 * Serves `mounts` (URL prefix → folder, e.g. `{ '/': 'dist', '/models/': '/tmp/m' }`; the longest matching prefix
 * wins) and `options.files` (exact path → in-memory body, answered before any folder) on 127.0.0.1, GET and HEAD
 * only. A folder's `index.html` answers for the folder (a folder without one is 404: nothing is listed); names
 * starting with `.` are 404; a file whose real path (symlinks resolved) leaves its mount is 403. A malformed request
 * is answered (400), never thrown. Resolves with the server and its base URL once listening.
 *
 * @param mounts URL prefix (starting and ending with `/`) → folder on disk.
 * @param options `port` (0, the default, picks a free one), `files` (`{ '/models/index.json': { body, type } }`),
 *   `headers` (sent with every response, errors and redirects included, e.g. {@link CROSS_ORIGIN_ISOLATION}).
 * @example
 * const { server, url } = await serveStatic({ '/': 'dist' }, { port: 5180 });
 */
export function serveStatic(mounts, { port = 0, files = {}, headers = {} } = {}) {
  const entries = Object.entries(mounts)
    .map(([prefix, dir]) => {
      if (!prefix.startsWith('/') || !prefix.endsWith('/')) {
        throw new Error(`A mount prefix starts and ends with "/", got "${prefix}".`);
      }
      return [prefix, resolve(dir)];
    })
    .sort((a, b) => b[0].length - a[0].length);

  function answer(request, response) {
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(response, 405, { allow: 'GET, HEAD' }, 'method not allowed');
    }
    const { path, status } = requestPath(request.url);
    if (status) return send(response, status, {}, status === 400 ? 'bad request' : 'forbidden');
    const head = request.method === 'HEAD';
    const memory = Object.hasOwn(files, path) ? files[path] : undefined;
    if (memory) {
      const body = Buffer.from(memory.body);
      response.writeHead(200, {
        'content-type': memory.type ?? TYPES[extname(path)] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'no-cache',
      });
      return response.end(head ? undefined : body);
    }
    const mount = entries.find(([prefix]) => path.startsWith(prefix));
    const rest = mount ? path.slice(mount[0].length) : '';
    if (!mount || rest.split('/').some((segment) => segment.startsWith('.'))) {
      return send(response, 404, {}, 'not found');
    }
    const [, root] = mount;
    // join, not resolve: `//etc/passwd` under '/' is <root>/etc/passwd, not /etc/passwd.
    let file = join(root, rest);
    if (!inside(root, file)) return send(response, 403, {}, 'forbidden');
    let stats;
    try {
      stats = statSync(file);
      if (stats.isDirectory()) {
        // A folder answers with its index.html (never a listing), at its URL with the trailing slash so the page's
        // relative links resolve inside it.
        stats = statSync(join(file, 'index.html'));
        if (!path.endsWith('/')) {
          // Relative (`./name/`), so no request path can make it point at another host.
          const query = request.url.slice(request.url.split(/[?#]/, 1)[0].length);
          const name = path.slice(path.lastIndexOf('/') + 1);
          return send(response, 301, { location: `./${encodeURIComponent(name)}/${query}` });
        }
        file = join(file, 'index.html');
      }
      if (!stats.isFile()) return send(response, 404, {}, 'not found');
      if (!inside(realpathSync(root), realpathSync(file))) return send(response, 403, {}, 'forbidden');
    } catch {
      return send(response, 404, {}, 'not found');
    }
    response.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': stats.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (head) return response.end();
    createReadStream(file)
      .on('error', () => response.destroy())
      .pipe(response);
  }

  const server = createServer((request, response) => {
    try {
      answer(request, response);
    } catch {
      // A bug here must cost one request, not the server.
      if (response.headersSent) response.destroy();
      else send(response, 500, {}, 'internal error');
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolvePromise({ server, url: `http://${HOST}:${server.address().port}/` });
    });
  });
}
