import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CROSS_ORIGIN_ISOLATION, requestPath, serveStatic } from './static-server.mjs';

// A site and a model folder side by side with a secret next to them: nothing may ever answer with the secret.
const top = mkdtempSync(join(tmpdir(), 'el-static-server-'));
const SECRET = 'secret-bytes-that-must-never-be-served';
const SITE = { 'index.html': '<!doctype html><title>site</title>', 'app.js': 'console.log(1);' };
let server: Server;
let base: string;
let port: number;

beforeAll(async () => {
  for (const dir of ['site/sub', 'site/empty-dir', 'models/m/onnx', 'outside']) {
    mkdirSync(join(top, dir), { recursive: true });
  }
  writeFileSync(join(top, 'outside', 'secret.txt'), SECRET);
  writeFileSync(join(top, 'secret.txt'), SECRET);
  for (const [name, text] of Object.entries(SITE)) writeFileSync(join(top, 'site', name), text);
  writeFileSync(join(top, 'site', 'sub', 'index.html'), 'sub page');
  writeFileSync(join(top, 'site', 'empty-dir', 'listed-name.txt'), 'x');
  writeFileSync(join(top, 'site', '.env'), SECRET);
  writeFileSync(join(top, 'models', 'm', 'config.json'), '{"model_type":"marian"}');
  writeFileSync(join(top, 'models', 'm', 'onnx', 'encoder_model.onnx'), 'onnx bytes');
  symlinkSync(join(top, 'outside', 'secret.txt'), join(top, 'site', 'link.txt'));
  ({ server, url: base } = await serveStatic(
    { '/': join(top, 'site'), '/models/': join(top, 'models') },
    { files: { '/models/index.json': { body: '{"default":"models/m/"}' } } },
  ));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((done) => server?.close(done));
  rmSync(top, { recursive: true, force: true });
});

/** One request sent byte for byte over TCP (fetch would normalise `..`, `%2e` and backslashes away first). */
function raw(target: string, method = 'GET'): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', fail);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      done({
        status: Number(text.split(' ', 2)[1]),
        headers: text.slice(0, split).toLowerCase(),
        body: text.slice(split + 4),
      });
    });
    // write, not end: a half-closed socket may be dropped before a streamed body is sent.
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

describe('serveStatic', () => {
  it('listens on 127.0.0.1 only', async () => {
    expect((server.address() as { address: string }).address).toBe('127.0.0.1');
    // Every other address of this machine refuses the connection.
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => a!.address);
    for (const address of others) {
      const error = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
        const socket = connect(port, address);
        socket.on('connect', () => {
          socket.destroy();
          done(undefined);
        });
        socket.on('error', done);
      });
      expect(error?.code, address).toBe('ECONNREFUSED');
    }
  });

  it('serves files with their type and length; HEAD sends no body', async () => {
    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe(SITE['index.html']);
    const script = await fetch(new URL('app.js', base));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(SITE['app.js']);
    const model = await fetch(new URL('models/m/config.json', base));
    expect(await model.json()).toEqual({ model_type: 'marian' });
    const head = await raw('/app.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers).toContain(`content-length: ${SITE['app.js'].length}`);
    expect(head.body).toBe('');
  });

  it('answers the in-memory files before the folders', async () => {
    const index = await fetch(new URL('models/index.json', base));
    expect(index.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await index.json()).toEqual({ default: 'models/m/' });
  });

  it('answers a folder with its index.html, redirects it to its trailing slash, and lists no folder', async () => {
    expect(await (await fetch(new URL('sub/', base))).text()).toBe('sub page');
    const redirect = await raw('/sub?x=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers).toContain('location: ./sub/?x=1');
    for (const target of ['/empty-dir/', '/empty-dir', '/models/', '/models/m/', '/models/m/onnx/']) {
      const response = await raw(target);
      expect(response.status, target).toBe(404);
      expect(response.body).not.toContain('listed-name');
      expect(response.body).not.toContain('config.json');
    }
  });

  it.each([
    '/%',
    '/%E0%A4%A',
    '/..%c0%af',
    '/%c0%ae%c0%ae/secret.txt',
    '/%ff',
    'index.html',
    'http://127.0.0.1/index.html',
  ])('answers the malformed target %s with 400 and keeps serving', async (target) => {
    expect((await raw(target)).status).toBe(400);
    expect((await fetch(base)).status).toBe(200);
  });

  it.each([
    ['/../secret.txt', 403],
    ['/../outside/secret.txt', 403],
    ['/..%2fsecret.txt', 403],
    ['/..%2f..%2fetc/passwd', 403],
    ['/models/..%2f..%2foutside/secret.txt', 403],
    ['/%2e%2e/secret.txt', 403],
    ['/%2E%2E%2Fsecret.txt', 403],
    ['/sub/%2e%2e/%2e%2e/secret.txt', 403],
    ['/..%5csecret.txt', 403],
    ['/%5c..%5c..%5csecret.txt', 403],
    ['/..\\secret.txt', 403],
    ['/index.html%00.png', 403],
    ['/%00', 403],
    ['/./index.html', 403],
    ['/link.txt', 403],
    ['/%252e%252e/secret.txt', 404],
    ['//etc/passwd', 404],
    [`/${join(top, 'secret.txt')}`, 404],
    ['/.env', 404],
    ['/models/.hidden', 404],
  ])('refuses %s with %i and never sends what is outside', async (target, status) => {
    const response = await raw(target);
    expect(response.status).toBe(status);
    expect(response.body).not.toContain(SECRET);
    expect(response.body).not.toContain('root:');
  });

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('answers %s with 405', async (method) => {
    const response = await raw('/index.html', method);
    expect(response.status).toBe(405);
    expect(response.headers).toContain('allow: get, head');
  });

  it('answers any target built from dots, slashes and escapes without serving the secret or stopping', async () => {
    const piece = fc.constantFrom(
      '..',
      '.',
      '/',
      '\\',
      '%2e',
      '%2E',
      '%2f',
      '%5c',
      '%00',
      '%',
      '%c0%af',
      '%25',
    );
    const name = fc.constantFrom(
      'secret.txt',
      'outside',
      'models',
      'm',
      'sub',
      'index.html',
      'etc',
      'passwd',
      '',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(piece, name), { maxLength: 12 }), async (parts) => {
        const target = `/${parts.join('')}`;
        const response = await raw(target);
        expect([200, 301, 400, 403, 404]).toContain(response.status);
        expect(response.body).not.toContain(SECRET);
        if (response.status === 200) {
          // Whatever it served is a file of a mounted folder.
          const served = [...Object.values(SITE), 'sub page', '{"model_type":"marian"}', 'onnx bytes'];
          expect(served).toContain(response.body);
        }
      }),
      { numRuns: 300 },
    );
    expect((await fetch(base)).status).toBe(200);
  });
});

describe('serveStatic headers', () => {
  it('sends the given headers with every answer (file, in-memory file, 404, redirect), and none unasked', async () => {
    const isolated = await serveStatic(
      { '/': join(top, 'site') },
      { headers: CROSS_ORIGIN_ISOLATION, files: { '/models/index.json': { body: '{}' } } },
    );
    try {
      for (const path of ['', 'app.js', 'models/index.json', 'missing.js']) {
        const response = await fetch(new URL(path, isolated.url), { redirect: 'manual' });
        expect(response.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
        expect(response.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
      }
      const redirect = await fetch(new URL('sub', isolated.url), { redirect: 'manual' });
      expect(redirect.status).toBe(301);
      expect(redirect.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    } finally {
      await new Promise((done) => isolated.server.close(done));
    }
    const plain = await fetch(base);
    expect(plain.headers.get('cross-origin-embedder-policy')).toBeNull();
  });
});

describe('requestPath', () => {
  it('decodes once and drops the query', () => {
    expect(requestPath('/models/a%20b/config.json?x=%2e%2e')).toEqual({ path: '/models/a b/config.json' });
    expect(requestPath('/%252e%252e/x')).toEqual({ path: '/%2e%2e/x' });
  });
});
