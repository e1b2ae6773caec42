import { EncouragingLossError } from '@encouraging-loss/core';
import protobuf from 'protobufjs/light.js';

/**
 * The subset of `onnx.proto` (IR version 8) this package writes and reads, as a protobufjs JSON descriptor:
 * no `.proto` parsing and no network at run time. Field numbers follow onnx/onnx.proto. Fields this subset
 * does not name are skipped when reading; {@link appendEncouragingLoss} never re-encodes a decoded model, so
 * nothing of a user's model is lost.
 */
const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            refAttrName: { type: 'string', id: 21 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            tensors: { rule: 'repeated', type: 'TensorProto', id: 10 },
            graphs: { rule: 'repeated', type: 'GraphProto', id: 11 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            int32Data: { rule: 'repeated', type: 'int32', id: 5, options: { packed: true } },
            int64Data: { rule: 'repeated', type: 'int64', id: 7, options: { packed: true } },
            name: { type: 'string', id: 8 },
            docString: { type: 'string', id: 12 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: { rule: 'repeated', type: 'double', id: 10, options: { packed: true } },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
      },
    },
  },
};

/** ONNX `TensorProto.DataType` values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** ONNX `AttributeProto.AttributeType` values used here. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

type Int64 = number | { low: number; high: number; toNumber?: () => number };

export interface AttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  t?: TensorMessage;
  g?: GraphMessage;
}

export interface NodeMessage {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: AttributeMessage[];
}

export interface TensorMessage {
  name: string;
  dims: Int64[];
  dataType: number;
  rawData?: Uint8Array;
}

export interface DimensionMessage {
  dimValue?: Int64;
  dimParam?: string;
}

export interface ValueInfoMessage {
  name: string;
  type?: { tensorType?: { elemType: number; shape?: { dim?: DimensionMessage[] } } };
  docString?: string;
}

export interface GraphMessage {
  name?: string;
  node?: NodeMessage[];
  initializer?: TensorMessage[];
  input?: ValueInfoMessage[];
  output?: ValueInfoMessage[];
  valueInfo?: ValueInfoMessage[];
  docString?: string;
}

export interface StringStringEntryMessage {
  key: string;
  value: string;
}

export interface OperatorSetMessage {
  domain: string;
  version: Int64;
}

export interface ModelMessage {
  irVersion: Int64;
  opsetImport: OperatorSetMessage[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph: GraphMessage;
  metadataProps?: StringStringEntryMessage[];
}

let root: protobuf.Root | undefined;
const types = () => {
  root ??= protobuf.Root.fromJSON(ONNX_SCHEMA);
  return {
    model: root.lookupType('onnx.ModelProto'),
    graph: root.lookupType('onnx.GraphProto'),
  };
};

/** Serializes a ModelProto. */
export function encodeModel(model: ModelMessage): Uint8Array {
  const { model: type } = types();
  return type.encode(type.fromObject(model)).finish();
}

/** Serializes the fields of a GraphProto (used to append to an existing graph's bytes). */
export function encodeGraph(graph: GraphMessage): Uint8Array {
  const { graph: type } = types();
  return type.encode(type.fromObject(graph)).finish();
}

/** A protobuf reader's error (or a stack overflow on deep nesting) as `INVALID_DATA` naming what was wrong. */
export function malformedModel(bytes: Uint8Array, error: unknown): EncouragingLossError {
  if (error instanceof EncouragingLossError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // protobufjs caps nesting itself ("maximum nesting depth exceeded"); a reader of ours may overflow the stack.
  const reason = /call stack|nesting depth/i.test(message) ? 'its messages are nested too deeply' : message;
  return new EncouragingLossError(
    'INVALID_DATA',
    `These ${bytes.length} bytes are not a well-formed ONNX ModelProto: ${reason}.`,
  );
}

function checkBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new EncouragingLossError(
      'INVALID_OPTION',
      `Model bytes must be a Uint8Array, got ${bytes === null || typeof bytes !== 'object' ? String(bytes) : bytes.constructor?.name}.`,
    );
  }
}

/**
 * Reads a ModelProto through the subset schema (for inspection only; never re-encoded).
 *
 * @throws EncouragingLossError `INVALID_DATA` for malformed bytes (truncated, a length past the end, a bad wire
 *   type), `INVALID_OPTION` for a non-`Uint8Array`.
 */
export function decodeModel(bytes: Uint8Array): ModelMessage {
  checkBytes(bytes);
  const { model: type } = types();
  try {
    return type.toObject(type.decode(bytes), { longs: Number, defaults: true, arrays: true }) as ModelMessage;
  } catch (error) {
    throw malformedModel(bytes, error);
  }
}

/**
 * Node counts of a serialized model, by operator type: what a graph costs to run, for benchmarks and for
 * checking what a runtime will see.
 */
export function experimental_modelSummary(bytes: Uint8Array): {
  nodeCount: number;
  ops: Record<string, number>;
} {
  const nodes = decodeModel(bytes).graph?.node ?? [];
  const ops: Record<string, number> = {};
  for (const node of nodes) ops[node.opType] = (ops[node.opType] ?? 0) + 1;
  return { nodeCount: nodes.length, ops };
}

/** A JS number from a protobufjs int64 (a number, or a Long when `long` is installed). */
export function toNumber(value: Int64 | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  return value.toNumber ? value.toNumber() : value.high * 2 ** 32 + (value.low >>> 0);
}

/** One top-level field of a protobuf message, kept as its raw bytes (tag included). */
export interface RawField {
  field: number;
  bytes: Uint8Array;
  /** For length-delimited fields: the payload without tag and length. */
  payload?: Uint8Array;
}

/**
 * Splits a message into its top-level fields without decoding them, so a model can be rewritten field by
 * field with everything this package does not understand kept byte for byte.
 */
export function splitFields(bytes: Uint8Array): RawField[] {
  checkBytes(bytes);
  try {
    return readFields(bytes);
  } catch (error) {
    throw malformedModel(bytes, error);
  }
}

function readFields(bytes: Uint8Array): RawField[] {
  const reader = protobuf.Reader.create(bytes);
  const fields: RawField[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 2) {
      const length = reader.uint32();
      const payloadStart = reader.pos;
      reader.skip(length);
      fields.push({
        field,
        bytes: bytes.subarray(start, reader.pos),
        payload: bytes.subarray(payloadStart, reader.pos),
      });
    } else {
      reader.skipType(wireType);
      fields.push({ field, bytes: bytes.subarray(start, reader.pos) });
    }
  }
  return fields;
}

/** Encodes a length-delimited field `field` holding `payload`. */
export function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  const writer = protobuf.Writer.create();
  writer.uint32((field << 3) | 2).bytes(payload);
  return writer.finish();
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
