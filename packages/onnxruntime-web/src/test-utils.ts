import { seededRandom } from '@encouraging-loss/conformance';
import * as ort from 'onnxruntime-web';
import { GraphBuilder } from './graph-builder.js';
import { DataType, encodeModel } from './onnx-proto.js';

// Tests run ORT's wasm build single-threaded: the machines are shared, and results do not depend on it.
ort.env.wasm.numThreads = 1;

export { ort };

/** int64 targets as ORT wants them: a BigInt64Array. */
export const int64 = (values: ArrayLike<number>) => BigInt64Array.from(Array.from(values), (v) => BigInt(v));

/** Reads an ORT tensor as the conformance suite wants it. */
export const plain = (t: ort.Tensor) => ({
  data: Array.from(t.data as Float32Array, Number),
  shape: [...t.dims],
});

/** A linear classifier (D = 4 features, K = 6 classes) `logits = x · W + b`, built here with the graph builder and serialized. */
export function linearModel(opset: number, seed = 3): Uint8Array {
  const random = seededRandom(seed);
  const D = 4;
  const K = 6;
  const builder = new GraphBuilder({ opset });
  const x = builder.input('x', 'float32', 'unknown');
  const weights = builder.constant(
    'float32',
    [D, K],
    Array.from({ length: D * K }, () => 2 * random() - 1),
  );
  const bias = builder.constant(
    'float32',
    [K],
    Array.from({ length: K }, () => random() - 0.5),
  );
  const product = builder.node('MatMul', [x, weights], 'float32', 'unknown');
  const logits = builder.output(builder.node('Add', [product, bias], 'float32', 'unknown'), 'logits');
  const tensor = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: [{ dimParam: 'N' }, { dimValue: name === 'x' ? D : K }] },
      },
    },
  });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'test',
    graph: builder.toGraph('linear', [tensor('x')], [tensor(logits.name)]),
  });
}
