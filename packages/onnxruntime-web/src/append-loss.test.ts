import {
  assertAllClose,
  referenceEncouragingLoss,
  seededRandom,
  tolerancesFor,
} from '@encouraging-loss/conformance';
import { isEncouragingLossError } from '@encouraging-loss/core';
import { describe, expect, it } from 'vitest';
import { appendEncouragingLoss } from './append-loss.js';
import { DataType, decodeModel } from './onnx-proto.js';
import { int64, linearModel, ort } from './test-utils.js';

const D = 4;
const K = 6;

const tolerance = tolerancesFor('float32');

describe('appendEncouragingLoss', () => {
  for (const opset of [13, 17, 18, 21]) {
    it(`adds targets, loss and grad to a linear classifier (opset ${opset})`, async () => {
      const options = { logEnd: 0.5, labelSmoothing: 0.1, ignoreIndex: -1 };
      const bytes = appendEncouragingLoss(linearModel(opset), {
        logitsOutput: 'logits',
        outputs: ['loss', 'grad', 'perExample'],
        ...options,
      });
      const session = await ort.InferenceSession.create(bytes);
      expect(session.inputNames).toEqual(['x', 'targets']);
      expect(session.outputNames).toEqual(['logits', 'loss', 'grad', 'perExample']);
      const random = seededRandom(opset);
      const N = 5;
      const x = Float32Array.from({ length: N * D }, () => 3 * (2 * random() - 1));
      const targets = [0, 5, -1, 2, 3];
      const out = await session.run({
        x: new ort.Tensor('float32', x, [N, D]),
        targets: new ort.Tensor('int64', int64(targets), [N]),
      });
      // The reference sees exactly the logits the model computed.
      const logits = { data: Float64Array.from(out.logits.data as Float32Array), shape: [N, K] };
      const labels = { data: Int32Array.from(targets), shape: [N] };
      const reference = referenceEncouragingLoss(logits, labels, 'indices', options);
      const perExample = referenceEncouragingLoss(logits, labels, 'indices', {
        ...options,
        reduction: 'none',
      });
      assertAllClose(Array.from(out.loss.data as Float32Array), reference.loss, tolerance, 'loss');
      assertAllClose(Array.from(out.grad.data as Float32Array), reference.grad, tolerance, 'grad');
      assertAllClose(
        Array.from(out.perExample.data as Float32Array),
        perExample.loss,
        tolerance,
        'perExample',
      );
      expect(out.perExample.dims).toEqual([N]);
    });
  }

  it('keeps the rest of the model as it was and gives targets the batch dimensions', () => {
    const original = linearModel(17);
    const model = decodeModel(
      appendEncouragingLoss(original, { logitsOutput: 'logits', targetsInput: 'labels' }),
    );
    const before = decodeModel(original);
    expect(model.producerName).toBe('test');
    expect(model.graph.node!.slice(0, before.graph.node!.length)).toEqual(before.graph.node);
    const names = (list: { name: string; dims: unknown[] }[] | undefined) =>
      list!.map((t) => [t.name, t.dims]);
    expect(names(model.graph.initializer).slice(0, 2)).toEqual(names(before.graph.initializer));
    expect(model.graph.input![1].name).toBe('labels');
    expect(model.graph.input![1].type!.tensorType!.elemType).toBe(DataType.INT64);
    expect(model.graph.input![1].type!.tensorType!.shape!.dim).toEqual([{ dimParam: 'N', denotation: '' }]);
    expect(model.graph.output!.map((o) => o.name)).toEqual(['logits', 'loss']);
    expect(
      model.graph
        .node!.slice(before.graph.node!.length)
        .every((n) => n.name!.startsWith('encouraging_loss/')),
    ).toBe(true);
  });

  it('takes int32 targets and an output prefix', async () => {
    const bytes = appendEncouragingLoss(linearModel(17), {
      logitsOutput: 'logits',
      targetsType: 'int32',
      outputPrefix: 'el_',
      reduction: 'sum',
    });
    const session = await ort.InferenceSession.create(bytes);
    expect(session.outputNames).toEqual(['logits', 'el_loss']);
    const out = await session.run({
      x: new ort.Tensor('float32', new Float32Array(2 * D).fill(0.5), [2, D]),
      targets: new ort.Tensor('int32', Int32Array.from([1, 4]), [2]),
    });
    const logits = { data: Float64Array.from(out.logits.data as Float32Array), shape: [2, K] };
    const reference = referenceEncouragingLoss(
      logits,
      { data: Int32Array.from([1, 4]), shape: [2] },
      'indices',
      {
        reduction: 'sum',
      },
    );
    assertAllClose(Array.from(out.el_loss.data as Float32Array), reference.loss, tolerance, 'loss');
  });

  const fails = (run: () => unknown, code: string, message: RegExp) => {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect(isEncouragingLossError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    expect((error as Error).message).toMatch(message);
  };

  it('refuses a missing logits value, a name clash, an old opset and bad options', () => {
    const model = linearModel(17);
    fails(
      () => appendEncouragingLoss(model, { logitsOutput: 'scores' }),
      'INVALID_OPTION',
      /no value named "scores"/,
    );
    fails(
      () => appendEncouragingLoss(model, { logitsOutput: 'logits', targetsInput: 'x' }),
      'INVALID_OPTION',
      /"x"/,
    );
    fails(
      () => appendEncouragingLoss(model, { logitsOutput: 'logits', targetsInput: 'loss' }),
      'INVALID_OPTION',
      /"loss"/,
    );
    fails(
      () => appendEncouragingLoss(linearModel(11), { logitsOutput: 'logits' }),
      'INVALID_OPTION',
      /opset 11/,
    );
    fails(
      () => appendEncouragingLoss(model, { logitsOutput: 'logits', logEnd: 0 }),
      'INVALID_OPTION',
      /logEnd/,
    );
    fails(
      () => appendEncouragingLoss(model, { logitsOutput: 'logits', outputs: ['loss', 'gradient' as 'grad'] }),
      'INVALID_OPTION',
      /outputs\[1\]/,
    );
  });

  it('says INVALID_DATA for malformed model bytes, naming what is wrong', () => {
    fails(
      () => appendEncouragingLoss(new Uint8Array([255, 255, 255]), { logitsOutput: 'logits' }),
      'INVALID_DATA',
      /3 bytes are not a well-formed ONNX ModelProto/,
    );
    // The graph field (7) declares more bytes than the model holds.
    const model = linearModel(17);
    fails(
      () => appendEncouragingLoss(model.subarray(0, model.length - 5), { logitsOutput: 'logits' }),
      'INVALID_DATA',
      /not a well-formed ONNX ModelProto: index out of range/,
    );
  });

  it('refuses weights beyond float32, the graph dtype', () => {
    fails(
      () => appendEncouragingLoss(linearModel(17), { logitsOutput: 'logits', bonusWeight: 1e39 }),
      'INVALID_OPTION',
      /bonusWeight is 1e\+39, beyond float32/,
    );
  });
});
