import { EncouragingLossError } from '@encouraging-loss/core';

/**
 * Throws the project's one error type for bad user input (a flag, a data line, a model folder). Core has no
 * dedicated code for data files yet, so they use `INVALID_OPTION`: the file is the value of an option.
 */
export function invalidInput(message: string): never {
  throw new EncouragingLossError('INVALID_OPTION', message);
}
