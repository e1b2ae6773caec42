import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fixed, h, LOSS_COLORS, slider } from '../ui.js';
import {
  CURVE_NAMES,
  DEFAULT_SETTINGS,
  type FigureData,
  type FigureSettings,
  figureData,
  probabilityGrid,
  TABLE_PROBABILITIES,
} from './curves.js';

const GRID = probabilityGrid(240);

function chartOptions(title: string, yRange: [number, number], width: number): uPlot.Options {
  return {
    title,
    width,
    height: Math.round(Math.min(320, Math.max(220, width * 0.62))),
    cursor: { sync: { key: 'why-el' }, drag: { x: false, y: false } },
    scales: { x: { time: false, range: [0, 1] }, y: { auto: false, range: yRange } },
    axes: [{ label: 'target probability p' }, { label: title.startsWith('Loss') ? 'ℓ' : '∂ℓ/∂z_y' }],
    series: [
      { label: 'p', value: (_u, v) => (v == null ? '–' : v.toFixed(4)) },
      ...CURVE_NAMES.map((name) => ({
        label: name,
        stroke: LOSS_COLORS[name],
        width: 2,
        value: (_u: uPlot, v: number | null) => (v == null ? '–' : v.toFixed(4)),
      })),
    ],
  };
}

function valuesTable(): { table: HTMLTableElement; update: (settings: FigureSettings) => void } {
  const header = h(
    'tr',
    {},
    h('th', { scope: 'col' }, 'p'),
    ...CURVE_NAMES.flatMap((name) => [
      h('th', { scope: 'col' }, `${name} ℓ`),
      h('th', { scope: 'col' }, `${name} ∂ℓ/∂z_y`),
    ]),
  );
  const body = h('tbody');
  const table = h(
    'table',
    { id: 'why-values', class: 'numbers' },
    h(
      'caption',
      {},
      'Loss and target-logit gradient at sampled p, computed by @encouraging-loss/core in this page',
    ),
    h('thead', {}, header),
    body,
  );
  const update = (settings: FigureSettings) => {
    const data = figureData(TABLE_PROBABILITIES, settings);
    body.replaceChildren(
      ...data.p.map((p, i) =>
        h(
          'tr',
          { 'data-p': p },
          h('th', { scope: 'row' }, String(p)),
          ...CURVE_NAMES.flatMap((name, c) =>
            (['loss', 'targetGradient'] as const).map((quantity) => {
              const value = data[quantity][c][i];
              // data-value keeps every bit (String of a float64 round-trips); the text is for people.
              return h(
                'td',
                { 'data-curve': name, 'data-quantity': quantity, 'data-value': String(value) },
                fixed(value, 4),
              );
            }),
          ),
        ),
      ),
    );
  };
  return { table, update };
}

/** View 1: the paper's Fig. 3 with sliders, every point computed by the core in the page. */
export function mountWhy(root: HTMLElement): void {
  const settings: FigureSettings = { ...DEFAULT_SETTINGS };
  const lossBox = h('div', {
    class: 'chart',
    role: 'img',
    'aria-label': 'Loss against p for CE, EL and CEL',
  });
  const gradientBox = h('div', {
    class: 'chart',
    role: 'img',
    'aria-label': 'Target-logit gradient against p for CE, EL and CEL',
  });
  const { table, update: updateTable } = valuesTable();
  const controls = h(
    'fieldset',
    { class: 'controls' },
    h('legend', {}, 'Loss settings'),
    slider({
      id: 'why-log-end',
      label: 'logEnd (CEL)',
      min: 0.05,
      max: 0.99,
      step: 0.01,
      value: settings.logEnd,
      onInput: (v) => redraw({ logEnd: v }),
    }),
    slider({
      id: 'why-bonus-weight',
      label: 'bonusWeight ρ',
      min: 0,
      max: 1,
      step: 0.05,
      value: settings.bonusWeight,
      onInput: (v) => redraw({ bonusWeight: v }),
    }),
    slider({
      id: 'why-label-smoothing',
      label: 'label smoothing ε',
      min: 0,
      max: 0.3,
      step: 0.01,
      value: settings.labelSmoothing,
      onInput: (v) => redraw({ labelSmoothing: v }),
    }),
  );
  root.append(
    h('h2', {}, 'Why Encouraging Loss'),
    h(
      'p',
      { class: 'lead' },
      'Cross-entropy stops pushing an example once it is learned: its target-logit gradient p − 1 vanishes as p → 1. ',
      'Encouraging Loss (Zhao et al., AAAI 2022) adds a bonus ρ·log(1 − p) that keeps rewarding confidence.',
    ),
    controls,
    h('div', { class: 'charts' }, lossBox, gradientBox),
    h(
      'div',
      { class: 'explain' },
      h(
        'p',
        {},
        h('strong', {}, 'CE'),
        ' (grey): the loss −log p flattens and its gradient p − 1 goes to 0 as p → 1; well-classified examples stop contributing.',
      ),
      h(
        'p',
        {},
        h('strong', {}, 'EL'),
        ' (orange): the bonus log(1 − p) makes the gradient p − 1 − ρ·p, so with ρ = 1 it stays at −1: ',
        'learned examples keep being pushed to higher confidence. As in the official code, 1 − p is floored at 1e-5 ',
        '(the option bonusFloor), so the loss stops falling at log 1e-5 ≈ −11.5 past p = 1 − 1e-5, beyond this chart; ',
        'without the floor it would fall without bound and the logits would grow without limit in training.',
      ),
      h(
        'p',
        {},
        h('strong', {}, 'CEL'),
        ' (blue): conservative EL follows EL up to logEnd and replaces the bonus past it by its tangent line at logEnd, ',
        'so the loss stays bounded and the gradient returns towards CE’s for very confident examples. ',
        'Label smoothing smooths the bonus too. Hover a chart to read the values; every point is computed in this page by ',
        h('code', {}, '@encouraging-loss/core'),
        ' on two-class logits [log p − log(1 − p), 0].',
      ),
    ),
    h('details', { class: 'values' }, h('summary', {}, 'Table of values'), table),
  );

  const width = () => Math.max(260, Math.floor(lossBox.clientWidth || root.clientWidth / 2 || 400));
  const seriesData = (data: FigureData, pick: 'loss' | 'targetGradient'): uPlot.AlignedData => [
    data.p,
    ...data[pick],
  ];
  let data = figureData(GRID, settings);
  const lossChart = new uPlot(chartOptions('Loss ℓ(p)', [-4, 5], width()), seriesData(data, 'loss'), lossBox);
  const gradientChart = new uPlot(
    chartOptions('Target-logit gradient ∂ℓ/∂z_y', [-1.6, 0.2], width()),
    seriesData(data, 'targetGradient'),
    gradientBox,
  );
  updateTable(settings);
  root.dataset.ready = 'true';

  function redraw(change: Partial<FigureSettings>) {
    Object.assign(settings, change);
    data = figureData(GRID, settings);
    lossChart.setData(seriesData(data, 'loss'), false);
    gradientChart.setData(seriesData(data, 'targetGradient'), false);
    lossChart.redraw();
    gradientChart.redraw();
    updateTable(settings);
  }

  new ResizeObserver(() => {
    const w = width();
    for (const chart of [lossChart, gradientChart]) chart.setSize({ width: w, height: chart.height });
  }).observe(lossBox);
}
