import type { ConformanceAdapter, ConformanceCase } from '@encouraging-loss/conformance';
import expectations from '../conformance-expectations.json' with { type: 'json' };
import {
  buildEncouragingLossModel,
  buildSigmoidEncouragingLossModel,
  type LossModelOutput,
} from './build-model.js';
import {
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
} from './eager.js';
import { GraphBuilder, type GraphValue } from './graph-builder.js';
import { DataType, encodeModel } from './onnx-proto.js';
import { int64, ort, plain } from './test-utils.js';
import { EncouragingLossSession } from './web-session.js';

const sessions = new Map<string, Promise<EncouragingLossSession>>();
const models = new Map<string, Promise<ort.InferenceSession>>();

const inputs = ({ logits, targets, targetType }: ConformanceCase, int32: boolean) => [
  new ort.Tensor('float32', Float32Array.from(logits.data), logits.shape),
  targetType === 'probabilities'
    ? new ort.Tensor('float32', Float32Array.from(targets.data), targets.shape)
    : int32
      ? new ort.Tensor('int32', Int32Array.from(targets.data), targets.shape)
      : new ort.Tensor('int64', int64(targets.data), targets.shape),
];

// Alternate int64 and int32 targets so both graphs are exercised.
let calls = 0;

/** The graph path: buildEncouragingLossModel run by EncouragingLossSession on the wasm EP. */
export const graphAdapter: ConformanceAdapter<GraphValue> = {
  name: 'onnx graph (wasm EP)',
  precision: 'float32',
  expectedFailures: expectations['onnx graph (wasm EP)'],
  lossWithGrad: async (testCase) => {
    const key = JSON.stringify(testCase.options);
    let session = sessions.get(key);
    if (!session) {
      session = EncouragingLossSession.create(testCase.options);
      sessions.set(key, session);
    }
    const [logits, targets] = inputs(testCase, calls++ % 2 === 1);
    const { loss, grad } = await (await session).run(logits, targets);
    return { loss: plain(loss), grad: plain(grad) };
  },
  components: async (testCase) => {
    const outputs: LossModelOutput[] = ['loss', 'components'];
    const targetsType = testCase.targetType === 'probabilities' ? 'float32' : 'int64';
    const key = JSON.stringify([testCase.options, targetsType]);
    let session = models.get(key);
    if (!session) {
      const bytes = buildEncouragingLossModel(testCase.options, { outputs, targetsType });
      session = ort.InferenceSession.create(bytes);
      models.set(key, session);
    }
    const [logits, targets] = inputs(testCase, false);
    const out = await (await session).run({ logits, targets });
    return { loss: plain(out.loss), crossEntropy: plain(out.crossEntropy), bonus: plain(out.bonus) };
  },
  sigmoidLossWithGrad: async ({ logits, targets, options }) => {
    const key = JSON.stringify(['sigmoid', options]);
    let session = models.get(key);
    if (!session) {
      session = ort.InferenceSession.create(buildSigmoidEncouragingLossModel(options));
      models.set(key, session);
    }
    const out = await (await session).run({
      logits: new ort.Tensor('float32', Float32Array.from(logits.data), logits.shape),
      targets: new ort.Tensor('float32', Float32Array.from(targets.data), targets.shape),
    });
    return { loss: plain(out.loss), grad: plain(out.grad) };
  },
  ops: graphHarness(),
};

/** The eager path: the core's typed-array kernel on CPU ort.Tensors. */
export const eagerAdapter: ConformanceAdapter = {
  name: 'eager ort.Tensor',
  precision: 'float32',
  expectedFailures: expectations['eager ort.Tensor'],
  lossWithGrad: (testCase) => {
    const [logits, targets] = inputs(testCase, false);
    const { loss, grad } = encouragingLossWithGrad(logits, targets, testCase.options);
    return { loss: plain(loss), grad: plain(grad) };
  },
  components: (testCase) => {
    const [logits, targets] = inputs(testCase, true);
    const out = encouragingLossComponents(logits, targets, testCase.options);
    return { loss: plain(out.loss), crossEntropy: plain(out.crossEntropy), bonus: plain(out.bonus) };
  },
  sigmoidLossWithGrad: ({ logits, targets, options }) => {
    const out = sigmoidEncouragingLossWithGrad(
      new ort.Tensor('float32', Float32Array.from(logits.data), logits.shape),
      new ort.Tensor('float32', Float32Array.from(targets.data), targets.shape),
      options,
    );
    return { loss: plain(out.loss), grad: plain(out.grad) };
  },
};

/**
 * The graph builder's ops, evaluated: constants go in as initializers, and reading a value back builds a model
 * with that value as its output and runs it on the wasm EP. The suite compares each fused override
 * (LogSoftmax, the composed log1p) with the core's composition of the other ops.
 */
function graphHarness() {
  const builder = new GraphBuilder({ prefix: 'h/' });
  let outputs = 0;
  return {
    ops: builder.ops,
    fromArray: (
      data: ArrayLike<number>,
      shape: readonly number[],
      kind: 'float' | 'int' | 'bool',
    ): GraphValue => {
      const dtype = kind === 'float' ? 'float32' : kind === 'int' ? 'int64' : 'bool';
      // Rank-1 inputs (the log1p case) stand for per-row values; the others for full [N, K] logits.
      return { ...builder.constant(dtype, [...shape], data), extent: shape.length === 1 ? 'row' : 'full' };
    },
    toArray: async (value: GraphValue) => {
      const name = `out${outputs++}`;
      builder.output(value, name);
      const elemType = { float32: DataType.FLOAT, int64: DataType.INT64, bool: DataType.BOOL }[value.dtype];
      const graph = builder.toGraph('harness', [], [{ name, type: { tensorType: { elemType } } }]);
      const bytes = encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
      const session = await ort.InferenceSession.create(bytes);
      const out = (await session.run({}))[name];
      await session.release();
      return plain(out);
    },
  };
}
