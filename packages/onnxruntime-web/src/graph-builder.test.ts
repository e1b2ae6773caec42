import { seededRandom } from '@encouraging-loss/conformance';
import { describe, expect, it } from 'vitest';
import { buildEncouragingLossModel } from './build-model.js';
import { GraphBuilder, type GraphValue } from './graph-builder.js';
import { decodeModel, experimental_modelSummary } from './onnx-proto.js';
import { int64, ort } from './test-utils.js';

async function evaluate(
  builder: GraphBuilder,
  inputs: Record<string, ort.Tensor>,
  values: GraphValue[],
  graphInputs: GraphValue[],
) {
  const outputs = values.map((v, i) => builder.output(v, `out${i}`));
  const session = await ort.InferenceSession.create(builder.toModel('test', graphInputs, outputs));
  const result = await session.run(inputs);
  await session.release();
  return outputs.map((o) => Array.from(result[o.name].data as Float32Array, Number));
}

describe('GraphBuilder', () => {
  it('records identical nodes and constants once, folds constants and drops identities', () => {
    const builder = new GraphBuilder();
    const { ops } = builder;
    const x = builder.input('x', 'float32', 'full');
    expect(ops.exp(x)).toEqual(ops.exp(x));
    expect(ops.scalar(0.5, x).name).toBe(ops.scalar(0.5, x).name);
    expect(ops.mul(x, ops.scalar(1, x))).toBe(x);
    expect(ops.add(ops.scalar(0, x), x)).toBe(x);
    expect(ops.where(ops.greater(x, ops.scalar(0, x)), x, x)).toBe(x);
    const folded = ops.mul(ops.scalar(3, x), ops.add(ops.scalar(0.25, x), ops.scalar(0.5, x)));
    expect(folded.constant).toBe(Math.fround(2.25));
    expect(builder.nodes.map((n) => n.opType)).toEqual(['Exp', 'Greater']);
  });

  it('float32 constants beyond the float32 range are clamped, not infinite', () => {
    const builder = new GraphBuilder();
    expect(builder.scalar(-Number.MAX_VALUE, 'float32').constant).toBe(-3.4028234663852886e38);
  });

  it('oneHot: indices outside [0, K) (ignoreIndex −100, K) select no class', async () => {
    const builder = new GraphBuilder();
    const { ops } = builder;
    const logits = builder.input('logits', 'float32', 'full');
    const targets = builder.input('targets', 'int64', 'batch');
    const isTarget = ops.oneHot(targets, logits);
    // As floats (scattered), through a Where against a full tensor (scattered), and as a plain mask.
    const asFloat = ops.castLike(isTarget, logits);
    const selected = ops.where(isTarget, ops.scalar(7, logits), logits);
    const mask = builder.node('Cast', [isTarget], 'float32', 'full', { to: 1 });
    const [a, b, c] = await evaluate(
      builder,
      {
        logits: new ort.Tensor('float32', new Float32Array(12).fill(-1), [4, 3]),
        targets: new ort.Tensor('int64', int64([-100, 0, 2, 3]), [4]),
      },
      [asFloat, selected, mask],
      [logits, targets],
    );
    expect(a).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(c).toEqual(a);
    expect(b).toEqual([-1, -1, -1, 7, -1, -1, -1, -1, 7, -1, -1, -1]);
  });

  it('log1p of per-row values keeps full relative precision for tiny arguments', async () => {
    const builder = new GraphBuilder();
    const x = builder.input('x', 'float32', 'row');
    const values = [1e-7, -3e-6, 0.25, -0.5, 2e-30, 0];
    const [out] = await evaluate(
      builder,
      { x: new ort.Tensor('float32', Float32Array.from(values), [values.length, 1]) },
      [builder.ops.log1p!(x)],
      [x],
    );
    values.forEach((v, i) => {
      const expected = Math.log1p(Math.fround(v));
      expect(Math.abs(out[i] - expected)).toBeLessThanOrEqual(2e-7 * Math.abs(expected));
    });
  });

  it('sums over the last axis accumulate accurately (ORT float32 ReduceSum alone is off by ~1e-3 at K = 32 000)', async () => {
    const builder = new GraphBuilder();
    const x = builder.input('x', 'float32', 'full');
    const K = 32000;
    const data = new Float32Array(K).fill(0.1 / K);
    data[7] = 0.9 + 0.1 / K;
    const [sum] = await evaluate(
      builder,
      { x: new ort.Tensor('float32', data, [1, K]) },
      [builder.ops.sumLastAxis(x)],
      [x],
    );
    expect(Math.abs(sum[0] - 1)).toBeLessThan(1e-6);
  });

  it("0-d operands of row ops are reshaped to the rows' rank (ORT broadcasts [N, 1] against 0-d per element)", async () => {
    const builder = new GraphBuilder();
    const { ops } = builder;
    const x = builder.input('x', 'float32', 'full');
    const row = ops.maxLastAxis(x);
    const shifted = ops.add(ops.mul(row, ops.scalar(2, x)), ops.lastAxisSize(x));
    const total = ops.add(ops.sumAll(row), ops.scalar(1, x)); // 0-d with 0-d: stays 0-d
    const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const session = await ort.InferenceSession.create(
      builder.toModel('t', [x], [builder.output(shifted, 'shifted'), builder.output(total, 'total')]),
    );
    const out = await session.run({ x: new ort.Tensor('float32', data, [2, 3, 4]) });
    await session.release();
    expect(out.shifted.dims).toEqual([2, 3, 1]);
    expect(Array.from(out.shifted.data as Float32Array)).toEqual(
      [3, 7, 11, 15, 19, 23].map((m) => 2 * m + 4),
    );
    expect(out.total.dims).toEqual([]);
    expect(out.total.data[0]).toBe(3 + 7 + 11 + 15 + 19 + 23 + 1);
    const rowOps = builder.nodes.filter((n) => n.opType === 'Mul' || n.opType === 'Add');
    const producer = new Map(builder.nodes.map((n) => [n.outputs[0], n.opType]));
    for (const node of rowOps.filter((n) => n.inputs.includes(row.name) || n.inputs.includes(shifted.name))) {
      expect(node.inputs.map((i) => producer.get(i) ?? 'constant or input')).toContain('Reshape');
    }
  });

  it('row sums of one sign (x − row max, e^(x − max)) are blocked sums within 16 ulps of the float64 sum', async () => {
    // K across the block size (16) and not a multiple of it; logits near 0 and offset by 10⁴, where a sum of the
    // raw logits would cancel; a [2, 3, K] batch (any rank).
    const u = 2 ** -24;
    const random = seededRandom(11);
    for (const K of [1, 15, 16, 17, 1003, 32000]) {
      for (const offset of [0, 1e4]) {
        const builder = new GraphBuilder();
        const { ops } = builder;
        const x = builder.input('x', 'float32', 'full');
        const shifted = ops.sub(x, ops.maxLastAxis(x));
        const exps = ops.exp(shifted);
        const rows = 6;
        const data = Float32Array.from({ length: rows * K }, () => offset + 8 * random() - 4);
        // Rows a plain float32 accumulation gets wrong by ~1e-3: one large term, then K − 2 small ones that round
        // away against it (x − max: −2²⁰ then −0.3s; e^(x − max): 1 then e⁻¹⁷s, each below half an ulp of 1).
        for (const [r, second, rest] of [
          [0, -(2 ** 20), -0.3],
          [1, -17, -17],
        ]) {
          data.fill(offset + rest, r * K, (r + 1) * K);
          data[r * K] = offset;
          if (K > 1) data[r * K + 1] = offset + second;
        }
        const [belowMax, expSum] = await evaluate(
          builder,
          { x: new ort.Tensor('float32', data, [2, 3, K]) },
          [ops.sumLastAxis(shifted), ops.sumLastAxis(exps)],
          [x],
        );
        expect(builder.nodes.filter((n) => n.opType === 'AveragePool')).toHaveLength(2);
        // float64 sums of what the graph summed: x − max rounded to float32, and e^{that} rounded to float32 by ORT's
        // Exp (within 2 ulps of the exact exponential; the bound below allows it).
        for (let r = 0; r < rows; r++) {
          const row = data.subarray(r * K, (r + 1) * K);
          const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
          let d = 0;
          let e = 0;
          for (const v of row) {
            const diff = Math.fround(v - max);
            d += diff;
            e += Math.exp(diff);
          }
          const what = `K = ${K}, offset ${offset}, row ${r}`;
          expect(Math.abs(belowMax[r] - d), what).toBeLessThanOrEqual(16 * u * Math.abs(d));
          expect(Math.abs(expSum[r] - e), what).toBeLessThanOrEqual(18 * u * e);
        }
      }
    }
  });
});

describe('loss models', () => {
  it('use only standard ai.onnx operators at the requested opset, and no one-hot mask on the default path', () => {
    for (const opset of [17, 18, 21]) {
      const model = decodeModel(buildEncouragingLossModel({ logEnd: 0.75 }, { opset }));
      expect(model.opsetImport).toEqual([{ domain: '', version: opset }]);
      expect(model.graph.node!.every((n) => n.domain === '')).toBe(true);
      const { ops } = experimental_modelSummary(buildEncouragingLossModel({ logEnd: 0.75 }, { opset }));
      expect(ops.OneHot).toBeUndefined();
      expect(ops.Range).toBeUndefined(); // the mask is never materialised: gathers and scatters instead
    }
  });

  it('declare rank-free inputs and outputs', () => {
    const model = decodeModel(
      buildEncouragingLossModel({}, { outputs: ['loss', 'grad', 'perExample', 'components'] }),
    );
    expect(
      model.graph.input!.map((i) => [i.name, i.type!.tensorType!.elemType, i.type!.tensorType!.shape]),
    ).toEqual([
      ['logits', 1, null],
      ['targets', 7, null],
    ]);
    expect(model.graph.output!.map((o) => o.name)).toEqual([
      'loss',
      'grad',
      'perExample',
      'crossEntropy',
      'bonus',
    ]);
  });

  it('reject bad build options', () => {
    expect(() => buildEncouragingLossModel({ labelSmoothing: 1 })).toThrow(/labelSmoothing/);
    expect(() => buildEncouragingLossModel({}, { outputs: [] })).toThrow(/outputs/);
    expect(() => buildEncouragingLossModel({}, { targetsType: 'int16' as 'int32' })).toThrow(/targetsType/);
    expect(() => buildEncouragingLossModel({}, { opset: 12 })).toThrow(/opset/);
  });
  it('loss graphs stay finite past the float32 range of exp (margins 100 and 1000, target winning and losing)', async () => {
    const K = 5;
    for (const options of [
      { logEnd: 1 },
      { logEnd: 1, bonusWeight: 5 },
      { logEnd: 0.75 },
      { logEnd: 1, numerics: 'reference' as const },
      { logEnd: 1, labelSmoothing: 0.1 },
      { logEnd: 0.75, labelSmoothing: 0.1 },
      { logEnd: 0.3, labelSmoothing: 0.1 },
    ]) {
      const session = await ort.InferenceSession.create(buildEncouragingLossModel(options));
      for (const margin of [100, 1000, -1000]) {
        const logits = Float32Array.from({ length: 2 * K }, (_, i) =>
          i % K === 1 ? margin : -0.1 * (i % K),
        );
        const out = await session.run({
          logits: new ort.Tensor('float32', logits, [2, K]),
          targets: new ort.Tensor('int64', int64([1, 1]), [2]),
        });
        const values = [...(out.loss.data as Float32Array), ...(out.grad.data as Float32Array)];
        expect(values.every(Number.isFinite), `${JSON.stringify(options)} margin ${margin}`).toBe(true);
      }
      await session.release();
    }
  });
});
