import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseModels, EXPORTED_FILES, startPlayground } from './serve.mjs';

const SCRIPT = fileURLToPath(new URL('serve.mjs', import.meta.url));
const top = mkdtempSync(join(tmpdir(), 'el-playground-serve-'));
const site = join(top, 'site');
const runs = join(top, 'runs');
const noRuns = join(top, 'no-runs');

/** A folder holding every file an export has (`marker` in its config.json tells folders apart). */
function fakeExport(dir: string, marker: string, mtime?: number) {
  for (const file of EXPORTED_FILES) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(
      join(dir, file),
      file === 'config.json' ? JSON.stringify({ model_type: 'marian', marker }) : 'x',
    );
  }
  if (mtime !== undefined) utimesSync(join(dir, 'config.json'), mtime, mtime);
}

beforeAll(() => {
  mkdirSync(site, { recursive: true });
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>playground</title>');
  fakeExport(join(site, 'models', 'opus-mt-tiny'), 'bundled');
  const index = {
    default: 'models/opus-mt-tiny/',
    models: [{ url: 'models/opus-mt-tiny/', label: 'Tiny.' }],
  };
  writeFileSync(join(site, 'models', 'index.json'), JSON.stringify(index));
  fakeExport(join(top, 'my export'), 'given');
  mkdirSync(join(top, 'trained'), { recursive: true });
  writeFileSync(join(top, 'trained', 'config.json'), '{"model_type":"marian"}');
  writeFileSync(join(top, 'trained', 'model.safetensors'), 'weights');
});

afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('chooseModels', () => {
  it('serves the bundled demo when nothing else is there', () => {
    const { mounts, index } = chooseModels({ site, runs: noRuns });
    expect(mounts).toEqual({});
    expect(index).toEqual({
      default: 'models/opus-mt-tiny/',
      models: [{ url: 'models/opus-mt-tiny/', label: 'Tiny.' }],
    });
  });

  it('prefers the newest `pnpm start` export to the bundled demo', () => {
    fakeExport(join(runs, 'demo', 'exported'), 'demo', 2_000_000);
    fakeExport(join(runs, 'demo-quick', 'exported'), 'quick', 1_000_000);
    let chosen = chooseModels({ site, runs });
    expect(chosen.index.models.map((m) => m.url)).toEqual([
      'models/demo/',
      'models/demo-quick/',
      'models/opus-mt-tiny/',
    ]);
    expect(chosen.mounts['/models/demo/']).toBe(join(runs, 'demo', 'exported'));
    expect(chosen.index.models[0].label).toContain('`pnpm start` export');
    utimesSync(join(runs, 'demo-quick', 'exported', 'config.json'), 3_000_000, 3_000_000);
    chosen = chooseModels({ site, runs });
    expect(chosen.index.default).toBe('models/demo-quick/');
  });

  it('puts --model first, under its folder name made URL-safe', () => {
    const { mounts, index } = chooseModels({ site, runs: noRuns, model: join(top, 'my export') });
    expect(mounts).toEqual({ '/models/my_export/': join(top, 'my export') });
    expect(index.default).toBe('models/my_export/');
    expect(index.models.map((m) => m.url)).toEqual(['models/my_export/', 'models/opus-mt-tiny/']);
  });

  it('refuses a --model folder that is not an export, naming what it lacks and how to make one', () => {
    expect(() => chooseModels({ site, runs: noRuns, model: join(top, 'trained') })).toThrow(
      `--model: ${join(top, 'trained')} is not a folder written by el-translate export; it lacks tokenizer.json, ` +
        'tokenizer_config.json, onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx.',
    );
    expect(() => chooseModels({ site, runs: noRuns, model: join(top, 'nothere') })).toThrow(
      /nothere does not exist\.\nAn exported folder holds config.json, [^\n]*pnpm el-translate export --model MODEL_DIR/,
    );
  });
});

describe('startPlayground', () => {
  it('answers models/index.json naming the folder it was given, and that folder under models/', async () => {
    const { server, url } = (await startPlayground(['--', site, '--port', '0', '--model', 'my export'], {
      cwd: top,
      runs: noRuns,
    })) as Awaited<ReturnType<typeof startPlayground>> & { url: string };
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const index = await (await fetch(new URL('models/index.json', url))).json();
      expect(index.default).toBe('models/my_export/');
      const config = await (await fetch(new URL('models/my_export/config.json', url))).json();
      expect(config.marker).toBe('given');
      const bundled = await (await fetch(new URL('models/opus-mt-tiny/config.json', url))).json();
      expect(bundled.marker).toBe('bundled');
      // Cross-origin isolated (the Fine-tune view's wasm threads need SharedArrayBuffer).
      const page = await fetch(url);
      expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    } finally {
      await new Promise((done) => server!.close(done));
    }
  });

  it('rejects a bad port and a missing site', async () => {
    await expect(startPlayground([site, '--port', 'http'], { runs: noRuns })).rejects.toThrow(
      '--port must be an integer from 0 to 65535, got "http".',
    );
    await expect(startPlayground([join(top, 'nosite'), '--port', '0'], { runs: noRuns })).rejects.toThrow(
      /^No site in .*nosite: build it first/,
    );
  });
});

describe('node scripts/serve.mjs', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill();
  });

  /** Runs the script as `pnpm playground -- …` does (a lone `--` before the flags) until it prints its URL or exits. */
  function run(args: string[]) {
    child = spawn(process.execPath, [SCRIPT, ...args], {
      cwd: top,
      env: { ...process.env, INIT_CWD: top },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = child;
    return new Promise<{ url?: string; stdout: string; stderr: string; code?: number | null }>((done) => {
      let stdout = '';
      let stderr = '';
      started.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout)?.[0];
        // Its last line of start-up names how to serve another model (or that there is none).
        if (url && /^(Another model|No model).*\n/m.test(stdout)) done({ url, stdout, stderr });
      });
      started.stderr!.on('data', (chunk) => {
        stderr += chunk;
      });
      started.on('exit', (code) => done({ stdout, stderr, code }));
    });
  }

  it('serves the given export, says which, and survives GET /%', async () => {
    const { url, stdout } = await run([site, '--', '--model', 'my export', '--port', '0']);
    expect(url).toBeDefined();
    expect(stdout).toContain(`Translate view opens models/my_export/ = ${join(top, 'my export')}`);
    const status = await new Promise<string>((done, fail) => {
      const socket = connect(Number(new URL(url!).port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('error', fail);
      socket.on('end', () => done(text.split('\r\n', 1)[0]));
      socket.write('GET /% HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    });
    expect(status).toBe('HTTP/1.1 400 Bad Request');
    expect((await fetch(new URL('models/my_export/config.json', url))).status).toBe(200);
    child!.kill();
  });

  it('exits 1 with the reason when --model is not an export', async () => {
    const { code, stderr, url } = await run([site, '--model', 'trained', '--port', '0']);
    expect(url).toBeUndefined();
    expect(code).toBe(1);
    expect(stderr).toContain('is not a folder written by el-translate export; it lacks tokenizer.json');
  });
});
