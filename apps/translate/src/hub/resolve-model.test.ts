import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HubDownloadProgress, HubError, readSafetensors } from '@encouraging-loss/translate';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fakeCommit,
  gitBlobSha1,
  type HubServer,
  isLfsPath,
  readFixtureFiles,
  sha256,
  startHubServer,
} from '../../../../packages/translate/test/hub-server.js';
import { resolveModel } from './resolve-model.js';

const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url),
);
const REPO = 'Helsinki-NLP/opus-mt-tiny';
const MAIN = fakeCommit('main');
const V1 = fakeCommit('v1.0');
const TOKEN = 'hf_fixture_reader';

const base = readFixtureFiles(FIXTURE);
const bytes = (text: string) => new TextEncoder().encode(text);
// What a real OPUS-MT repository carries besides what a translation model needs.
const unwanted = {
  'tf_model.h5': bytes('tf weights'),
  'rust_model.ot': bytes('rust weights'),
  'flax_model.msgpack': bytes('flax weights'),
  'onnx/encoder_model.onnx': bytes('onnx graph'),
  'README.md': bytes('# opus-mt-tiny\n'),
  '.gitattributes': bytes('*.bin filter=lfs diff=lfs merge=lfs -text\n'),
};
const mainFiles = { ...base, ...unwanted };
const { 'model.safetensors': _safetensors, 'generation_config.json': _generation, ...v1Files } = base;
const { 'model.safetensors': _s, 'pytorch_model.bin': _b, ...withoutWeights } = base;
const shardedFiles = { ...withoutWeights, ...readFixtureFiles(join(FIXTURE, 'variants', 'sharded')) };

/** The files a translation model needs from `mainFiles`, as the issue lists them. */
const NEEDED = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'source.spm',
  'special_tokens_map.json',
  'target.spm',
  'tokenizer_config.json',
  'vocab.json',
];

const repos = {
  [REPO]: { commits: { [MAIN]: mainFiles, [V1]: v1Files }, refs: { main: MAIN, 'v1.0': V1 } },
  'Helsinki-NLP/opus-mt-tiny-gated': { commits: { [MAIN]: base }, refs: { main: MAIN }, gated: true },
  'Helsinki-NLP/opus-mt-tiny-sharded': { commits: { [MAIN]: shardedFiles }, refs: { main: MAIN } },
  'Helsinki-NLP/opus-mt-tiny-tf': {
    commits: {
      [MAIN]: {
        'config.json': base['config.json'],
        'tf_model.h5': bytes('tf'),
        'vocab.json': base['vocab.json'],
      },
    },
    refs: { main: MAIN },
  },
};

/** The blob name `huggingface_hub` gives a file: sha256 for LFS files, the git blob sha1 otherwise. */
const etagOf = (file: string, data: Uint8Array) => (isLfsPath(file) ? sha256(data) : gitBlobSha1(data));
const sizeOf = (files: Record<string, Uint8Array>, names: string[]) =>
  names.reduce((sum, name) => sum + files[name].length, 0);

let server: HubServer;
let work: string;
let cache: string;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startHubServer({ repos, tokens: [TOKEN] });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'hub-'));
  cache = join(work, 'hub-cache');
  // HF_HOME too, so no token file of this machine's user is read.
  env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: cache, HF_HOME: join(work, 'hf-home') };
  server.reset();
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const repoDir = (repo = REPO) => join(cache, `models--${repo.replace('/', '--')}`);
const resolvePaths = () =>
  server.requests
    .filter((request) => request.path.includes('/resolve/'))
    .map((request) => request.path.split('/').pop());

async function rejection(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

describe('resolveModel from the Hub API', () => {
  it('downloads only the needed files into the Python cache layout and returns the commit', async () => {
    const progress: HubDownloadProgress[] = [];
    const model = await resolveModel(REPO, { env, onProgress: (event) => progress.push(event) });

    expect(model).toEqual({
      dir: join(repoDir(), 'snapshots', MAIN),
      repo: REPO,
      revision: 'main',
      commit: MAIN,
    });
    expect(await readFile(join(repoDir(), 'refs', 'main'), 'utf8')).toBe(MAIN);
    expect((await readdir(model.dir)).sort()).toEqual(NEEDED);
    for (const file of NEEDED) {
      const pointer = join(model.dir, file);
      expect((await lstat(pointer)).isSymbolicLink()).toBe(true);
      expect(await readlink(pointer)).toBe(`../../blobs/${etagOf(file, base[file])}`);
      expect(new Uint8Array(await readFile(pointer))).toEqual(base[file]);
    }
    expect((await readdir(join(repoDir(), 'blobs'))).some((name) => name.endsWith('.incomplete'))).toBe(
      false,
    );
    // Nothing else was asked for, and no TF/Flax/Rust/ONNX byte was served.
    expect(new Set(resolvePaths())).toEqual(new Set(NEEDED));
    expect(server.bytesServed()).toBe(sizeOf(base, NEEDED));
    expect(server.requests.every((request) => request.authorization === undefined)).toBe(true);
    // LFS bytes come from the CDN origin.
    expect(server.requests.filter((r) => r.origin === 'cdn')).toHaveLength(NEEDED.filter(isLfsPath).length);
    // The last event of each file says all its bytes are there.
    for (const file of NEEDED) {
      const last = progress.filter((event) => event.file === file).pop();
      expect(last).toMatchObject({
        repo: REPO,
        bytes: base[file].length,
        total: base[file].length,
        cached: false,
      });
    }
    // The snapshot reads as a model folder.
    const weights = readSafetensors(new Uint8Array(await readFile(join(model.dir, 'model.safetensors'))));
    expect(weights.tensors.has('model.shared.weight')).toBe(true);
  });

  it('serves a cached revision with no request, online and with HF_HUB_OFFLINE=1', async () => {
    const first = await resolveModel(REPO, { env });
    server.reset();
    expect(await resolveModel(REPO, { env })).toEqual(first);
    expect(await resolveModel(REPO, { env: { ...env, HF_HUB_OFFLINE: '1' } })).toEqual(first);
    expect(await resolveModel(`${REPO}@${MAIN}`, { env })).toEqual({ ...first, revision: MAIN });
    expect(server.requests).toEqual([]);
    // `refresh` asks the Hub for the revision's commit (one request) and downloads nothing.
    expect(await resolveModel(REPO, { env, refresh: true })).toEqual(first);
    expect(server.requests.map((request) => request.path.split('?')[0])).toEqual([
      `/api/models/${REPO}/revision/main`,
    ]);
  });

  it('refuses offline when the revision is not cached, naming the repository', async () => {
    const offline = { ...env, HF_HUB_OFFLINE: 'true' };
    const empty = await rejection(resolveModel(REPO, { env: offline }));
    expect(empty.reason).toBe('OFFLINE_NOT_CACHED');
    expect(empty.code).toBe('INVALID_OPTION');
    expect(empty.message).toContain(`'${REPO}@main'`);
    expect(empty.message).toContain('HF_HUB_OFFLINE');
    await resolveModel(REPO, { env });
    const otherRevision = await rejection(resolveModel(`${REPO}@v1.0`, { env: offline }));
    expect(otherRevision.reason).toBe('OFFLINE_NOT_CACHED');
    expect(otherRevision.message).toContain(`'${REPO}@v1.0'`);
    // A snapshot whose weights blob is gone is not taken for complete.
    await rm(join(repoDir(), 'blobs', sha256(base['model.safetensors'])));
    expect((await rejection(resolveModel(REPO, { env: offline }))).message).toContain('missing: weights');
  });

  it('continues a half-written .incomplete blob with a Range request', async () => {
    const data = base['model.safetensors'];
    const half = Math.floor(data.length / 2);
    const digest = sha256(data);
    await mkdir(join(repoDir(), 'blobs'), { recursive: true });
    await writeFile(join(repoDir(), 'blobs', `${digest}.incomplete`), data.subarray(0, half));

    const model = await resolveModel(REPO, { env });

    const cdn = server.requests.filter((request) => request.path.includes(digest));
    expect(cdn).toHaveLength(1);
    expect(cdn[0].range).toBe(`bytes=${half}-`);
    expect(server.bytesServed()).toBe(sizeOf(base, NEEDED) - half);
    expect(new Uint8Array(await readFile(join(model.dir, 'model.safetensors')))).toEqual(data);
  });

  it('stops on abort, keeping the partial download for the next run', async () => {
    const controller = new AbortController();
    const digest = sha256(base['model.safetensors']);
    const stopped = await resolveModel(REPO, {
      env,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.file === 'model.safetensors') controller.abort();
      },
    }).catch((reason: unknown) => reason);
    expect((stopped as Error).name).toBe('AbortError');
    expect(await readdir(join(repoDir(), 'blobs'))).toContain(`${digest}.incomplete`);
    expect(await readdir(join(repoDir(), 'snapshots')).catch(() => [])).toEqual([]);
    const model = await resolveModel(REPO, { env });
    expect(new Uint8Array(await readFile(join(model.dir, 'model.safetensors')))).toEqual(
      base['model.safetensors'],
    );
  });

  it('refuses bytes that do not match the LFS sha256 and leaves nothing in snapshots', async () => {
    const digest = sha256(base['model.safetensors']);
    const corrupting = await startHubServer({ repos, corruptLfs: [digest] });
    try {
      const error = await rejection(
        resolveModel(REPO, { env: { ...env, HF_ENDPOINT: corrupting.endpoint } }),
      );
      expect(error.reason).toBe('CHECKSUM_MISMATCH');
      expect(error.code).toBe('INVALID_DATA');
      expect(error.message).toContain(REPO);
      expect(error.message).toContain('model.safetensors');
      expect(error.message).toContain(digest);
      expect(await readdir(join(repoDir(), 'snapshots')).catch(() => [])).toEqual([]);
      expect(await readdir(join(repoDir(), 'blobs'))).not.toContain(digest);
      expect(await readdir(join(repoDir(), 'blobs'))).not.toContain(`${digest}.incomplete`);
      expect(await readdir(join(repoDir(), 'refs')).catch(() => [])).toEqual([]);
    } finally {
      await corrupting.close();
    }
    // A good server afterwards completes the cache (the verified blobs are reused).
    expect((await resolveModel(REPO, { env })).commit).toBe(MAIN);
    expect(resolvePaths()).toContain('model.safetensors');
  });

  it('refuses a stale .incomplete whose bytes differ, and deletes it', async () => {
    const data = base['model.safetensors'];
    const digest = sha256(data);
    await mkdir(join(repoDir(), 'blobs'), { recursive: true });
    await writeFile(join(repoDir(), 'blobs', `${digest}.incomplete`), new Uint8Array(100).fill(7));
    expect((await rejection(resolveModel(REPO, { env }))).reason).toBe('CHECKSUM_MISMATCH');
    expect(await readdir(join(repoDir(), 'blobs'))).not.toContain(`${digest}.incomplete`);
    expect((await resolveModel(REPO, { env })).commit).toBe(MAIN);
  });

  it('names a gated repository without a token, or with one that has no access; fetches it with HF_TOKEN', async () => {
    const repo = 'Helsinki-NLP/opus-mt-tiny-gated';
    const noToken = await rejection(resolveModel(repo, { env }));
    expect(noToken.reason).toBe('GATED');
    expect(noToken.message).toContain(`'${repo}' is a gated repository (401)`);
    expect(noToken.message).toContain('HF_TOKEN');
    const wrong = await rejection(resolveModel(repo, { env: { ...env, HF_TOKEN: 'hf_other' } }));
    expect(wrong.reason).toBe('GATED');
    expect(wrong.message).toContain('has no access to it (403)');
    expect(await readdir(join(repoDir(repo), 'snapshots')).catch(() => [])).toEqual([]);

    server.reset();
    const model = await resolveModel(repo, { env: { ...env, HF_TOKEN: TOKEN } });
    expect(model.commit).toBe(MAIN);
    expect(new Uint8Array(await readFile(join(model.dir, 'model.safetensors')))).toEqual(
      base['model.safetensors'],
    );
    // The token goes to the Hub's origin only, never to the CDN.
    const hub = server.requests.filter((request) => request.origin === 'hub');
    const cdn = server.requests.filter((request) => request.origin === 'cdn');
    expect(hub.length).toBeGreaterThan(0);
    expect(cdn.length).toBeGreaterThan(0);
    expect(hub.every((request) => request.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(cdn.every((request) => request.authorization === undefined)).toBe(true);
  });

  it('reads the token file that `huggingface-cli login` writes when HF_TOKEN is unset', async () => {
    await mkdir(env.HF_HOME, { recursive: true });
    await writeFile(join(env.HF_HOME, 'token'), `${TOKEN}\n`);
    expect((await resolveModel('Helsinki-NLP/opus-mt-tiny-gated', { env })).commit).toBe(MAIN);
  });

  it('names a repository or revision that does not exist', async () => {
    const missing = await rejection(resolveModel('Helsinki-NLP/opus-mt-xx-yy', { env }));
    expect(missing.reason).toBe('REPO_NOT_FOUND');
    expect(missing.message).toContain("'Helsinki-NLP/opus-mt-xx-yy' is not a local folder");
    expect(missing.message).toContain(server.endpoint);
    const revision = await rejection(resolveModel(`${REPO}@v9`, { env }));
    expect(revision.reason).toBe('REVISION_NOT_FOUND');
    expect(revision.message).toContain(`'${REPO}' has no revision 'v9'`);
  });

  it('resolves @revision to its own commit and files', async () => {
    const model = await resolveModel(`${REPO}@v1.0`, { env });
    expect(model).toEqual({
      dir: join(repoDir(), 'snapshots', V1),
      repo: REPO,
      revision: 'v1.0',
      commit: V1,
    });
    expect(await readFile(join(repoDir(), 'refs', 'v1.0'), 'utf8')).toBe(V1);
    // v1.0 has no safetensors: the PyTorch weights are taken instead.
    expect(await readdir(model.dir)).toContain('pytorch_model.bin');
    expect(await readdir(model.dir)).not.toContain('model.safetensors');
    expect(new Uint8Array(await readFile(join(model.dir, 'pytorch_model.bin')))).toEqual(
      base['pytorch_model.bin'],
    );
  });

  it('fetches a sharded checkpoint: the index and the shards it names', async () => {
    const repo = 'Helsinki-NLP/opus-mt-tiny-sharded';
    const model = await resolveModel(repo, { env });
    const files = await readdir(model.dir);
    for (const shard of [
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]) {
      expect(files).toContain(shard);
      expect(new Uint8Array(await readFile(join(model.dir, shard)))).toEqual(shardedFiles[shard]);
    }
    server.reset();
    await resolveModel(repo, { env });
    expect(server.requests).toEqual([]);
  });

  it('refuses a repository without weights this tool reads, listing what it has', async () => {
    const error = await rejection(resolveModel('Helsinki-NLP/opus-mt-tiny-tf', { env }));
    expect(error.reason).toBe('UNSUPPORTED_REPO');
    expect(error.message).toContain('tf_model.h5');
    expect(resolvePaths()).toEqual([]);
  });

  it('returns an existing local path as is, and rejects a spec that is neither', async () => {
    server.reset();
    expect(await resolveModel(FIXTURE, { env })).toEqual({ dir: FIXTURE });
    const error = await resolveModel('./no-such-folder', { env }).catch((reason: unknown) => reason);
    expect(error).toMatchObject({ code: 'INVALID_OPTION' });
    expect((error as Error).message).toContain(
      "'./no-such-folder' is neither an existing folder nor a Hugging Face Hub id",
    );
    expect(server.requests).toEqual([]);
  });

  it('says which endpoint it could not reach', async () => {
    const error = await rejection(resolveModel(REPO, { env: { ...env, HF_ENDPOINT: 'http://127.0.0.1:9' } }));
    expect(error.reason).toBe('NETWORK');
    expect(error.message).toContain('http://127.0.0.1:9');
    expect(error.message).toContain(REPO);
  });
});
