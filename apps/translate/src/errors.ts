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
