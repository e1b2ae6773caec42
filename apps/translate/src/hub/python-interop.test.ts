import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fakeCommit,
  type HubServer,
  readFixtureFiles,
  startHubServer,
} from '../../../../packages/translate/test/hub-server.js';
import { resolveModel } from './resolve-model.js';

/**
 * The cache is shared with Python's `huggingface_hub`: each side reads, offline, what the other wrote from the same
 * local Hub server. Runs where `HF_HUB_PYTHON` (default `python3`) can import `huggingface_hub`, and is skipped
 * elsewhere (e.g. `python3 -m venv v && v/bin/pip install huggingface_hub`, then `HF_HUB_PYTHON=v/bin/python`).
 */
const PYTHON = process.env.HF_HUB_PYTHON || 'python3';
const hasHuggingfaceHub =
  spawnSync(PYTHON, ['-c', 'import huggingface_hub'], { stdio: 'ignore' }).status === 0;

const FIXTURE = fileURLToPath(
  new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url),
);
const REPO = 'Helsinki-NLP/opus-mt-tiny';
const MAIN = fakeCommit('main');
const base = readFixtureFiles(FIXTURE);
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

/** Runs Python asynchronously: the Hub server lives in this process and must keep answering. */
async function python(script: string, env: Record<string, string>): Promise<unknown> {
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? 'null');
}

describe.runIf(hasHuggingfaceHub)("the cache shared with Python's huggingface_hub", () => {
  let server: HubServer;
  let work: string;
  beforeAll(async () => {
    server = await startHubServer({
      repos: { [REPO]: { commits: { [MAIN]: base }, refs: { main: MAIN } } },
      cdnHostname: 'localhost',
    });
    work = await mkdtemp(join(tmpdir(), 'hub-python-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('reads offline, with no request, a snapshot Python downloaded', async () => {
    const env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: join(work, 'from-python'), HF_HOME: work };
    const dir = await python(
      `import json; from huggingface_hub import snapshot_download
print(json.dumps(snapshot_download(${JSON.stringify(REPO)}, allow_patterns=${JSON.stringify(NEEDED)})))`,
      env,
    );
    server.reset();
    const model = await resolveModel(REPO, { env: { ...env, HF_HUB_OFFLINE: '1' } });
    expect(model).toMatchObject({ dir, commit: MAIN });
    expect(server.requests).toEqual([]);
    for (const file of NEEDED)
      expect(new Uint8Array(await readFile(join(model.dir, file)))).toEqual(base[file]);
  });

  it('lets Python read offline, and scan_cache_dir accept, what resolveModel downloaded', async () => {
    const env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: join(work, 'from-node'), HF_HOME: work };
    const model = await resolveModel(REPO, { env });
    server.reset();
    const seen = (await python(
      `import json; from huggingface_hub import hf_hub_download, scan_cache_dir
paths = {f: hf_hub_download(${JSON.stringify(REPO)}, f) for f in ${JSON.stringify(NEEDED)}}
info = scan_cache_dir()
repo = next(iter(info.repos))
print(json.dumps({"paths": paths, "warnings": [str(w) for w in info.warnings], "repo": repo.repo_id,
  "refs": {r: rev.commit_hash for rev in repo.revisions for r in rev.refs},
  "files": sorted(f.file_name for rev in repo.revisions for f in rev.files), "size": repo.size_on_disk}))`,
      { ...env, HF_HUB_OFFLINE: '1' },
    )) as {
      paths: Record<string, string>;
      warnings: string[];
      repo: string;
      refs: object;
      files: string[];
      size: number;
    };
    expect(server.requests).toEqual([]);
    expect(seen.warnings).toEqual([]);
    expect(seen.repo).toBe(REPO);
    expect(seen.refs).toEqual({ main: MAIN });
    expect(seen.files).toEqual([...NEEDED].sort());
    expect(seen.size).toBe(NEEDED.reduce((sum, file) => sum + base[file].length, 0));
    for (const file of NEEDED) expect(seen.paths[file]).toBe(join(model.dir, file));
  });
});
