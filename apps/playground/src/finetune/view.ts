import { DEFAULT_HUB_ENDPOINT, type HubDownloadProgress } from '@encouraging-loss/translate';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { readModelsIndex } from '../translate/model-source.js';
import { fixed, h, numberField } from '../ui.js';
import type { FromWorker, ModelRef, ProgressReport, StartRequest, Translations } from './protocol.js';
import {
  checkEndpoint,
  checkNumber,
  DEFAULT_SETTINGS,
  type FinetuneSettings,
  finetuneHash,
  hubModelId,
  LOSS_LABELS,
  LOSS_NAMES,
  type LossName,
  parseFinetuneHash,
  splitHash,
} from './settings.js';

/** The HF Marian folder the build bundles (el-translate's tiny OPUS-MT fixture, weights and SentencePiece models). */
const FIXTURE_MODEL = 'models/opus-mt-tiny-hf/';
/** Sample pairs the build bundles (the fixture's own test sentences, English → German). */
const SAMPLE_TRAIN = 'finetune/train.tsv';
const SAMPLE_VALID = 'finetune/valid.tsv';
/** Valid sentences translated before and after training. */
const SAMPLES = 8;

const resolve = (url: string) => new URL(url, document.baseURI).href;

async function fetchText(url: string): Promise<string> {
  const response = await fetch(resolve(url), { cache: 'no-store' });
  if (!response.ok) throw new Error(`${resolve(url)}: HTTP ${response.status}`);
  return response.text();
}

/** Whether `url` is a folder with a config.json and HF weights (a `pnpm playground` ONNX export has none). */
async function hasWeights(url: string): Promise<boolean> {
  const head = async (file: string) =>
    (await fetch(new URL(file, resolve(url)), { method: 'HEAD', cache: 'no-store' }).catch(() => undefined))
      ?.ok === true;
  return (
    (await head('config.json')) && ((await head('model.safetensors')) || (await head('pytorch_model.bin')))
  );
}

/** The site's default model if it is an HF Marian folder with weights, else the bundled fixture. */
async function defaultModel(): Promise<string> {
  const index = await readModelsIndex();
  if (index && (await hasWeights(index.default))) return index.default;
  return FIXTURE_MODEL;
}

/** `1234567` → `1.2 MB`. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${fixed(bytes / 1024, 1)} KB`;
  return `${fixed(bytes / 1024 / 1024, 1)} MB`;
}

/** What the model field names: a Hub id (`ORG/NAME[@revision]`, fetched from `endpoint`) or a folder's URL. */
function modelRef(text: string, endpoint: string): ModelRef {
  const value = text.trim();
  return hubModelId(value)
    ? { kind: 'hub', id: value, endpoint: endpoint || DEFAULT_HUB_ENDPOINT }
    : { kind: 'url', url: resolve(value) };
}

const pairCount = (text: string) => text.split('\n').filter((line) => line.includes('\t')).length;

/** One chart of the run: train loss and NLL per step, valid NLL where the run validated. */
function curveChart(box: HTMLElement): uPlot {
  const value = (_u: uPlot, v: number | null) => (v == null ? '–' : v.toFixed(4));
  return new uPlot(
    {
      title: 'Loss and NLL per target token',
      width: Math.max(280, box.clientWidth || 600),
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { label: 'nats / token' }],
      series: [
        { label: 'step' },
        { label: 'train loss', stroke: '#D55E00', width: 2, value },
        { label: 'train NLL', stroke: '#555555', width: 2, value },
        {
          label: 'valid NLL',
          stroke: '#0072B2',
          width: 2,
          points: { show: true, size: 6 },
          spanGaps: true,
          value,
        },
      ],
    },
    [[], [], [], []],
    box,
  );
}

export function mountFinetune(root: HTMLElement): void {
  const isolated = globalThis.crossOriginIsolated === true;
  const threads = isolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  let model: ModelRef | undefined;
  let worker: Worker | undefined;
  let started = 0;

  // Model.
  const urlInput = h('input', {
    type: 'text',
    id: 'finetune-model-url',
    spellcheck: 'false',
    placeholder: 'models/x/ or Helsinki-NLP/opus-mt-en-de',
  });
  const endpointInput = h('input', {
    type: 'url',
    id: 'finetune-endpoint',
    spellcheck: 'false',
    placeholder: DEFAULT_HUB_ENDPOINT,
  });
  const folderInput = h('input', {
    type: 'file',
    id: 'finetune-model-folder',
    webkitdirectory: true,
    multiple: true,
  });
  const pickButton = h('button', { type: 'button', class: 'secondary' }, 'Pick a folder…');
  const modelNote = h('p', { class: 'note', id: 'finetune-model-note' });
  // One row per file of a Hub model: bytes so far, and whether the page's cache had it.
  const downloads = h('table', {
    class: 'numbers downloads',
    'data-testid': 'finetune-downloads',
    hidden: true,
  });
  const downloadRows = new Map<string, HTMLTableRowElement>();
  // Data.
  const trainText = h('textarea', {
    id: 'finetune-train',
    rows: 6,
    spellcheck: 'false',
    placeholder: 'source⇥target',
  });
  const validText = h('textarea', {
    id: 'finetune-valid',
    rows: 4,
    spellcheck: 'false',
    placeholder: 'source⇥target',
  });
  const trainCount = h('span', { class: 'note' });
  const validCount = h('span', { class: 'note' });
  // Settings.
  const lossSelect = h(
    'select',
    { id: 'finetune-loss' },
    ...LOSS_NAMES.map((name) => h('option', { value: name }, LOSS_LABELS[name])),
  );
  const logEnd = numberField({
    id: 'finetune-log-end',
    label: 'logEnd',
    value: 0.5,
    min: 0,
    max: 1,
    step: 0.05,
  });
  const smoothing = numberField({
    id: 'finetune-label-smoothing',
    label: 'label smoothing',
    value: 0.1,
    min: 0,
    max: 1,
    step: 0.05,
  });
  const steps = numberField({ id: 'finetune-steps', label: 'steps', value: 8, min: 1, step: 1 });
  const seed = numberField({ id: 'finetune-seed', label: 'seed', value: 3, min: 0, step: 1 });
  const lr = numberField({ id: 'finetune-lr', label: 'learning rate', value: 0, min: 0 });
  lr.input.value = '';
  lr.input.placeholder = '5e-5';
  const resume = h('input', { type: 'checkbox', id: 'finetune-resume' });
  const startButton = h('button', { type: 'button', id: 'finetune-start' }, 'Start');
  const stopButton = h(
    'button',
    { type: 'button', id: 'finetune-stop', class: 'secondary', disabled: true },
    'Stop',
  );
  // Output.
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', id: 'finetune-status' });
  const figures = h('p', { class: 'figures', 'data-testid': 'finetune-figures' });
  const chartBox = h('div', { class: 'chart' });
  const samplesTable = h('table', {
    class: 'numbers samples',
    'data-testid': 'finetune-samples',
    hidden: true,
  });
  const resultBlock = h('pre', { 'data-testid': 'finetune-result', class: 'output', hidden: true });
  let extraKeys: Pick<FinetuneSettings, 'warmup' | 'maxTokens' | 'evalEvery' | 'train' | 'valid'> = {};

  root.append(
    h('h2', {}, 'Fine-tune a translation model in this page'),
    h(
      'p',
      { class: 'lead' },
      'An OPUS-MT / Hugging Face Marian model (a folder, or a Hub id such as Helsinki-NLP/opus-mt-en-de, fetched ' +
        'once into the page’s cache) trained on your sentence pairs with CE, label-smoothed CE, EL or CEL by ',
      h('code', {}, '@encouraging-loss/translate'),
      ' in a Web Worker (tfjs wasm backend): the numbers match the same run in Node.',
    ),
    h(
      'p',
      { class: 'note', 'data-testid': 'finetune-threads' },
      isolated
        ? `Cross-origin isolated: ${threads} wasm threads.`
        : 'This page is not cross-origin isolated (its server sends no COOP/COEP headers), so the worker trains on one ' +
            'wasm thread. `pnpm playground` serves it isolated.',
    ),
    h(
      'fieldset',
      { class: 'controls' },
      h('legend', {}, 'Model'),
      h(
        'div',
        { class: 'control' },
        h('label', { for: 'finetune-model-url' }, 'URL or Hugging Face Hub id'),
        urlInput,
      ),
      h('div', { class: 'control' }, h('label', { for: 'finetune-endpoint' }, 'Hub endpoint'), endpointInput),
      h('div', { class: 'control' }, h('label', { for: 'finetune-model-folder' }, 'From disk'), folderInput),
      ...('showDirectoryPicker' in window ? [pickButton] : []),
    ),
    modelNote,
    downloads,
    h(
      'div',
      { class: 'pairs' },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'finetune-train' }, 'Training pairs (TSV, or drop a file) '),
        trainText,
        trainCount,
      ),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'finetune-valid' }, 'Validation pairs'),
        validText,
        validCount,
      ),
    ),
    h(
      'fieldset',
      { class: 'controls' },
      h('legend', {}, 'Training'),
      h('div', { class: 'control' }, h('label', { for: 'finetune-loss' }, 'loss'), lossSelect),
      logEnd.element,
      smoothing.element,
      steps.element,
      seed.element,
      lr.element,
      h(
        'div',
        { class: 'control' },
        resume,
        h('label', { for: 'finetune-resume' }, 'keep checkpoints (resume after reload)'),
      ),
    ),
    h('div', { class: 'row' }, startButton, stopButton),
    status,
    figures,
    chartBox,
    samplesTable,
    resultBlock,
  );
  const chart = curveChart(chartBox);

  const setStatus = (text: string, error = false) => {
    status.textContent = text;
    status.classList.toggle('error', error);
  };
  const describeModel = (ref: ModelRef) =>
    ref.kind === 'url'
      ? ref.url
      : ref.kind === 'hub'
        ? `${ref.id} from the Hugging Face Hub at ${ref.endpoint}`
        : `${ref.name} (${ref.kind === 'files' ? `${ref.files.length} files` : 'picked folder'})`;
  const setModel = (ref: ModelRef) => {
    model = ref;
    modelNote.textContent = `Model: ${describeModel(ref)}`;
  };
  const updateCounts = () => {
    trainCount.textContent = `${pairCount(trainText.value)} pairs`;
    validCount.textContent = `${pairCount(validText.value)} pairs`;
  };

  const endpoint = () => {
    const text = endpointInput.value.trim();
    const checked = text === '' ? undefined : checkEndpoint(text);
    return checked && 'url' in checked ? checked.url : DEFAULT_HUB_ENDPOINT;
  };
  const typedModel = () => setModel(modelRef(urlInput.value, endpoint()));
  urlInput.addEventListener('change', typedModel);
  endpointInput.addEventListener('change', () => {
    if (model?.kind === 'url' || model?.kind === 'hub') typedModel();
  });

  function showDownload(progress: HubDownloadProgress): void {
    let row = downloadRows.get(progress.file);
    if (!row) {
      row = h('tr', { 'data-file': progress.file });
      downloadRows.set(progress.file, row);
      downloads.append(row);
    }
    const total = progress.total ?? 0;
    const bar = h('progress', {
      max: Math.max(total, 1),
      value: Math.min(progress.bytes, Math.max(total, 1)),
    });
    const done = total > 0 && progress.bytes >= total;
    row.dataset.state = progress.cached ? 'cached' : done ? 'downloaded' : 'downloading';
    row.replaceChildren(
      h('td', {}, progress.file),
      h('td', {}, bar),
      h(
        'td',
        {},
        total > 0 ? `${formatBytes(progress.bytes)} of ${formatBytes(total)}` : formatBytes(progress.bytes),
      ),
      h('td', {}, progress.cached ? 'in the page’s cache' : done ? 'downloaded, checked' : 'downloading'),
    );
    downloads.hidden = false;
  }
  folderInput.addEventListener('change', () => {
    const list = Array.from(folderInput.files ?? []);
    if (list.length === 0) return;
    const name = list[0].webkitRelativePath.split('/')[0] || 'folder';
    // Paths inside the picked folder: `opus-mt-de-en/config.json` → `config.json`.
    const files = list.map((file) => ({
      path: file.webkitRelativePath.split('/').slice(1).join('/') || file.name,
      file,
    }));
    setModel({ kind: 'files', name, files });
  });
  pickButton.addEventListener('click', async () => {
    try {
      const picker = (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> })
        .showDirectoryPicker;
      const handle = await picker();
      setModel({ kind: 'handle', name: handle.name, handle });
    } catch (error) {
      if ((error as Error).name !== 'AbortError')
        setStatus(`Cannot open the folder: ${(error as Error).message}`, true);
    }
  });
  for (const area of [trainText, validText]) {
    area.addEventListener('input', updateCounts);
    area.addEventListener('dragover', (event) => event.preventDefault());
    area.addEventListener('drop', async (event) => {
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      area.value = await file.text();
      updateCounts();
    });
  }
  const syncLossFields = () => {
    const loss = lossSelect.value as LossName;
    logEnd.input.disabled = loss !== 'cel';
    smoothing.input.disabled = loss === 'ce';
  };
  lossSelect.addEventListener('change', syncLossFields);

  /** The settings as the form holds them, or the first reason they are not valid. */
  function readForm(): FinetuneSettings | string {
    const settings: FinetuneSettings = {
      ...DEFAULT_SETTINGS,
      ...extraKeys,
      model: model?.kind === 'url' || model?.kind === 'hub' ? urlInput.value.trim() : undefined,
      loss: lossSelect.value as LossName,
      resume: resume.checked,
      autostart: false,
    };
    const fields = [
      ['logEnd', logEnd.input],
      ['labelSmoothing', smoothing.input],
      ['steps', steps.input],
      ['seed', seed.input],
      ['lr', lr.input],
    ] as const;
    const endpointText = endpointInput.value.trim();
    if (endpointText !== '') {
      const checked = checkEndpoint(endpointText);
      if ('problem' in checked) return checked.problem;
      settings.endpoint = checked.url;
    }
    for (const [key, input] of fields) {
      if (key === 'lr' && input.value.trim() === '') continue;
      const value = checkNumber(key, input.value);
      if (typeof value === 'string') return value;
      settings[key] = value;
    }
    return settings;
  }

  function applySettings(settings: FinetuneSettings): void {
    lossSelect.value = settings.loss;
    logEnd.input.value = String(settings.logEnd);
    smoothing.input.value = String(settings.labelSmoothing);
    steps.input.value = String(settings.steps);
    seed.input.value = String(settings.seed);
    lr.input.value = settings.lr === undefined ? '' : String(settings.lr);
    resume.checked = settings.resume;
    extraKeys = {
      warmup: settings.warmup,
      maxTokens: settings.maxTokens,
      evalEvery: settings.evalEvery,
      train: settings.train,
      valid: settings.valid,
    };
    syncLossFields();
  }

  // The run's curves, one x per step.
  const series = {
    steps: [] as number[],
    loss: [] as (number | null)[],
    nll: [] as (number | null)[],
    valid: [] as (number | null)[],
  };
  const point = (step: number) => {
    let at = series.steps.indexOf(step);
    if (at < 0) {
      at = series.steps.findIndex((s) => s > step);
      if (at < 0) at = series.steps.length;
      series.steps.splice(at, 0, step);
      series.loss.splice(at, 0, null);
      series.nll.splice(at, 0, null);
      series.valid.splice(at, 0, null);
    }
    return at;
  };
  const redraw = () =>
    chart.setData([series.steps, series.loss, series.nll, series.valid] as uPlot.AlignedData);

  let sources: string[] = [];
  let references: string[] = [];
  const columns: { before?: Translations; after?: Translations } = {};
  function renderSamples(): void {
    const head = h(
      'tr',
      {},
      h('th', {}, 'source'),
      h('th', {}, 'reference'),
      h('th', {}, 'before'),
      h('th', {}, 'after'),
    );
    const rows = sources.map((source, i) =>
      h(
        'tr',
        {},
        h('td', {}, source),
        h('td', {}, references[i]),
        h('td', { 'data-column': 'before' }, columns.before?.hypotheses[i] ?? ''),
        h('td', { 'data-column': 'after' }, columns.after?.hypotheses[i] ?? ''),
      ),
    );
    const score = (t: Translations | undefined) =>
      t?.bleu === undefined ? '' : `BLEU ${fixed(t.bleu, 1)} · chrF ${fixed(t.chrf ?? 0, 1)}`;
    const foot = h(
      'tr',
      {},
      h('td', {}, ''),
      h('td', {}, `${sources.length} of the valid sentences, greedy`),
      h('td', {}, score(columns.before)),
      h('td', {}, score(columns.after)),
    );
    samplesTable.replaceChildren(
      h('caption', {}, 'Translations before and after fine-tuning'),
      head,
      ...rows,
      foot,
    );
    samplesTable.hidden = sources.length === 0;
  }

  function showProgress(progress: ProgressReport, time: number): void {
    const at = point(progress.step);
    if (progress.loss !== null) series.loss[at] = progress.loss;
    if (progress.nll !== null) series.nll[at] = progress.nll;
    redraw();
    const elapsed = (time - started) / 1000;
    const eta =
      progress.step > 0 ? (elapsed / progress.step) * (progress.maxSteps - progress.step) : Number.NaN;
    figures.textContent =
      `step ${progress.step}/${progress.maxSteps} · ` +
      (progress.loss === null
        ? ''
        : `loss ${fixed(progress.loss, 4)} · NLL ${fixed(progress.nll ?? Number.NaN, 4)} · `) +
      `lr ${progress.lr.toExponential(2)} · ${Math.round(progress.tokensPerSecond)} tokens/s · ` +
      `${fixed(elapsed, 1)} s elapsed · ETA ${Number.isFinite(eta) ? `${fixed(eta, 1)} s` : '–'}`;
  }

  function finish(): void {
    worker?.terminate();
    worker = undefined;
    startButton.disabled = false;
    stopButton.disabled = true;
  }

  function onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'status':
        setStatus(message.text);
        break;
      case 'backend':
        figures.textContent = `tfjs ${message.backend} backend, ${message.threads} thread${message.threads === 1 ? '' : 's'}`;
        break;
      case 'download':
        showDownload(message.progress);
        break;
      case 'data':
        sources = message.sources;
        references = message.references;
        modelNote.textContent =
          `Model: ${message.hub ? `${message.hub.repo} at commit ${message.hub.commit}` : message.model} · ` +
          `${message.trainPairs} training pairs, ${message.validPairs} validation pairs`;
        renderSamples();
        break;
      case 'before':
        columns.before = message.translations;
        series.valid[point(0)] = message.validNll;
        redraw();
        renderSamples();
        break;
      case 'progress':
        showProgress(message.progress, message.time);
        break;
      case 'metrics':
        if (message.record.type === 'valid' && typeof message.record.nll === 'number') {
          series.valid[point(message.record.step)] = message.record.nll;
          redraw();
        }
        break;
      case 'after':
        columns.after = message.translations;
        renderSamples();
        break;
      case 'result': {
        const { result } = message;
        series.valid[point(result.steps)] = result.validNll;
        redraw();
        resultBlock.textContent = JSON.stringify(result, null, 2);
        resultBlock.hidden = false;
        setStatus(
          `${result.interrupted ? 'Stopped' : 'Done'} after ${result.steps} steps: valid NLL ` +
            `${fixed(result.validNllBefore, 4)} → ${fixed(result.validNll, 4)}, ${Math.round(result.tokensPerSecond)} tokens/s.`,
        );
        finish();
        break;
      }
      case 'error':
        setStatus(
          `The run failed${message.reason || message.code ? ` (${message.reason ?? message.code})` : ''}: ${message.message}`,
          true,
        );
        finish();
        break;
    }
  }

  /** The reason the form cannot start a run, if any. */
  function startProblem(settings: FinetuneSettings | string): string | undefined {
    if (typeof settings === 'string') return settings;
    if (!model) return 'Choose a model first: a folder or a Hub id.';
    if (pairCount(trainText.value) === 0 || pairCount(validText.value) === 0)
      return 'Paste training and validation pairs first (one per line, source⇥target).';
    return undefined;
  }

  function start(): void {
    if (worker) return;
    const settings = readForm();
    const problem = startProblem(settings);
    if (problem !== undefined || typeof settings === 'string' || !model) {
      setStatus(problem ?? 'Cannot start.', true);
      return;
    }
    // The link reproduces the run (without autostart, so sharing it does not start work in someone's tab).
    history.replaceState(null, '', finetuneHash(settings));
    Object.assign(series, { steps: [], loss: [], nll: [], valid: [] });
    columns.before = columns.after = undefined;
    redraw();
    downloadRows.clear();
    downloads.replaceChildren();
    downloads.hidden = true;
    resultBlock.hidden = true;
    startButton.disabled = true;
    stopButton.disabled = false;
    started = performance.now();
    const request: StartRequest = {
      type: 'start',
      model,
      train: trainText.value,
      valid: validText.value,
      settings,
      wasmPaths: resolve('wasm/tfjs/'),
      threads,
      samples: SAMPLES,
    };
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'finetune' });
    worker.onmessage = (event: MessageEvent<FromWorker>) => onMessage(event.data);
    worker.onerror = (event) => {
      setStatus(`The worker failed: ${event.message || 'it could not start'}.`, true);
      finish();
    };
    worker.postMessage(request);
    setStatus('Starting the worker…');
  }

  startButton.addEventListener('click', start);
  stopButton.addEventListener('click', () => {
    worker?.postMessage({ type: 'stop' });
    stopButton.disabled = true;
    setStatus('Stopping after the current step…');
  });

  /** Applies the hash's settings, loads the model and data they name, and starts when the link says so. */
  async function fromHash(): Promise<void> {
    const [, query] = splitHash(location.hash);
    const { settings, problems } = parseFinetuneHash(query);
    applySettings(settings);
    if (problems.length) setStatus(`The link has problems (the rest applies):\n${problems.join('\n')}`, true);
    endpointInput.value = settings.endpoint ?? '';
    const modelText = settings.model ?? (await defaultModel());
    urlInput.value = modelText;
    setModel(modelRef(modelText, settings.endpoint ?? DEFAULT_HUB_ENDPOINT));
    const [train, valid] = await Promise.all(
      [settings.train ?? SAMPLE_TRAIN, settings.valid ?? SAMPLE_VALID].map((url, i) =>
        fetchText(url).catch((error: Error) => {
          setStatus(`Cannot read the ${i === 0 ? 'training' : 'validation'} pairs: ${error.message}`, true);
          return '';
        }),
      ),
    );
    trainText.value = train;
    validText.value = valid;
    updateCounts();
    root.dataset.ready = '';
    if (settings.autostart && problems.length === 0) start();
  }

  window.addEventListener('hashchange', () => {
    if (splitHash(location.hash)[0] === 'finetune' && !worker) void fromHash();
  });
  void fromHash();
}
