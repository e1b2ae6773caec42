import { existsSync } from 'node:fs';
import { invalidData } from '../errors.js';
import { type MarianConfig, makeConfig } from '../model/config.js';
import { readJsonFile } from './data-files.js';

/**
 * `makeConfig` with `--config` as the command line gives it: `tiny`, `small`, or the path of a JSON file of
 * MarianConfig fields (read here; a syntax error is `INVALID_DATA` as `file:line:column`).
 */
export function makeConfigFile(vocabSize: number, preset = 'small'): MarianConfig {
  if (preset === 'tiny' || preset === 'small' || !existsSync(preset)) return makeConfig(vocabSize, preset);
  const parsed = readJsonFile(preset);
  // A file holding the JSON string "tiny" is not the preset of that name.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    invalidData(`${preset}: a config must be a JSON object.`);
  return makeConfig(vocabSize, parsed as Partial<MarianConfig>, preset);
}
