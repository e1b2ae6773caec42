import { type EncouragingLossOptions, encouragingLossWithGrad, lossPreset } from '@encouraging-loss/core';

/** One loss of the figure: a name and the options that make it. */
export interface Curve {
  name: string;
  options: EncouragingLossOptions;
}

/** The paper's Fig. 3 curves: CE, EL and CEL with logEnd 0.75 and 0.5. */
export const CURVES: Curve[] = [
  { name: 'CE', options: lossPreset('ce') },
  { name: 'EL', options: lossPreset('el') },
  { name: 'CEL 0.75', options: lossPreset('cel', { logEnd: 0.75 }) },
  { name: 'CEL 0.5', options: lossPreset('cel', { logEnd: 0.5 }) },
];

export interface Point {
  p: number;
  /** Per curve: the loss and ∂ℓ/∂z_y at target probability p. */
  values: { loss: number; targetGradient: number }[];
}

/**
 * Loss and target-logit gradient against the target probability p, computed by the library on two-class logits
 * [logit(p), 0] (so softmax gives exactly p to the target).
 */
export function figurePoints(probabilities: number[]): Point[] {
  return probabilities.map((p) => {
    const logits = { data: new Float64Array([Math.log(p) - Math.log1p(-p), 0]), shape: [1, 2] };
    const targets = { data: new Int32Array([0]), shape: [1] };
    return {
      p,
      values: CURVES.map(({ options }) => {
        const { loss, grad } = encouragingLossWithGrad(logits, targets, options);
        return { loss: loss.data[0], targetGradient: grad.data[0] };
      }),
    };
  });
}

/** A plain-text table of the points. */
export function formatTable(points: Point[]): string {
  const header = ['p', ...CURVES.flatMap((c) => [`${c.name} loss`, `${c.name} ∂/∂z_y`])];
  const rows = points.map((point) => [
    point.p.toString(),
    ...point.values.flatMap((v) => [v.loss.toFixed(4), v.targetGradient.toFixed(4)]),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const COLORS = ['#444444', '#d62728', '#1f77b4', '#2ca02c'];

/** Two SVG panels (loss and target-logit gradient against p), one polyline per curve, with axes and a legend. */
export function figureSvg(points: Point[]): string {
  const width = 900;
  const height = 410;
  const panel = (
    x0: number,
    title: string,
    pick: (v: Point['values'][number]) => number,
    yMin: number,
    yMax: number,
  ) => {
    const w = 380;
    const h = 280;
    const top = 50;
    const sx = (p: number) => x0 + p * w;
    const sy = (v: number) => top + ((yMax - Math.min(yMax, Math.max(yMin, v))) / (yMax - yMin)) * h;
    const lines = CURVES.map((_, c) => {
      const path = points
        .map((pt) => `${sx(pt.p).toFixed(1)},${sy(pick(pt.values[c])).toFixed(1)}`)
        .join(' ');
      return `<polyline fill="none" stroke="${COLORS[c]}" stroke-width="2" points="${path}"/>`;
    }).join('\n');
    const ticks = [0, 0.25, 0.5, 0.75, 1]
      .map((t) => `<text x="${sx(t)}" y="${top + h + 18}" font-size="11" text-anchor="middle">${t}</text>`)
      .join('');
    const yTicks = [yMin, (yMin + yMax) / 2, yMax]
      .map((t) => `<text x="${x0 - 6}" y="${sy(t) + 4}" font-size="11" text-anchor="end">${t}</text>`)
      .join('');
    const zero =
      yMin < 0 && yMax > 0
        ? `<line x1="${x0}" x2="${x0 + w}" y1="${sy(0)}" y2="${sy(0)}" stroke="#bbb"/>`
        : '';
    return `<g><text x="${x0 + w / 2}" y="30" font-size="14" text-anchor="middle">${title}</text>
<rect x="${x0}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>${zero}${ticks}${yTicks}
<text x="${x0 + w / 2}" y="${top + h + 34}" font-size="12" text-anchor="middle">target probability p</text>
${lines}</g>`;
  };
  const legend = CURVES.map(
    (c, i) =>
      `<rect x="${60 + i * 110}" y="${height - 18}" width="14" height="4" fill="${COLORS[i]}"/><text x="${80 + i * 110}" y="${height - 13}" font-size="12">${c.name}</text>`,
  ).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(60, 'Loss ℓ(p)', (v) => v.loss, -4, 4)}
${panel(500, 'Target-logit gradient ∂ℓ/∂z_y', (v) => v.targetGradient, -1.5, 0)}
${legend}
</svg>
`;
}
