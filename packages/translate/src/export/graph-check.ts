import type { OnnxGraph } from '@encouraging-loss/onnxruntime-web/graph';
import { expect } from 'vitest';
import { EXPORT_OPSET } from './seq2seq-onnx.js';

/** Every op the exported graphs may use, with the opset version that introduced its current form (≤ 17). */
const OPS: Record<string, number> = {
  Add: 14,
  CumSum: 14,
  Equal: 13,
  Not: 1,
  Cast: 13,
  Concat: 13,
  DynamicQuantizeLinear: 11,
  Erf: 13,
  Gather: 13,
  Gemm: 13,
  Greater: 13,
  Identity: 16,
  If: 16,
  LayerNormalization: 17,
  MatMul: 13,
  MatMulInteger: 10,
  Mul: 14,
  Range: 11,
  Relu: 14,
  Reshape: 14,
  Shape: 15,
  Sigmoid: 13,
  Slice: 13,
  Softmax: 13,
  Squeeze: 13,
  Sub: 14,
  Tanh: 13,
  Transpose: 13,
  Unsqueeze: 13,
  Where: 16,
};

/**
 * Checker-style validation: standard domain and known ops, every value defined once (outputs, inputs,
 * initializers, across subgraphs) and before use (outer-scope values visible in subgraphs).
 */
export function checkGraph(graph: OnnxGraph, visible: Set<string>, defined: Set<string>): void {
  const scope = new Set(visible);
  const define = (name: string) => {
    expect(defined.has(name), `${name} defined twice`).toBe(false);
    defined.add(name);
    scope.add(name);
  };
  for (const t of graph.initializers ?? []) define(t.name);
  for (const input of graph.inputs) define(input.name);
  for (const node of graph.nodes) {
    expect(node.domain ?? '').toBe('');
    expect(OPS[node.opType], `op ${node.opType}`).toBeLessThanOrEqual(EXPORT_OPSET);
    for (const input of node.inputs)
      expect(scope.has(input), `${node.opType} reads ${input} before it exists`).toBe(true);
    for (const attribute of Object.values(node.attributes ?? {})) {
      if ('graph' in attribute) checkGraph(attribute.graph, scope, defined);
    }
    for (const output of node.outputs) define(output);
  }
  for (const output of graph.outputs) expect(scope.has(output.name), `output ${output.name}`).toBe(true);
}

/** One field of a serialized protobuf message: number, wire type, and a varint's value or a bytes field's bytes. */
interface ProtoField {
  field: number;
  wireType: number;
  value: number;
  bytes: Uint8Array;
  /** The byte range of the whole field (tag included) in the message. */
  start: number;
  end: number;
}

/** The top-level fields of a protobuf message (a test's own reader: it checks what the writer wrote). */
export function protoFields(message: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let pos = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = message[pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  };
  while (pos < message.length) {
    const start = pos;
    const tag = varint();
    const wireType = tag % 8;
    let value = 0;
    let bytes = message.subarray(pos, pos);
    if (wireType === 0) value = varint();
    else if (wireType === 2) {
      value = varint();
      bytes = message.subarray(pos, pos + value);
      pos += value;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else throw new Error(`wire type ${wireType} at byte ${start}`);
    expect(pos, 'a field runs past the end of its message').toBeLessThanOrEqual(message.length);
    fields.push({ field: Math.floor(tag / 8), wireType, value, bytes, start, end: pos });
  }
  return fields;
}

/** An initializer's TensorProto as written: the fields the external-data checks read. */
export interface TensorRecord {
  name: string;
  dataType: number;
  dims: number[];
  /** `raw_data`, when the tensor has it. */
  rawData?: Uint8Array;
  /** `data_location` (0 DEFAULT, 1 EXTERNAL). */
  dataLocation: number;
  /** `external_data` entries in order, as [key, value]. */
  externalData: [string, string][];
}

const text = new TextDecoder();

/** The initializers of the main graph of an `.onnx` file, read field by field (external data or not). */
export function initializerRecords(model: Uint8Array): TensorRecord[] {
  const graphs = protoFields(model).filter((f) => f.field === 7);
  expect(graphs).toHaveLength(1);
  return protoFields(graphs[0].bytes)
    .filter((f) => f.field === 5)
    .map(({ bytes }) => {
      const record: TensorRecord = { name: '', dataType: 0, dims: [], dataLocation: 0, externalData: [] };
      for (const f of protoFields(bytes)) {
        if (f.field === 1) record.dims.push(f.value);
        else if (f.field === 2) record.dataType = f.value;
        else if (f.field === 8) record.name = text.decode(f.bytes);
        else if (f.field === 9) record.rawData = f.bytes;
        else if (f.field === 14) record.dataLocation = f.value;
        else if (f.field === 13) {
          const entry = protoFields(f.bytes);
          const key = entry.find((e) => e.field === 1)?.bytes ?? new Uint8Array();
          const value = entry.find((e) => e.field === 2)?.bytes ?? new Uint8Array();
          record.externalData.push([text.decode(key), text.decode(value)]);
        } else throw new Error(`TensorProto field ${f.field}`);
      }
      return record;
    });
}

/** The `.onnx` file without its main graph's initializers: the nodes, inputs and outputs alone. */
export function withoutInitializers(model: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of protoFields(model)) {
    if (f.field !== 7) {
      parts.push(model.subarray(f.start, f.end));
      continue;
    }
    const kept = protoFields(f.bytes).filter((g) => g.field !== 5);
    const content = Buffer.concat(kept.map((g) => f.bytes.subarray(g.start, g.end)));
    const length: number[] = [];
    for (let v = content.length; ; v = Math.floor(v / 128)) {
      length.push(v >= 128 ? (v % 128) | 128 : v);
      if (v < 128) break;
    }
    parts.push(Uint8Array.of(58, ...length), content);
  }
  return Buffer.concat(parts);
}
