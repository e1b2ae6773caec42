import {
  checkFloat32Weights,
  EncouragingLossError,
  type EncouragingLossOptions,
  resolveOptions,
} from '@encouraging-loss/core';
import {
  checkOutputs,
  checkTargetsType,
  type LossModelOutput,
  outputNames,
  type TargetsType,
  targetsValue,
  tensorInfo,
  traceEncouragingLoss,
} from './build-model.js';
import { GraphBuilder } from './graph-builder.js';
import {
  concatBytes,
  DataType,
  type DimensionMessage,
  decodeModel,
  encodeGraph,
  lengthDelimited,
  splitFields,
  toNumber,
  type ValueInfoMessage,
} from './onnx-proto.js';

/** Where float32 comes from, for {@link checkFloat32Weights}'s message. */
const FLOAT32_OWNER = 'the dtype of the ONNX loss graphs';

/** Options of {@link appendEncouragingLoss}: where to attach, what to add, and the loss options. */
export interface AppendLossOptions extends EncouragingLossOptions {
  /** Name of the model's value holding the logits `[...B, K]` (usually one of its outputs). */
  logitsOutput: string;
  /** Name of the new targets input. Default `'targets'`. */
  targetsInput?: string;
  /** Element type of the new targets input. Default `'int64'`. */
  targetsType?: TargetsType;
  /** Outputs to add (named `loss`, `grad`, `perExample`, `crossEntropy`, `bonus`). Default `['loss']`. */
  outputs?: readonly LossModelOutput[];
  /** Prefix of the added output names (e.g. `'el_'` → `el_loss`), to avoid clashes. Default `''`. */
  outputPrefix?: string;
}

const PREFIX = 'encouraging_loss/';
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, 16 /* BFLOAT16 */]);

function fail(message: string): never {
  throw new EncouragingLossError('INVALID_OPTION', message);
}

/**
 * Appends the Encouraging Loss to an ONNX model: a new `targets` input, and loss (optionally gradient w.r.t.
 * the logits, per-example loss, components) outputs computed from the model's `logitsOutput` — e.g. to score
 * an exported classifier or translation model with EL on evaluation data, in the browser, in one session run.
 *
 * The model's own bytes are kept as they are (fields this package does not know included); the loss nodes
 * are added to its graph under the `encouraging_loss/` name prefix, written for the model's `ai.onnx` opset
 * (13 or later). Float16/float64/bfloat16 logits are cast to float32 first.
 *
 * @param modelBytes - a serialized `ModelProto`.
 * @param options - {@link AppendLossOptions}: `logitsOutput` plus the loss options.
 * @returns the new model's bytes.
 * @throws EncouragingLossError `INVALID_DATA` for bytes that are not a well-formed `ModelProto`;
 *   `INVALID_OPTION` for a missing `logitsOutput`, a name clash, an opset below 13, or a bad loss option (an
 *   unknown key, a value out of range or beyond float32); `INVALID_DTYPE` for non-float logits.
 *
 * @example
 * ```ts
 * const scored = appendEncouragingLoss(classifierBytes, { logitsOutput: 'logits', logEnd: 0.75 });
 * const session = await ort.InferenceSession.create(scored);
 * const { loss } = await session.run({ input, targets });
 * ```
 */
export function appendEncouragingLoss(modelBytes: Uint8Array, options: AppendLossOptions): Uint8Array {
  if (!(modelBytes instanceof Uint8Array))
    fail(`modelBytes must be a Uint8Array, got ${String(modelBytes)}.`);
  if (options === null || typeof options !== 'object')
    fail(`Options must be an object, got ${String(options)}.`);
  const {
    logitsOutput,
    targetsInput = 'targets',
    targetsType: rawTargetsType = 'int64',
    outputs: rawOutputs = ['loss'],
    outputPrefix = '',
    ...lossOptions
  } = options;
  checkFloat32Weights(resolveOptions(lossOptions), FLOAT32_OWNER);
  const outputs = checkOutputs(rawOutputs);
  const targetsType = checkTargetsType(rawTargetsType);
  if (typeof logitsOutput !== 'string' || logitsOutput === '') {
    fail(`Option logitsOutput must name a value of the model, got ${JSON.stringify(logitsOutput)}.`);
  }

  // Malformed bytes are INVALID_DATA (decodeModel's message says what is wrong and where).
  const model = decodeModel(modelBytes);
  const graph = model.graph ?? {};
  const onnxOpset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  const opset = onnxOpset ? toNumber(onnxOpset.version) : 0;
  if (opset < 13) {
    fail(`The model imports ai.onnx opset ${opset}; appendEncouragingLoss needs opset 13 or later.`);
  }

  // Every name already used in the graph, to refuse clashes.
  const names = new Set<string>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
    names.add(v.name);
  for (const t of graph.initializer ?? []) names.add(t.name);
  for (const n of graph.node ?? []) for (const o of n.output) names.add(o);
  if (!names.has(logitsOutput)) {
    const available = (graph.output ?? []).map((o) => o.name).join(', ');
    fail(`The model has no value named ${JSON.stringify(logitsOutput)} (its outputs: ${available}).`);
  }
  const added = [targetsInput, ...outputNames(outputs).map((n) => `${outputPrefix}${n}`)];
  for (const [index, name] of added.entries()) {
    if (names.has(name) || name.startsWith(PREFIX) || added.indexOf(name) !== index) {
      fail(
        `The model already has a value named ${JSON.stringify(name)}; choose targetsInput / outputPrefix.`,
      );
    }
  }

  const info: ValueInfoMessage | undefined = [...(graph.output ?? []), ...(graph.valueInfo ?? [])].find(
    (v) => v.name === logitsOutput,
  );
  const elemType = info?.type?.tensorType?.elemType ?? DataType.FLOAT;
  if (!FLOAT_TYPES.has(elemType)) {
    throw new EncouragingLossError(
      'INVALID_DTYPE',
      `Model value ${JSON.stringify(logitsOutput)} has ONNX element type ${elemType}; logits must be floating point.`,
    );
  }

  const builder = new GraphBuilder({ opset, prefix: PREFIX });
  let logits = builder.existing(logitsOutput, 'float32', 'full');
  if (elemType !== DataType.FLOAT)
    logits = builder.node('Cast', [logits], 'float32', 'full', { to: DataType.FLOAT });
  const rawTargets = builder.input(targetsInput, targetsType === 'float32' ? 'float32' : 'int64', 'batch');
  const targets = targetsValue(builder, rawTargets, targetsType);
  const values = traceEncouragingLoss(builder, logits, targets, lossOptions, outputs);
  const outputInfos: ValueInfoMessage[] = [];
  for (const name of outputNames(outputs)) {
    builder.output(values.get(name)!, `${outputPrefix}${name}`);
    outputInfos.push(tensorInfo(`${outputPrefix}${name}`, DataType.FLOAT));
  }

  // The targets input gets the logits' batch dimensions when the model declares them.
  const dims = info?.type?.tensorType?.shape?.dim;
  const targetsInfo = tensorInfo(
    targetsInput,
    targetsType === 'float32' ? DataType.FLOAT : targetsType === 'int32' ? DataType.INT32 : DataType.INT64,
  );
  if (dims && dims.length > 0) {
    const batch: DimensionMessage[] = (targetsType === 'float32' ? dims : dims.slice(0, -1)).map((d) =>
      d.dimParam
        ? { dimParam: d.dimParam }
        : d.dimValue !== undefined && toNumber(d.dimValue) > 0
          ? { dimValue: toNumber(d.dimValue) }
          : {},
    );
    targetsInfo.type!.tensorType!.shape = { dim: batch };
  }

  const { nodes, initializers } = builder.prune(outputInfos.map((o) => o.name));
  const extra = encodeGraph({
    node: nodes,
    initializer: initializers,
    input: [targetsInfo],
    output: outputInfos,
  });
  // Repeated fields of a protobuf message append when their bytes are concatenated: the model's graph bytes
  // followed by the new nodes, initializers, input and outputs is the merged graph.
  const parts = splitFields(modelBytes).map((f) =>
    f.field === 7 ? lengthDelimited(7, concatBytes([f.payload!, extra])) : f.bytes,
  );
  return concatBytes(parts);
}
