#!/usr/bin/env node
// How fast and how big the Fine-tune view trains, against the same run in Node: OPUS-MT-shaped Marian models with
// random weights (small, base, big) fine-tuned for a few steps from a #finetune deep link in headless Chromium
// (Debian's /usr/bin/chromium, the built site served cross-origin isolated, so the worker gets wasm threads), then
// with the library in Node on 1 and on 2 threads. Writes apps/playground/finetune-results.json and prints a table.
// Timing: run it alone, `flock /tmp/bench.lock node scripts/measure-finetune.mjs` (from apps/playground).
// Usage: node scripts/measure-finetune.mjs [--shapes small,base,big,nllb-600m] [--repeats 2] [--steps 3]
//   [--node-skip big] [--once big] [--page-timeout 600] [--merge] [--out finetune-results.json] [--keep-models DIR]
//   [--lora R] [--max-tokens 1000,500]
// (--node-skip: shapes not run in Node; --once: shapes measured once instead of --repeats times, for time;
// --lora R: LoRA fine-tuning (the link's lora=R, the library's default alpha / dropout / targets; the Node run attaches
// the adapters as the worker does), recorded as `<shape>+loraR`; --max-tokens: the batch sizes to try, in order, for
// every shape measured now, instead of the per-shape defaults;
// --page-timeout: seconds a page run may take before it counts as failed; --merge: keep the other shapes already in
// --out, replacing only those measured now; --table: print the table of --out and stop.) Every run records the
// 1-minute load average before and after it: the lock keeps other measurements out, not test suites, and a figure
// taken at load 6 on 2 cores says little.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const app = join(here, '..');
const site = join(app, 'dist');
const fixture = join(app, '..', '..', 'packages', 'translate', 'fixtures', 'opus-mt-tiny');
/** The tiny NLLB-200 fixture: the tokenizer (and config fields) of the m2m_100 shape. */
const nllbFixture = join(app, '..', '..', 'packages', 'translate', 'fixtures', 'nllb-200-tiny');
const self = fileURLToPath(import.meta.url);

/**
 * The shapes measured: OPUS-MT's published sizes (Helsinki-NLP/opus-mt-* is "base"; the "big" models of
 * Tatoeba-Challenge are d 1024 / 16 heads / ffn 4096) and a small one, over the fixture's tokenizer. Only the
 * fixture's 389 pieces ever occur, but the embedding and output projection are of the full vocabulary, which is
 * where much of a step's time and memory go.
 */
const SHAPES = {
  small: { d_model: 256, layers: 3, heads: 4, ffn: 1024, vocab_size: 8000 },
  base: { d_model: 512, layers: 6, heads: 8, ffn: 2048, vocab_size: 58101 },
  big: { d_model: 1024, layers: 6, heads: 16, ffn: 4096, vocab_size: 58101 },
  // NLLB-200-distilled-600M's config.json (m2m_100, 12 + 12 layers, V 256,206, max_position_embeddings 1024) over the
  // tiny NLLB fixture's tokenizer (its ids are all below V): 615M parameters, 2.46 GB of float32 weights.
  'nllb-600m': {
    family: 'm2m_100',
    d_model: 1024,
    layers: 12,
    heads: 16,
    ffn: 4096,
    vocab_size: 256206,
    max_position_embeddings: 1024,
  },
};
/** Tried in this order until a run finishes; the shapes below big get the first only. */
const MAX_TOKENS = { small: [2000], base: [2000], big: [2000, 1000, 500], 'nllb-600m': [500] };
/** What the worker parses the pairs as (the language names matter for JSON Lines only). */
const TSV = { format: 'tsv', sourceLanguage: 'source', targetLanguage: 'target' };
/** Valid sentences the view translates before and after (src/finetune/view.ts SAMPLES). */
const SAMPLES = 8;
/** The weights and small files the worker reads (src/finetune/model-files.ts, for a folder with safetensors). */
const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'source.spm',
  'target.spm',
  'vocab.json',
  'sentencepiece.bpe.model',
  'model.safetensors',
];
const TOKENIZER_FILES = ['source.spm', 'target.spm', 'vocab.json', 'tokenizer_config.json'];
const NLLB_TOKENIZER_FILES = [
  'sentencepiece.bpe.model',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
];
/** An m2m_100 shape's language pair (the link's srcLang / tgtLang, loadModel's options in Node). */
const NLLB_PAIR = { srcLang: 'eng_Latn', tgtLang: 'deu_Latn' };

const { values: options } = parseArgs({
  options: {
    child: { type: 'string' },
    shape: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    threads: { type: 'string' },
    'max-tokens': { type: 'string' },
    shapes: { type: 'string', default: 'small,base,big' },
    repeats: { type: 'string', default: '2' },
    steps: { type: 'string', default: '3' },
    'node-skip': { type: 'string', default: '' },
    once: { type: 'string', default: '' },
    'page-timeout': { type: 'string', default: '600' },
    merge: { type: 'boolean', default: false },
    table: { type: 'boolean', default: false },
    out: { type: 'string', default: join(app, 'finetune-results.json') },
    'keep-models': { type: 'string' },
    lora: { type: 'string' },
  },
});
const steps = Number(options.steps);
/** LoRA rank of the runs (the link's lora=R), `undefined` for full fine-tuning. */
const lora = options.lora === undefined ? undefined : Number(options.lora);
if (lora !== undefined && !(Number.isInteger(lora) && lora > 0))
  throw new Error(`--lora must be a positive integer rank, got ${options.lora}.`);
/** Where a shape's runs are recorded: `base`, or `base+lora16` for LoRA runs. */
const entryKey = (name) => (lora === undefined ? name : `${name}+lora${lora}`);
const isM2M100 = (name) => SHAPES[name]?.family === 'm2m_100';
/** Validated once, after the last step: in-run evaluations are not what is measured (tokens/s excludes them). */
const linkSettings = (maxTokens) => ({
  loss: { kind: 'cel', logEnd: 0.5, labelSmoothing: 0.1 },
  maxSteps: steps,
  seed: 3,
  maxTokens,
  evalEvery: steps,
});

// ---------------------------------------------------------------------------------------------------------------
// Child processes: the library's wasm backend starts once per process, so every Node run gets its own.

/** `--child make-model --shape NAME --model DIR`: writes the folder, prints `{ params }`. */
async function makeModel() {
  const { createModel, initNodeBackend, nodeFolder, Rng, saveModel, trainableParams } = await import(
    '@encouraging-loss/translate/node'
  );
  await initNodeBackend('wasm', { threads: 1 });
  const shape = SHAPES[options.shape];
  const m2m100 = shape.family === 'm2m_100';
  const base = JSON.parse(readFileSync(join(m2m100 ? nllbFixture : fixture, 'config.json'), 'utf8'));
  const config = {
    ...base,
    _name_or_path: `opus-mt-${options.shape}-random`,
    d_model: shape.d_model,
    encoder_layers: shape.layers,
    decoder_layers: shape.layers,
    num_hidden_layers: shape.layers,
    encoder_attention_heads: shape.heads,
    decoder_attention_heads: shape.heads,
    encoder_ffn_dim: shape.ffn,
    decoder_ffn_dim: shape.ffn,
    vocab_size: shape.vocab_size,
    decoder_vocab_size: shape.vocab_size,
    // OPUS-MT's positions; the pairs used are under 42 tokens, so this changes no batch.
    max_position_embeddings: shape.max_position_embeddings ?? 512,
    ...(m2m100 ? { _name_or_path: `nllb-${options.shape}-random` } : {}),
  };
  if (m2m100) delete config.decoder_vocab_size;
  const model = createModel(config, new Rng(1));
  let params = 0;
  for (const variable of trainableParams(model).values()) params += variable.size;
  // nodeFolder writes files over 2 GiB (nllb-600m's model.safetensors is 2.46 GB) in 1 GiB pieces.
  saveModel(model, nodeFolder(options.model));
  model.dispose();
  for (const file of m2m100 ? NLLB_TOKENIZER_FILES : TOKENIZER_FILES)
    copyFileSync(join(m2m100 ? nllbFixture : fixture, file), join(options.model, file));
  process.stdout.write(`${JSON.stringify({ params })}\n`);
}

/** `--child train --model DIR --data DIR --threads N --max-tokens N`: the worker's run, prints its figures. */
async function nodeTrain() {
  const lib = await import('@encouraging-loss/translate/node');
  const threads = Number(options.threads);
  const started = performance.now();
  let lastStep = 0;
  let phase = 'starting the backend';
  const report = (extra) =>
    process.stdout.write(
      `${JSON.stringify({
        ...extra,
        threads,
        lastStep,
        phase,
        wallSeconds: (performance.now() - started) / 1000,
        maxRssMB: process.resourceUsage().maxRSS / 1024,
      })}\n`,
    );
  try {
    const backend = await lib.initNodeBackend('wasm', { threads });
    phase = 'loading the model';
    const store = new lib.NodeFileStore(options.model);
    const only = [];
    for (const file of MODEL_FILES) if (await store.exists(file)) only.push(file);
    const pair = options.shape && isM2M100(options.shape) ? NLLB_PAIR : {};
    const { model, tokenizer, family } = await lib.loadModel(await lib.readFolder(store, { only }), pair);
    if (lora !== undefined) {
      // As the page's worker (and `el-translate train --lora`): the library's defaults, seeded by the run's seed.
      phase = 'attaching LoRA';
      lib.attachLora(model, lib.resolveLoraSettings({ r: lora }, family.modelType), new lib.Rng(3));
    }
    const text = (name) => readFileSync(join(options.data, name), 'utf8');
    const train = lib.parseParallelText(text('train.tsv'), 'train.tsv', TSV).pairs;
    const valid = lib.parseParallelText(text('valid.tsv'), 'valid.tsv', TSV).pairs;
    phase = 'scoring and translating before training';
    const validNllBefore = lib.scoreCorpus(model, tokenizer, valid).corpus.nll;
    const samples = valid.slice(0, SAMPLES).map((p) => p.source);
    lib.translateTexts(model, tokenizer, samples, { beam: 1 });
    phase = 'training';
    const result = await lib.fineTune({
      model,
      tokenizer,
      train,
      valid,
      ...linkSettings(Number(options['max-tokens'])),
      validSentences: SAMPLES,
      onProgress: (progress) => {
        lastStep = progress.step;
      },
    });
    phase = 'translating after training';
    lib.translateTexts(model, tokenizer, samples, { beam: 1 });
    phase = 'done';
    report({
      ok: true,
      backend: String(backend),
      steps: result.steps,
      tokensPerSecond: result.tokensPerSecond,
      trainSeconds: result.trainSeconds,
      trainNll: result.trainNll,
      validNllBefore,
      validNll: result.validNll,
    });
    model.dispose();
  } catch (error) {
    report({ ok: false, error: String(error?.message ?? error).slice(0, 500) });
  }
  // The threaded build's workers are unref'd, but a failed run may leave tfjs holding the loop.
  process.exit(0);
}

if (options.child === 'make-model') {
  await makeModel();
  process.exit(0);
}
if (options.child === 'train') await nodeTrain();

// ---------------------------------------------------------------------------------------------------------------
// The parent: data, models, the page runs, the Node runs, the report.

/** Runs this script as a child; resolves with its last stdout line as JSON, or the failure. */
function child(args) {
  return new Promise((resolve) => {
    const process_ = spawn(process.execPath, [self, ...args], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    process_.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    process_.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    process_.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        resolve({
          ok: false,
          error: `child exited with ${signal ?? `code ${code}`}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
        });
      }
    });
  });
}

/** The fixture's pairs as apps/playground/test/finetune-data.ts picks them: all that fit 40 pieces a side. */
function fixturePairs() {
  const lines = (name) => readFileSync(join(fixture, name), 'utf8').split('\n');
  const [en, de, enPieces, dePieces] = [
    'test-sentences.en',
    'test-sentences.de',
    'test-sentences.en.pieces',
    'test-sentences.de.pieces',
  ].map(lines);
  const pairs = [];
  for (let i = 0; i < en.length; i++) {
    const [source, target] = [en[i], de[i] ?? ''];
    if (!source.trim() || !target.trim() || `${source}${target}`.includes('\t')) continue;
    if (enPieces[i].split(' ').length > 40 || (dePieces[i] ?? '').split(' ').length > 40) continue;
    pairs.push({ source, target });
  }
  return pairs;
}
const toTsv = (pairs) => pairs.map((p) => `${p.source}\t${p.target}\n`).join('');

/** Process ids below `root` (from /proc), with their parent. */
function descendants(root) {
  const parents = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const found = [];
  let frontier = [root];
  while (frontier.length) {
    const next = [];
    for (const [pid, parent] of parents) if (frontier.includes(parent)) next.push(pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** Kilobytes of a /proc/PID/status field (VmRSS, VmHWM), 0 if the process is gone. */
function statusKb(pid, field) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

const isRenderer = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer');
  } catch {
    return false;
  }
};

/**
 * One page run: a fresh browser (so its renderer's peak RSS is this run's), the deep link, then the result or the
 * failure. The worker runs in the page's renderer process, so that process's VmHWM is the page's peak memory.
 */
async function pageRun(chromium, launchOptions, url, maxTokens, timeoutMs, name) {
  const browser = await chromium.launch(launchOptions);
  const version = browser.version();
  const link =
    `#finetune?model=model/&train=data/train.tsv&valid=data/valid.tsv&loss=cel&logEnd=0.5&labelSmoothing=0.1` +
    `&steps=${steps}&seed=3&maxTokens=${maxTokens}&evalEvery=${steps}` +
    (isM2M100(name) ? `&srcLang=${NLLB_PAIR.srcLang}&tgtLang=${NLLB_PAIR.tgtLang}` : '') +
    (lora === undefined ? '' : `&lora=${lora}`) +
    '&autostart=1';
  const renderers = new Set();
  let peakRendererKb = 0;
  let peakBrowserTreeKb = 0;
  const sample = () => {
    let tree = 0;
    for (const pid of descendants(process.pid)) {
      tree += statusKb(pid, 'VmRSS');
      if (isRenderer(pid)) renderers.add(pid);
    }
    peakBrowserTreeKb = Math.max(peakBrowserTreeKb, tree);
    for (const pid of renderers) peakRendererKb = Math.max(peakRendererKb, statusKb(pid, 'VmHWM'));
  };
  const sampler = setInterval(sample, 1000);
  const started = performance.now();
  const loadBefore = loadavg()[0];
  let crashed = false;
  let figures = '';
  let status = '';
  let jsMemory;
  try {
    const page = await browser.newPage();
    page.on('crash', () => {
      crashed = true;
    });
    await page.goto(new URL(`./${link}`, url).href);
    const isolation = await page.evaluate(() => ({
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
    }));
    const deadline = started + timeoutMs;
    let outcome;
    while (!outcome) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (crashed) {
        outcome = { ok: false, error: 'the renderer crashed (out of memory?)' };
        break;
      }
      const state = await page
        .evaluate(() => ({
          status: document.getElementById('finetune-status')?.textContent ?? '',
          figures: document.querySelector('[data-testid=finetune-figures]')?.textContent ?? '',
          result: (() => {
            const block = document.querySelector('[data-testid=finetune-result]');
            return block && !block.hidden ? block.textContent : null;
          })(),
        }))
        .catch((error) => ({ status, figures, result: null, gone: String(error.message) }));
      if (state.gone) {
        outcome = { ok: false, error: `the page went away: ${state.gone.split('\n')[0]}` };
        break;
      }
      ({ status, figures } = state);
      // Once, during training: the page's own view of its memory (JS heaps of the page and the worker).
      if (jsMemory === undefined && /^step [1-9]/.test(figures)) {
        jsMemory = null;
        page
          .evaluate(async () => {
            if (!performance.measureUserAgentSpecificMemory) return { unavailable: true };
            const measured = await performance.measureUserAgentSpecificMemory();
            // One entry per scope and type: the worker and each of its wasm threads' workers report alike.
            const parts = new Map();
            for (const entry of measured.breakdown) {
              if (entry.bytes === 0) continue;
              const scope = entry.attribution.map((a) => a.scope).join(',') || 'Window';
              const key = `${scope} ${entry.types.join(',')}`;
              const part = parts.get(key) ?? { scope, types: entry.types, entries: 0, bytes: 0 };
              part.entries += 1;
              part.bytes += entry.bytes;
              parts.set(key, part);
            }
            return { bytes: measured.bytes, breakdown: [...parts.values()] };
          })
          .then((value) => {
            jsMemory = value;
          })
          .catch((error) => {
            jsMemory = { error: String(error.message).split('\n')[0] };
          });
      }
      if (state.result) outcome = { ok: true, result: JSON.parse(state.result) };
      else if (/failed/i.test(status)) outcome = { ok: false, error: status };
      else if (performance.now() > deadline)
        outcome = {
          ok: false,
          timedOut: true,
          error: `no result after ${timeoutMs / 1000} s (${figures.split(' · ')[0]})`,
        };
    }
    sample();
    const step = Number(figures.match(/^step (\d+)\//)?.[1] ?? 0);
    const common = {
      maxTokens,
      loadAverage: { before: loadBefore, after: loadavg()[0] },
      wallSeconds: (performance.now() - started) / 1000,
      peakRendererRssMB: peakRendererKb / 1024,
      peakChromiumRssMB: peakBrowserTreeKb / 1024,
      jsMemory: jsMemory ?? undefined,
      isolated: isolation.isolated,
      cores: isolation.cores,
    };
    if (outcome.ok) {
      const r = outcome.result;
      return {
        version,
        run: {
          ok: true,
          ...common,
          steps: r.steps,
          tokensPerSecond: r.tokensPerSecond,
          trainSeconds: r.trainSeconds,
          threads: r.threads,
          backend: r.backend,
          trainNll: r.trainNll,
          validNllBefore: r.validNllBefore,
          validNll: r.validNll,
          ...(r.lora ? { lora: r.lora } : {}),
        },
      };
    }
    return {
      version,
      run: {
        ok: false,
        ...common,
        error: outcome.error.slice(0, 500),
        // The phase the page was in (what the status line said last): where a failure or a timeout happened.
        lastStatus: status.slice(0, 200),
        ...(outcome.timedOut ? { timedOut: true, stepsDone: step } : {}),
        // Progress is posted after a step: a failure while training is in the step after the last one shown.
        failedAt:
          /^Training/.test(status) || step > 0
            ? `step ${step + 1}`
            : `before training (${status.slice(0, 120)})`,
      },
    };
  } finally {
    clearInterval(sampler);
    await browser.close().catch(() => {});
  }
}

/** The better of repeated runs: the fastest that finished, else the first failure. */
function best(runs) {
  const ok = runs.filter((r) => r.ok);
  return ok.length ? ok.reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a)) : runs[0];
}

const round = (value, digits = 0) =>
  typeof value === 'number' && Number.isFinite(value) ? Number(value.toFixed(digits)) : value;

/** The batch sizes a shape tries, in order: --max-tokens for every shape when given, else the shape's own. */
function tokensToTry(name) {
  if (options['max-tokens'] === undefined) return MAX_TOKENS[name];
  const list = options['max-tokens'].split(',').map(Number);
  if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n > 0))
    throw new Error(
      `--max-tokens must be a comma-separated list of positive integers, got ${options['max-tokens']}.`,
    );
  return list;
}

async function main() {
  if (!existsSync(join(site, 'index.html'))) {
    throw new Error(
      `No site in ${site}: build it first (pnpm turbo run build --filter=@encouraging-loss/playground).`,
    );
  }
  const { chromium } = await import('playwright-core');
  const { CROSS_ORIGIN_ISOLATION, serveStatic } = await import('./serve.mjs');
  // The launch options of vitest.chromium.ts (a .ts file Node 20 cannot import), with eager memory measurement.
  const launchOptions = {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      ...['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
      ...['--disable-component-update', '--disable-sync', '--enable-blink-features=ForceEagerMeasureMemory'],
    ],
  };
  const shapes = options.shapes.split(',').filter(Boolean);
  const nodeSkip = new Set(options['node-skip'].split(',').filter(Boolean));
  const once = new Set(options.once.split(',').filter(Boolean));
  const repeatsOf = (name) => (once.has(name) ? 1 : Number(options.repeats));
  const repeats = Number(options.repeats);
  const work = options['keep-models'] ?? mkdtempSync(join(tmpdir(), 'el-measure-finetune-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir, { recursive: true });
  const pairs = fixturePairs();
  const valid = pairs.slice(0, SAMPLES);
  // Twice over, so the steps taken are full batches of maxTokens (one pass is ~4 batches of 2000 tokens).
  const train = [...pairs.slice(SAMPLES), ...pairs.slice(SAMPLES)];
  writeFileSync(join(dataDir, 'train.tsv'), toTsv(train));
  writeFileSync(join(dataDir, 'valid.tsv'), toTsv(valid));

  const results = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      chromium: undefined,
    },
    method:
      `Each shape: OPUS-MT-shaped Marian config (fixture opus-mt-tiny's fields and tokenizer, pad 388, eos 0), random ` +
      `weights (createModel(config, new Rng(1))), fine-tuned with CEL (logEnd 0.5, ε 0.1) for the entry's "steps" ` +
      `steps, seed 3, evalEvery = steps, on ${train.length} train pairs (the fixture's ${train.length / 2} usable pairs twice) and ` +
      `${valid.length} valid pairs. Page: the #finetune deep link in headless Chromium, cross-origin isolated ` +
      `(wasm threads = navigator.hardwareConcurrency), a fresh browser per run; memory = peak RSS (VmHWM) of the ` +
      `renderer process, which runs the worker. Node: the same fineTune call in a child process, ` +
      `initNodeBackend('wasm', { threads }); memory = process.resourceUsage().maxRSS. tokensPerSecond is the ` +
      `library's (non-padding target tokens / training seconds, evaluation excluded). Every measurement ran ` +
      `${repeats} times and the faster is kept (the machine is shared and noisy); a run that failed is not repeated ` +
      `and the next smaller maxTokens is tried where listed. Shapes in "once" ran once (time). Entries named ` +
      `"<shape>+loraR" are LoRA runs: the link's lora=R with the library's defaults (alpha 8, dropout 0, q_proj and ` +
      `v_proj; resolveLoraSettings), the base frozen; the Node runs attach the same adapters (attachLora, seed 3). ` +
      `The nllb-600m shape is NLLB-200-distilled-600M's config (m2m_100) over the tiny NLLB fixture's tokenizer, ` +
      `eng_Latn → deu_Latn.`,
    repeats,
    once: [...once],
    shapes: {},
    skipped: [],
  };
  /** Writes --out, the shapes in {@link SHAPES} order, each one's full fine-tuning before its LoRA runs. */
  const save = () => {
    const order = Object.keys(SHAPES);
    const rank = (key) => {
      const [shape, variant = ''] = key.split('+');
      return [order.indexOf(shape), variant];
    };
    const names = Object.keys(results.shapes).sort((a, b) => {
      const [ra, va] = rank(a);
      const [rb, vb] = rank(b);
      return ra - rb || va.localeCompare(vb, 'en', { numeric: true });
    });
    results.shapes = Object.fromEntries(names.map((name) => [name, results.shapes[name]]));
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  };
  if (options.merge && existsSync(options.out)) {
    // The shapes not measured now, as an earlier run left them (each with its own measuredAt).
    const earlier = JSON.parse(readFileSync(options.out, 'utf8'));
    const measured = shapes.map(entryKey);
    for (const [name, entry] of Object.entries(earlier.shapes ?? {})) {
      if (!measured.includes(name)) results.shapes[name] = entry;
    }
    results.skipped.push(
      ...(earlier.skipped ?? []).filter((note) => !measured.some((name) => note.startsWith(`${name} `))),
    );
    results.notes = earlier.notes;
  }
  const { server, url } = await serveStatic(
    { '/': site, '/data/': dataDir, '/model/': join(work, 'model') },
    { headers: CROSS_ORIGIN_ISOLATION },
  );
  try {
    for (const name of shapes) {
      const shape = SHAPES[name];
      if (!shape) throw new Error(`Unknown shape ${name}; known: ${Object.keys(SHAPES).join(', ')}.`);
      const modelDir = join(work, 'model');
      // With --keep-models, a model of this shape written by an earlier run is reused (nllb-600m takes minutes).
      const madeFile = join(work, `made-${name}.json`);
      let made =
        existsSync(madeFile) && existsSync(join(modelDir, 'config.json'))
          ? JSON.parse(readFileSync(madeFile, 'utf8'))
          : undefined;
      if (made) console.error(`${name}: reusing the model in ${modelDir}`);
      else {
        for (const file of existsSync(work) ? readdirSync(work) : [])
          if (file.startsWith('made-')) rmSync(join(work, file));
        rmSync(modelDir, { recursive: true, force: true });
        console.error(`${name}: writing the model…`);
        made = await child(['--child', 'make-model', '--shape', name, '--model', modelDir]);
        if (made.params !== undefined) writeFileSync(madeFile, JSON.stringify(made));
      }
      if (made.params === undefined) throw new Error(`${name}: the model was not written: ${made.error}`);
      const entry = {
        measuredAt: new Date().toISOString(),
        config: shape,
        params: made.params,
        ...(lora === undefined ? {} : { lora }),
        steps,
        repeats: repeatsOf(name),
        page: undefined,
        node1: undefined,
        node2: undefined,
      };
      const key = entryKey(name);
      results.shapes[key] = entry;
      const tokenList = tokensToTry(name);

      const attempts = [];
      let maxTokens;
      for (const tokens of tokenList) {
        const runs = [];
        for (let r = 0; r < repeatsOf(name); r++) {
          console.error(`${name}: page, maxTokens ${tokens}, run ${r + 1}…`);
          const { version, run } = await pageRun(
            chromium,
            launchOptions,
            url,
            tokens,
            Number(options['page-timeout']) * 1000,
            name,
          );
          results.machine.chromium = version;
          runs.push(run);
          console.error(`  ${run.ok ? `${round(run.tokensPerSecond)} tokens/s` : `failed: ${run.error}`}`);
          if (!run.ok) break;
        }
        attempts.push(...runs);
        if (runs.every((run) => run.ok)) {
          maxTokens = tokens;
          break;
        }
      }
      entry.page = { ...best(attempts), attempts: attempts.length > 1 ? attempts : undefined };
      // Node at the size the page ran (or the first tried, to show whether Node fits where the page did not).
      const nodeTokens = maxTokens ?? tokenList[0];
      if (nodeSkip.has(name)) {
        results.skipped.push(`${key} in Node (--node-skip)`);
      } else {
        for (const threads of [1, 2]) {
          const runs = [];
          for (let r = 0; r < repeatsOf(name); r++) {
            console.error(`${name}: Node, ${threads} thread(s), maxTokens ${nodeTokens}, run ${r + 1}…`);
            const before = loadavg()[0];
            const run = await child([
              ...['--child', 'train', '--model', modelDir, '--data', dataDir],
              ...['--threads', String(threads), '--max-tokens', String(nodeTokens)],
              ...['--shape', name],
              ...(lora === undefined ? [] : ['--lora', String(lora)]),
              // The page's step count: without it the child took the default (3) while the page ran --steps.
              ...['--steps', String(steps)],
            ]);
            runs.push({ maxTokens: nodeTokens, loadAverage: { before, after: loadavg()[0] }, ...run });
            console.error(`  ${run.ok ? `${round(run.tokensPerSecond)} tokens/s` : `failed: ${run.error}`}`);
            if (!run.ok) break;
          }
          entry[`node${threads}`] = { ...best(runs), attempts: runs.length > 1 ? runs : undefined };
        }
        if (entry.page.ok && entry.node2?.ok) {
          entry.pageOverNode2 = round(entry.page.tokensPerSecond / entry.node2.tokensPerSecond, 3);
          entry.validNllPageMinusNode2 = entry.page.validNll - entry.node2.validNll;
        }
      }
      save();
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
    if (!options['keep-models']) rmSync(work, { recursive: true, force: true });
  }
  save();

  printTable(results);
}

/** The results as a markdown table, and the failures' messages. */
function printTable(results) {
  const cell = (run) =>
    !run
      ? 'skipped'
      : run.ok
        ? `${round(run.tokensPerSecond)}`
        : run.timedOut
          ? `timed out in ${run.failedAt}`
          : `failed at ${run.failedAt ?? `step ${run.lastStep + 1}`}`;
  const memory = (run) => (!run ? '' : `${round(run.peakRendererRssMB ?? run.maxRssMB)} MB`);
  const load = (run) =>
    run?.loadAverage ? round(Math.max(run.loadAverage.before, run.loadAverage.after), 1) : '–';
  const lines = [
    '| shape | params (trained) | maxTokens | page tokens/s (threads) | page peak RSS | Node 1 thread | Node 2 threads | ' +
      'Node 2 peak RSS | page / Node 2 | load page / Node 2 |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, entry] of Object.entries(results.shapes)) {
    const { page, node1, node2 } = entry;
    const trained = page.lora ? ` (${(page.lora.trainable / 1e6).toFixed(2)} M)` : '';
    lines.push(
      `| ${name} | ${(entry.params / 1e6).toFixed(1)} M${trained} | ${page.maxTokens} | ${cell(page)}${page.ok ? ` (${page.threads})` : ''} | ` +
        `${memory(page)} | ${cell(node1)} | ${cell(node2)} | ${memory(node2)} | ${entry.pageOverNode2 ?? '–'} | ` +
        `${load(page)} / ${load(node2)} |`,
    );
  }
  const { machine } = results;
  console.log(
    `Chromium ${machine.chromium}, ${machine.cores} cores (${machine.cpu}); better of ${results.repeats} runs.\n`,
  );
  console.log(lines.join('\n'));
  for (const [name, entry] of Object.entries(results.shapes)) {
    for (const run of [entry.page, entry.node1, entry.node2]) {
      if (run && !run.ok) console.log(`\n${name}: ${run.error}`);
    }
  }
}

if (options.table) printTable(JSON.parse(readFileSync(options.out, 'utf8')));
else await main();
