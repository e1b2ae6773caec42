import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { figurePoints, figureSvg, formatTable } from './figure.js';

// The table at a few probabilities, the SVG on a fine grid.
const tableProbabilities = [0.01, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 0.99, 0.999];
const gridProbabilities = Array.from({ length: 199 }, (_, i) => (i + 1) / 200);

console.log(
  'Encouraging Loss vs cross-entropy (Zhao et al., AAAI 2022, Fig. 3), computed by @encouraging-loss/core',
);
console.log('Two-class logits [logit(p), 0]; CEL uses the tangent of log(1 − p) past logEnd.\n');
console.log(formatTable(figurePoints(tableProbabilities)));

const outDir = resolve(process.env.INIT_CWD ?? process.cwd(), 'runs', 'showcase');
mkdirSync(outDir, { recursive: true });
const file = resolve(outDir, 'encouraging-loss-fig3.svg');
writeFileSync(file, figureSvg(figurePoints(gridProbabilities)));
console.log(
  `\nCE's gradient p − 1 vanishes as p → 1; EL's stays −1; CEL's is bounded past logEnd.\nFigure: ${file}`,
);
