// What the graph benches share: the cross-entropy graph every loss graph is measured against, and their inputs.
import { composedLogSoftmax } from '@encouraging-loss/core';
import * as ort from 'onnxruntime-web';

/**
 * Cross-entropy as PyTorch computes it (mean over kept rows, ignoreIndex −100) and its gradient
 * (softmax − onehot) · kept / count, recorded by `GraphBuilder` (the same builder, the same ops: LogSoftmax,
 * Equal(Range) one-hot) and serialized.
 */
export function crossEntropyModel(GraphBuilder) {
  const builder = new GraphBuilder();
  const ops = builder.ops;
  const logits = builder.input('logits', 'float32', 'full');
  const targets = builder.input('targets', 'int64', 'batch');
  const logProbs = composedLogSoftmax(ops, logits);
  const isTarget = ops.oneHot(targets, logits);
  const kept = ops.expandLastAxis(
    ops.castLike(ops.logicalNot(ops.equal(targets, ops.intScalar(-100, targets))), logits),
  );
  const count = ops.sumAll(kept);
  const nll = ops.neg(ops.sumLastAxis(ops.where(isTarget, logProbs, ops.scalar(0, logits))));
  const loss = ops.div(ops.sumAll(ops.mul(nll, kept)), count);
  const grad = ops.mul(ops.sub(ops.exp(logProbs), ops.castLike(isTarget, logits)), ops.div(kept, count));
  return builder.toModel(
    'cross_entropy',
    [logits, targets],
    [builder.output(loss, 'loss'), builder.output(grad, 'grad')],
  );
}

/**
 * Label-smoothed cross-entropy as PyTorch computes it (`F.cross_entropy(..., label_smoothing=ε)`: per row
 * (1 − ε)·(−log p_y) + ε/K·Σ_k(−log p_k), mean over kept rows) and its gradient (softmax − q) · kept / count with
 * q = (1 − ε)·onehot + ε/K, recorded by the same builder: the baseline a label-smoothed EL/CEL graph is measured
 * against (label smoothing is extra work for CE too). Of the two ways tried (q as a `where` and a product with
 * log p, or Σ log p and the one-hot scaled as here) this one was as fast or faster at both bench shapes.
 */
export function labelSmoothedCrossEntropyModel(GraphBuilder, epsilon = 0.1) {
  const builder = new GraphBuilder();
  const ops = builder.ops;
  const logits = builder.input('logits', 'float32', 'full');
  const targets = builder.input('targets', 'int64', 'batch');
  const logProbs = composedLogSoftmax(ops, logits);
  const isTarget = ops.oneHot(targets, logits);
  const kept = ops.expandLastAxis(
    ops.castLike(ops.logicalNot(ops.equal(targets, ops.intScalar(-100, targets))), logits),
  );
  const count = ops.sumAll(kept);
  const perClass = ops.div(ops.scalar(epsilon, logits), ops.lastAxisSize(logits)); // ε/K
  const nll = ops.neg(ops.sumLastAxis(ops.where(isTarget, logProbs, ops.scalar(0, logits))));
  const smooth = ops.neg(ops.sumLastAxis(logProbs));
  const rowLoss = ops.add(ops.mul(nll, ops.scalar(1 - epsilon, logits)), ops.mul(smooth, perClass));
  const loss = ops.div(ops.sumAll(ops.mul(rowLoss, kept)), count);
  const q = ops.add(ops.mul(ops.castLike(isTarget, logits), ops.scalar(1 - epsilon, logits)), perClass);
  const grad = ops.mul(ops.sub(ops.exp(logProbs), q), ops.div(kept, count));
  return builder.toModel(
    'label_smoothed_cross_entropy',
    [logits, targets],
    [builder.output(loss, 'loss'), builder.output(grad, 'grad')],
  );
}

/** Seeded logits in [−3, 3) `[N, K]` and class indices `[N]`: the same inputs for every graph and run. */
export function benchInputs(N, K) {
  let state = 12345;
  const random = () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const logits = new ort.Tensor(
    'float32',
    Float32Array.from({ length: N * K }, () => 6 * random() - 3),
    [N, K],
  );
  const targets = new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: N }, () => BigInt(Math.floor(random() * K))),
    [N],
  );
  return { logits, targets };
}
