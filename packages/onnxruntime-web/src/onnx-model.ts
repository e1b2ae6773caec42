import { EncouragingLossError } from '@encouraging-loss/core';
import {
  type AttributeMessage,
  AttributeType,
  DataType,
  decodeModel,
  encodeModel,
  type GraphMessage,
  malformedModel,
  type TensorMessage,
  toNumber,
  type ValueInfoMessage,
} from './onnx-proto.js';

/** Element types a low-level {@link OnnxModel} can hold. */
export type OnnxElementType = 'float32' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** Typed-array storage of a {@link OnnxTensor} (`bool` is stored as 0/1 bytes; `int64` as BigInt64Array). */
export type OnnxTensorData = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A constant tensor (an initializer, or the value of a `tensor` attribute). Row-major, little-endian. */
export interface OnnxTensor {
  name: string;
  type: OnnxElementType;
  dims: readonly number[];
  data: OnnxTensorData;
}

/**
 * A graph input or output: element type and, optionally, a shape whose entries are sizes or symbolic names
 * (`'batch_size'`). Without `shape` the value may have any rank.
 */
export interface OnnxValueInfo {
  name: string;
  type: OnnxElementType;
  shape?: readonly (number | string)[];
}

/** An attribute value, tagged with its ONNX attribute type. */
export type OnnxAttribute =
  | { int: number }
  | { float: number }
  | { string: string }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { tensor: OnnxTensor }
  | { graph: OnnxGraph };

/** One node. `domain` defaults to `''` (`ai.onnx`); `name` defaults to `<opType>_<index>` within its graph. */
export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/**
 * A graph: nodes in topological order, initializers, inputs and outputs. A subgraph (an `If` branch) may read
 * any value of the graphs enclosing it by name.
 */
export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers?: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  docString?: string;
}

/** A model: a graph plus the operator sets it uses. */
export interface OnnxModel {
  graph: OnnxGraph;
  /** Operator sets (default `[{ domain: '', version: 17 }]`). */
  opsetImports?: readonly { domain: string; version: number }[];
  /** IR version (default: the one matching the `ai.onnx` opset: 8 up to opset 17, 9 up to 19, 10 up to 21). */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** `metadata_props` key/value pairs. */
  metadata?: Readonly<Record<string, string>>;
}

const DATA_TYPE: Record<OnnxElementType, number> = {
  float32: DataType.FLOAT,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};
const ELEMENT_TYPE = new Map(Object.entries(DATA_TYPE).map(([k, v]) => [v, k as OnnxElementType]));
const ARRAY = {
  float32: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

function tensorMessage(tensor: OnnxTensor): TensorMessage {
  const count = tensor.dims.reduce((n, d) => n * d, 1);
  if (tensor.data.length !== count) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Tensor ${tensor.name}: ${tensor.data.length} elements for dims [${tensor.dims.join(', ')}].`,
    );
  }
  const { buffer, byteOffset, byteLength } = tensor.data;
  return {
    name: tensor.name,
    dims: [...tensor.dims],
    dataType: DATA_TYPE[tensor.type],
    rawData: new Uint8Array(buffer, byteOffset, byteLength),
  };
}

function valueInfoMessage(info: OnnxValueInfo): ValueInfoMessage {
  const shape = info.shape && {
    dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
  };
  return { name: info.name, type: { tensorType: { elemType: DATA_TYPE[info.type], shape } } };
}

function attributeMessage(name: string, value: OnnxAttribute): AttributeMessage {
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('string' in value)
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: [...value.ints] };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  if ('tensor' in value) return { name, type: AttributeType.TENSOR, t: tensorMessage(value.tensor) };
  return { name, type: AttributeType.GRAPH, g: graphMessage(value.graph) };
}

function graphMessage(graph: OnnxGraph): GraphMessage {
  return {
    name: graph.name,
    docString: graph.docString,
    node: graph.nodes.map((node, index) => ({
      input: [...node.inputs],
      output: [...node.outputs],
      name: node.name ?? `${node.opType}_${index}`,
      opType: node.opType,
      domain: node.domain ?? '',
      attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attributeMessage(name, value)),
    })),
    initializer: (graph.initializers ?? []).map(tensorMessage),
    input: graph.inputs.map(valueInfoMessage),
    output: graph.outputs.map(valueInfoMessage),
  };
}

/** The IR version an `ai.onnx` opset needs (onnx/docs/Versioning.md). */
function irVersionFor(opset: number): number {
  return opset <= 17 ? 8 : opset <= 19 ? 9 : opset <= 21 ? 10 : 11;
}

/**
 * Serializes a model written node by node: the low-level counterpart of {@link GraphBuilder}, for whole
 * networks (an encoder, a decoder with `If` subgraphs, int8 weights) rather than traced losses. Nothing is
 * rewritten: nodes, names and initializers are written as given. Tensor data is copied once, into the output.
 *
 * @example
 * ```ts
 * const bytes = experimental_encodeOnnxModel({
 *   graph: {
 *     name: 'affine',
 *     nodes: [
 *       { opType: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
 *       { opType: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
 *     ],
 *     initializers: [
 *       { name: 'w', type: 'float32', dims: [2, 1], data: new Float32Array([1, 2]) },
 *       { name: 'b', type: 'float32', dims: [1], data: new Float32Array([0.5]) },
 *     ],
 *     inputs: [{ name: 'x', type: 'float32', shape: ['batch_size', 2] }],
 *     outputs: [{ name: 'y', type: 'float32', shape: ['batch_size', 1] }],
 *   },
 * });
 * ```
 */
export function experimental_encodeOnnxModel(model: OnnxModel): Uint8Array {
  const opsetImports = model.opsetImports ?? [{ domain: '', version: 17 }];
  const standard = opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 17;
  return encodeModel({
    irVersion: model.irVersion ?? irVersionFor(standard),
    opsetImport: opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: model.producerName ?? '@encouraging-loss/onnxruntime-web',
    producerVersion: model.producerVersion,
    docString: model.docString,
    graph: graphMessage(model.graph),
    metadataProps: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}

/** A structural fault of a decoded model: the protobuf parsed, but a field does not hold what ONNX says. */
function invalid(message: string): never {
  throw new EncouragingLossError('INVALID_DATA', message);
}

function readTensor(message: TensorMessage, where: string): OnnxTensor {
  const name = JSON.stringify(message.name);
  const type = ELEMENT_TYPE.get(message.dataType);
  if (!type) {
    invalid(
      `${where}: tensor ${name} has ONNX data type ${message.dataType}; this reader reads ${[...ELEMENT_TYPE.values()].join(', ')}.`,
    );
  }
  const dims = message.dims.map(toNumber);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    invalid(`${where}: tensor ${name} has dims [${dims.join(', ')}]; sizes must be integers >= 0.`);
  }
  const raw = message.rawData ?? new Uint8Array(0);
  const View = ARRAY[type];
  const count = dims.reduce((n, d) => n * d, 1);
  if (raw.byteLength !== count * View.BYTES_PER_ELEMENT) {
    invalid(
      `${where}: tensor ${name} (${type}, dims [${dims.join(', ')}]) needs ${count * View.BYTES_PER_ELEMENT} bytes of raw_data, has ${raw.byteLength} (this reader reads raw_data only).`,
    );
  }
  const copy = new Uint8Array(raw).buffer; // a copy, aligned (a Node Buffer's slice() would be a view)
  return { name: message.name, type, dims, data: new View(copy, 0, count) };
}

function readValueInfo(info: ValueInfoMessage): OnnxValueInfo {
  const tensorType = info.type?.tensorType;
  const type = ELEMENT_TYPE.get(tensorType?.elemType ?? 0) ?? 'float32';
  const dims = tensorType?.shape?.dim;
  return dims
    ? { name: info.name, type, shape: dims.map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue))) }
    : { name: info.name, type };
}

function readAttribute(message: AttributeMessage, where: string): OnnxAttribute {
  const at = `${where}, attribute ${JSON.stringify(message.name)}`;
  switch (message.type) {
    case AttributeType.INT:
      return { int: toNumber(message.i) };
    case AttributeType.FLOAT:
      return { float: message.f ?? 0 };
    case AttributeType.STRING:
      return { string: new TextDecoder().decode(message.s) };
    case AttributeType.INTS:
      return { ints: (message.ints ?? []).map(toNumber) };
    case AttributeType.FLOATS:
      return { floats: message.floats ?? [] };
    case AttributeType.TENSOR:
      if (!message.t) invalid(`${at} is of type TENSOR but holds no tensor (field t).`);
      return { tensor: readTensor(message.t, at) };
    case AttributeType.GRAPH:
      if (!message.g) invalid(`${at} is of type GRAPH but holds no graph (field g).`);
      return { graph: readGraph(message.g, at) };
    default:
      invalid(
        `${at} has attribute type ${message.type}; this reader reads INT, FLOAT, STRING, INTS, FLOATS, TENSOR and GRAPH.`,
      );
  }
}

function readGraph(message: GraphMessage, where: string): OnnxGraph {
  const at = `${where === '' ? '' : `${where}: `}graph ${JSON.stringify(message.name ?? '')}`;
  return {
    name: message.name ?? '',
    nodes: (message.node ?? []).map((node, index) => {
      const nodeAt = `${at}, node ${index} (${node.opType || 'no op_type'})`;
      return {
        opType: node.opType,
        inputs: node.input,
        outputs: node.output,
        name: node.name,
        domain: node.domain ?? '',
        attributes: Object.fromEntries((node.attribute ?? []).map((a) => [a.name, readAttribute(a, nodeAt)])),
      };
    }),
    initializers: (message.initializer ?? []).map((t) => readTensor(t, `${at}, initializer`)),
    inputs: (message.input ?? []).map(readValueInfo),
    outputs: (message.output ?? []).map(readValueInfo),
  };
}

/**
 * Reads a model written with raw tensor data and the attribute types of {@link OnnxAttribute} (what
 * {@link experimental_encodeOnnxModel} writes): for inspecting and checking exported graphs.
 *
 * @throws EncouragingLossError `INVALID_DATA` naming what is wrong: bytes that are not a well-formed protobuf
 *   (truncated, a length past the end, a bad wire type, nesting too deep), no graph, or a tensor or attribute
 *   this reader does not read (a data type outside {@link OnnxElementType}, data not in raw_data or not
 *   matching its dims); `INVALID_OPTION` for a non-`Uint8Array`.
 */
export function experimental_decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const message = decodeModel(bytes);
  if (!message.graph) invalid(`These ${bytes.length} bytes are a ModelProto without a graph (field 7).`);
  try {
    return {
      graph: readGraph(message.graph, ''),
      opsetImports: message.opsetImport.map((o) => ({ domain: o.domain, version: toNumber(o.version) })),
      irVersion: toNumber(message.irVersion),
      producerName: message.producerName,
    };
  } catch (error) {
    // Subgraphs nest: a deep enough model overflows the stack here too.
    throw malformedModel(bytes, error);
  }
}
