/// <reference lib="webworker" />
/**
 * The Fine-tune view's worker: loads the model, trains it with `@encouraging-loss/translate`'s `fineTune` and
 * scores it, off the page's thread. One run at a time; `{ type: 'stop' }` aborts the run's signal, and the library
 * stops after the current step and reports what it did.
 */
import {
  cacheApiBlobStore,
  corpusBleu,
  corpusChrf,
  DEFAULT_HUB_ENDPOINT,
  type DirectoryHandleLike,
  DirectoryHandleStore,
  directoryBlobStore,
  type Folder,
  fetchHubFolder,
  fineTune,
  HttpStore,
  type HubBlobStore,
  type HubDownloadProgress,
  type HubHints,
  initBackend,
  loadModel,
  MemoryStore,
  type MetricsRecord,
  type ModelStore,
  memoryBlobStore,
  parseParallelText,
  readFolder,
  type StepProgress,
  scoreCorpus,
  translateTexts,
} from '@encouraging-loss/translate';
import { mayBeModelFile, modelFiles } from './model-files.js';
import type {
  FromWorker,
  HubSource,
  ModelRef,
  ProgressReport,
  RunResult,
  StartRequest,
  ToWorker,
  Translations,
} from './protocol.js';
import { finetuneHash, trainingOptions } from './settings.js';

declare const self: DedicatedWorkerGlobalScope;

let controller: AbortController | undefined;

/** TSV pairs: the language codes name the fields of JSON Lines only, so any pair of names does here. */
const TSV = { format: 'tsv', sourceLanguage: 'source', targetLanguage: 'target' } as const;

function post(message: FromWorker): void {
  self.postMessage(message);
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
  post({ type: 'backend', backend: String(backend), threads: request.threads });

  const train = parseParallelText(request.train, 'train.tsv', TSV).pairs;
  const valid = parseParallelText(request.valid, 'valid.tsv', TSV).pairs;
  const samples = valid.slice(0, request.samples);
  const sources = samples.map((p) => p.source);
  const references = samples.map((p) => p.target);

  const { folder, name, hub } = await modelFolder(request.model, signal);
  const loaded = await loadModel(folder);
  post({
    type: 'data',
    trainPairs: train.length,
    validPairs: valid.length,
    sources,
    references,
    model: name,
    ...(hub ? { hub } : {}),
  });

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
    threads: request.threads,
    loss: trainingOptions(settings).loss,
    seed: settings.seed,
    trainPairs: train.length,
    validPairs: valid.length,
    ...(hub ? { hub } : {}),
  };
  post({ type: 'result', result: summary });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'stop') {
    controller?.abort(new DOMException('Stopped from the page.', 'AbortError'));
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
      post({ type: 'error', message: text ?? String(error), code, ...(reason ? { reason } : {}) });
    })
    .finally(() => {
      if (controller === current) controller = undefined;
    });
};
