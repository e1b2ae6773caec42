import { EncouragingLossError } from '@encouraging-loss/core';

/** Throws for a bad flag or option value (`INVALID_OPTION`): the message names the flag and the value. */
export function invalidOption(message: string): never {
  throw new EncouragingLossError('INVALID_OPTION', message);
}

/**
 * Throws for a malformed input file (`INVALID_DATA`): a data set line, a model folder, a checkpoint, a
 * safetensors file. The message names the file and, where there is one, `file:line`.
 */
export function invalidData(message: string): never {
  throw new EncouragingLossError('INVALID_DATA', message);
}

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a path component is not a folder',
  EISDIR: 'is a folder',
  EEXIST: 'already exists',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
};

/** The reason of a Node file-system error in words, with its code: `no space left on device (ENOSPC)`. */
export function describeSystemError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
    return `${CAUSES[code] ?? code.toLowerCase()} (${code})`;
  return (error as Error)?.message ?? String(error);
}

/**
 * Throws for a file-system failure while writing or reading our own files (`IO_ERROR`): disk full, permission
 * denied, a read-only file system. The message names the file, what was being done and the cause, e.g.
 * `Cannot write runs/x/training_state/.tmp-…/model.safetensors: no space left on device (ENOSPC)`.
 */
export function ioError(action: string, path: string, cause: unknown): never {
  const error = new EncouragingLossError(
    'IO_ERROR',
    `Cannot ${action} ${path}: ${describeSystemError(cause)}.`,
  );
  (error as { cause?: unknown }).cause = cause;
  throw error;
}

/** Runs `body`, turning a Node file-system error into {@link ioError} (typed errors pass through unchanged). */
export function withIo<T>(action: string, path: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (isSystemError(error)) ioError(action, path, error);
    throw error;
  }
}

/** A Node system error (`ENOENT`, `ENOSPC`, …), as opposed to an `EncouragingLossError` or a bug. */
export function isSystemError(
  error: unknown,
): error is Error & { code: string; syscall?: string; path?: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    error instanceof Error &&
    error.name !== 'EncouragingLossError' &&
    typeof code === 'string' &&
    /^E[A-Z]+$/.test(code)
  );
}
