import { existsSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { invalidData, invalidOption, withIo } from '@encouraging-loss/translate';
import { readJsonFile, writeFileAtomic } from '@encouraging-loss/translate/node';
import { LOCK_FILE } from './lock.js';
import type { RunRecord } from './run-settings.js';

/** The file that makes a folder a run folder: the settings that define the run (see {@link RunRecord}). */
export const RUN_FILE = 'run.json';

/** Checkpoints of a run, inside its folder. */
export const STATE_DIR = 'training_state';

/**
 * What a training run writes into its folder. `--overwrite` removes these (and any other weight file, so no stale
 * `pytorch_model.bin` sits beside a new `model.safetensors`) and nothing else.
 */
export const RUN_OUTPUTS = [
  RUN_FILE,
  'metrics.jsonl',
  STATE_DIR,
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'source.spm',
  'target.spm',
  'vocab.json',
  'special_tokens_map.json',
  'adapter_config.json',
  'adapter_model.safetensors',
] as const;

/** A real path, resolving the longest existing prefix (the rest may not exist yet). */
function realPath(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
}

/** `a` is `b`, or inside it. */
function within(a: string, b: string): boolean {
  const path = relative(b, a);
  return path === '' || (path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path));
}

/**
 * Checks `--out` before anything is written: not a file, and neither equal to, inside, nor containing an input
 * folder (`--init`, `--tokenizer`), whose files a run would overwrite or delete. `INVALID_OPTION` naming both.
 * `nested: false` refuses only the same folder (an export only adds files, so a folder inside is harmless).
 */
export function checkOutPath(
  out: string,
  inputs: Record<string, string | undefined>,
  options: { nested?: boolean } = {},
): void {
  if (existsSync(out) && !statSync(out).isDirectory()) {
    invalidOption(`--out ${out} is a file; expected a folder (it is created when missing).`);
  }
  const target = realPath(out);
  for (const [flag, folder] of Object.entries(inputs)) {
    if (folder === undefined) continue;
    const input = realPath(folder);
    const nested = options.nested ?? true;
    const how =
      target === input
        ? 'is'
        : !nested
          ? ''
          : within(target, input)
            ? 'is inside'
            : within(input, target)
              ? 'contains'
              : '';
    if (how) {
      invalidOption(
        `--out ${out} ${how} ${flag} ${folder}: writing there would overwrite or delete the files it reads. Choose an --out outside it.`,
      );
    }
  }
}

/** What `--out` holds: nothing yet, an empty folder, one of our run folders, or something else. */
export type OutFolderKind = 'missing' | 'empty' | 'run' | 'foreign';

/** Classifies `--out` (a lock file alone counts as empty: its run died before writing `run.json`). */
export function inspectOutFolder(out: string): OutFolderKind {
  if (!existsSync(out)) return 'missing';
  const entries = readdirSync(out).filter((name) => name !== LOCK_FILE);
  if (entries.length === 0) return 'empty';
  return entries.includes(RUN_FILE) ? 'run' : 'foreign';
}

/** The refusal for a non-empty `--out` that is not a run folder of ours. */
export function refuseForeign(out: string): never {
  const legacy = existsSync(join(out, STATE_DIR));
  return invalidOption(
    legacy
      ? `--out ${out} holds checkpoints but no ${RUN_FILE} (an older el-translate wrote it), so its settings cannot be checked against these. Use another --out, or --overwrite to start over there.`
      : `--out ${out} is not empty and is not an el-translate run folder (no ${RUN_FILE}). Use an empty or new folder, or --overwrite to replace the model files in it (other files are left alone).`,
  );
}

/** Reads `run.json` of a run folder. */
export function readRunRecord(out: string): RunRecord {
  const file = join(out, RUN_FILE);
  const record = readJsonFile(file, 'Run record') as RunRecord;
  if (record?.format !== 1 || typeof record.settings !== 'object' || record.settings === null) {
    invalidData(
      `${file} is not a run record of this el-translate (format ${JSON.stringify(record?.format)}).`,
    );
  }
  return record;
}

/** Writes `run.json` atomically. */
export function writeRunRecord(out: string, record: RunRecord): void {
  writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** Removes what a run writes ({@link RUN_OUTPUTS}) from `out`; returns the names removed. */
export function clearRunOutputs(out: string): string[] {
  const removed = RUN_OUTPUTS.filter((name) => existsSync(join(out, name)));
  for (const name of removed) {
    withIo('remove', join(out, name), () => rmSync(join(out, name), { recursive: true, force: true }));
  }
  return removed;
}
