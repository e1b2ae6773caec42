import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../../../../scripts/static-server.mjs';
import { HttpStore, readText } from '../index.js';

let server: Server;
let url = '';

beforeAll(async () => {
  const folder = mkdtempSync(join(tmpdir(), 'el-http-store-'));
  mkdirSync(join(folder, 'onnx'));
  writeFileSync(join(folder, 'config.json'), '{"model_type":"marian"}');
  writeFileSync(join(folder, 'onnx', 'encoder model.onnx'), Uint8Array.from([8, 7, 6]));
  ({ server, url } = await serveStatic({ '/models/tiny/': folder }));
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe('HttpStore', () => {
  it('reads files of a served folder by name (URL-encoded), with or without the trailing slash', async () => {
    for (const base of [`${url}models/tiny/`, `${url}models/tiny`]) {
      const store = new HttpStore(base);
      expect(JSON.parse(await readText(store, 'config.json'))).toEqual({ model_type: 'marian' });
      expect(Array.from(await store.read('onnx/encoder model.onnx'))).toEqual([8, 7, 6]);
      expect(await store.exists('config.json')).toBe(true);
      expect(await store.exists('tokenizer.json')).toBe(false);
    }
  });

  it('a missing file is INVALID_DATA naming the URL; an unreachable server IO_ERROR', async () => {
    const store = new HttpStore(`${url}models/tiny/`);
    await expect(store.read('tokenizer.json')).rejects.toMatchObject({
      code: 'INVALID_DATA',
      message: `${url}models/tiny/ has no file tokenizer.json.`,
    });
    const closed = new HttpStore('http://127.0.0.1:9/models/');
    await expect(closed.read('config.json')).rejects.toMatchObject({ code: 'IO_ERROR' });
  });

  it('is read-only and cannot list: INVALID_OPTION saying so', async () => {
    const store = new HttpStore(`${url}models/tiny/`);
    expect(store.readOnly).toBe(true);
    await expect(store.write('a.txt', 'x')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: /read-only/,
    });
    await expect(store.publish('ckpt', new Map())).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(store.list()).rejects.toMatchObject({ code: 'INVALID_OPTION', message: /by file name/ });
    expect(() => new HttpStore('models/tiny')).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('passes the headers and the fetch it is given', async () => {
    const seen: string[] = [];
    const store = new HttpStore(`${url}models/tiny/`, {
      headers: { authorization: 'Bearer t' },
      fetch: (input, init) => {
        seen.push(`${init?.method} ${new Headers(init?.headers).get('authorization')}`);
        return fetch(input, init);
      },
    });
    await store.read('config.json');
    expect(seen).toEqual(['GET Bearer t']);
  });
});
