import { existsSync } from 'node:fs';
import {
  type HubDownloadProgress,
  HubError,
  loadAdapter,
  loadModel,
  parseHubId,
} from '@encouraging-loss/translate';
import { existingFolder, nodeFolder } from '@encouraging-loss/translate/node';
import { type ResolvedModel, resolveModel } from '../hub/resolve-model.js';
import { Progress, type ProgressStream } from '../progress/progress.js';
import { modelLanguages } from './args.js';

/** Options of {@link resolveModelFlag}. */
export interface ModelFlagOptions {
  /** No progress bars. */
  quiet?: boolean;
  /** Where the bars go. Default `process.stderr`. */
  stream?: ProgressStream;
}

const megabytes = (bytes: number) => Math.round(bytes / 1e5) / 10;

/**
 * A progress bar per downloaded file (`repo file (i/n)`, in MB), one after the other, as `huggingface_hub` shows
 * them; files already in the cache show none.
 */
function downloadBars(options: ModelFlagOptions) {
  let bar: Progress | undefined;
  let current = '';
  return {
    onProgress(p: HubDownloadProgress) {
      if (p.cached) return;
      if (p.file !== current) {
        bar?.finish();
        current = p.file;
        bar = new Progress({
          label: `${p.repo} ${p.file} (${p.index + 1}/${p.count}) MB`,
          total: p.total === undefined ? undefined : megabytes(p.total),
          unit: 'MB',
          quiet: options.quiet,
          stream: options.stream,
        });
      }
      bar?.update(megabytes(p.bytes));
    },
    finish() {
      bar?.finish();
      bar = undefined;
    },
  };
}

/**
 * The folder a model flag (`--model`, `--init`) names: an existing path, or something that is not a Hub id, as
 * given (the folder checks then name it); otherwise a Hugging Face Hub id `ORG/NAME[@revision]`, resolved into the
 * standard Hub cache by `resolveModel` (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_CACHE`/`HF_HOME`, `HF_HUB_OFFLINE`),
 * with a progress bar per downloaded file on stderr. Ctrl-C aborts the download (the partial file is kept, and the
 * same command continues it) and ends the process with status 130.
 *
 * @returns `{ dir }`, plus `{ repo, revision, commit }` for a Hub model (record them in what is made from it).
 */
export async function resolveModelFlag(
  spec: string,
  flag: string,
  options: ModelFlagOptions = {},
): Promise<ResolvedModel> {
  if (existsSync(spec) || !parseHubId(spec)) return { dir: spec };
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  const bars = downloadBars(options);
  try {
    return await resolveModel(spec, { signal: controller.signal, onProgress: bars.onProgress });
  } catch (error) {
    bars.finish();
    if (controller.signal.aborted) {
      (options.stream ?? process.stderr).write(
        `el-translate: interrupted while fetching ${spec}; what was downloaded is kept in the Hub cache, and the same command continues.\n`,
      );
      process.exit(130);
    }
    if (error instanceof HubError && error.reason === 'REPO_NOT_FOUND') {
      throw new HubError(
        error.reason,
        error.repo,
        `${flag} ${spec}: no such folder here, and ${error.message}`,
      );
    }
    throw error;
  } finally {
    bars.finish();
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** The flags {@link loadModelFlag} reads. */
export interface ModelLoadFlags {
  'target-token'?: string;
  'src-lang'?: string;
  'tgt-lang'?: string;
  adapter?: string;
  quiet?: boolean;
}

/**
 * `--model` of `translate`, `score` and `eval`: the folder or Hub id resolved ({@link resolveModelFlag}), the model
 * and its tokenizer loaded with the language flags, and a LoRA `--adapter` attached (the model is disposed if that
 * fails).
 */
export async function loadModelFlag(spec: string, values: ModelLoadFlags) {
  const { dir } = await resolveModelFlag(spec, '--model', { quiet: values.quiet });
  const loaded = await loadModel(existingFolder(dir), modelLanguages(values));
  if (values.adapter) {
    try {
      loadAdapter(loaded.model, nodeFolder(values.adapter));
    } catch (error) {
      loaded.model.dispose();
      throw error;
    }
  }
  return loaded;
}
