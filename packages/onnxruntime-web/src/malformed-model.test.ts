import { isEncouragingLossError } from '@encouraging-loss/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendEncouragingLoss } from './append-loss.js';
import { buildEncouragingLossModel } from './build-model.js';
import { experimental_decodeOnnxModel } from './onnx-model.js';
import {
  AttributeType,
  DataType,
  decodeModel,
  encodeModel,
  experimental_modelSummary,
  type ModelMessage,
} from './onnx-proto.js';

/** The error `run` throws, or undefined. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectError(run: () => unknown, code: string, message: RegExp) {
  const error = thrown(run);
  expect(isEncouragingLossError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  expect((error as Error).message).toMatch(message);
}

// A real model: the loss graph with its initializers, attributes and value infos. Copied into a plain Uint8Array:
// in Node the writer returns a Buffer, whose slice() is a view, and the mutations below must not write into it.
const model = new Uint8Array(
  buildEncouragingLossModel({ logEnd: 0.75, classWeights: [1, 2, 0.5] }, { outputs: ['loss', 'grad'] }),
);

/** Truncations, overwritten bytes and inserted bytes of `model`. */
const mutated = fc.oneof(
  fc.integer({ min: 0, max: model.length - 1 }).map((end) => model.slice(0, end)),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: model.length - 1 }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    })
    .map((edits) => {
      const bytes = model.slice();
      for (const [index, value] of edits) bytes[index] = value;
      return bytes;
    }),
  fc
    .tuple(fc.integer({ min: 0, max: model.length }), fc.uint8Array({ minLength: 1, maxLength: 16 }))
    .map(([at, inserted]) => {
      const bytes = new Uint8Array(model.length + inserted.length);
      bytes.set(model.subarray(0, at));
      bytes.set(inserted, at);
      bytes.set(model.subarray(at), at + inserted.length);
      return bytes;
    }),
);

describe('malformed ONNX models', () => {
  it('every failure of the readers on mutated bytes of a real model is an EncouragingLossError', () => {
    let failures = 0;
    fc.assert(
      fc.property(mutated, (bytes) => {
        const decodeError = thrown(() => decodeModel(bytes));
        for (const read of [
          () => experimental_decodeOnnxModel(bytes),
          () => experimental_modelSummary(bytes),
          () => appendEncouragingLoss(bytes, { logitsOutput: 'grad', outputPrefix: 'el_' }),
        ]) {
          const error = thrown(read);
          if (error === undefined) continue;
          failures++;
          expect(isEncouragingLossError(error), String(error)).toBe(true);
        }
        if (decodeError !== undefined) {
          expect((decodeError as { code: string }).code).toBe('INVALID_DATA');
          // appendEncouragingLoss reads the model the same way: malformed bytes are INVALID_DATA there too.
          expect(
            (thrown(() => appendEncouragingLoss(bytes, { logitsOutput: 'grad' })) as { code: string }).code,
          ).toBe('INVALID_DATA');
        }
      }),
      { numRuns: 200, seed: 21 },
    );
    // The mutations do reach the error paths (a truncation almost always does).
    expect(failures).toBeGreaterThan(20);
  });

  it('names what is wrong: a truncated model, a stray wire type, a non-Uint8Array', () => {
    expectError(
      () => experimental_decodeOnnxModel(model.slice(0, model.length - 3)),
      'INVALID_DATA',
      new RegExp(`These ${model.length - 3} bytes are not a well-formed ONNX ModelProto: index out of range`),
    );
    // Tag 0x7f: field 15 (not in ModelProto, so skipped by its wire type) with wire type 7, which protobuf lacks.
    expectError(
      () => experimental_decodeOnnxModel(Uint8Array.of(0x7f)),
      'INVALID_DATA',
      /invalid wire type 7/,
    );
    expectError(
      () => experimental_decodeOnnxModel([1, 2, 3] as unknown as Uint8Array),
      'INVALID_OPTION',
      /Uint8Array, got Array/,
    );
  });

  it('names the faulty part of a model that parses: no graph, a tensor or an attribute it cannot read', () => {
    expectError(
      () =>
        experimental_decodeOnnxModel(
          encodeModel({ irVersion: 8, opsetImport: [] } as unknown as ModelMessage),
        ),
      'INVALID_DATA',
      /ModelProto without a graph/,
    );
    const withGraph = (graph: Parameters<typeof encodeModel>[0]['graph']) =>
      encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
    const tensor = { name: 'w', dims: [2], dataType: DataType.FLOAT, rawData: new Uint8Array(4) };
    expectError(
      () => experimental_decodeOnnxModel(withGraph({ name: 'g', initializer: [tensor] })),
      'INVALID_DATA',
      /graph "g", initializer: tensor "w" \(float32, dims \[2\]\) needs 8 bytes of raw_data, has 4/,
    );
    expectError(
      () => experimental_decodeOnnxModel(withGraph({ name: 'g', initializer: [{ ...tensor, dataType: 8 }] })),
      'INVALID_DATA',
      /tensor "w" has ONNX data type 8/,
    );
    expectError(
      () =>
        experimental_decodeOnnxModel(
          withGraph({ name: 'g', initializer: [{ ...tensor, dims: [-1], rawData: new Uint8Array(0) }] }),
        ),
      'INVALID_DATA',
      /dims \[-1\]/,
    );
    const node = (attribute: { name: string; type: number }) => ({
      input: [],
      output: ['y'],
      opType: 'Constant',
      attribute: [attribute],
    });
    expectError(
      () =>
        experimental_decodeOnnxModel(
          withGraph({ name: 'g', node: [node({ name: 'value', type: AttributeType.TENSOR })] }),
        ),
      'INVALID_DATA',
      /graph "g", node 0 \(Constant\), attribute "value" is of type TENSOR but holds no tensor/,
    );
    expectError(
      () => experimental_decodeOnnxModel(withGraph({ name: 'g', node: [node({ name: 'v', type: 99 })] })),
      'INVALID_DATA',
      /attribute "v" has attribute type 99/,
    );
  });

  it('a graph nested 100 000 deep (If branches) is INVALID_DATA, not a stack overflow', () => {
    // graph { node { attribute { name: "g", type: GRAPH, g: graph { … } } } }, written outside in.
    const depth = 100_000;
    const varint = (n: number) => {
      const out: number[] = [];
      for (; n > 127; n >>>= 7) out.push((n & 127) | 128);
      return [...out, n];
    };
    const graphLength = new Array<number>(depth + 1).fill(0); // graphLength[i]: graph payload of nesting level i
    const attributeLength = new Array<number>(depth + 1).fill(0);
    const nodeLength = new Array<number>(depth + 1).fill(0);
    for (let i = depth - 1; i >= 0; i--) {
      const inner = graphLength[i + 1];
      attributeLength[i] = 3 + 3 + 1 + varint(inner).length + inner; // name, type, g
      nodeLength[i] = 1 + varint(attributeLength[i]).length + attributeLength[i];
      graphLength[i] = 1 + varint(nodeLength[i]).length + nodeLength[i];
    }
    const bytes: number[] = [0x3a, ...varint(graphLength[0])];
    for (let i = 0; i < depth; i++) {
      bytes.push(0x0a, ...varint(nodeLength[i]), 0x2a, ...varint(attributeLength[i]));
      bytes.push(0x0a, 1, 0x67, 0xa0, 0x01, AttributeType.GRAPH, 0x32, ...varint(graphLength[i + 1]));
    }
    expectError(
      () => experimental_decodeOnnxModel(Uint8Array.from(bytes)),
      'INVALID_DATA',
      /nested too deeply/,
    );
  });
});
