/// <reference lib="webworker" />
/**
 * The Fine-tune view's worker: loads the model, trains it with `@encouraging-loss/translate`'s `fineTune` (with LoRA:
 * adapters attached as `el-translate train --lora` attaches them, the base frozen) and scores it, off the page's thread. One run at a time; `{ type: 'stop' }` aborts the run's signal, and the library
 * stops after the current step and reports what it did.
 */
import {
  attachLora,
  backendThreads,
  cacheApiBlobStore,
  corpusBleu,
  corpusChrf,
  DEFAULT_HUB_ENDPOINT,
  type DirectoryHandleLike,
  DirectoryHandleStore,
  directoryBlobStore,
  exportModelFolder,
  type Folder,
  fetchHubFolder,
  fineTune,
  HttpStore,
  type HubBlobStore,
  type HubDownloadProgress,
  type HubHints,
  initBackend,
  kernelThreads,
  loadModel,
  type M2M100FamilyTokenizer,
  type MemoryFolder,
  MemoryStore,
  type MetricsRecord,
  type ModelStore,
  memoryBlobStore,
  memoryFolder,
  parseParallelText,
  Rng,
  readFolder,
  resolveLoraSettings,
  type StepProgress,
  saveAdapter,
  saveMergedModel,
  saveModel,
  scoreCorpus,
  translateTexts,
} from '@encouraging-loss/translate';
import { mayBeModelFile, modelFiles } from './model-files.js';
import type {
  ExportedFolders,
  FolderFiles,
  FromWorker,
  HubSource,
  LanguagePair,
  LoraReport,
  ModelRef,
  ProgressReport,
  RunResult,
  StartRequest,
  ToWorker,
  Translations,
} from './protocol.js';
import { finetuneHash, loraOptions, modelOptions, trainingOptions } from './settings.js';

declare const self: DedicatedWorkerGlobalScope;

let controller: AbortController | undefined;
/** The last run's model, kept for `export` until the page starts another run (a new worker). */
let trained: Trained | undefined;

/** TSV pairs: the language codes name the fields of JSON Lines only, so any pair of names does here. */
const TSV = { format: 'tsv', sourceLanguage: 'source', targetLanguage: 'target' } as const;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/** What a Hub error's message ends with, in the page's terms (it has no token field, its link has `endpoint=`). */
const PAGE_HINTS: HubHints = {
  token:
    'the page sends no token: download the model where you have access and pick its folder under "From disk"',
  network: 'check the connection, or name a mirror with endpoint= in the link',
};

/**
 * Where Hub downloads are kept across reloads: the Cache API (one cache per endpoint, so a mirror's `main` never
 * stands for the Hub's), else the origin private file system, else nowhere (a page served without a secure context
 * has neither).
 */
async function hubBlobStore(endpoint: string): Promise<HubBlobStore> {
  if (typeof caches !== 'undefined') {
    const name = endpoint === DEFAULT_HUB_ENDPOINT ? 'hf-hub' : `hf-hub ${endpoint}`;
    return cacheApiBlobStore(await caches.open(name));
  }
  if (navigator.storage?.getDirectory) {
    const root = await navigator.storage.getDirectory();
    const folder = await root.getDirectoryHandle('hf-hub', { create: true });
    return directoryBlobStore(
      endpoint === DEFAULT_HUB_ENDPOINT
        ? folder
        : await folder.getDirectoryHandle(encodeURIComponent(endpoint), { create: true }),
    );
  }
  return memoryBlobStore();
}

/** Forwards download progress, at most every 100 ms per file besides its first and last report. */
function progressPoster(): (progress: HubDownloadProgress) => void {
  let last = { file: '', time: 0 };
  return (progress) => {
    const now = performance.now();
    const edge = progress.file !== last.file || progress.bytes === 0 || progress.bytes === progress.total;
    if (!edge && now - last.time < 100) return;
    last = { file: progress.file, time: now };
    post({ type: 'download', progress: { ...progress } });
  };
}

/** The model folder a request names, read into memory; a Hub model through the page's cache. */
async function modelFolder(
  ref: ModelRef,
  signal: AbortSignal,
): Promise<{ folder: Folder; name: string; hub?: HubSource }> {
  if (ref.kind === 'hub') {
    const endpoint = ref.endpoint || DEFAULT_HUB_ENDPOINT;
    post({ type: 'status', text: `Fetching ${ref.id} from ${endpoint}…` });
    const model = await fetchHubFolder(ref.id, {
      endpoint,
      store: await hubBlobStore(endpoint),
      signal,
      hints: PAGE_HINTS,
      onProgress: progressPoster(),
    });
    const { repo, revision, commit } = model;
    return { folder: model.folder, name: model.folder.name, hub: { repo, revision, commit, endpoint } };
  }
  post({ type: 'status', text: 'Reading the model folder…' });
  const { store, name } = await modelStore(ref);
  return { folder: await readFolder(store, { only: await modelFiles(store, signal), name, signal }), name };
}

async function modelStore(
  ref: Exclude<ModelRef, { kind: 'hub' }>,
): Promise<{ store: ModelStore; name: string }> {
  switch (ref.kind) {
    case 'url':
      // HttpStore reads bodies as streams (Chromium's arrayBuffer() fails over 2 GiB: a 600M model's weights).
      return { store: new HttpStore(ref.url), name: ref.url };
    case 'handle':
      // TypeScript's DOM types leave out the handle's async iteration (`entries`), which browsers have.
      return {
        store: new DirectoryHandleStore(ref.handle as unknown as DirectoryHandleLike),
        name: ref.name,
      };
    case 'files': {
      const files: Record<string, Uint8Array> = {};
      // Only what a model may need: a picked Hub snapshot can hold gigabytes of other formats.
      for (const { path, file } of ref.files) {
        if (mayBeModelFile(path)) files[path] = new Uint8Array(await file.arrayBuffer());
      }
      return { store: new MemoryStore(files, `folder ${ref.name}`), name: ref.name };
    }
  }
}

/**
 * A folder in the origin's private file system (OPFS) for this run's checkpoints, named after the run's settings:
 * the same link after a reload finds its checkpoints, another link starts its own folder.
 */
async function checkpointStore(request: StartRequest, modelName: string): Promise<ModelStore | undefined> {
  if (!request.settings.resume || !navigator.storage?.getDirectory) return undefined;
  const identity = `${modelName}\n${finetuneHash({ ...request.settings, autostart: false })}\n${request.train}\n${request.valid}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(identity)));
  const name = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
  const root = await navigator.storage.getDirectory();
  const runs = await root.getDirectoryHandle('finetune-runs', { create: true });
  const folder = await runs.getDirectoryHandle(name, { create: true });
  return new DirectoryHandleStore(folder as unknown as DirectoryHandleLike);
}

type Loaded = Awaited<ReturnType<typeof loadModel>>;

/** A folder's size in MB, for the loading status. */
function folderMegabytes(folder: Folder): number {
  let bytes = 0;
  for (const path of folder.list()) bytes += folder.read(path).byteLength;
  return Math.round(bytes / 1e6);
}

/**
 * An NLLB-200 / M2M100 model's language pair as its tokenizer resolved it, with every code it knows; `undefined` for
 * a Marian model. M2M100's `__en__` is written `en`, the spelling transformers.js' `src_lang` takes.
 */
function languagePair(loaded: Loaded): (LanguagePair & { codes: string[] }) | undefined {
  if (loaded.family.modelType !== 'm2m_100') return undefined;
  const tokenizer = loaded.tokenizer as M2M100FamilyTokenizer;
  const code = (text: string) => text.replace(/^__(.+)__$/, '$1');
  return {
    srcLang: code(tokenizer.srcLang),
    tgtLang: code(tokenizer.tgtLang ?? ''),
    codes: [...tokenizer.languageCodes],
  };
}

/**
 * A library error in the page's terms: the CLI's `--src-lang` / `--tgt-lang` and `--lora` / `--lora-alpha` /
 * `--lora-dropout` / `--lora-targets` (which the library's messages name) are the link's `srcLang` / `tgtLang`,
 * `lora`, `loraAlpha`, `loraDropout`, `loraTargets` here and the fields of those names. The rest, the valid codes
 * included, as is.
 */
function pageTerms(message: string): string {
  return message
    .replaceAll('--src-lang', 'srcLang')
    .replaceAll('--tgt-lang', 'tgtLang')
    .replaceAll('--lora-alpha', 'loraAlpha')
    .replaceAll('--lora-dropout', 'loraDropout')
    .replaceAll('--lora-targets', 'loraTargets')
    .replace(/--lora\b/g, 'lora');
}

/**
 * Attaches LoRA adapters to the loaded model as `el-translate train --lora` does (`resolveLoraSettings` with the
 * model type's defaults, `attachLora` seeded by the run's seed), so `fineTune` trains the adapters only; what the
 * page shows of them.
 */
function attachAdapters(loaded: Loaded, options: NonNullable<ReturnType<typeof loraOptions>>, seed: number) {
  const settings = resolveLoraSettings(options, loaded.family.modelType);
  const lora = attachLora(loaded.model, settings, new Rng(seed));
  let base = 0;
  for (const variable of loaded.model.params.values()) base += variable.size;
  const report: LoraReport = {
    r: settings.r,
    alpha: settings.alpha,
    dropout: settings.dropout,
    targets: [settings.targets].flat(),
    modules: lora.modules.length,
    trainable: lora.size,
    total: base + lora.size,
  };
  return report;
}

interface Trained {
  loaded: Loaded;
  /** The folder the run started from: its tokenizer files go beside the fine-tuned weights. */
  base: Folder;
  /** What the folders are named after: `opus-mt-en-de-cel`, `opus-mt-en-de-cel-lora16`. */
  name: string;
  /**
   * What a LoRA run's adapter names as its base (`base_model_name_or_path`): the Hub repository, else the folder's
   * URL or name; `undefined` for full fine-tuning.
   */
  adapterBase?: string;
}

/**
 * A folder name from the model's (`https://host/models/opus-mt-tiny-hf/` → `opus-mt-tiny-hf`), the loss and a
 * LoRA run's rank (`-lora16`).
 */
function runName(model: string, hub: HubSource | undefined, loss: string, lora?: number): string {
  const last = (hub?.repo ?? model).split(/[/\\]/).filter(Boolean).pop() ?? 'model';
  return `${last.replace(/[^\w.-]+/g, '_')}-${loss}${lora === undefined ? '' : `-lora${lora}`}`;
}

function translate(loaded: Loaded, sources: string[], references: string[]): Translations {
  if (sources.length === 0) return { hypotheses: [] };
  // Greedy: the quickest decoding, and the one the before/after comparison needs (no beam ties to explain).
  const hypotheses = translateTexts(loaded.model, loaded.tokenizer, sources, { beam: 1 });
  return {
    hypotheses,
    bleu: corpusBleu(
      hypotheses,
      references.map((r) => [r]),
    ).score,
    chrf: corpusChrf(hypotheses, references).score,
  };
}

async function run(request: StartRequest, signal: AbortSignal): Promise<void> {
  const { settings } = request;
  post({ type: 'status', text: 'Starting the wasm backend…' });
  const backend = await initBackend('wasm', { threads: request.threads, wasmPaths: request.wasmPaths });
  // What the backend runs, not what was asked: tfjs may start fewer threads than requested.
  const threads = backendThreads();
  const kernels = kernelThreads();
  post({ type: 'backend', backend: String(backend), threads, kernelThreads: kernels });

  const train = parseParallelText(request.train, 'train.tsv', TSV).pairs;
  const valid = parseParallelText(request.valid, 'valid.tsv', TSV).pairs;
  const samples = valid.slice(0, request.samples);
  const sources = samples.map((p) => p.source);
  const references = samples.map((p) => p.target);

  const { folder, name, hub } = await modelFolder(request.model, signal);
  // A large folder takes a while here (NLLB-200-600M: 2.46 GB of weights copied into the wasm heap).
  post({ type: 'status', text: `Loading the model into tfjs (${folderMegabytes(folder)} MB)…` });
  // NLLB-200 / M2M100: the pair from the link; the library refuses a missing or unknown code (naming the valid
  // ones), and a pair given for a Marian model, whose pair is fixed.
  const loaded = await loadModel(folder, modelOptions(settings));
  const languages = languagePair(loaded);
  const adapters = loraOptions(settings);
  // Before anything is scored, as the CLI does: B starts at zero, so the model's outputs are the base's until it trains.
  const lora = adapters ? attachAdapters(loaded, adapters, settings.seed) : undefined;
  post({
    type: 'data',
    trainPairs: train.length,
    validPairs: valid.length,
    sources,
    references,
    model: name,
    ...(hub ? { hub } : {}),
    modelType: loaded.family.modelType,
    ...(languages ? { languages } : {}),
  });
  if (lora) post({ type: 'lora', lora });

  post({ type: 'status', text: 'Scoring and translating before training…' });
  const validNllBefore = scoreCorpus(loaded.model, loaded.tokenizer, valid).corpus.nll;
  post({ type: 'before', validNll: validNllBefore, translations: translate(loaded, sources, references) });

  post({ type: 'status', text: 'Training…' });
  // A Hub model's identity is its commit: a reload after `main` moved starts a new run rather than mixing two.
  const checkpoints = await checkpointStore(
    request,
    hub ? `${hub.endpoint}/${hub.repo}@${hub.commit}` : name,
  );
  const result = await fineTune({
    model: loaded.model,
    tokenizer: loaded.tokenizer,
    train,
    valid,
    ...trainingOptions(settings),
    signal,
    onProgress: (progress: StepProgress) => {
      const report: ProgressReport = {
        step: progress.step,
        maxSteps: progress.maxSteps,
        lr: progress.lr,
        tokensPerSecond: progress.tokensPerSecond,
        loss: progress.parts?.loss ?? null,
        nll: progress.parts?.nll ?? null,
      };
      post({ type: 'progress', progress: report, time: performance.now() });
    },
    onMetrics: (record: MetricsRecord) => post({ type: 'metrics', record: { ...record } }),
    // The in-run evaluations translate only the sentences the view shows (the NLL covers the whole valid set).
    validSentences: request.samples,
    ...(checkpoints ? { checkpoints: { store: checkpoints, keepLast: 1 } } : {}),
  });

  post({ type: 'status', text: 'Translating after training…' });
  // What `el-translate score` reports: mean NLL per target token over the whole valid set after the last step
  // (fineTune computes it so; scored here when a library version leaves it out).
  const validNll = result.validNll ?? scoreCorpus(loaded.model, loaded.tokenizer, valid).corpus.nll;
  post({ type: 'after', translations: translate(loaded, sources, references) });
  const summary: RunResult = {
    ...result,
    trainNll: Number.isFinite(result.trainNll) ? result.trainNll : null,
    validNll,
    validNllBefore,
    backend: String(backend),
    threads,
    kernelThreads: kernels,
    loss: trainingOptions(settings).loss,
    seed: settings.seed,
    trainPairs: train.length,
    validPairs: valid.length,
    ...(hub ? { hub } : {}),
    ...(lora ? { lora } : {}),
  };
  trained = {
    loaded,
    base: folder,
    name: runName(name, hub, settings.loss, lora?.r),
    ...(lora ? { adapterBase: hub?.repo ?? name } : {}),
  };
  post({ type: 'result', result: summary });
}

/**
 * A folder's files for `postMessage`, each in a buffer of its own that is transferred: a file whose bytes fill
 * their buffer goes as it is, unless `keep` (the base model's folder, read again by the next export) or an
 * earlier file holds the same buffer; any other is copied first.
 */
function folderFiles(
  folder: MemoryFolder,
  keep: Set<ArrayBufferLike>,
  transfer: Transferable[],
): FolderFiles {
  const files = folder.list().map((path) => {
    const bytes = folder.read(path);
    const whole =
      bytes.byteOffset === 0 &&
      bytes.byteLength === bytes.buffer.byteLength &&
      bytes.buffer instanceof ArrayBuffer;
    const data = whole && !keep.has(bytes.buffer) ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
    keep.add(data);
    transfer.push(data);
    return { path, data };
  });
  return { name: folder.name, files };
}

/**
 * The trained model saved as an HF folder (`saveModel`, and the base's tokenizer files through its family) and
 * that folder exported to the transformers.js layout, fp32: both in memory, sent to the page. A LoRA run's folder is
 * the merged model (`saveMergedModel`, as `el-translate train --lora --merge` and `el-translate export` of an adapter
 * merge it), so transformers.js gets a plain model; its adapter folder (`saveAdapter`) goes too.
 */
function exportTrained(model: Trained): void {
  post({ type: 'status', text: 'Saving the fine-tuned model and exporting it for transformers.js…' });
  const { family } = model.loaded;
  const saved = memoryFolder(model.name);
  if (model.loaded.model.lora) saveMergedModel(model.loaded.model, saved);
  else saveModel(model.loaded.model, saved);
  family.copyTokenizer(model.base, saved);
  let adapter: MemoryFolder | undefined;
  if (model.loaded.model.lora) {
    // What `el-translate train --lora` writes into its out folder: the adapter and the base's tokenizer files.
    adapter = memoryFolder(`${model.name}-adapter`);
    saveAdapter(model.loaded.model, adapter, model.adapterBase ?? model.name);
    family.copyTokenizer(model.base, adapter);
  }
  const exported = memoryFolder(`${model.name}-onnx`);
  exportModelFolder({ model: saved, out: exported });
  const config = JSON.parse(exported.readText('config.json')) as { model_type?: unknown };
  const keep = new Set(model.base.list().map((path) => model.base.read(path).buffer));
  const transfer: Transferable[] = [];
  const pair = languagePair(model.loaded);
  const folders: ExportedFolders = {
    model: folderFiles(saved, keep, transfer),
    ...(adapter ? { adapter: folderFiles(adapter, keep, transfer) } : {}),
    exported: folderFiles(exported, keep, transfer),
    modelType: String(config.model_type),
    ...(pair ? { languages: { srcLang: pair.srcLang, tgtLang: pair.tgtLang } } : {}),
  };
  post({ type: 'exported', ...folders }, transfer);
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'stop') {
    controller?.abort(new DOMException('Stopped from the page.', 'AbortError'));
    return;
  }
  if (message.type === 'export') {
    const problem = controller
      ? 'A run is going: export after it ends.'
      : !trained
        ? 'No trained model: run a fine-tuning first.'
        : undefined;
    try {
      if (problem || !trained) throw new Error(problem);
      exportTrained(trained);
    } catch (error) {
      const { message: text, code } = error as { message?: string; code?: string };
      post({ type: 'error', message: text ?? String(error), code, stage: 'export' });
    }
    return;
  }
  if (controller) {
    post({ type: 'error', message: 'A run is already going: stop it first.' });
    return;
  }
  const current = new AbortController();
  controller = current;
  run(message, current.signal)
    .catch((error: unknown) => {
      const { message: text, code, reason } = error as { message?: string; code?: string; reason?: string };
      post({ type: 'error', message: pageTerms(text ?? String(error)), code, ...(reason ? { reason } : {}) });
    })
    .finally(() => {
      if (controller === current) controller = undefined;
    });
};
