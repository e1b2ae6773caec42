#!/usr/bin/env node
// pnpm playground: the built site on 127.0.0.1 with a model for its Translate view.
// Usage: node scripts/serve.mjs [SITE=dist beside this folder] [--port 5180] [--model EXPORTED_FOLDER]
// (--port 0 picks a free port; relative paths are read from where pnpm was started, i.e. the repository root).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CROSS_ORIGIN_ISOLATION, serveStatic } from '../../../scripts/static-server.mjs';

export { CROSS_ORIGIN_ISOLATION, serveStatic };

const here = fileURLToPath(new URL('.', import.meta.url));
const repository = resolve(here, '..', '..', '..');

/** What `el-translate export` writes and the Translate view loads (src/translate/model-check.ts lists the same). */
export const EXPORTED_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/encoder_model.onnx',
  'onnx/decoder_model_merged.onnx',
];

const EXPORT_HINT =
  'Export one with `pnpm el-translate export --model MODEL_DIR --out runs/web-model`, then ' +
  '`pnpm playground -- --model runs/web-model`.';

const USAGE = `pnpm playground [-- --model EXPORTED_FOLDER] [--port 5180]
  node apps/playground/scripts/serve.mjs [SITE] [--model EXPORTED_FOLDER] [--port 5180]`;

/** The files of {@link EXPORTED_FILES} that `dir` lacks. */
export function missingExportFiles(dir) {
  return EXPORTED_FILES.filter((file) => {
    try {
      return !statSync(join(dir, file)).isFile();
    } catch {
      return true;
    }
  });
}

/** The `pnpm start` / `demo:quick` exports present under `runs`, newest first. */
function demoExports(runs) {
  return ['demo', 'demo-quick']
    .map((name) => ({ name, dir: join(runs, name, 'exported') }))
    .filter(({ dir }) => missingExportFiles(dir).length === 0)
    .map((model) => ({ ...model, time: statSync(join(model.dir, 'config.json')).mtimeMs }))
    .sort((a, b) => b.time - a.time);
}

function bundledLabel(site) {
  try {
    const index = JSON.parse(readFileSync(join(site, 'models', 'index.json'), 'utf8'));
    return index.models.find((m) => m.url === index.default)?.label ?? 'The bundled demo model.';
  } catch {
    return 'The bundled demo model.';
  }
}

/**
 * The model folders to serve beside the site and the `models/index.json` that tells the Translate view which one
 * to open: `--model DIR` if given, else the newest `pnpm start` export under `runs/demo*`, else the demo the build
 * bundled in `SITE/models/opus-mt-tiny`. Throws an `Error` naming the missing files when `model` is no export.
 *
 * @param options `site` (built site folder), `model` (an exported folder, optional), `runs` (where `pnpm start`
 *   writes; default the repository's `runs/`).
 */
export function chooseModels({ site, model, runs = join(repository, 'runs') }) {
  const models = [];
  const mounts = {};
  if (model !== undefined) {
    const missing = missingExportFiles(model);
    if (missing.length > 0) {
      const what = existsSync(model)
        ? `${model} is not a folder written by el-translate export; it lacks ${missing.join(', ')}`
        : `${model} does not exist`;
      throw new Error(
        `--model: ${what}.\nAn exported folder holds ${EXPORTED_FILES.join(', ')}. ${EXPORT_HINT}`,
      );
    }
    const name = basename(model).replace(/[^\w.-]/g, '_') || 'model';
    mounts[`/models/${name}/`] = model;
    models.push({ url: `models/${name}/`, label: `${model} (--model).`, dir: model });
  }
  for (const { name, dir } of demoExports(runs)) {
    mounts[`/models/${name}/`] = dir;
    const command =
      name === 'demo' ? 'pnpm start' : 'pnpm --filter @encouraging-loss/el-translate demo:quick';
    models.push({
      url: `models/${name}/`,
      label: `The \`${command}\` export (the demo's best fine-tune): ${relative(repository, dir) || dir}.`,
      dir,
    });
  }
  if (missingExportFiles(join(site, 'models', 'opus-mt-tiny')).length === 0) {
    models.push({
      url: 'models/opus-mt-tiny/',
      label: bundledLabel(site),
      dir: join(site, 'models', 'opus-mt-tiny'),
    });
  }
  const index = {
    default: models[0]?.url ?? 'models/opus-mt-tiny/',
    models: models.map(({ url, label }) => ({ url, label })),
  };
  return { mounts, models, index };
}

/**
 * Parses the command line (a lone `--`, as `pnpm playground -- --model DIR` passes it, is skipped), chooses the
 * models and starts the server. Resolves with the server, its URL and the models served. `options.runs` is where
 * to look for `pnpm start` exports (default the repository's `runs/`).
 */
export async function startPlayground(argv, { cwd = process.env.INIT_CWD ?? process.cwd(), runs } = {}) {
  const { values, positionals } = parseArgs({
    args: argv.filter((a) => a !== '--'),
    options: { port: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) return { usage: USAGE };
  if (positionals.length > 1) throw new Error(`One site folder, got ${positionals.join(' ')}.\n${USAGE}`);
  const port = Number(values.port ?? process.env.PORT ?? 5180);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer from 0 to 65535, got "${values.port ?? process.env.PORT}".`);
  }
  const site = positionals[0] ? resolve(cwd, positionals[0]) : join(here, '..', 'dist');
  if (!existsSync(join(site, 'index.html'))) {
    throw new Error(`No site in ${site}: build it first (pnpm --filter @encouraging-loss/playground build).`);
  }
  const model = values.model === undefined ? undefined : resolve(cwd, values.model);
  const chosen = chooseModels({ site, model, runs });
  const files = chosen.models.length
    ? { '/models/index.json': { body: `${JSON.stringify(chosen.index, null, 2)}\n` } }
    : {};
  try {
    // Cross-origin isolated, so the Fine-tune view's worker gets SharedArrayBuffer and WebAssembly threads.
    const { server, url } = await serveStatic(
      { '/': site, ...chosen.mounts },
      { port, files, headers: CROSS_ORIGIN_ISOLATION },
    );
    return { server, url, models: chosen.models };
  } catch (error) {
    if (error.code === 'EADDRINUSE') throw new Error(`Port ${port} is in use: pass --port N (or --port 0).`);
    throw error;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { url, models, usage } = await startPlayground(process.argv.slice(2));
    if (usage) {
      console.log(usage);
    } else {
      console.log(`Encouraging Loss playground: ${url}  (Ctrl-C stops)`);
      const [first, ...others] = models;
      if (first) console.log(`Translate view opens ${first.url} = ${first.dir}`);
      for (const other of others) console.log(`  also served: ${other.url} = ${other.dir}`);
      if (!first) console.log(`No model for the Translate view. ${EXPORT_HINT}`);
      else console.log('Another model: pnpm playground -- --model EXPORTED_FOLDER');
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
