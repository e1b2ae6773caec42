import { describe, expect, it } from 'vitest';
import { experimental_decodeOnnxModel, experimental_encodeOnnxModel, type OnnxModel } from './onnx-model.js';
import { ort } from './test-utils.js';

// y = If(flag) then x · 2 else DequantizeLinear(q, scale, zero) + x: a subgraph reading an outer value, an
// int8 and a uint8 initializer, a float attribute and symbolic shapes.
const model: OnnxModel = {
  graph: {
    name: 'branch',
    nodes: [
      {
        opType: 'If',
        inputs: ['flag'],
        outputs: ['y'],
        attributes: {
          then_branch: {
            graph: {
              name: 'then',
              nodes: [{ opType: 'Mul', inputs: ['x', 'two'], outputs: ['doubled'] }],
              inputs: [],
              outputs: [{ name: 'doubled', type: 'float32' }],
            },
          },
          else_branch: {
            graph: {
              name: 'else',
              nodes: [
                { opType: 'DequantizeLinear', inputs: ['q', 'scale', 'zero'], outputs: ['dq'] },
                { opType: 'Add', inputs: ['dq', 'x'], outputs: ['sum'] },
              ],
              inputs: [],
              outputs: [{ name: 'sum', type: 'float32' }],
            },
          },
        },
      },
      {
        opType: 'LayerNormalization',
        inputs: ['y', 'gamma'],
        outputs: ['z'],
        attributes: { epsilon: { float: 0.25 } },
      },
      { opType: 'Cast', inputs: ['u'], outputs: ['u_float'], attributes: { to: { int: 1 } } },
    ],
    initializers: [
      { name: 'two', type: 'float32', dims: [], data: new Float32Array([2]) },
      { name: 'q', type: 'int8', dims: [3], data: new Int8Array([-128, 0, 127]) },
      { name: 'scale', type: 'float32', dims: [], data: new Float32Array([0.5]) },
      { name: 'zero', type: 'int8', dims: [], data: new Int8Array([-1]) },
      { name: 'gamma', type: 'float32', dims: [3], data: new Float32Array([1, 1, 1]) },
    ],
    inputs: [
      { name: 'flag', type: 'bool', shape: [] },
      { name: 'x', type: 'float32', shape: ['batch_size', 3] },
      { name: 'u', type: 'uint8', shape: [2] },
    ],
    outputs: [
      { name: 'y', type: 'float32', shape: ['batch_size', 3] },
      { name: 'z', type: 'float32', shape: ['batch_size', 3] },
      { name: 'u_float', type: 'float32', shape: [2] },
    ],
  },
  metadata: { purpose: 'test' },
};

describe('experimental_encodeOnnxModel', () => {
  const bytes = experimental_encodeOnnxModel(model);

  it('round-trips through the reader', () => {
    const read = experimental_decodeOnnxModel(bytes);
    expect(read.irVersion).toBe(8);
    expect(read.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(read.graph.inputs).toEqual(model.graph.inputs);
    expect(read.graph.outputs).toEqual(model.graph.outputs);
    expect(
      read.graph.initializers?.map((t) => [t.name, t.type, t.dims, Array.from(t.data as ArrayLike<number>)]),
    ).toEqual(
      model.graph.initializers?.map((t) => [t.name, t.type, t.dims, Array.from(t.data as ArrayLike<number>)]),
    );
    const [ifNode, norm] = read.graph.nodes;
    expect(norm.attributes).toEqual({ epsilon: { float: 0.25 } });
    const elseBranch = ifNode.attributes?.else_branch;
    expect(elseBranch && 'graph' in elseBranch && elseBranch.graph.nodes.map((n) => n.opType)).toEqual([
      'DequantizeLinear',
      'Add',
    ]);
  });

  it('runs in onnxruntime-web, both branches', async () => {
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const x = new ort.Tensor('float32', new Float32Array([1, 2, 3, -1, 0, 1]), [2, 3]);
    const u = new ort.Tensor('uint8', new Uint8Array([0, 255]), [2]);
    const run = (flag: boolean) =>
      session.run({ flag: new ort.Tensor('bool', new Uint8Array([flag ? 1 : 0]), []), x, u });
    const then = await run(true);
    expect(Array.from(then.y.data as Float32Array)).toEqual([2, 4, 6, -2, 0, 2]);
    expect(Array.from(then.u_float.data as Float32Array)).toEqual([0, 255]);
    const otherwise = await run(false);
    // (q − zero) · scale = [−63.5, 0.5, 64]
    expect(Array.from(otherwise.y.data as Float32Array)).toEqual([-62.5, 2.5, 67, -64.5, 0.5, 65]);
    // LayerNormalization of [2, 4, 6] with ε = 0.25: (x − 4) / √(8/3 + 0.25)
    const expected = [-2, 0, 2].map((d) => d / Math.sqrt(8 / 3 + 0.25));
    Array.from(then.z.data as Float32Array)
      .slice(0, 3)
      .forEach((v, i) => {
        expect(v).toBeCloseTo(expected[i], 6);
      });
    await session.release();
  });

  it('names a tensor whose data does not fit its dims', () => {
    expect(() =>
      experimental_encodeOnnxModel({
        graph: {
          name: 'bad',
          nodes: [],
          initializers: [{ name: 'w', type: 'float32', dims: [2, 2], data: new Float32Array(3) }],
          inputs: [],
          outputs: [],
        },
      }),
    ).toThrow(/Tensor w: 3 elements for dims \[2, 2\]/);
  });
});
