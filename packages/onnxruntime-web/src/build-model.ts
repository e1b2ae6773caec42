import {
  checkFloat32Weights,
  createEncouragingLoss,
  EncouragingLossError,
  type EncouragingLossOptions,
  resolveOptions,
  resolveSigmoidOptions,
  type SigmoidEncouragingLossOptions,
} from '@encouraging-loss/core';
import { GraphBuilder, type GraphValue } from './graph-builder.js';
import { DataType, encodeModel, type ValueInfoMessage } from './onnx-proto.js';

/** Where float32 comes from, for {@link checkFloat32Weights}'s message. */
const FLOAT32_OWNER = 'the dtype of the ONNX loss graphs';

/**
 * Outputs a loss model can have:
 * - `'loss'`: the reduced loss (`[]`, or `[...B]` for `reduction: 'none'`);
 * - `'grad'`: ∂loss/∂logits `[...B, K]` (the gradient of the sum for `'none'`);
 * - `'perExample'`: the unreduced loss `[...B]`;
 * - `'components'`: two outputs, `crossEntropy` and `bonus`, reduced like the loss.
 */
export type LossModelOutput = 'loss' | 'grad' | 'perExample' | 'components';

/**
 * Element type of the `targets` input: class indices as `'int64'` (default; `BigInt64Array` in ORT) or
 * `'int32'`, or `'float32'` soft targets of the logits' shape (`targetType: 'probabilities'` in core).
 */
export type TargetsType = 'int64' | 'int32' | 'float32';

/** Second argument of {@link buildEncouragingLossModel}. */
export interface BuildModelOptions {
  /** Outputs of the model, in this order. Default `['loss', 'grad']`. */
  outputs?: readonly LossModelOutput[];
  /** Element type of `targets`. Default `'int64'`. */
  targetsType?: TargetsType;
  /** `ai.onnx` opset to write (17–23). Default 17. */
  opset?: number;
}

/** The output names of a model, in order, for the requested outputs. */
export function outputNames(outputs: readonly LossModelOutput[]): string[] {
  return outputs.flatMap((o) => (o === 'components' ? ['crossEntropy', 'bonus'] : [o]));
}

const OUTPUT_KINDS: readonly LossModelOutput[] = ['loss', 'grad', 'perExample', 'components'];

/** Validates the requested outputs, throwing `INVALID_OPTION` naming a bad entry. */
export function checkOutputs(outputs: unknown): readonly LossModelOutput[] {
  if (!Array.isArray(outputs) || outputs.length === 0) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option outputs must be a non-empty array of ${OUTPUT_KINDS.map((o) => `'${o}'`).join(', ')}, got ${JSON.stringify(outputs)}.`,
    );
  }
  outputs.forEach((o, i) => {
    if (!OUTPUT_KINDS.includes(o)) {
      throw new EncouragingLossError(
        'INVALID_OPTION',
        `Option outputs[${i}] must be one of ${OUTPUT_KINDS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(o)}.`,
      );
    }
  });
  if (new Set(outputs).size !== outputs.length) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option outputs lists an output twice: ${JSON.stringify(outputs)}.`,
    );
  }
  return outputs as LossModelOutput[];
}

/** Validates `targetsType`. */
export function checkTargetsType(targetsType: unknown): TargetsType {
  if (targetsType !== 'int64' && targetsType !== 'int32' && targetsType !== 'float32') {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option targetsType must be 'int64', 'int32' or 'float32', got ${JSON.stringify(targetsType)}.`,
    );
  }
  return targetsType;
}

/**
 * Traces the core's loss functions over `builder` and returns the requested output values by name. The one
 * definition of the math is `createEncouragingLoss` in core; nothing here restates it.
 */
export function traceEncouragingLoss(
  builder: GraphBuilder,
  logits: GraphValue,
  targets: GraphValue,
  options: EncouragingLossOptions,
  outputs: readonly LossModelOutput[],
): Map<string, GraphValue> {
  const targetType = targets.dtype === 'float32' ? 'probabilities' : 'indices';
  const loss = createEncouragingLoss(builder.ops);
  const generic = { ...options, targetType } as const;
  const values = new Map<string, GraphValue>();
  // Every output is traced from the same calls; identical nodes are recorded once.
  if (outputs.includes('grad')) {
    const out = loss.encouragingLossWithGrad(logits, targets, generic);
    values.set('loss', out.loss).set('grad', out.grad);
  }
  if (outputs.includes('components')) {
    const out = loss.encouragingLossComponents(logits, targets, generic);
    values.set('loss', out.loss).set('crossEntropy', out.crossEntropy).set('bonus', out.bonus);
  }
  if (outputs.includes('loss') && !values.has('loss')) {
    values.set('loss', loss.encouragingLoss(logits, targets, generic));
  }
  if (outputs.includes('perExample')) {
    values.set('perExample', loss.encouragingLoss(logits, targets, { ...generic, reduction: 'none' }));
  }
  return values;
}

const elementTypes: Record<TargetsType, number> = {
  int64: DataType.INT64,
  int32: DataType.INT32,
  float32: DataType.FLOAT,
};

/** A rank-free tensor type: the model accepts any rank (`[N, K]`, `[B, T, V]`) and any batch size. */
export function tensorInfo(name: string, elemType: number, docString?: string): ValueInfoMessage {
  return { name, type: { tensorType: { elemType } }, ...(docString ? { docString } : {}) };
}

/** The graph input for `targets` as the loss graph uses it: int64 indices, or float32 soft targets. */
export function targetsValue(builder: GraphBuilder, raw: GraphValue, targetsType: TargetsType): GraphValue {
  if (targetsType === 'float32') return { ...raw, extent: 'full' };
  if (targetsType === 'int64') return raw;
  return builder.node('Cast', [raw], 'int64', 'batch', { to: DataType.INT64 });
}

/** The IR version that goes with an opset (ONNX's versioning table). */
function irVersionFor(opset: number): number {
  if (opset <= 17) return 8;
  if (opset <= 19) return 9;
  if (opset <= 21) return 10;
  return 11;
}

export interface BuiltLossModel {
  bytes: Uint8Array;
  /** Output names in order. */
  outputs: string[];
  /** Number of nodes in the graph. */
  nodeCount: number;
}

/** {@link buildEncouragingLossModel} with the node count. */
export function buildLossModel(
  options: EncouragingLossOptions = {},
  build: BuildModelOptions = {},
): BuiltLossModel {
  checkFloat32Weights(resolveOptions(options), FLOAT32_OWNER);
  const outputs = checkOutputs(build.outputs ?? ['loss', 'grad']);
  const targetsType = checkTargetsType(build.targetsType ?? 'int64');
  const opset = build.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 17 || opset > 23) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option opset must be an integer in [17, 23], got ${opset}.`,
    );
  }
  const builder = new GraphBuilder({ opset });
  const logits = builder.input('logits', 'float32', 'full');
  const rawTargets = builder.input(
    'targets',
    targetsType === 'float32' ? 'float32' : 'int64',
    targetsType === 'float32' ? 'full' : 'batch',
  );
  const targets = targetsValue(builder, rawTargets, targetsType);
  const values = traceEncouragingLoss(builder, logits, targets, options, outputs);
  const names = outputNames(outputs);
  for (const name of names) builder.output(values.get(name)!, name);
  const graph = builder.toGraph(
    'encouraging_loss',
    [
      tensorInfo('logits', DataType.FLOAT, 'float32 [...B, K]'),
      tensorInfo(
        'targets',
        elementTypes[targetsType],
        targetsType === 'float32' ? 'float32 soft targets [...B, K]' : `${targetsType} class indices [...B]`,
      ),
    ],
    names.map((name) => tensorInfo(name, DataType.FLOAT)),
  );
  const bytes = encodeModel({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: '@encouraging-loss/onnxruntime-web',
    producerVersion: '0.0.0',
    docString: `Encouraging Loss ${JSON.stringify(options, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v))}`,
    graph,
  });
  return { bytes, outputs: names, nodeCount: graph.node?.length ?? 0 };
}

/**
 * An ONNX model computing the Encouraging Loss (and its gradient) of `logits` and `targets`, traced from
 * `@encouraging-loss/core` into standard `ai.onnx` operators (opset 17+). It loads in any ONNX runtime:
 * onnxruntime-web (wasm, WebGPU), onnxruntime-node, Python onnxruntime.
 *
 * Inputs: `logits` float32 `[...B, K]` and `targets` int64 (or int32) `[...B]`, or float32 soft targets
 * `[...B, K]` (`targetsType: 'float32'`); any rank and batch size. Outputs: see {@link LossModelOutput}.
 *
 * @param options - the loss options (logEnd, bonusWeight, bonusFloor, labelSmoothing, ignoreIndex, reduction,
 *   classWeights, numerics, input), validated here; `checkFinite` is for the session's input checks. The graph
 *   computes in float32: `bonusWeight` and `classWeights` must fit in it (≤ ~3.4e38), and should be moderate, as
 *   float32 products of them can overflow.
 * @param build - `outputs` (default `['loss', 'grad']`), `targetsType` (default `'int64'`), `opset`.
 * @returns the serialized `ModelProto`.
 * @throws EncouragingLossError `INVALID_OPTION` naming a bad option (an unknown key, a value out of range or
 *   beyond float32).
 *
 * Note: ONNX Runtime's TopK kernel divides by zero on an empty batch (`[0, K]`), so the model needs at least one
 * example per run; `EncouragingLossSession` answers empty batches itself.
 *
 * @example
 * ```ts
 * const model = buildEncouragingLossModel({ logEnd: 0.75 }, { outputs: ['loss', 'grad'] });
 * const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
 * ```
 */
export function buildEncouragingLossModel(
  options: EncouragingLossOptions = {},
  build: BuildModelOptions = {},
): Uint8Array {
  return buildLossModel(options, build).bytes;
}

/**
 * An ONNX model of the multi-label (sigmoid) Encouraging Loss, traced from core: inputs `logits` float32 and
 * `targets` float32 (0, 1 or `ignoreIndex`) of the same shape, any rank; outputs `loss` (`[]`, or the logits'
 * shape for `'none'`) and `grad` (∂loss/∂logits).
 *
 * @example
 * ```ts
 * const model = buildSigmoidEncouragingLossModel({ logEnd: 0.75, negativeWeight: 0.5 });
 * ```
 */
export function buildSigmoidEncouragingLossModel(
  options: SigmoidEncouragingLossOptions = {},
  build: { opset?: number } = {},
): Uint8Array {
  checkFloat32Weights(resolveSigmoidOptions(options), FLOAT32_OWNER);
  const opset = build.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 17 || opset > 23) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Option opset must be an integer in [17, 23], got ${opset}.`,
    );
  }
  const builder = new GraphBuilder({ opset });
  const logits = builder.input('logits', 'float32', 'full');
  const targets = builder.input('targets', 'float32', 'full');
  const { loss, grad } = createEncouragingLoss(builder.ops).sigmoidEncouragingLossWithGrad(
    logits,
    targets,
    options,
  );
  return builder.toModel(
    'sigmoid_encouraging_loss',
    [logits, targets],
    [builder.output(loss, 'loss'), builder.output(grad, 'grad')],
  );
}
