/**
 * Messages between the Fine-tune view and its worker. Everything is structured-cloneable: picked `File`s and a
 * `FileSystemDirectoryHandle` cross as they are; the model itself never leaves the worker.
 */
import type { HubDownloadProgress } from '@encouraging-loss/translate';
import type { FinetuneSettings } from './settings.js';

/** Where the worker reads the model folder from. */
export type ModelRef =
  /** A served folder (absolute URL). */
  | { kind: 'url'; url: string }
  /** A folder picked with `<input webkitdirectory>`: files by their path inside it. */
  | { kind: 'files'; name: string; files: { path: string; file: File }[] }
  /** A folder picked with `showDirectoryPicker`. */
  | { kind: 'handle'; name: string; handle: FileSystemDirectoryHandle }
  /** A Hugging Face Hub model `ORG/NAME[@revision]`, fetched from `endpoint` into the page's Cache API storage. */
  | { kind: 'hub'; id: string; endpoint: string };

/** The Hub model a run started from: what to record beside a fine-tuned folder. */
export interface HubSource {
  repo: string;
  revision: string;
  /** The commit sha the revision was at. */
  commit: string;
  endpoint: string;
}

export interface StartRequest {
  type: 'start';
  model: ModelRef;
  /** The pairs as TSV text (source, tab, target per line). */
  train: string;
  valid: string;
  settings: FinetuneSettings;
  /** Absolute URL of the tfjs-backend-wasm files in the site (`wasm/tfjs/`). */
  wasmPaths: string;
  /** XNNPACK threads: the cores when the page is cross-origin isolated, else 1. */
  threads: number;
  /** Valid sentences translated before and after (greedy). */
  samples: number;
}

export type ToWorker = StartRequest | { type: 'stop' };

/** The `fineTune` progress callback's argument, as the worker forwards it. */
export interface ProgressReport {
  step: number;
  maxSteps: number;
  /** Mean loss / NLL per token of the step; `null` on steps the library does not log. */
  loss: number | null;
  nll: number | null;
  lr: number;
  tokensPerSecond: number;
}

/** Greedy translations of the first valid sentences, with corpus BLEU / chrF over them. */
export interface Translations {
  hypotheses: string[];
  bleu?: number;
  chrf?: number;
}

/** What the run's result block shows (JSON): `validNll` is `scoreCorpus(…).corpus.nll` after the last step. */
export interface RunResult {
  steps: number;
  trainNll: number | null;
  validNll: number;
  validNllBefore: number;
  tokensPerSecond: number;
  trainSeconds: number;
  interrupted: boolean;
  backend: string;
  threads: number;
  loss: Record<string, unknown>;
  seed: number;
  trainPairs: number;
  validPairs: number;
  /** The Hub model fine-tuned, with its commit; absent for a folder. */
  hub?: HubSource;
  [key: string]: unknown;
}

export type FromWorker =
  | { type: 'status'; text: string }
  | { type: 'backend'; backend: string; threads: number }
  | {
      type: 'data';
      trainPairs: number;
      validPairs: number;
      sources: string[];
      references: string[];
      model: string;
      /** Set when the model came from the Hub. */
      hub?: HubSource;
    }
  /** A Hub model's file arriving (or found in the page's cache, `cached`). */
  | { type: 'download'; progress: HubDownloadProgress }
  | { type: 'before'; validNll: number; translations: Translations }
  | { type: 'progress'; progress: ProgressReport; time: number }
  | { type: 'metrics'; record: Record<string, unknown> & { type: string; step: number } }
  | { type: 'after'; translations: Translations }
  | { type: 'result'; result: RunResult }
  /** `code` is the library error's (`INVALID_OPTION`, …); `reason` a Hub error's (`REPO_NOT_FOUND`, `GATED`, …). */
  | { type: 'error'; message: string; code?: string; reason?: string };
