/**
 * Messages between the Fine-tune view and its worker. Everything is structured-cloneable: picked `File`s and a
 * `FileSystemDirectoryHandle` cross as they are; the model itself stays in the worker, which outlives the run so the
 * page can ask for its files afterwards (`export`).
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

/**
 * After a run: the trained model as an HF folder (`saveModel` and the base's tokenizer files; a LoRA run's with its
 * adapters merged, `saveMergedModel`) and that folder exported to the transformers.js layout (`exportModelFolder`),
 * with a LoRA run's adapter folder too, all sent back as {@link ExportedFolders}.
 */
export interface ExportRequest {
  type: 'export';
}

export type ToWorker = StartRequest | { type: 'stop' } | ExportRequest;

/** A folder's files, paths relative to it (`onnx/encoder_model.onnx`); the buffers are transferred, not copied. */
export interface FolderFiles {
  /** A name for the folder (and its zip): the base model's, the loss and what it holds. */
  name: string;
  files: { path: string; data: ArrayBuffer }[];
}

/**
 * The language pair of an NLLB-200 / M2M100 run, as the model's tokenizer names its codes (`eng_Latn`, M2M100 `en`:
 * the spelling transformers.js' `src_lang` / `tgt_lang` take).
 */
export interface LanguagePair {
  srcLang: string;
  tgtLang: string;
}

/** What an {@link ExportRequest} answers. */
export interface ExportedFolders {
  /**
   * The fine-tuned model as Hugging Face lays a folder out (`config.json`, `model.safetensors`, tokenizer files); a
   * LoRA run's adapters merged into it (W + alpha/r · B·A), so it is a plain model of the base's architecture.
   */
  model: FolderFiles;
  /**
   * A LoRA run's adapter as PEFT saves it (`adapter_config.json`, `adapter_model.safetensors`) with the base's
   * tokenizer files: the folder `el-translate train --lora` writes; absent for full fine-tuning.
   */
  adapter?: FolderFiles;
  /** The transformers.js layout (`config.json`, `tokenizer.json`, `onnx/encoder_model.onnx`, …), fp32. */
  exported: FolderFiles;
  /** `config.json`'s `model_type` (`marian`, `m2m_100`). */
  modelType: string;
  /** An NLLB-200 / M2M100 model's pair: transformers.js tokenizes with `src_lang` and forces `tgt_lang` first. */
  languages?: LanguagePair;
}

/**
 * A LoRA run's adapters as attached (the library's settings, its defaults applied) and what trains: `trainable`
 * values (A and B of every target module, r · (in + out) each) of `total` (the base's parameters and the adapters',
 * as PEFT's `print_trainable_parameters` counts them); the base's are frozen.
 */
export interface LoraReport {
  r: number;
  alpha: number;
  dropout: number;
  /** The target module names (`q_proj`, `v_proj`), as `target_modules` lists them. */
  targets: string[];
  /** How many linear layers carry an adapter. */
  modules: number;
  trainable: number;
  total: number;
}

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
  /** Threads the backend ran (tfjs's XNNPACK pool), not the request. */
  threads: number;
  /** Threads of the app kernels' pool (the blocked products): `threads` where it started, else 1. */
  kernelThreads: number;
  loss: Record<string, unknown>;
  seed: number;
  trainPairs: number;
  validPairs: number;
  /** The Hub model fine-tuned, with its commit; absent for a folder. */
  hub?: HubSource;
  /** A LoRA run's adapters; absent for full fine-tuning. */
  lora?: LoraReport;
  [key: string]: unknown;
}

export type FromWorker =
  | { type: 'status'; text: string }
  | { type: 'backend'; backend: string; threads: number; kernelThreads: number }
  | {
      type: 'data';
      trainPairs: number;
      validPairs: number;
      sources: string[];
      references: string[];
      model: string;
      /** Set when the model came from the Hub. */
      hub?: HubSource;
      /** `config.json`'s `model_type` (`marian`, `m2m_100`). */
      modelType: string;
      /** An NLLB-200 / M2M100 model's pair and every code its tokenizer knows. */
      languages?: LanguagePair & { codes: string[] };
    }
  /** A Hub model's file arriving (or found in the page's cache, `cached`). */
  | { type: 'download'; progress: HubDownloadProgress }
  /** A LoRA run's adapters, attached after the model loaded (before anything is scored). */
  | { type: 'lora'; lora: LoraReport }
  | { type: 'before'; validNll: number; translations: Translations }
  | { type: 'progress'; progress: ProgressReport; time: number }
  | { type: 'metrics'; record: Record<string, unknown> & { type: string; step: number } }
  | { type: 'after'; translations: Translations }
  | { type: 'result'; result: RunResult }
  | ({ type: 'exported' } & ExportedFolders)
  /**
   * `code` is the library error's (`INVALID_OPTION`, …); `reason` a Hub error's (`REPO_NOT_FOUND`, `GATED`, …).
   * `stage: 'export'`: the export failed, the trained model is still there (another export may be asked for).
   */
  | { type: 'error'; message: string; code?: string; reason?: string; stage?: 'export' };
