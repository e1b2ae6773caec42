import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { invalidOption, withIo } from '@encouraging-loss/translate';
import { acquireLock } from './lock.js';
import {
  clearRunOutputs,
  inspectOutFolder,
  readRunRecord,
  refuseForeign,
  STATE_DIR,
  writeRunRecord,
} from './run-folder.js';
import { PACKAGE, type RunRecord, type RunSettings, settingsDifferences } from './run-settings.js';

/** Options of {@link openRun}. */
export interface OpenRunOptions {
  out: string;
  /** Start over in a run folder of ours, or replace the model files of another non-empty folder. */
  overwrite?: boolean;
  /**
   * The settings of this call. Given the recorded settings (on a resume; `undefined` otherwise), so defaults
   * that depend on `--max-steps` (the warmup) can keep their recorded value.
   */
  settings: (recorded: RunSettings | undefined) => RunSettings;
  say: (message: string) => void;
}

/** A run folder opened for training: locked, its identity checked or written. */
export interface OpenRun {
  settings: RunSettings;
  /** The checkpoint to resume from; `undefined` for a fresh start. */
  resumeDir: string | undefined;
  /** The record as read (a resume) or written (a fresh start). */
  record: RunRecord;
  /** Records the result in `run.json` (a finished, not interrupted, call). */
  finish(result: Record<string, unknown>): void;
  /** Releases the lock. On a fresh start that wrote no checkpoint, first removes what it wrote. */
  close(): void;
}

/** The directory of the checkpoint `training_state/latest` points to, if it is complete. */
export function latestCheckpoint(out: string): string | undefined {
  const pointer = join(out, STATE_DIR, 'latest');
  if (!existsSync(pointer)) return undefined;
  const dir = join(out, STATE_DIR, readFileSync(pointer, 'utf8').trim());
  return existsSync(join(dir, 'state.json')) ? dir : undefined;
}

/**
 * Opens `--out` for a training run, after the inputs were validated (nothing is written before this):
 *
 * - a non-empty folder that is not a run folder of ours is refused (`INVALID_OPTION`) unless `overwrite`;
 * - the folder is created if missing and locked (see {@link acquireLock});
 * - a run folder with a checkpoint resumes only when its recorded settings equal this call's: otherwise
 *   `INVALID_OPTION` lists each difference and the two ways out; `overwrite` starts over instead;
 * - a fresh start removes what an earlier run left ({@link clearRunOutputs}) and writes `run.json`.
 *
 * `close()` on a fresh start that never wrote a checkpoint removes everything it wrote (the whole folder if it
 * created it), so a failed run leaves nothing that looks like a result.
 */
export function openRun(options: OpenRunOptions): OpenRun {
  const { out, say } = options;
  const before = inspectOutFolder(out);
  if (before === 'foreign' && !options.overwrite) refuseForeign(out);
  const created = before === 'missing';
  if (created) withIo('create', out, () => mkdirSync(out, { recursive: true }));
  let release: () => void;
  try {
    release = acquireLock(out, say);
  } catch (error) {
    if (created) rmSync(out, { recursive: true, force: true });
    throw error;
  }
  let fresh = true;
  try {
    // Looked at again under the lock: another process may have written it in between.
    const kind = inspectOutFolder(out);
    if (kind === 'foreign' && !options.overwrite) refuseForeign(out);
    const recorded = kind === 'run' && !options.overwrite ? readRunRecord(out) : undefined;
    const resumeDir = recorded ? latestCheckpoint(out) : undefined;
    const settings = options.settings(resumeDir ? recorded?.settings : undefined);
    if (recorded && resumeDir) {
      const differences = settingsDifferences(recorded.settings, settings);
      if (differences.length > 0) {
        invalidOption(
          `--out ${out} is a run with other settings; resuming it with these would mix two runs:\n  ${differences.join('\n  ')}\nUse another --out for a new run, or --overwrite to start this one over. (--max-steps and --patience may grow on a resume.)`,
        );
      }
      if (recorded.package.version !== PACKAGE.version) {
        say(
          `note: ${out} was started by ${PACKAGE.name} ${recorded.package.version}; this is ${PACKAGE.version}`,
        );
      }
      fresh = false;
      return handle(recorded, resumeDir);
    }
    if (kind === 'run' && !options.overwrite) say(`${out} has no checkpoint yet: starting it over`);
    const removed = kind === 'empty' || kind === 'missing' ? [] : clearRunOutputs(out);
    if (options.overwrite && removed.length > 0)
      say(`--overwrite: removed ${removed.join(', ')} from ${out}`);
    const record: RunRecord = { format: 1, package: PACKAGE, settings };
    writeRunRecord(out, record);
    return handle(record, undefined);
  } catch (error) {
    cleanUp();
    throw error;
  }

  function cleanUp(): void {
    if (fresh && !latestCheckpoint(out)) {
      if (created) rmSync(out, { recursive: true, force: true });
      else clearRunOutputs(out);
    }
    release();
  }

  function handle(record: RunRecord, resumeDir: string | undefined): OpenRun {
    removeTemporaries(out);
    return {
      settings: record.settings,
      resumeDir,
      record,
      finish(result) {
        record.result = result;
        writeRunRecord(out, record);
      },
      close: cleanUp,
    };
  }
}

/** Removes `training_state/.tmp-*` left by a process that died while writing a checkpoint (we hold the lock). */
function removeTemporaries(out: string): void {
  const root = join(out, STATE_DIR);
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    if (name.startsWith('.tmp-')) rmSync(join(root, name), { recursive: true, force: true });
  }
}
