import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fixed, h, LOSS_COLORS, numberField } from '../ui.js';
import { BACKENDS, type BackendName, selectBackend } from './backend.js';
import { drawBoundary } from './boundary.js';
import {
  DEFAULT_TRAIN_SETTINGS,
  type EpochReport,
  GRID_EXTENT,
  GRID_SIZE,
  RUN_NAMES,
  type RunName,
  type Training,
  type TrainSettings,
  taskFor,
  trainThree,
} from './trainer.js';

const FIELDS: {
  key: Exclude<keyof TrainSettings, 'crossEntropy'>;
  label: string;
  min: number;
  max: number;
  step: number | 'any';
}[] = [
  { key: 'seed', label: 'seed', min: 0, max: 1e6, step: 1 },
  { key: 'epochs', label: 'epochs', min: 1, max: 500, step: 1 },
  { key: 'learningRate', label: 'learning rate', min: 1e-5, max: 1, step: 'any' },
  { key: 'batchSize', label: 'batch size', min: 1, max: 300, step: 1 },
  { key: 'hiddenUnits', label: 'hidden units', min: 2, max: 256, step: 1 },
  { key: 'logEnd', label: 'logEnd (CEL)', min: 0.01, max: 1, step: 0.01 },
  { key: 'bonusWeight', label: 'bonusWeight ρ', min: 0, max: 2, step: 0.05 },
  { key: 'noise', label: 'noise', min: 0, max: 0.5, step: 0.01 },
];

function curveChart(title: string, yLabel: string, box: HTMLElement): uPlot {
  const width = Math.max(260, box.clientWidth || 400);
  return new uPlot(
    {
      title,
      width,
      height: 220,
      cursor: { sync: { key: 'train' }, drag: { x: false, y: false } },
      scales: { x: { time: false } },
      axes: [{ label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100] }, { label: yLabel }],
      series: [
        { label: 'epoch' },
        ...RUN_NAMES.map((name) => ({
          label: name,
          stroke: LOSS_COLORS[name],
          width: 2,
          value: (_u: uPlot, v: number | null) => (v == null ? '–' : v.toFixed(4)),
        })),
      ],
    },
    [[], [], [], []],
    box,
  );
}

/** View 2: CE, EL and CEL trained side by side on the same seeded 2-D task with @encouraging-loss/tfjs. */
export function mountTrain(root: HTMLElement): void {
  const fields = new Map<keyof TrainSettings, HTMLInputElement>();
  const controls = h('fieldset', { class: 'controls' }, h('legend', {}, 'Task and training'));
  for (const field of FIELDS) {
    const { element, input } = numberField({
      id: `train-${field.key}`,
      label: field.label,
      value: DEFAULT_TRAIN_SETTINGS[field.key],
      min: field.min,
      max: field.max,
      step: field.step === 'any' ? undefined : field.step,
    });
    fields.set(field.key, input);
    controls.append(element);
  }
  const requested = new URLSearchParams(location.search).get('backend');
  const backendSelect = h(
    'select',
    { id: 'train-backend-choice' },
    h('option', { value: 'auto' }, 'auto'),
    ...BACKENDS.map((b) => h('option', { value: b, selected: b === requested }, b)),
  );
  const crossEntropySelect = h(
    'select',
    { id: 'train-ce-loss' },
    h('option', { value: 'library' }, 'this library, ρ = 0'),
    h('option', { value: 'tfjs' }, 'tfjs categoricalCrossentropy'),
  );
  controls.append(
    h(
      'div',
      { class: 'control' },
      h('label', { for: 'train-backend-choice' }, 'tfjs backend'),
      backendSelect,
    ),
    h('div', { class: 'control' }, h('label', { for: 'train-ce-loss' }, 'CE run'), crossEntropySelect),
  );
  const startButton = h('button', { type: 'button', id: 'train-start' }, 'Train CE, EL and CEL');
  const stopButton = h(
    'button',
    { type: 'button', id: 'train-stop', class: 'secondary', disabled: true },
    'Stop',
  );
  const status = h('p', { class: 'status', id: 'train-status', role: 'status', 'aria-live': 'polite' });
  const backendLabel = h('strong', { id: 'train-backend' }, '–');

  const cards = new Map<RunName, { canvas: HTMLCanvasElement; figures: HTMLElement }>();
  const runs = h('div', { class: 'runs' });
  for (const name of RUN_NAMES) {
    const canvas = h('canvas', {
      width: 240,
      height: 240,
      id: `train-boundary-${name}`,
      role: 'img',
      'aria-label': `Decision boundary of the ${name} model and the test points`,
    });
    const figures = h('div', { class: 'figures', 'aria-live': 'off' }, 'not trained yet');
    runs.append(
      h('div', { class: 'run' }, h('h3', { style: `color:${LOSS_COLORS[name]}` }, name), canvas, figures),
    );
    cards.set(name, { canvas, figures });
  }
  const lossBox = h('div', { class: 'chart' });
  const accuracyBox = h('div', { class: 'chart' });
  const resultsBody = h('tbody');
  const results = h(
    'table',
    { id: 'train-results', class: 'numbers' },
    h('caption', {}, 'After the last epoch'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['loss', 'epochs', 'training loss', 'test accuracy', 'test cross-entropy', 'steps/s'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    resultsBody,
  );

  root.append(
    h('h2', {}, 'Train with it'),
    h(
      'p',
      { class: 'lead' },
      'The same seeded task — three noisy spiral arms in 2-D — trained three times in this page with ',
      h('code', {}, 'categoricalEncouragingLoss'),
      ' from @encouraging-loss/tfjs in model.compile: CE (bonusWeight 0), EL (logEnd 1) and CEL. ',
      'Same data, same initial weights, same batches: only the loss differs.',
    ),
    controls,
    h('div', { class: 'row' }, startButton, stopButton),
    h('p', { class: 'status' }, 'tfjs backend in use: ', backendLabel),
    status,
    runs,
    h('div', { class: 'charts' }, lossBox, accuracyBox),
    results,
    h(
      'p',
      { class: 'note' },
      'Training loss is each run’s own objective (EL’s includes its negative bonus, so it goes below zero). Plain EL ',
      'is bounded only by the official floor on 1 − p (bonusFloor 1e-5: log 1e-5 ≈ −11.5 per point); until a point ',
      'reaches it, EL keeps pushing, and on a small noisy task it can overfit, which is what CEL’s tangent past ',
      'logEnd prevents. Test ',
      'cross-entropy and accuracy compare the three on 600 held-out points. Training yields to the browser between ',
      'batches, so the page stays responsive; Stop ends after the current batch.',
    ),
  );

  const lossChart = curveChart('Training loss per epoch', 'loss', lossBox);
  const accuracyChart = curveChart('Test accuracy per epoch', 'accuracy', accuracyBox);
  new ResizeObserver(() => {
    for (const [chart, box] of [
      [lossChart, lossBox],
      [accuracyChart, accuracyBox],
    ] as const)
      chart.setSize({ width: Math.max(260, box.clientWidth - 8), height: 220 });
  }).observe(lossBox);

  let training: Training | undefined;

  const readSettings = (): TrainSettings => {
    const settings = { ...DEFAULT_TRAIN_SETTINGS };
    for (const field of FIELDS) {
      const value = Number(fields.get(field.key)!.value);
      if (!Number.isFinite(value) || value < field.min || value > field.max)
        throw new Error(
          `${field.label} must be a number in [${field.min}, ${field.max}], got "${fields.get(field.key)!.value}".`,
        );
      settings[field.key] = value;
    }
    settings.crossEntropy = crossEntropySelect.value === 'tfjs' ? 'tfjs' : 'library';
    return settings;
  };

  startButton.addEventListener('click', async () => {
    let settings: TrainSettings;
    try {
      settings = readSettings();
    } catch (error) {
      status.textContent = (error as Error).message;
      status.classList.add('error');
      return;
    }
    status.classList.remove('error');
    startButton.disabled = true;
    stopButton.disabled = false;
    root.dataset.state = 'training';
    const choice = backendSelect.value;
    const backend = await selectBackend(choice === 'auto' ? undefined : (choice as BackendName));
    backendLabel.textContent = backend;
    root.dataset.backend = backend;
    const { test } = taskFor(settings);
    const epochs: number[] = [];
    const history = new Map(
      RUN_NAMES.map((name) => [name, { loss: [] as number[], accuracy: [] as number[] }]),
    );
    const last = new Map<RunName, EpochReport>();
    resultsBody.replaceChildren();
    const started = performance.now();
    training = trainThree(settings, (report) => {
      const runHistory = history.get(report.run)!;
      runHistory.loss.push(report.trainLoss);
      runHistory.accuracy.push(report.testAccuracy);
      if (epochs.length < report.epoch) epochs.push(report.epoch);
      last.set(report.run, report);
      const card = cards.get(report.run)!;
      drawBoundary(card.canvas, report.grid, GRID_SIZE, GRID_EXTENT, test);
      card.figures.textContent = `epoch ${report.epoch} · loss ${fixed(report.trainLoss, 4)} · test accuracy ${fixed(
        report.testAccuracy * 100,
        1,
      )} %`;
      const padded = (values: number[]) => epochs.map((_, i) => values[i] ?? null);
      lossChart.setData([epochs, ...RUN_NAMES.map((n) => padded(history.get(n)!.loss))] as uPlot.AlignedData);
      accuracyChart.setData([
        epochs,
        ...RUN_NAMES.map((n) => padded(history.get(n)!.accuracy)),
      ] as uPlot.AlignedData);
      status.textContent = `Epoch ${report.epoch} of ${settings.epochs} (${report.run}) · ${(
        (performance.now() - started) / 1000
      ).toFixed(1)} s`;
    });
    try {
      const { steps, seconds, stopped } = await training.done;
      const rate = steps / seconds;
      root.dataset.stepsPerSecond = rate.toFixed(2);
      status.textContent = `${stopped ? 'Stopped' : 'Done'}: ${steps} optimizer steps in ${seconds.toFixed(1)} s (${rate.toFixed(
        1,
      )} steps/s on ${backend}).`;
      resultsBody.replaceChildren(
        ...RUN_NAMES.filter((n) => last.has(n)).map((name) => {
          const r = last.get(name)!;
          return h(
            'tr',
            {
              'data-run': name,
              'data-epochs': r.epoch,
              'data-accuracy': r.testAccuracy,
              'data-cross-entropy': r.testCrossEntropy,
              'data-steps-per-second': r.stepsPerSecond,
            },
            h('th', { scope: 'row' }, name),
            h('td', {}, String(r.epoch)),
            h('td', {}, fixed(r.trainLoss, 4)),
            h('td', {}, `${fixed(r.testAccuracy * 100, 1)} %`),
            h('td', {}, fixed(r.testCrossEntropy, 4)),
            h('td', {}, fixed(r.stepsPerSecond, 1)),
          );
        }),
      );
      root.dataset.state = stopped ? 'stopped' : 'done';
    } catch (error) {
      status.textContent = `Training failed: ${(error as Error).message}`;
      status.classList.add('error');
      root.dataset.state = 'failed';
      console.error(error);
    } finally {
      startButton.disabled = false;
      stopButton.disabled = true;
      training = undefined;
    }
  });
  stopButton.addEventListener('click', () => training?.stop());
}
