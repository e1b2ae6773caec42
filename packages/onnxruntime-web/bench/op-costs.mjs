// What one pass over [N, K] costs on the wasm EP (one thread): single-op graphs, round-robin, medians. An op with an
// [N, K] result is followed by a ReduceMax of it (so nothing [N, K] is copied out) and the graph that is a ReduceMax
// alone is subtracted: that is the op's cost. A reduction (a row result) replaces the ReduceMax: the difference is
// its cost beyond a ReduceMax's (~8–10 ms at [512, 32000]). The table behind docs/performance.md "Why not 1.25×".
// Shared machine (and a shared 260 MiB L3: an op writing into a buffer still in cache runs ~3× faster than one
// writing into a cold one): read the ratios between rows.
//   node bench/op-costs.mjs [--shape 512,32000] [--runs 9] [op ...]
import * as ort from 'onnxruntime-web';
import { GraphBuilder } from '../dist/index.js';

ort.env.wasm.numThreads = 1;
const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const [N, K] = flag('--shape', '512,32000').split(',').map(Number);
const runs = Number(flag('--runs', '9'));
const only = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));

const rowMax = (b, v) => b.node('ReduceMax', [v], 'float32', 'row', { axes: [-1], keepdims: 1 });
const unary =
  (op, attributes) =>
  ({ b, x }) =>
    b.node(op, [x], 'float32', 'full', attributes);
const view3 = ({ b, x }) => b.node('Reshape', [x, b.ints([N, 1, K])], 'float32', 'unknown');
/** Each case builds one op with builder b from x [N, K] (values in (0, 1)), y [N, K], a row r [N, 1], indices i [N, 1]. */
const cases = {
  'ReduceMax alone': ({ x }) => x,
  'Neg (unary)': unary('Neg'),
  'Sub 1 − x (scalar)': ({ b, x }) => b.node('Sub', [b.scalar(1, 'float32'), x], 'float32', 'full'),
  'Sub x − r (row)': ({ b, x, r }) => b.node('Sub', [x, r], 'float32', 'full'),
  'Div r / x (row)': ({ b, x, r }) => b.node('Div', [r, x], 'float32', 'full'),
  'Max x, c (scalar)': ({ b, x }) => b.node('Max', [x, b.scalar(0.25, 'float32')], 'float32', 'full'),
  'Sub x − y (full)': ({ b, x, y }) => b.node('Sub', [x, y], 'float32', 'full'),
  'Div x / y (full)': ({ b, x, y }) => b.node('Div', [x, y], 'float32', 'full'),
  BatchNormalization: ({ b, x, r }) => {
    const channels = b.node('Reshape', [r, b.ints([-1])], 'float32', 'unknown');
    const zeros = b.constant('float32', [N], new Float32Array(N));
    const ones = b.constant('float32', [N], new Float32Array(N).fill(1));
    const view = b.node('Reshape', [x, b.ints([1, N, K])], 'float32', 'unknown');
    return b.node('BatchNormalization', [view, channels, channels, zeros, ones], 'float32', 'unknown', {
      epsilon: { float: 0 },
    });
  },
  ScatterElements: ({ b, x, r, i }) => b.node('ScatterElements', [x, i, r], 'float32', 'full', { axis: -1 }),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Softmax: unary('Softmax', { axis: -1 }),
  LogSoftmax: unary('LogSoftmax', { axis: -1 }),
  'Where (with its Greater)': ({ b, x, y }) =>
    b.node(
      'Where',
      [b.node('Greater', [x, b.scalar(0.5, 'float32')], 'bool', 'full'), x, y],
      'float32',
      'full',
    ),
  'ReduceSum (float32)': ({ b, x }) =>
    b.node('ReduceSum', [x, b.ints([-1])], 'float32', 'row', { keepdims: 1 }),
  ReduceProd: ({ b, x }) => b.node('ReduceProd', [x], 'float32', 'row', { axes: [-1], keepdims: 1 }),
  'Cast to float64 + ReduceSum': ({ b, x }) => {
    const wide = b.node('Cast', [x], 'float32', 'full', { to: 11 });
    const sum = b.node('ReduceSum', [wide, b.ints([-1])], 'float32', 'row', { keepdims: 1 });
    return b.node('Cast', [sum], 'float32', 'row', { to: 1 });
  },
  'AveragePool 16 (blocked sum)': ({ b, x }) =>
    b.node('AveragePool', [view3({ b, x })], 'float32', 'unknown', {
      kernel_shape: [16],
      strides: [16],
      auto_pad: 'SAME_UPPER',
      count_include_pad: 1,
    }),
  'TopK 2': ({ b, x }) =>
    b.node('TopK', [x, b.ints([2])], 'float32', 'unknown', { axis: -1, largest: 1, sorted: 1 }, 2),
  ArgMax: ({ b, x }) => b.node('ArgMax', [x], 'int64', 'row', { axis: -1, keepdims: 1 }),
};

let state = 1;
const random = () => {
  state = (state * 1103515245 + 12345) >>> 0;
  return state / 2 ** 32;
};
const feeds = {
  x: new ort.Tensor(
    'float32',
    Float32Array.from({ length: N * K }, () => 0.05 + 0.9 * random()),
    [N, K],
  ),
  y: new ort.Tensor(
    'float32',
    Float32Array.from({ length: N * K }, () => 0.5 + random()),
    [N, K],
  ),
  r: new ort.Tensor(
    'float32',
    Float32Array.from({ length: N }, () => 0.5 + random()),
    [N, 1],
  ),
  i: new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: N }, () => BigInt(Math.floor(random() * K))),
    [N, 1],
  ),
};

const timed = [];
for (const [name, make] of Object.entries(cases)) {
  if (only.length && name !== 'ReduceMax alone' && !only.some((o) => name.startsWith(o))) continue;
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', 'full');
  const y = b.input('y', 'float32', 'full');
  const r = b.input('r', 'float32', 'row');
  const i = b.input('i', 'int64', 'row');
  let out = make({ b, x, y, r, i });
  // Read every [N, K] result once more, as the baseline reads x, so only [N, 1]-sized values leave the graph.
  if (
    out.extent === 'full' ||
    (out.extent === 'unknown' && !name.startsWith('TopK') && !name.startsWith('Average'))
  )
    out = rowMax(b, out);
  else if (name === 'ReduceMax alone') out = rowMax(b, x);
  const bytes = b.toModel(name, [x, y, r, i], [b.output(out, 'out')]);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  timed.push({ name, session, times: [] });
}
for (let run = 0; run < runs + 1; run++) {
  for (const entry of timed) {
    const inputs = Object.fromEntries(entry.session.inputNames.map((n) => [n, feeds[n]]));
    const start = performance.now();
    await entry.session.run(inputs);
    if (run > 0) entry.times.push(performance.now() - start);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const base = median(timed[0].times);
console.log(`[${N}, ${K}], wasm EP, 1 thread, ${runs} runs: graph median, and minus "ReduceMax alone"`);
for (const { name, session, times } of timed) {
  console.log(
    `${name.padEnd(30)} ${median(times).toFixed(1).padStart(7)} ms  ${(median(times) - base).toFixed(1).padStart(6)} ms`,
  );
  await session.release();
}
