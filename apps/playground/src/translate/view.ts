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
  const translateButton = h('button', { type: 'button', id: 'translate-run', disabled: true }, 'Translate');
  const output = h('output', {
    id: 'translate-output',
    class: 'output',
    for: 'translate-source',
    'aria-live': 'polite',
  });
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
      '), translate in the page with transformers.js (greedy), and score a reference translation token by token with CE, EL ',
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
    h('div', { class: 'row' }, maxTokens.element, translateButton),
    h('div', { class: 'field' }, h('span', {}, 'Translation'), output),
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
  let translator: Awaited<ReturnType<Translation['loadTranslator']>> | undefined;

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
      const started = performance.now();
      translator = await translation.loadTranslator(chosen).catch((error: Error) => {
        throw new Error(
          `transformers.js could not load the model at ${where}: ${error.message}\n${EXPORT_HINT}`,
        );
      });
      const label = chosen.files ? '' : labelOf(urlInput.value.trim());
      modelStatus.textContent = `Loaded ${chosen.name} in ${((performance.now() - started) / 1000).toFixed(1)} s (transformers.js, onnxruntime-web wasm).${label ? ` ${label}` : ''}`;
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

  translateButton.addEventListener('click', async () => {
    if (!translator) return;
    translateButton.disabled = true;
    output.classList.remove('error');
    output.textContent = 'Translating…';
    try {
      const text = await translator.translate(sourceText.value, {
        maxNewTokens: Number(maxTokens.input.value),
      });
      output.textContent = text;
      output.dataset.translation = text;
      root.dataset.translated = 'true';
    } catch (error) {
      fail(output, error);
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
