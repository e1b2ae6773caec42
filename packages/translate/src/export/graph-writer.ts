import {
  experimental_encodeOnnxModel as encodeOnnxModel,
  type OnnxAttribute,
  type OnnxElementType,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxTensorData,
  type OnnxValueInfo,
} from '@encouraging-loss/onnxruntime-web/graph';
import { invalidData, invalidOption } from '../errors.js';

/**
 * Records the nodes of one ONNX graph (or `If` branch) with generated value names, and the initializers the
 * whole model shares: a branch writer is made with {@link GraphWriter.branch} and adds its constants to the root.
 */
export class GraphWriter {
  readonly nodes: OnnxNode[] = [];
  private readonly root: GraphWriter;
  private readonly tensors: OnnxTensor[] = [];
  private readonly constants = new Map<string, string>();
  private counter = { value: 0 };

  constructor(parent?: GraphWriter) {
    this.root = parent?.root ?? this;
    if (parent) this.counter = parent.counter;
  }

  /** A writer for a subgraph: fresh node list, same name counter and initializers. */
  branch(): GraphWriter {
    return new GraphWriter(this);
  }

  /** The initializers of the whole model. */
  get initializers(): OnnxTensor[] {
    return this.root.tensors;
  }

  /** One node with one output; returns the output's name (`name` to choose it). */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, OnnxAttribute> = {},
    name?: string,
  ): string {
    const output = name ?? `/${opType}_${this.counter.value++}`;
    this.nodes.push({ opType, inputs, outputs: [output], attributes });
    return output;
  }

  /** One node with `count` outputs. */
  ops(
    opType: string,
    inputs: readonly string[],
    count: number,
    attributes: Record<string, OnnxAttribute> = {},
  ): string[] {
    const base = `/${opType}_${this.counter.value++}`;
    const outputs = Array.from({ length: count }, (_, i) => `${base}_${i}`);
    this.nodes.push({ opType, inputs, outputs, attributes });
    return outputs;
  }

  /** Adds an initializer named `name`. */
  weight(name: string, type: OnnxElementType, dims: readonly number[], data: OnnxTensorData): string {
    this.root.tensors.push({ name, type, dims, data });
    return name;
  }

  /** A constant (deduplicated by value). */
  constant(type: 'float32' | 'int64' | 'uint8', dims: readonly number[], values: readonly number[]): string {
    const key = `${type}|${dims.join('x')}|${values.join(',')}`;
    const hit = this.root.constants.get(key);
    if (hit) return hit;
    const name = `/const_${this.root.constants.size}`;
    const data =
      type === 'float32'
        ? Float32Array.from(values)
        : type === 'uint8'
          ? Uint8Array.from(values)
          : BigInt64Array.from(values, (v) => BigInt(v));
    this.weight(name, type, dims, data);
    this.root.constants.set(key, name);
    return name;
  }

  /** An int64 vector constant (shapes, axes). */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** A float32 scalar constant. */
  float(value: number): string {
    return this.constant('float32', [], [value]);
  }

  /** An int64 scalar constant. */
  int(value: number): string {
    return this.constant('int64', [], [value]);
  }

  /** This writer's nodes as a graph (a subgraph carries no initializers of its own). */
  toGraph(name: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): OnnxGraph {
    return {
      name,
      nodes: this.nodes,
      initializers: this.root === this ? this.tensors : [],
      inputs,
      outputs,
    };
  }
}

/**
 * Where a written ONNX file keeps its weights: `'never'` inside the `.onnx` file (`raw_data`), `'always'` in an
 * external data file beside it, `'auto'` externally only when the single file would be larger than the threshold
 * ({@link EXTERNAL_DATA_THRESHOLD}).
 */
export type ExternalDataOption = 'auto' | 'always' | 'never';

/**
 * The largest `.onnx` file protobuf parses: a message is at most `INT_MAX` bytes (2 GiB − 1). onnxruntime and
 * onnx refuse a larger file, so a graph whose weights pass this must keep them in external data.
 */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/**
 * `'auto'` moves the weights out of a file larger than this: 1 GiB, well under the protobuf limit because
 * onnxruntime-web (wasm32, one 4 GiB heap) holds a single-file model's bytes, its parsed copy and the weights at
 * once. Measured with onnxruntime-web 1.30 in Node: single files of 1.36 GiB load, the NLLB-200-distilled-600M
 * encoder as one 1.54 GiB file fails (`std::bad_alloc`) and loads with external data.
 */
export const EXTERNAL_DATA_THRESHOLD = 2 ** 30;

/**
 * Offsets of tensors in a data file are multiples of the page size, as the ONNX spec asks (`external_data`
 * `offset`: "SHOULD be multiples of 4096 (page size) to enable mmap support"); the gaps are zeros.
 */
export const EXTERNAL_DATA_ALIGNMENT = 4096;

/**
 * Tensors smaller than this stay in the `.onnx` file, as `onnx.save_model(..., save_as_external_data=True)` keeps
 * them by default (its `size_threshold` 1024): shape constants and scalars, which graph optimisers read at load.
 */
export const EXTERNAL_DATA_MIN_BYTES = 1024;

/**
 * The largest external data file written (2 GiB − 1): a larger graph's data is split into `_data`, `_data_1`, …
 * (transformers.js' chunks), so that every file is one buffer a browser can hold and Node writes in one call
 * (`fs.writeSync` takes at most 2³¹ − 1 bytes). A tensor larger than this would be a file of its own.
 */
export const EXTERNAL_DATA_FILE_LIMIT = 2 ** 31 - 1;

/** Options of {@link encodeOnnxFile}. */
export interface OnnxFileOptions {
  /** Default `'auto'`. */
  externalData?: ExternalDataOption;
  /** The single-file size in bytes above which `'auto'` writes external data; default {@link EXTERNAL_DATA_THRESHOLD}. */
  externalDataThreshold?: number;
  /** The largest data file in bytes; default {@link EXTERNAL_DATA_FILE_LIMIT}. */
  maxDataFileBytes?: number;
}

/** One external data file: `location` relative to the `.onnx` file's folder, as the tensors name it. */
export interface OnnxDataFile {
  location: string;
  bytes: Uint8Array;
}

/** An encoded ONNX file: the `.onnx` bytes and, when its weights are external, the data files they are in. */
export interface OnnxFile {
  /** The ModelProto. */
  model: Uint8Array;
  /** The external data files in order (`<location>`, `<location>_1`, …); none when the weights are inline. */
  data: OnnxDataFile[];
}

/** Protobuf wire bytes, written into a growable buffer (the small parts: tags, names, dims, lengths). */
class ProtoBytes {
  private buffer = new Uint8Array(64);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** A varint of a non-negative safe integer (arithmetic, not 32-bit shifts: lengths and offsets pass 2³¹). */
  varint(value: number): this {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
    return this;
  }

  tag(field: number, wireType: 0 | 2): this {
    return this.varint(field * 8 + wireType);
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
    return this;
  }

  string(field: number, text: string): this {
    return this.bytes(field, new TextEncoder().encode(text));
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** Bytes a varint of `value` takes. */
function varintLength(value: number): number {
  let length = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) length++;
  return length;
}

// onnx.proto field numbers: ModelProto.graph, GraphProto.initializer and the TensorProto fields written here.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 } as const;
const DATA_LOCATION_EXTERNAL = 1;
const DATA_TYPE: Record<OnnxElementType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
};

/** Where one tensor's bytes are in the data file. */
interface ExternalPlace {
  location: string;
  offset: number;
  length: number;
}

/**
 * One initializer as a TensorProto: `head` (dims, type, name; for external data also the `external_data` entries
 * and `data_location`) and, inline, the raw bytes written after it as field 9 without an intermediate copy.
 */
interface TensorPiece {
  head: Uint8Array;
  raw?: Uint8Array;
  /** The TensorProto's size in bytes. */
  size: number;
}

function tensorBytes(tensor: OnnxTensor): Uint8Array {
  const count = tensor.dims.reduce((n, d) => n * d, 1);
  if (tensor.data.length !== count) {
    invalidData(
      `Tensor ${tensor.name}: ${tensor.data.length} elements for dims [${tensor.dims.join(', ')}].`,
    );
  }
  return new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

function tensorPiece(tensor: OnnxTensor, raw: Uint8Array, place?: ExternalPlace): TensorPiece {
  const head = new ProtoBytes();
  // dims as onnx.proto (proto2) declares them, unpacked; parsers read either form.
  for (const d of tensor.dims) head.tag(TENSOR.dims, 0).varint(d);
  head.tag(TENSOR.dataType, 0).varint(DATA_TYPE[tensor.type]);
  head.string(TENSOR.name, tensor.name);
  if (place) {
    for (const [key, value] of [
      ['location', place.location],
      ['offset', String(place.offset)],
      ['length', String(place.length)],
    ]) {
      head.bytes(TENSOR.externalData, new ProtoBytes().string(1, key).string(2, value).finish());
    }
    head.tag(TENSOR.dataLocation, 0).varint(DATA_LOCATION_EXTERNAL);
    return { head: head.finish(), size: head.length };
  }
  const rawField = varintLength(TENSOR.rawData * 8 + 2) + varintLength(raw.length) + raw.length;
  return { head: head.finish(), raw, size: head.length + rawField };
}

/** The fields of a serialized message at its top level: field number and the byte range of the whole field. */
function topLevelFields(bytes: Uint8Array): { field: number; start: number; end: number; content: number }[] {
  const fields: { field: number; start: number; end: number; content: number }[] = [];
  let pos = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  };
  while (pos < bytes.length) {
    const start = pos;
    const tag = varint();
    const wireType = tag % 8;
    let content = pos;
    if (wireType === 0) varint();
    else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const length = varint();
      content = pos;
      pos += length;
    } else invalidData(`Unexpected protobuf wire type ${wireType} in an encoded model.`);
    fields.push({ field: Math.floor(tag / 8), start, end: pos, content });
  }
  return fields;
}

/**
 * Serializes a model, its initializers inline or in an external data file named `location` (conventionally the
 * `.onnx` file's name + `_data`: `decoder_model_merged.onnx_data`, what optimum writes and transformers.js
 * fetches). External tensors are those of at least {@link EXTERNAL_DATA_MIN_BYTES}, placed in order at offsets
 * that are multiples of {@link EXTERNAL_DATA_ALIGNMENT}, each with `external_data` `location`, `offset`, `length`
 * and `data_location = EXTERNAL` — what `onnx.save_model(..., save_as_external_data=True,
 * all_tensors_to_one_file=True)` writes, aligned as the ONNX spec recommends. Data beyond `maxDataFileBytes`
 * continues in `<location>_1`, `<location>_2`, … (whole tensors per file; transformers.js' chunk names).
 *
 * The nodes, inputs and outputs are encoded by `experimental_encodeOnnxModel`; the initializers are written here
 * into the graph message (protobuf fields may come in any order), so that every byte of tensor data is copied once,
 * into the `.onnx` file or into the data file, and no buffer holds both.
 *
 * @throws EncouragingLossError `INVALID_OPTION` for `externalData: 'never'` with a model beyond
 *   {@link PROTOBUF_LIMIT} (no reader could parse it), or an unknown option value.
 */
export function encodeOnnxFile(model: OnnxModel, location: string, options: OnnxFileOptions = {}): OnnxFile {
  const mode = options.externalData ?? 'auto';
  if (!['auto', 'always', 'never'].includes(mode)) {
    invalidOption(`externalData must be auto, always or never, got ${mode}.`);
  }
  const threshold = options.externalDataThreshold ?? EXTERNAL_DATA_THRESHOLD;
  if (!(threshold >= 0))
    invalidOption(`externalDataThreshold must be a size in bytes >= 0, got ${threshold}.`);
  const maxFile = options.maxDataFileBytes ?? EXTERNAL_DATA_FILE_LIMIT;
  if (!(maxFile > 0)) invalidOption(`maxDataFileBytes must be a size in bytes > 0, got ${maxFile}.`);
  const tensors = model.graph.initializers ?? [];
  const raws = tensors.map(tensorBytes);
  const skeleton = encodeOnnxModel({ ...model, graph: { ...model.graph, initializers: [] } });
  const graphField = topLevelFields(skeleton).find((f) => f.field === MODEL_GRAPH);
  if (!graphField) return invalidData('The encoded model has no graph.');

  const inline = tensors.map((t, i) => tensorPiece(t, raws[i]));
  const inlineSize = (pieces: TensorPiece[]) =>
    pieces.reduce((n, p) => n + varintLength(GRAPH_INITIALIZER * 8 + 2) + varintLength(p.size) + p.size, 0);
  const graphSize = (pieces: TensorPiece[]) => graphField.end - graphField.content + inlineSize(pieces);
  const modelSize = (pieces: TensorPiece[]) =>
    skeleton.length -
    (graphField.end - graphField.start) +
    1 +
    varintLength(graphSize(pieces)) +
    graphSize(pieces);
  const singleFile = modelSize(inline);
  const external = mode === 'always' || (mode === 'auto' && singleFile > threshold);
  if (!external && singleFile > PROTOBUF_LIMIT) {
    invalidOption(
      `The ONNX model ${model.graph.name} is ${singleFile} bytes, beyond protobuf's limit of ${PROTOBUF_LIMIT} for one file: ` +
        `its weights must go to external data (externalData 'auto' or 'always', not 'never').`,
    );
  }

  let pieces = inline;
  const data: OnnxDataFile[] = [];
  if (external) {
    const ends: number[] = [0];
    const places = raws.map((raw): ExternalPlace | undefined => {
      if (raw.length < EXTERNAL_DATA_MIN_BYTES) return undefined;
      let file = ends.length - 1;
      let offset = Math.ceil(ends[file] / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
      if (ends[file] > 0 && offset + raw.length > maxFile) {
        ends.push(0);
        file++;
        offset = 0;
      }
      ends[file] = offset + raw.length;
      return { location: file === 0 ? location : `${location}_${file}`, offset, length: raw.length };
    });
    // One file at a time, each allocated at its final size and filled once.
    ends.forEach((end, file) => {
      const name = file === 0 ? location : `${location}_${file}`;
      const bytes = new Uint8Array(end);
      places.forEach((place, i) => {
        if (place?.location === name) bytes.set(raws[i], place.offset);
      });
      data.push({ location: name, bytes });
    });
    pieces = tensors.map((t, i) => (places[i] ? tensorPiece(t, raws[i], places[i]) : inline[i]));
  }

  // The skeleton with its graph field rewritten: same fields, the initializers appended to the graph's content.
  const out = new Uint8Array(modelSize(pieces));
  let pos = 0;
  const put = (chunk: Uint8Array) => {
    out.set(chunk, pos);
    pos += chunk.length;
  };
  put(skeleton.subarray(0, graphField.start));
  put(new ProtoBytes().tag(MODEL_GRAPH, 2).varint(graphSize(pieces)).finish());
  put(skeleton.subarray(graphField.content, graphField.end));
  for (const piece of pieces) {
    put(new ProtoBytes().tag(GRAPH_INITIALIZER, 2).varint(piece.size).finish());
    put(piece.head);
    if (piece.raw) {
      put(new ProtoBytes().tag(TENSOR.rawData, 2).varint(piece.raw.length).finish());
      put(piece.raw);
    }
  }
  put(skeleton.subarray(graphField.end));
  if (pos !== out.length) invalidData(`Encoded ${pos} bytes of an ONNX model sized ${out.length}.`);
  return { model: out, data };
}
