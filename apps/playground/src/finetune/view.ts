import {
  corpusBleu,
  corpusChrf,
  DEFAULT_HUB_ENDPOINT,
  type DirectoryHandleLike,
  DirectoryHandleStore,
  type HubDownloadProgress,
  writeFolder,
} from '@encouraging-loss/translate';
import type { ZipOptions } from 'fflate';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { readModelsIndex } from '../translate/model-source.js';
import { fixed, h, numberField } from '../ui.js';
import type { ExportedTranslator } from './exported-translator.js';
import type {
  ExportedFolders,
  FolderFiles,
  FromWorker,
  LoraReport,
  ModelRef,
  ProgressReport,
  StartRequest,
  Translations,
} from './protocol.js';
import {
  checkEndpoint,
  checkLanguage,
  checkLoraTargets,
  checkNumber,
  DEFAULT_SETTINGS,
  type FinetuneSettings,
  finetuneHash,
  hubModelId,
  LOSS_LABELS,
  LOSS_NAMES,
  type LossName,
  loraSettingsProblem,
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

/** `1234567` → `1,234,567`. */
const count = (n: number) => n.toLocaleString('en-US');

/**
 * The line the page shows of a LoRA run's adapters: `LoRA r=4 (alpha 8, dropout 0) on 12 modules (q_proj, v_proj):
 * 1,536 trainable of 1,203,744 parameters (0.13 %), the base frozen`.
 */
export function loraLine(lora: LoraReport): string {
  const share = (100 * lora.trainable) / lora.total;
  return (
    `LoRA r=${lora.r} (alpha ${lora.alpha}, dropout ${lora.dropout}) on ${lora.modules} modules ` +
    `(${lora.targets.join(', ')}): ${count(lora.trainable)} trainable of ${count(lora.total)} parameters ` +
    `(${share < 0.01 ? share.toPrecision(2) : fixed(share, 2)} %), the base frozen`
  );
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

/** A folder as a zip (fflate, loaded on first use): its files under a folder of its name, so it unzips as one. */
async function zipFolder(folder: FolderFiles): Promise<Blob> {
  const { zipSync } = await import('fflate');
  // Weights do not deflate much and are most of the bytes: stored. The JSON and tokenizer files are deflated.
  const entries = Object.fromEntries(
    folder.files.map(({ path, data }) => [
      `${folder.name}/${path}`,
      [new Uint8Array(data), { level: /\.(onnx|safetensors|bin)$/.test(path) ? 0 : 6 }] as [
        Uint8Array,
        ZipOptions,
      ],
    ]),
  );
  return new Blob([zipSync(entries)], { type: 'application/zip' });
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
  // The worker outlives its run: it keeps the trained model for Export until the next Start replaces it.
  let worker: Worker | undefined;
  let running = false;
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
  // An NLLB-200 / M2M100 model's language pair (empty for Marian, whose pair is fixed); the list fills with the
  // codes of the last such model loaded.
  const languageList = h('datalist', { id: 'finetune-language-codes' });
  const srcLangInput = h('input', {
    type: 'text',
    id: 'finetune-src-lang',
    spellcheck: 'false',
    placeholder: 'eng_Latn',
    list: 'finetune-language-codes',
    size: 10,
  });
  const tgtLangInput = h('input', {
    type: 'text',
    id: 'finetune-tgt-lang',
    spellcheck: 'false',
    placeholder: 'deu_Latn',
    list: 'finetune-language-codes',
    size: 10,
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
  // LoRA (`el-translate train --lora R …`): an empty rank is full fine-tuning; the others empty take the library's
  // defaults (PEFT's), which the placeholders do not repeat (the run's line shows what was applied).
  const loraRank = numberField({ id: 'finetune-lora', label: 'LoRA rank r', value: 0, min: 1, step: 1 });
  loraRank.input.value = '';
  loraRank.input.placeholder = 'off';
  const loraAlpha = numberField({ id: 'finetune-lora-alpha', label: 'LoRA alpha', value: 0, min: 0 });
  loraAlpha.input.value = '';
  loraAlpha.input.placeholder = 'default';
  const loraDropout = numberField({
    id: 'finetune-lora-dropout',
    label: 'LoRA dropout',
    value: 0,
    min: 0,
    max: 1,
    step: 0.05,
  });
  loraDropout.input.value = '';
  loraDropout.input.placeholder = 'default';
  const loraTargets = h('input', {
    type: 'text',
    id: 'finetune-lora-targets',
    spellcheck: 'false',
    placeholder: 'the model’s (q_proj,v_proj)',
    size: 18,
  });
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
  // A LoRA run's adapters: rank, scale, modules, trainable of all parameters.
  const loraNote = h('p', {
    class: 'note',
    id: 'finetune-lora-note',
    'data-testid': 'finetune-lora',
    hidden: true,
  });
  const chartBox = h('div', { class: 'chart' });
  const samplesTable = h('table', {
    class: 'numbers samples',
    'data-testid': 'finetune-samples',
    hidden: true,
  });
  const resultBlock = h('pre', { 'data-testid': 'finetune-result', class: 'output', hidden: true });
  // After a run: the model exported to the transformers.js layout, translated with it, and both folders to take.
  const exportButton = h('button', { type: 'button', id: 'finetune-export' }, 'Export for transformers.js');
  const exportTranslateButton = h(
    'button',
    { type: 'button', id: 'finetune-export-translate', class: 'secondary', disabled: true },
    'Translate with the export',
  );
  const exportStatus = h('p', { class: 'status', role: 'status', id: 'finetune-export-status' });
  const exportFiles = h('table', { class: 'numbers', 'data-testid': 'finetune-export-files', hidden: true });
  const modelZip = h(
    'a',
    { id: 'finetune-download-model', href: '#', download: 'model.zip' },
    'Download fine-tuned folder (.zip)',
  );
  const exportZip = h(
    'a',
    { id: 'finetune-download-export', href: '#', download: 'export.zip' },
    'Download export (.zip)',
  );
  const adapterZip = h(
    'a',
    { id: 'finetune-download-adapter', href: '#', download: 'adapter.zip', hidden: true },
    'Download LoRA adapter (.zip)',
  );
  const saveButton = h(
    'button',
    { type: 'button', id: 'finetune-save-folder', class: 'secondary' },
    'Save into a folder…',
  );
  const takeAway = h(
    'div',
    { class: 'row', hidden: true, 'data-testid': 'finetune-downloads-links' },
    modelZip,
    adapterZip,
    exportZip,
    ...('showDirectoryPicker' in window ? [saveButton] : []),
  );
  const exportSection = h(
    'section',
    { 'data-testid': 'finetune-export', hidden: true },
    h('h3', {}, 'Export and download'),
    h(
      'p',
      { class: 'note' },
      'The trained model as a Hugging Face folder (config.json, model.safetensors, the base model’s tokenizer files) ' +
        'and exported to the layout transformers.js loads (ONNX encoder and merged decoder, tokenizer.json), as ',
      h('code', {}, 'el-translate export'),
      ' writes it. Translating with the export runs it in transformers.js in this page, from memory: its greedy ' +
        'translations should equal the “after” column. An NLLB-200 / M2M100 export is called with the run’s ' +
        'src_lang / tgt_lang, as transformers.js’ translation pipeline takes them (the pair is not in the folder). ' +
        'After a LoRA run the folder holds the adapters merged into the base (W + alpha/r · B·A, as ',
      h('code', {}, 'el-translate export'),
      ' merges an adapter folder), so transformers.js loads a plain model; the adapter alone ' +
        '(adapter_config.json, adapter_model.safetensors, as PEFT saves it) is a download of its own.',
    ),
    h('div', { class: 'row' }, exportButton, exportTranslateButton),
    exportStatus,
    exportFiles,
    takeAway,
  );
  let extraKeys: Pick<FinetuneSettings, 'warmup' | 'maxTokens' | 'evalEvery' | 'train' | 'valid'> = {};
  const loraFieldset = h(
    'fieldset',
    { class: 'controls' },
    h('legend', {}, 'LoRA'),
    loraRank.element,
    loraAlpha.element,
    loraDropout.element,
    h('div', { class: 'control' }, h('label', { for: 'finetune-lora-targets' }, 'LoRA targets'), loraTargets),
  );

  root.append(
    h('h2', {}, 'Fine-tune a translation model in this page'),
    h(
      'p',
      { class: 'lead' },
      'An OPUS-MT / Hugging Face Marian, NLLB-200 or M2M100 model (a folder, or a Hub id such as ' +
        'Helsinki-NLP/opus-mt-en-de, fetched once into the page’s cache) trained on your sentence pairs with CE, ' +
        'label-smoothed CE, EL or CEL by ',
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
      h(
        'div',
        { class: 'control' },
        h('label', { for: 'finetune-src-lang' }, 'source language'),
        srcLangInput,
      ),
      h(
        'div',
        { class: 'control' },
        h('label', { for: 'finetune-tgt-lang' }, 'target language'),
        tgtLangInput,
      ),
      languageList,
    ),
    h(
      'p',
      { class: 'note', id: 'finetune-language-note' },
      'Languages: for an NLLB-200 model (eng_Latn → deu_Latn) or an M2M100 one (en → de) only, both required; ' +
        'the target language is forced as the first generated token. Leave them empty for a Marian model, whose ' +
        'pair is fixed. In a link: srcLang= and tgtLang=.',
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
    loraFieldset,
    h(
      'p',
      { class: 'note', id: 'finetune-lora-help' },
      'LoRA (empty rank: full fine-tuning): the base is frozen and only low-rank adapters on the target modules ' +
        'train, as el-translate train --lora R does; alpha, dropout and targets left empty take its defaults ' +
        '(PEFT’s). In a link: lora=, loraAlpha=, loraDropout=, loraTargets=q_proj,v_proj.',
    ),
    h('div', { class: 'row' }, startButton, stopButton),
    status,
    figures,
    loraNote,
    chartBox,
    samplesTable,
    resultBlock,
    exportSection,
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
    for (const [key, input] of [
      ['srcLang', srcLangInput],
      ['tgtLang', tgtLangInput],
    ] as const) {
      if (input.value.trim() === '') continue;
      const checked = checkLanguage(key, input.value);
      if ('problem' in checked) return checked.problem;
      settings[key] = checked.code;
    }
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
    // LoRA: an empty field is "not given" (full fine-tuning for the rank, the library's default for the others).
    for (const [key, input] of [
      ['lora', loraRank.input],
      ['loraAlpha', loraAlpha.input],
      ['loraDropout', loraDropout.input],
    ] as const) {
      if (input.value.trim() === '') continue;
      const value = checkNumber(key, input.value);
      if (typeof value === 'string') return value;
      settings[key] = value;
    }
    if (loraTargets.value.trim() !== '') {
      const checked = checkLoraTargets(loraTargets.value);
      if ('problem' in checked) return checked.problem;
      settings.loraTargets = checked.targets;
    }
    return loraSettingsProblem(settings) ?? settings;
  }

  function applySettings(settings: FinetuneSettings): void {
    lossSelect.value = settings.loss;
    logEnd.input.value = String(settings.logEnd);
    smoothing.input.value = String(settings.labelSmoothing);
    steps.input.value = String(settings.steps);
    seed.input.value = String(settings.seed);
    lr.input.value = settings.lr === undefined ? '' : String(settings.lr);
    resume.checked = settings.resume;
    srcLangInput.value = settings.srcLang ?? '';
    tgtLangInput.value = settings.tgtLang ?? '';
    loraRank.input.value = settings.lora === undefined ? '' : String(settings.lora);
    loraAlpha.input.value = settings.loraAlpha === undefined ? '' : String(settings.loraAlpha);
    loraDropout.input.value = settings.loraDropout === undefined ? '' : String(settings.loraDropout);
    loraTargets.value = settings.loraTargets?.join(',') ?? '';
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
  /** `exported`: the after model's transformers.js export, translated in the page (a column once it exists). */
  const columns: { before?: Translations; after?: Translations; exported?: Translations } = {};
  function renderSamples(): void {
    const { exported } = columns;
    const head = h(
      'tr',
      {},
      h('th', {}, 'source'),
      h('th', {}, 'reference'),
      h('th', {}, 'before'),
      h('th', {}, 'after'),
      ...(exported ? [h('th', {}, 'exported (transformers.js)')] : []),
    );
    // An untrained model's output can be one long unbroken word: wrapped anywhere, five columns fit the page.
    const hypothesis = (column: string, text: string | undefined) =>
      h('td', { 'data-column': column, style: 'overflow-wrap: anywhere' }, text ?? '');
    const rows = sources.map((source, i) =>
      h(
        'tr',
        {},
        h('td', {}, source),
        h('td', {}, references[i]),
        hypothesis('before', columns.before?.hypotheses[i]),
        hypothesis('after', columns.after?.hypotheses[i]),
        ...(exported ? [hypothesis('exported', exported.hypotheses[i])] : []),
      ),
    );
    const score = (t: Translations | undefined) =>
      t?.bleu === undefined ? '' : `BLEU ${fixed(t.bleu, 1)} · chrF ${fixed(t.chrf ?? 0, 1)}`;
    const same = exported?.hypotheses.filter((text, i) => text === columns.after?.hypotheses[i]).length;
    const foot = h(
      'tr',
      {},
      h('td', {}, ''),
      h('td', {}, `${sources.length} of the valid sentences, greedy`),
      h('td', {}, score(columns.before)),
      h('td', {}, score(columns.after)),
      ...(exported
        ? [h('td', {}, `${score(exported)} · ${same} of ${exported.hypotheses.length} as “after”`)]
        : []),
    );
    samplesTable.replaceChildren(
      h(
        'caption',
        {},
        exported
          ? 'Translations before and after fine-tuning, and by the export in transformers.js'
          : 'Translations before and after fine-tuning',
      ),
      head,
      ...rows,
      foot,
    );
    samplesTable.hidden = sources.length === 0;
  }

  // Export: the worker's folders, the export loaded in transformers.js, zips made on first click.
  let folders: ExportedFolders | undefined;
  let exporting = false;
  let exportedTranslator: ExportedTranslator | undefined;
  const zipUrls: string[] = [];
  const setExportStatus = (text: string, error = false) => {
    exportStatus.textContent = text;
    exportStatus.classList.toggle('error', error);
  };

  /** Back to "nothing exported" (a new run starts): the old translator and blob URLs released. */
  function resetExport(): void {
    folders = undefined;
    exporting = false;
    void exportedTranslator?.dispose();
    exportedTranslator = undefined;
    for (const url of zipUrls.splice(0)) URL.revokeObjectURL(url);
    for (const link of [modelZip, adapterZip, exportZip]) {
      link.href = '#';
      delete link.dataset.ready;
    }
    adapterZip.hidden = true;
    exportSection.hidden = true;
    exportButton.disabled = false;
    exportTranslateButton.disabled = true;
    exportFiles.hidden = true;
    takeAway.hidden = true;
    setExportStatus('');
    delete root.dataset.exported;
  }

  function requestExport(): void {
    if (!worker || running || exporting) return;
    exporting = true;
    exportButton.disabled = true;
    setExportStatus('Exporting…');
    worker.postMessage({ type: 'export' });
  }

  function showExported(message: ExportedFolders): void {
    folders = message;
    exporting = false;
    const bytes = (folder: FolderFiles) => folder.files.reduce((sum, file) => sum + file.data.byteLength, 0);
    exportFiles.replaceChildren(
      h('caption', {}, 'The two folders, in this page’s memory'),
      h('tr', {}, h('th', {}, 'folder'), h('th', {}, 'file'), h('th', {}, 'size')),
      ...[message.model, ...(message.adapter ? [message.adapter] : []), message.exported].flatMap((folder) =>
        folder.files.map((file) =>
          h(
            'tr',
            {},
            h('td', {}, folder.name),
            h('td', {}, file.path),
            h('td', {}, formatBytes(file.data.byteLength)),
          ),
        ),
      ),
    );
    exportFiles.hidden = false;
    modelZip.download = `${message.model.name}.zip`;
    exportZip.download = `${message.exported.name}.zip`;
    if (message.adapter) adapterZip.download = `${message.adapter.name}.zip`;
    adapterZip.hidden = !message.adapter;
    takeAway.hidden = false;
    exportTranslateButton.disabled = false;
    setExportStatus(
      `Exported (${message.modelType}): the fine-tuned folder ${message.model.name} ` +
        `(${formatBytes(bytes(message.model))}${message.adapter ? ', the LoRA adapters merged' : ''})` +
        (message.adapter
          ? `, the adapter ${message.adapter.name} (${formatBytes(bytes(message.adapter))}),`
          : '') +
        ` and ${message.exported.name} for transformers.js (${formatBytes(bytes(message.exported))}).`,
    );
    root.dataset.exported = '';
  }

  async function translateWithExport(): Promise<void> {
    const current = folders;
    if (!current) return;
    exportTranslateButton.disabled = true;
    try {
      setExportStatus('Loading the export in transformers.js…');
      // transformers.js and its runtime load here, on first use only.
      const { loadExported } = await import('./exported-translator.js');
      await exportedTranslator?.dispose();
      exportedTranslator = undefined;
      const translator = await loadExported(current.exported.files, current.languages);
      if (folders !== current) {
        await translator.dispose();
        return;
      }
      exportedTranslator = translator;
      setExportStatus(`Translating ${sources.length} sentences with transformers.js (greedy)…`);
      const hypotheses = await translator.translate(sources);
      if (folders !== current) return;
      columns.exported = {
        hypotheses,
        bleu: corpusBleu(
          hypotheses,
          references.map((r) => [r]),
        ).score,
        chrf: corpusChrf(hypotheses, references).score,
      };
      renderSamples();
      const same = hypotheses.filter((text, i) => text === columns.after?.hypotheses[i]).length;
      setExportStatus(
        `transformers.js translated the export: ${same} of ${hypotheses.length} translations equal the library’s (“after”).`,
        same !== hypotheses.length,
      );
      root.dataset.exportTranslated = '';
    } catch (error) {
      setExportStatus(`transformers.js could not run the export: ${(error as Error).message}`, true);
    } finally {
      exportTranslateButton.disabled = folders !== current;
    }
  }

  /** A download link whose zip is made on its first click (one folder in memory, not two, until then). */
  function zipOnClick(link: HTMLAnchorElement, which: 'model' | 'adapter' | 'exported'): void {
    let making: Promise<void> | undefined;
    link.addEventListener('click', (event) => {
      if (link.dataset.ready !== undefined) return;
      event.preventDefault();
      const current = folders;
      const folder = current?.[which];
      if (!current || !folder || making) return;
      making = zipFolder(folder)
        .then((blob) => {
          if (folders !== current) return;
          const url = URL.createObjectURL(blob);
          zipUrls.push(url);
          link.href = url;
          link.dataset.ready = '';
          link.click();
        })
        .catch((error: Error) => setExportStatus(`Cannot make the zip: ${error.message}`, true))
        .finally(() => {
          making = undefined;
        });
    });
  }
  zipOnClick(modelZip, 'model');
  zipOnClick(adapterZip, 'adapter');
  zipOnClick(exportZip, 'exported');

  async function saveIntoFolder(): Promise<void> {
    const current = folders;
    if (!current) return;
    try {
      const picker = (
        window as unknown as {
          showDirectoryPicker: (options: { mode: 'readwrite' }) => Promise<FileSystemDirectoryHandle>;
        }
      ).showDirectoryPicker;
      const handle = await picker({ mode: 'readwrite' });
      // TypeScript's DOM types leave out the handle's async iteration (`entries`), which browsers have.
      const store = new DirectoryHandleStore(handle as unknown as DirectoryHandleLike);
      const written = [current.model, ...(current.adapter ? [current.adapter] : []), current.exported];
      for (const folder of written) {
        setExportStatus(`Writing ${handle.name}/${folder.name}/…`);
        const files = new Map(folder.files.map((file) => [file.path, new Uint8Array(file.data)]));
        // A folder at a time, into place whole (a `.tmp-` sibling first): an old folder of that name is replaced.
        await writeFolder({ files }, store, { folder: folder.name });
      }
      setExportStatus(
        `Saved ${written.map((folder) => `${folder.name}/`).join(', ')} into the folder ${handle.name}.`,
      );
    } catch (error) {
      if ((error as Error).name !== 'AbortError')
        setExportStatus(`Cannot save into the folder: ${(error as Error).message}`, true);
    }
  }

  exportButton.addEventListener('click', requestExport);
  exportTranslateButton.addEventListener('click', () => void translateWithExport());
  saveButton.addEventListener('click', () => void saveIntoFolder());

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

  /** The run is over: `keep` leaves the worker (and the model it trained) for Export. */
  function finish(keep = false): void {
    if (!keep) {
      worker?.terminate();
      worker = undefined;
    }
    running = false;
    startButton.disabled = false;
    stopButton.disabled = true;
  }

  function onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'status':
        if (exporting) setExportStatus(message.text);
        else setStatus(message.text);
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
          `Model: ${message.hub ? `${message.hub.repo} at commit ${message.hub.commit}` : message.model} ` +
          `(${message.modelType}${message.languages ? `, ${message.languages.srcLang} → ${message.languages.tgtLang}` : ''}) · ` +
          `${message.trainPairs} training pairs, ${message.validPairs} validation pairs`;
        if (message.languages) {
          languageList.replaceChildren(
            ...message.languages.codes.map((code) => h('option', { value: code })),
          );
        }
        renderSamples();
        break;
      case 'lora':
        loraNote.textContent = loraLine(message.lora);
        loraNote.hidden = false;
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
        finish(true);
        exportSection.hidden = false;
        break;
      }
      case 'exported':
        showExported(message);
        break;
      case 'error':
        if (message.stage === 'export') {
          exporting = false;
          exportButton.disabled = false;
          setExportStatus(
            `The export failed${message.code ? ` (${message.code})` : ''}: ${message.message}`,
            true,
          );
          break;
        }
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
    if (running) return;
    const settings = readForm();
    const problem = startProblem(settings);
    if (problem !== undefined || typeof settings === 'string' || !model) {
      setStatus(problem ?? 'Cannot start.', true);
      return;
    }
    // The link reproduces the run (without autostart, so sharing it does not start work in someone's tab).
    history.replaceState(null, '', finetuneHash(settings));
    Object.assign(series, { steps: [], loss: [], nll: [], valid: [] });
    columns.before = columns.after = columns.exported = undefined;
    resetExport();
    // The previous run's worker, kept for its export, goes: this run trains in a fresh one.
    worker?.terminate();
    worker = undefined;
    redraw();
    downloadRows.clear();
    downloads.replaceChildren();
    downloads.hidden = true;
    resultBlock.hidden = true;
    loraNote.hidden = true;
    loraNote.textContent = '';
    startButton.disabled = true;
    stopButton.disabled = false;
    running = true;
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
    if (splitHash(location.hash)[0] === 'finetune' && !running) void fromHash();
  });
  void fromHash();
}
