import { EncouragingLossError } from './errors.js';

/** `[i, j, …]` coordinates of a flat row-major index, for messages. */
export function coordinatesOf(flatIndex: number, shape: readonly number[]): number[] {
  const coordinates = new Array<number>(shape.length).fill(0);
  let rest = flatIndex;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    coordinates[axis] = rest % shape[axis];
    rest = Math.floor(rest / shape[axis]);
  }
  return coordinates;
}

const show = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Checks the shapes of a softmax call and returns K. Logits are `[...B, K]` with K ≥ 2; integer targets are
 * `[...B]`; soft targets (`targetType: 'probabilities'`) are `[...B, K]`.
 *
 * @throws EncouragingLossError `INVALID_SHAPE` naming both shapes.
 */
export function checkShapes(
  logitsShape: readonly number[],
  targetsShape: readonly number[],
  targetType: 'indices' | 'probabilities',
): number {
  if (logitsShape.length < 1) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Logits must have rank >= 1 ([..., K]), got shape ${show(logitsShape)}.`,
    );
  }
  for (const [axis, size] of logitsShape.entries()) {
    if (!Number.isInteger(size) || size < 0) {
      throw new EncouragingLossError(
        'INVALID_SHAPE',
        `Logits shape ${show(logitsShape)} has an invalid size ${size} at axis ${axis}.`,
      );
    }
  }
  const classCount = logitsShape[logitsShape.length - 1];
  if (classCount < 2) {
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Logits need K >= 2 classes on the last axis, got K = ${classCount} (shape ${show(logitsShape)}).`,
    );
  }
  const expected = targetType === 'indices' ? logitsShape.slice(0, -1) : logitsShape;
  if (targetsShape.length !== expected.length || targetsShape.some((size, axis) => size !== expected[axis])) {
    const what =
      targetType === 'indices' ? 'class indices of the batch shape' : 'soft targets of the logits shape';
    throw new EncouragingLossError(
      'INVALID_SHAPE',
      `Targets of shape ${show(targetsShape)} do not fit logits of shape ${show(logitsShape)}: expected ${what} ${show(expected)}.`,
    );
  }
  return classCount;
}

/**
 * Checks every target is an integer in `[0, K)` or equal to `ignoreIndex`.
 *
 * @throws EncouragingLossError `INVALID_TARGET` naming the value, its index and coordinates.
 */
export function checkTargetIndices(
  targets: ArrayLike<number | bigint>,
  targetsShape: readonly number[],
  classCount: number,
  ignoreIndex: number,
): void {
  for (let i = 0; i < targets.length; i++) {
    const raw = targets[i];
    const y = typeof raw === 'bigint' ? Number(raw) : raw;
    if (y === ignoreIndex) continue;
    if (!Number.isInteger(y) || y < 0 || y >= classCount) {
      throw new EncouragingLossError(
        'INVALID_TARGET',
        `Target ${String(raw)} at index ${i} (coordinates [${coordinatesOf(i, targetsShape).join(', ')}]) must be an integer class in [0, ${classCount}) or ignoreIndex (${ignoreIndex}).`,
      );
    }
  }
}

/**
 * Checks every value is finite (and, for probabilities, in [0, 1]).
 *
 * @throws EncouragingLossError `NON_FINITE` (or `INVALID_TARGET` for soft targets) naming the value and where.
 */
export function checkFiniteValues(
  values: ArrayLike<number>,
  shape: readonly number[],
  what: 'logits' | 'logProbs' | 'probabilities' | 'soft targets',
): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const bad =
      !Number.isFinite(v) || ((what === 'probabilities' || what === 'soft targets') && (v < 0 || v > 1));
    if (bad) {
      const expected =
        what === 'probabilities' || what === 'soft targets' ? 'a finite value in [0, 1]' : 'a finite value';
      throw new EncouragingLossError(
        what === 'soft targets' ? 'INVALID_TARGET' : 'NON_FINITE',
        `${what[0].toUpperCase()}${what.slice(1)} value ${v} at index ${i} (coordinates [${coordinatesOf(i, shape).join(', ')}]) is not ${expected}.`,
      );
    }
  }
}
