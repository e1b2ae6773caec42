import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fakeCommit,
  type HubServer,
  readFixtureFiles,
  sha256,
  startHubServer,
} from '../../test/hub-server.js';
import { loadModel } from '../checkpoint/model-folder.js';
import { initBackend } from '../training/backend.js';
import { cacheApiBlobStore, memoryBlobStore } from './blob-store.js';
import { HubError } from './errors.js';
import { fetchHubFolder, fetchHubModel } from './fetch-hub-model.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/opus-mt-tiny', import.meta.url));
const REPO = 'Helsinki-NLP/opus-mt-tiny';
const MAIN = fakeCommit('main');
const TOKEN = 'hf_fixture_reader';
const base = readFixtureFiles(FIXTURE);
const files = { ...base, 'tf_model.h5': new Uint8Array(9), 'onnx/decoder_model.onnx': new Uint8Array(9) };
const NEEDED = [
  'config.json',
  'generation_config.json',
  'source.spm',
  'target.spm',
  'vocab.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'model.safetensors',
];
const repos = {
  [REPO]: { commits: { [MAIN]: files }, refs: { main: MAIN } },
  'Helsinki-NLP/opus-mt-tiny-gated': { commits: { [MAIN]: base }, refs: { main: MAIN }, gated: true },
};

let server: HubServer;
beforeAll(async () => {
  server = await startHubServer({ repos, tokens: [TOKEN] });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

async function rejection(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

describe('fetchHubModel (browser-neutral: fetch, Web Crypto, a blob store)', () => {
  it('fetches the needed files, verified, into the store; the next call makes no request', async () => {
    const store = memoryBlobStore();
    const progress: Array<{ file: string; bytes: number; total?: number }> = [];
    const model = await fetchHubModel(REPO, {
      endpoint: server.endpoint,
      store,
      onProgress: (p) => progress.push(p),
    });
    expect(model.commit).toBe(MAIN);
    expect([...model.files.keys()]).toEqual(NEEDED);
    for (const file of NEEDED) expect(model.files.get(file)).toEqual(base[file]);
    expect(
      store.entries.get(`models--Helsinki-NLP--opus-mt-tiny/blobs/${sha256(base['model.safetensors'])}`),
    ).toEqual(base['model.safetensors']);
    expect(new TextDecoder().decode(store.entries.get('models--Helsinki-NLP--opus-mt-tiny/refs/main'))).toBe(
      MAIN,
    );
    expect(progress.filter((p) => p.file === 'model.safetensors').pop()).toMatchObject({
      bytes: base['model.safetensors'].length,
      total: base['model.safetensors'].length,
    });
    expect(server.requests.some((request) => /tf_model|onnx/.test(request.path))).toBe(false);

    server.reset();
    const cached: Array<{ file: string; cached: boolean }> = [];
    const again = await fetchHubModel(REPO, {
      endpoint: server.endpoint,
      store,
      offline: true,
      onProgress: ({ file, cached: fromStore }) => cached.push({ file, cached: fromStore }),
    });
    expect(cached).toEqual(NEEDED.map((file) => ({ file, cached: true })));
    expect(again.commit).toBe(MAIN);
    expect(again.files.get('model.safetensors')).toEqual(base['model.safetensors']);
    expect(server.requests).toEqual([]);
  });

  it('refuses offline what the store does not hold', async () => {
    const error = await rejection(fetchHubModel(REPO, { endpoint: server.endpoint, offline: true }));
    expect(error.reason).toBe('OFFLINE_NOT_CACHED');
    expect(error.message).toContain(`'${REPO}@main'`);
  });

  it('keeps nothing of a download whose sha256 does not match', async () => {
    const corrupting = await startHubServer({ repos, corruptLfs: [sha256(base['model.safetensors'])] });
    const store = memoryBlobStore();
    try {
      const error = await rejection(fetchHubModel(REPO, { endpoint: corrupting.endpoint, store }));
      expect(error.reason).toBe('CHECKSUM_MISMATCH');
      expect(error.message).toContain(`'model.safetensors' of '${REPO}'`);
    } finally {
      await corrupting.close();
    }
    const keys = [...store.entries.keys()];
    expect(keys.some((key) => key.includes(sha256(base['model.safetensors'])))).toBe(false);
    expect(keys.some((key) => key.includes('/snapshots/') || key.includes('/refs/'))).toBe(false);
  });

  it('names a gated repository, and fetches it with a token that never reaches the CDN', async () => {
    const repo = 'Helsinki-NLP/opus-mt-tiny-gated';
    expect((await rejection(fetchHubModel(repo, { endpoint: server.endpoint }))).reason).toBe('GATED');
    server.reset();
    const model = await fetchHubModel(repo, { endpoint: server.endpoint, token: TOKEN });
    expect(model.files.get('model.safetensors')).toEqual(base['model.safetensors']);
    expect(
      server.requests.filter((r) => r.origin === 'cdn').every((r) => r.authorization === undefined),
    ).toBe(true);
    expect(
      server.requests.filter((r) => r.origin === 'hub').every((r) => r.authorization === `Bearer ${TOKEN}`),
    ).toBe(true);
  });

  it('names a repository that does not exist', async () => {
    const error = await rejection(fetchHubModel('Helsinki-NLP/opus-mt-xx-yy', { endpoint: server.endpoint }));
    expect(error.reason).toBe('REPO_NOT_FOUND');
    expect(error.message).toContain("'Helsinki-NLP/opus-mt-xx-yy'");
    expect(error.message).toContain(`the Hub at ${server.endpoint} has no repository`);
  });

  it("ends its messages with the caller's advice: the options by default, its own when it gives hints", async () => {
    const repo = 'Helsinki-NLP/opus-mt-tiny-gated';
    const plain = await rejection(fetchHubModel(repo, { endpoint: server.endpoint }));
    expect(plain.message).toContain('the `token` option');
    const hinted = await rejection(
      fetchHubModel(repo, { endpoint: server.endpoint, hints: { token: 'paste a token in the form' } }),
    );
    expect(hinted.message).toContain(
      `accept its conditions at ${server.endpoint}/${repo}, then paste a token`,
    );
    expect(hinted.message).not.toContain('`token` option');
  });

  it('says offline and not cached when the endpoint cannot be reached and the store lacks the model', async () => {
    const error = await rejection(fetchHubModel(REPO, { endpoint: 'http://127.0.0.1:9' }));
    expect(error.reason).toBe('NETWORK');
    expect(error.message).toContain('could not reach http://127.0.0.1:9');
    expect(error.message).toContain(`'${REPO}@main' is not cached`);
  });

  it('gives the files as a folder named after the repository and commit, which loadModel reads', async () => {
    const { folder, commit } = await fetchHubFolder(REPO, { endpoint: server.endpoint });
    expect(commit).toBe(MAIN);
    expect(folder.name).toBe(`${REPO}@${MAIN.slice(0, 7)}`);
    expect(folder.list()).toEqual([...NEEDED].sort());
    await initBackend('cpu');
    const { model, tokenizer } = await loadModel(folder);
    try {
      expect(tokenizer.encode('Hello').length).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });

  it('keeps blobs in a Cache API cache', async () => {
    // The part of the Cache interface the store uses, over a Map, with real Request/Response semantics.
    const entries = new Map<string, Response>();
    const cache = {
      match: async (url: string) => entries.get(url)?.clone(),
      put: async (url: string, response: Response) => {
        entries.set(url, response);
      },
    } as unknown as Cache;
    const store = cacheApiBlobStore(cache);
    await fetchHubModel(REPO, { endpoint: server.endpoint, store });
    expect(
      entries.has(`https://hub-cache.el-translate.invalid/models--Helsinki-NLP--opus-mt-tiny/refs/main`),
    ).toBe(true);
    server.reset();
    const model = await fetchHubModel(REPO, { endpoint: server.endpoint, store });
    expect(model.files.get('source.spm')).toEqual(base['source.spm']);
    expect(server.requests).toEqual([]);
  });
});
