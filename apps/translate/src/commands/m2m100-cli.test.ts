import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@encouraging-loss/translate';
import {
  greedyGenerate,
  initNodeBackend,
  type M2M100FamilyTokenizer,
  type M2M100Model,
  nodeFolder,
  translateIds,
} from '@encouraging-loss/translate/node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  fakeCommit,
  type HubServer,
  readFixtureFiles,
  startHubServer,
} from '../../../../packages/translate/test/hub-server.js';

/*
 * The CLI over the M2M100 family and Hub ids: `translate --beam 1` of the NLLB fixture is HF's greedy generation
 * with the forced target language (the PyTorch reference's, reference.json), languages are checked by name, and
 * `--model` / `--init` take Hub ids served by a local stand-in of the Hub (nothing leaves the machine).
 */

const CLI = fileURLToPath(new URL('../../node_modules/.cache/el-translate-test/cli.js', import.meta.url));
const NLLB = fileURLToPath(new URL('../../../../packages/translate/fixtures/nllb-200-tiny', import.meta.url));
const OPUS = fileURLToPath(new URL('../../../../packages/translate/fixtures/opus-mt-tiny', import.meta.url));
const reference = JSON.parse(readFileSync(join(NLLB, 'reference.json'), 'utf8')) as {
  pairs: { source: string; target: string; source_ids: number[] }[];
  greedy: { max_new_tokens: number; forced_bos_token_id: number; outputs: number[][] };
};
const LANGUAGES = ['--src-lang', 'eng_Latn', '--tgt-lang', 'deu_Latn'];
const MAIN = fakeCommit('main');
const work = mkdtempSync(join(tmpdir(), 'el-m2m100-cli-'));
const sources = reference.pairs.map((p) => p.source);
const data = join(work, 'pairs.tsv');
writeFileSync(data, reference.pairs.map((p) => `${p.source}\t${p.target}\n`).join(''));

let server: HubServer;

beforeAll(async () => {
  await initNodeBackend('wasm');
  server = await startHubServer({
    repos: {
      'Helsinki-NLP/opus-mt-tiny': { commits: { [MAIN]: readFixtureFiles(OPUS) }, refs: { main: MAIN } },
      'facebook/nllb-200-tiny': { commits: { [MAIN]: readFixtureFiles(NLLB) }, refs: { main: MAIN } },
    },
  });
});
afterAll(async () => {
  await server.close();
});

/** Runs the CLI as a child process, without blocking this process (whose Hub server must answer it). */
function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const { HF_HUB_OFFLINE: _, ...env } = process.env;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

const hubEnv = (name: string) => ({
  HF_ENDPOINT: server.endpoint,
  HF_HUB_CACHE: join(work, name, 'hub'),
  HF_HOME: join(work, name, 'hf-home'),
});

describe('NLLB-200 greedy and beam decoding', () => {
  test('translate --beam 1 is the model greedy of generation.ts and the PyTorch reference greedy', async () => {
    const { model, tokenizer } = await loadModel(nodeFolder(NLLB), {
      srcLang: 'eng_Latn',
      tgtLang: 'deu_Latn',
    });
    const nllb = model as M2M100Model;
    const m2m = tokenizer as M2M100FamilyTokenizer;
    const ids = sources.map((s) => m2m.encodeSource(s));
    expect(ids).toEqual(reference.pairs.map((p) => p.source_ids));
    const forcedBosTokenId = m2m.forcedBosTokenId;
    expect(forcedBosTokenId).toBe(reference.greedy.forced_bos_token_id);
    const maxNewTokens = reference.greedy.max_new_tokens;
    // Ids: the app's decoder (BeamSearch, beam 1) = generation.ts = the reference, at the reference's length cap.
    expect(greedyGenerate(nllb, ids, { forcedBosTokenId, maxNewTokens })).toEqual(reference.greedy.outputs);
    expect(translateIds(model, ids, { beam: 1, maxLength: maxNewTokens, forcedBosTokenId })).toEqual(
      reference.greedy.outputs,
    );
    // Text: the CLI at its own default cap (⌈1.5 × source length⌉ + 10 tokens) against generation.ts at the same.
    const expected = ids.map((source) =>
      m2m.decode(
        greedyGenerate(nllb, [source], {
          forcedBosTokenId,
          maxNewTokens: Math.ceil(1.5 * source.length) + 10,
        })[0],
      ),
    );
    const run = await cli(['translate', '--model', NLLB, ...LANGUAGES, '--beam', '1', '--quiet'], {
      input: `${sources.join('\n')}\n`,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${expected.join('\n')}\n`);
    // Beam search too starts every hypothesis with the target language.
    for (const output of translateIds(model, ids, { beam: 4, forcedBosTokenId })) {
      expect(output[0]).toBe(forcedBosTokenId);
    }
    model.dispose();
  });
});

describe('--src-lang / --tgt-lang', () => {
  test.each([
    ['translate', ['translate', '--model', NLLB]],
    ['score', ['score', '--model', NLLB, '--data', data]],
    ['eval', ['eval', '--model', NLLB, '--data', data]],
  ])('%s: an unknown code is INVALID_OPTION naming the valid codes', async (_, args) => {
    const run = await cli([...args, '--src-lang', 'eng_Latn', '--tgt-lang', 'german', '--quiet'], {
      input: 'the nuts and bolts\n',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^el-translate: \[INVALID_OPTION\] german is not a language code/);
    expect(run.stderr).toMatch(/valid codes: .*\bdeu_Latn\b.*\bzul_Latn\b/);
  });

  test('train: an unknown code is refused before anything is written', async () => {
    const out = join(work, 'refused');
    const args = ['train', '--train', data, '--init', NLLB, '--out', out, '--max-steps', '1', '--quiet'];
    const run = await cli([...args, '--src-lang', 'english', '--tgt-lang', 'deu_Latn']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/\[INVALID_OPTION\] english is not a language code.*valid codes: ace_Arab/);
    expect(existsSync(out)).toBe(false);
  });

  test('an NLLB model needs both; a Marian model refuses them', async () => {
    const missing = await cli(['translate', '--model', NLLB, '--src-lang', 'eng_Latn'], { input: 'x\n' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(
      /\[INVALID_OPTION\] .*NLLB-200 model: --tgt-lang is required.*valid codes: /,
    );
    const marian = await cli(['translate', '--model', OPUS, '--tgt-lang', 'deu_Latn'], { input: 'x\n' });
    expect(marian.status).toBe(1);
    expect(marian.stderr).toMatch(
      /\[INVALID_OPTION\] --src-lang\/--tgt-lang .* MarianMTModel .*--target-token/,
    );
  });
});

describe('Hub ids', () => {
  test('translate --model ORG/NAME fetches into the Hub cache once; a second run works offline', async () => {
    const input = `${readFileSync(join(OPUS, 'test-sentences.en'), 'utf8').split('\n').slice(0, 3).join('\n')}\n`;
    const local = await cli(['translate', '--model', OPUS, '--beam', '2', '--quiet'], { input });
    expect(local.status).toBe(0);
    const env = hubEnv('translate');
    server.reset();
    const first = await cli(['translate', '--model', 'Helsinki-NLP/opus-mt-tiny', '--beam', '2'], {
      input,
      env,
    });
    expect(first.stderr).not.toMatch(/INVALID|ERROR/);
    expect(first.stdout).toBe(local.stdout);
    // A progress line per downloaded file on stderr (plain lines: not a terminal).
    expect(first.stderr).toMatch(/Helsinki-NLP\/opus-mt-tiny model\.safetensors \(\d+\/\d+\) MB/);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(existsSync(join(env.HF_HUB_CACHE, 'models--Helsinki-NLP--opus-mt-tiny', 'snapshots', MAIN))).toBe(
      true,
    );

    server.reset();
    const offline = await cli(
      ['translate', '--model', 'Helsinki-NLP/opus-mt-tiny', '--beam', '2', '--quiet'],
      {
        input,
        env: { ...env, HF_HUB_OFFLINE: '1' },
      },
    );
    expect(offline.status).toBe(0);
    expect(offline.stdout).toBe(local.stdout);
    expect(server.requests).toEqual([]);
  });

  test('train --init ORG/NAME (NLLB) records the repo, revision and commit in run.json', async () => {
    const out = join(work, 'from-hub');
    const run = await cli(
      [
        'train',
        '--train',
        data,
        '--init',
        'facebook/nllb-200-tiny',
        ...LANGUAGES,
        '--out',
        out,
        '--max-steps',
        '2',
      ],
      { env: hubEnv('train') },
    );
    expect(run.stderr).toMatch(/fine-tuning facebook\/nllb-200-tiny \(commit [0-9a-f]{12}\)/);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).steps).toBe(2);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.settings.model.hub).toEqual({
      repo: 'facebook/nllb-200-tiny',
      revision: 'main',
      commit: MAIN,
    });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model_type).toBe('m2m_100');
    const score = await cli(['score', '--model', out, '--data', data, ...LANGUAGES, '--json', '--quiet']);
    expect(score.status).toBe(0);
    expect(JSON.parse(score.stdout).corpus.nll).toBeGreaterThan(0);
  });

  test('an id that is neither a folder nor a repository names both', async () => {
    const run = await cli(['translate', '--model', 'nobody/nothing'], {
      input: 'x\n',
      env: hubEnv('missing'),
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /\[INVALID_OPTION\] --model nobody\/nothing: no such folder here, and .*nobody\/nothing/,
    );
  });
});
