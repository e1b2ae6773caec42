/**
 * Machine-readable reason for an {@link EncouragingLossError}.
 *
 * - `INVALID_OPTION`: an option is out of its documented range, NaN, or of the wrong type.
 * - `INVALID_SHAPE`: a tensor's shape does not fit (rank 0 logits, K < 2, targets not of the batch shape, …).
 * - `INVALID_DTYPE`: a tensor has a data type the function does not accept.
 * - `INVALID_TARGET`: a target is not an integer, or lies outside `[0, K)` and is not `ignoreIndex`.
 * - `NON_FINITE`: a logit (or probability) is NaN or ±Infinity.
 * - `INVALID_DATA`: an input file or record (a data set line, a checkpoint, a model folder) is malformed; the
 *   message names the file and, where there is one, the line.
 * - `UNSUPPORTED_BACKEND`: a `TensorOps` object does not implement the specification this core expects.
 * - `IO_ERROR`: a file could not be read or written (disk full, permission denied, a read-only file system); the
 *   message names the file and the cause. Core reads no files; the translation engine and its stores do.
 */
export type EncouragingLossErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_SHAPE'
  | 'INVALID_DTYPE'
  | 'INVALID_TARGET'
  | 'NON_FINITE'
  | 'INVALID_DATA'
  | 'UNSUPPORTED_BACKEND'
  | 'IO_ERROR';

/**
 * The one error type thrown for bad input anywhere in `@encouraging-loss/*`.
 *
 * The message names the bad value, where it is (option name or flat index and coordinates) and what was
 * expected; `code` lets callers branch without parsing the message.
 *
 * @example
 * ```ts
 * try {
 *   encouragingLoss(logits, targets, { logEnd: 1.5 });
 * } catch (error) {
 *   if (error instanceof EncouragingLossError && error.code === 'INVALID_OPTION') console.error(error.message);
 * }
 * ```
 */
export class EncouragingLossError extends Error {
  /** Machine-readable reason; see {@link EncouragingLossErrorCode}. */
  readonly code: EncouragingLossErrorCode;

  constructor(code: EncouragingLossErrorCode, message: string) {
    super(message);
    this.name = 'EncouragingLossError';
    this.code = code;
  }
}

/** Type guard that also works across duplicated package copies (checks name and code, not `instanceof`). */
export function isEncouragingLossError(error: unknown): error is EncouragingLossError {
  return (
    error instanceof Error &&
    error.name === 'EncouragingLossError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}
