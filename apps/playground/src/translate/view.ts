import { fixed, h, numberField } from '../ui.js';
import { checkModelFolder, EXPORT_HINT } from './model-check.js';
import {
  type ModelSource,
  type ModelsIndex,
  modelFetch,
  PICKED_BASE,
  readModelsIndex,
  sourceFromFiles,
  sourceFromUrl,
} from './model-source.js';

/** The bundled demo model (the build exports it into `models/`), used where the site has no `models/index.json`. */
const FALLBACK_MODEL = 'models/opus-mt-tiny/';

type Translation = typeof import('./translator.js');
type Scoring = typeof import('./scoring.js');
type Beam = typeof import('./beam.js');

/** Which decoders a click on Translate runs: transformers.js greedy (the default), the app's beam search, or both. */
const DECODERS = {
  greedy: 'transformers.js greedy',
  beam: 'beam search',
  both: 'both, side by side',
} as const;
type Decoder = keyof typeof DECODERS;
const isDecoder = (value: string | null): value is Decoder =>
  value !== null && Object.hasOwn(DECODERS, value);

/** View 3: translate with a model folder exported for transformers.js; score a reference with CE / EL / CEL. */
export function mountTranslate(root: HTMLElement): void {
  const params = new URLSearchParams(location.search);
  const urlInput = h('input', {
    type: 'text',
    id: 'translate-model-url',
    value: params.get('model') ?? FALLBACK_MODEL,
    spellcheck: 'false',
    autocomplete: 'off',
    list: 'translate-models',
  });
  const modelList = h('datalist', { id: 'translate-models' });
  const modelNote = h('p', { class: 'note', id: 'translate-model-note' });
  const loadButton = h('button', { type: 'button', id: 'translate-load' }, 'Load model');
  const folderInput = h('input', {
    type: 'file',
    id: 'translate-model-folder',
    webkitdirectory: true,
    multiple: true,
  });
  const modelStatus = h('p', {
    class: 'status',
    id: 'translate-model-status',
    role: 'status',
    'aria-live': 'polite',
  });
  const sourceText = h(
    'textarea',
    { id: 'translate-source', rows: 2 },
    params.get('source') ?? 'The printer is broken.',
  );
  const maxTokens = numberField({
    id: 'translate-max-tokens',
    label: 'max new tokens',
    value: 40,
    min: 1,
    max: 512,
    step: 1,
  });
  const decoderParam = params.get('decoder');
  const decoderSelect = h(
    'select',
    // Its own width: styles.css gives a `.control select` the 6rem of a number field, too narrow for these labels.
    { id: 'translate-decoder', style: 'width: auto' },
    ...Object.entries(DECODERS).map(([value, label]) => h('option', { value }, label)),
  );
  decoderSelect.value = isDecoder(decoderParam) ? decoderParam : 'greedy';
  // el-translate translate's defaults: beam 5, length penalty 1.
  const beamSize = numberField({
    id: 'translate-beam',
    label: 'beam',
    value: Number(params.get('beam') ?? 5),
    min: 1,
    max: 64,
    step: 1,
  });
  const lengthPenalty = numberField({
    id: 'translate-length-penalty',
    label: 'length penalty α',
    value: Number(params.get('lengthPenalty') ?? 1),
    min: 0,
    max: 2,
    step: 0.1,
  });
  const translateButton = h('button', { type: 'button', id: 'translate-run', disabled: true }, 'Translate');
  const output = h('output', {
    id: 'translate-output',
    class: 'output',
    for: 'translate-source',
    'aria-live': 'polite',
  });
  const beamOutput = h('output', {
    id: 'translate-beam-output',
    class: 'output',
    for: 'translate-source',
    'aria-live': 'polite',
  });
  // The `hidden` attribute goes on a wrapper: `.field`'s `display: flex` would override it on the field itself.
  const greedyField = h(
    'div',
    { id: 'translate-greedy-field' },
    h('div', { class: 'field' }, h('span', {}, 'Translation (transformers.js, greedy)'), output),
  );
  const beamLabel = h('span', {}, 'Translation (beam search)');
  const beamField = h(
    'div',
    { id: 'translate-beam-field' },
    h('div', { class: 'field' }, beamLabel, beamOutput),
  );
  const decoder = () => decoderSelect.value as Decoder;
  // Only the chosen decoders' outputs and settings are shown; greedy alone is the view as it always was.
  const showDecoder = () => {
    const chosen = decoder();
    greedyField.hidden = chosen === 'beam';
    beamField.hidden = chosen === 'greedy';
    beamSize.input.disabled = chosen === 'greedy';
    lengthPenalty.input.disabled = chosen === 'greedy';
  };
  decoderSelect.addEventListener('change', showDecoder);
  showDecoder();
  const referenceText = h(
    'textarea',
    { id: 'translate-reference', rows: 2 },
    params.get('reference') ?? 'Der Drucker ist kaputt.',
  );
  const logEnd = numberField({
    id: 'translate-log-end',
    label: 'logEnd (CEL)',
    value: 0.75,
    min: 0.01,
    max: 1,
    step: 0.01,
  });
  const bonusWeight = numberField({
    id: 'translate-bonus-weight',
    label: 'bonusWeight ρ',
    value: 1,
    min: 0,
    max: 2,
    step: 0.05,
  });
  const labelSmoothing = numberField({
    id: 'translate-label-smoothing',
    label: 'label smoothing ε',
    value: 0,
    min: 0,
    max: 0.5,
    step: 0.01,
  });
  const scoreButton = h(
    'button',
    { type: 'button', id: 'translate-score', disabled: true },
    'Score the reference',
  );
  const scoreStatus = h('p', {
    class: 'status',
    id: 'translate-score-status',
    role: 'status',
    'aria-live': 'polite',
  });
  const lossBody = h('tbody');
  const lossFoot = h('tfoot');
  const lossTable = h(
    'table',
    { id: 'translate-losses', class: 'numbers', hidden: true },
    h(
      'caption',
      {},
      'Per-token loss of the reference (teacher-forced), from @encouraging-loss/onnxruntime-web sessions',
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['t', 'token', 'id', 'p(token)', 'CE', 'EL', 'CEL'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    lossBody,
    lossFoot,
  );

  root.append(
    h('h2', {}, 'Translate with it'),
    h(
      'p',
      { class: 'lead' },
      'Load a translation model folder exported for transformers.js (',
      h('code', {}, 'el-translate export --model DIR --out DIR'),
      '), translate in the page with transformers.js (greedy) or with the app’s own beam search (',
      h('code', {}, 'OnnxTranslator'),
      ' of @encouraging-loss/translate, the search of ',
      h('code', {}, 'el-translate translate'),
      ', on the same onnxruntime-web), and score a reference translation token by token with CE, EL ',
      'and CEL: the model’s teacher-forced logits go through @encouraging-loss/onnxruntime-web’s loss graphs.',
    ),
    h(
      'fieldset',
      { class: 'controls' },
      h('legend', {}, 'Model folder'),
      h('div', { class: 'control' }, h('label', { for: 'translate-model-url' }, 'URL'), urlInput, modelList),
      loadButton,
      h(
        'div',
        { class: 'control' },
        h('label', { for: 'translate-model-folder' }, '…or pick the folder'),
        folderInput,
      ),
    ),
    modelNote,
    modelStatus,
    h('div', { class: 'field' }, h('label', { for: 'translate-source' }, 'Source sentence'), sourceText),
    h(
      'fieldset',
      { class: 'controls' },
      h('legend', {}, 'Decoding'),
      h('div', { class: 'control' }, h('label', { for: 'translate-decoder' }, 'Decoder'), decoderSelect),
      beamSize.element,
      lengthPenalty.element,
      maxTokens.element,
    ),
    h('div', { class: 'row' }, translateButton),
    h('div', { class: 'pairs', id: 'translate-outputs' }, greedyField, beamField),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'translate-reference' }, 'Reference translation'),
      referenceText,
    ),
    h(
      'fieldset',
      { class: 'controls' },
      h('legend', {}, 'Loss settings'),
      logEnd.element,
      bonusWeight.element,
      labelSmoothing.element,
    ),
    h('div', { class: 'row' }, scoreButton),
    scoreStatus,
    h('div', { class: 'values' }, lossTable),
    h(
      'p',
      { class: 'note' },
      'Fine-tuning this model in the page is not offered yet: el-translate’s trainer reads and writes model folders ',
      'with Node’s file system and runs on tfjs-wasm in Node; making it environment-neutral is separate work. ',
      'Fine-tune with the CLI (el-translate train --loss cel), export, and load the result here.',
    ),
  );

  // The folders this site serves (`pnpm playground` lists the one it was given, or the last `pnpm start` export,
  // or the bundled demo): the first is the default unless the page's URL names one.
  let index: ModelsIndex | undefined;
  const labelOf = (url: string) => index?.models.find((m) => m.url === url)?.label ?? '';
  const indexRead = readModelsIndex().then((read) => {
    index = read;
    if (!read) return;
    modelList.replaceChildren(...read.models.map(({ url, label }) => h('option', { value: url, label })));
    if (!params.has('model') && urlInput.value === FALLBACK_MODEL) urlInput.value = read.default;
    modelNote.textContent = labelOf(urlInput.value.trim());
  });
  urlInput.addEventListener('input', () => {
    modelNote.textContent = labelOf(urlInput.value.trim());
  });

  let translation: Translation | undefined;
  let scoring: Scoring | undefined;
  let beamModule: Beam | undefined;
  let translator: Awaited<ReturnType<Translation['loadTranslator']>> | undefined;
  // The loaded folder, and its beam-search sessions once a beam translation asked for them: loading them only then
  // keeps the default (greedy) view's memory and load time as they were.
  let loadedSource: ModelSource | undefined;
  let beamTranslator: ReturnType<Beam['loadBeamTranslator']> | undefined;

  const fail = (status: HTMLElement, error: unknown) => {
    status.textContent = (error as Error).message;
    status.classList.add('error');
    root.dataset.state = 'failed';
  };

  async function load(source: () => ModelSource) {
    modelStatus.classList.remove('error');
    modelStatus.textContent = 'Loading…';
    translateButton.disabled = true;
    scoreButton.disabled = true;
    try {
      const chosen = source();
      // Every file transformers.js will read, checked first: a wrong URL says what was fetched and what a model
      // folder holds, instead of transformers.js's TypeError on the missing tokenizer_config.json.
      const folder = new URL(`${chosen.base}${chosen.name}/`, location.origin).href;
      const where = chosen.base === PICKED_BASE ? `the picked folder "${chosen.name}"` : folder;
      await checkModelFolder(folder, { fetch: modelFetch(() => chosen), where });
      translation ??= await import('./translator.js');
      await translator?.dispose();
      translator = undefined;
      loadedSource = undefined;
      const previousBeam = beamTranslator;
      beamTranslator = undefined;
      await previousBeam?.then((t) => t.dispose()).catch(() => undefined);
      const started = performance.now();
      translator = await translation.loadTranslator(chosen).catch((error: Error) => {
        throw new Error(
          `transformers.js could not load the model at ${where}: ${error.message}\n${EXPORT_HINT}`,
        );
      });
      const label = chosen.files ? '' : labelOf(urlInput.value.trim());
      modelStatus.textContent = `Loaded ${chosen.name} in ${((performance.now() - started) / 1000).toFixed(1)} s (transformers.js, onnxruntime-web wasm).${label ? ` ${label}` : ''}`;
      loadedSource = chosen;
      translateButton.disabled = false;
      scoreButton.disabled = false;
      root.dataset.state = 'loaded';
    } catch (error) {
      fail(modelStatus, error);
    }
  }

  loadButton.addEventListener('click', async () => {
    await indexRead;
    void load(() => sourceFromUrl(urlInput.value.trim()));
  });
  folderInput.addEventListener('change', () => {
    if (folderInput.files?.length) void load(() => sourceFromFiles(folderInput.files!));
  });

  /** The app's beam search of the source: its sessions are created on the first call for the loaded folder. */
  async function translateWithBeam(current: NonNullable<typeof translator>, source: ModelSource) {
    beamModule ??= await import('./beam.js');
    const settings = beamModule.checkBeamSettings({
      beam: Number(beamSize.input.value),
      lengthPenalty: Number(lengthPenalty.input.value),
      // The field's count is HF's max_new_tokens; the search's cap leaves EOS out, as el-translate's --max-length.
      maxLength: Number(maxTokens.input.value),
    });
    beamLabel.textContent = `Translation (beam search, beam ${settings.beam}, length penalty ${settings.lengthPenalty})`;
    beamOutput.textContent = beamTranslator ? 'Translating…' : 'Loading the beam-search sessions…';
    if (!beamTranslator) {
      const loading = beamModule.loadBeamTranslator(source);
      beamTranslator = loading;
      // A failed load is not kept: the next click tries again.
      loading.catch(() => {
        if (beamTranslator === loading) beamTranslator = undefined;
      });
    }
    const search = await beamTranslator;
    beamOutput.textContent = 'Translating…';
    const ids = await search.translateIds(current.encode(sourceText.value), settings);
    const text = current.decode(ids);
    beamOutput.textContent = text;
    beamOutput.dataset.translation = text;
    beamOutput.dataset.ids = JSON.stringify(ids);
    beamOutput.dataset.settings = JSON.stringify(settings);
  }

  translateButton.addEventListener('click', async () => {
    const current = translator;
    const source = loadedSource;
    if (!current || !source) return;
    const chosen = decoder();
    translateButton.disabled = true;
    delete root.dataset.translated;
    try {
      if (chosen !== 'beam') {
        output.classList.remove('error');
        output.textContent = 'Translating…';
        delete output.dataset.translation;
        try {
          const text = await current.translate(sourceText.value, {
            maxNewTokens: Number(maxTokens.input.value),
          });
          output.textContent = text;
          output.dataset.translation = text;
        } catch (error) {
          fail(output, error);
          return;
        }
      }
      // After greedy, not beside it: both decoders run on the page's one onnxruntime-web wasm instance.
      if (chosen !== 'greedy') {
        beamOutput.classList.remove('error');
        for (const key of ['translation', 'ids', 'settings']) delete beamOutput.dataset[key];
        try {
          await translateWithBeam(current, source);
        } catch (error) {
          fail(beamOutput, error);
          return;
        }
      }
      root.dataset.translated = 'true';
    } finally {
      translateButton.disabled = false;
    }
  });

  scoreButton.addEventListener('click', async () => {
    if (!translator) return;
    scoreButton.disabled = true;
    scoreStatus.classList.remove('error');
    scoreStatus.textContent = 'Scoring…';
    try {
      scoring ??= await import('./scoring.js');
      const settings = {
        logEnd: Number(logEnd.input.value),
        bonusWeight: Number(bonusWeight.input.value),
        labelSmoothing: Number(labelSmoothing.input.value),
      };
      const reference = await translator.referenceLogits(sourceText.value, referenceText.value);
      const scores = await scoring.scoreTokens(reference, settings);
      renderLosses(reference, scores);
      scoreStatus.textContent = `${reference.targets.length} target tokens scored (logEnd ${settings.logEnd}, ρ ${settings.bonusWeight}, ε ${settings.labelSmoothing}).`;
      lossTable.dataset.settings = JSON.stringify(settings);
      root.dataset.scored = 'true';
    } catch (error) {
      fail(scoreStatus, error);
    } finally {
      scoreButton.disabled = false;
    }
  });

  function renderLosses(
    reference: Awaited<ReturnType<NonNullable<typeof translator>['referenceLogits']>>,
    scores: Awaited<ReturnType<Scoring['scoreTokens']>>,
  ) {
    const losses = ['CE', 'EL', 'CEL'] as const;
    lossBody.replaceChildren(
      ...reference.targets.map((id, t) =>
        h(
          'tr',
          { 'data-target': id },
          h('td', {}, String(t)),
          h('td', {}, reference.tokens[t].trim() === '' ? '␣' : reference.tokens[t]),
          h('td', {}, String(id)),
          h('td', {}, fixed(scores.probabilities[t], 4)),
          ...losses.map((loss) =>
            h(
              'td',
              { 'data-loss': loss, 'data-value': String(scores.losses[loss][t]) },
              fixed(scores.losses[loss][t], 4),
            ),
          ),
        ),
      ),
    );
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    lossFoot.replaceChildren(
      h(
        'tr',
        {},
        h('th', { scope: 'row', colspan: 4 }, 'mean over tokens'),
        ...losses.map((loss) => h('td', {}, fixed(mean(scores.losses[loss]), 4))),
      ),
    );
    lossTable.hidden = false;
  }
}
