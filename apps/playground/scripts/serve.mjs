#!/usr/bin/env node
// A tiny static file server for the built site (and, in the browser test, a model folder beside it).
// Usage: node scripts/serve.mjs [dir=dist] [--port 5180] [--model EXPORTED_FOLDER]   (PORT=0 picks a free port)
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/**
 * Serves `mounts` (URL prefix → folder, e.g. { '/': 'dist', '/models/': '/tmp/m' }) on 127.0.0.1.
 * Resolves with the server and its base URL once listening.
 */
export function serveStatic(mounts, { port = 0, host = '127.0.0.1' } = {}) {
  const entries = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix, resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const mount = entries.find(([prefix]) => path.startsWith(prefix));
    if (!mount || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(mount ? 405 : 404).end();
      return;
    }
    const [prefix, dir] = mount;
    let file = join(dir, path.slice(prefix.length));
    if (file !== dir && !file.startsWith(dir + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const { size } = statSync(file);
      response.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': size,
        'cache-control': 'no-cache',
      });
      if (request.method === 'HEAD') response.end();
      else createReadStream(file).pipe(response);
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolvePromise({ server, url: `http://${host}:${address.port}/` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const portFlag = args.indexOf('--port');
  const port = Number(portFlag >= 0 ? args[portFlag + 1] : (process.env.PORT ?? 5180));
  const modelFlag = args.indexOf('--model');
  const model = modelFlag >= 0 ? resolve(args[modelFlag + 1]) : undefined;
  const dir =
    args.find((a, i) => !a.startsWith('--') && !['--port', '--model'].includes(args[i - 1])) ?? 'dist';
  try {
    statSync(join(dir, 'index.html'));
  } catch {
    console.error(
      `No site in ${resolve(dir)}: build it first (pnpm --filter @encouraging-loss/playground build).`,
    );
    process.exit(1);
  }
  // --model DIR serves an exported model folder beside the site and opens the Translate view on it.
  const name = model ? basename(model).replace(/[^\w.-]/g, '_') : undefined;
  const mounts = model ? { '/': dir, [`/models/${name}/`]: model } : { '/': dir };
  const { url } = await serveStatic(mounts, { port });
  console.log(`Encouraging Loss playground: ${url}  (Ctrl-C stops)`);
  if (model) console.log(`Translate with ${model}: ${url}?model=models/${name}/#translate`);
}
