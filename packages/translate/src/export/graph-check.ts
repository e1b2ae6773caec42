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
