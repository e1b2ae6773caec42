import { decodeText, parseJson } from '../data/data.js';
import { invalidData } from '../errors.js';
import { type FileData, type ModelStore, pathSegments, throwIfAborted, toBytes } from './model-store.js';

/**
 * A model folder as the loaders see it: synchronous reads of whole files. The config, weights, tokenizer, adapter
 * and export code read and write through this, so the same code loads a folder from the Node file system
 * (`nodeFolder` from `@encouraging-loss/translate/node`) and, in a browser, a folder read ahead from any
 * {@link ModelStore} ({@link readFolder}). File names are relative and `/`-separated (`config.json`,
 * `onnx/encoder_model.onnx`).
 *
 * @example
 * ```ts
 * const folder = await readFolder(new HttpStore('https://host/opus-mt-en-de/'));
 * const { model, tokenizer } = await loadModel(folder);
 * ```
 */
export interface Folder {
  /** Where the folder is, for messages (`runs/x`, `https://host/model/`): they name a file `${name}/${file}`. */
  readonly name: string;
  /** Whether `file` exists (folders are not files). */
  has(file: string): boolean;
  /** The bytes of `file`; a missing or unreadable file is `INVALID_DATA` naming `${name}/${file}`. */
  read(file: string): Uint8Array;
  /** `file` as UTF-8 text (see {@link read}). */
  readText(file: string): string;
  /** Every file of the folder, recursively, as relative `/`-separated names. */
  list(): string[];
  /**
   * The size of `file` in bytes, when the medium knows it without reading the file (a disk's `stat`); otherwise
   * callers read it. Used to bound a config by its weights before anything is allocated.
   */
  size?(file: string): number;
}

/** A {@link Folder} that can be written: model saves, exports, adapters. */
export interface WritableFolder extends Folder {
  /** Writes a whole file (creating its folders); atomic per file where the medium allows (a reader sees old or new). */
  write(file: string, data: FileData): void;
  /** Removes a file; nothing there is not an error. */
  remove(file: string): void;
}

/**
 * The path of `file` inside `folder` for messages: `${name}/${file}` (one `/` however `name` ends; `file` alone
 * when the folder has no name).
 */
export function folderPath(folder: Folder | string, file: string): string {
  const name = typeof folder === 'string' ? folder : folder.name;
  if (name === '' || name === '.') return file;
  return name.endsWith('/') ? `${name}${file}` : `${name}/${file}`;
}

/** Throws `INVALID_DATA`: `file` is not in `folder` (`runs/x has no config.json.`). */
export function missingInFolder(folder: Folder | string, file: string): never {
  return invalidData(`${typeof folder === 'string' ? folder : folder.name} has no ${file}.`);
}

/**
 * Reads and parses a JSON file of a folder. A missing file is `INVALID_DATA` as `${what} ${path} does not exist.`,
 * bytes that are not UTF-8 text or a syntax error name the file (`file:line:column`, see `parseJson`).
 */
export function readFolderJson(folder: Folder, file: string, what = 'File'): unknown {
  const path = folderPath(folder, file);
  if (!folder.has(file)) invalidData(`${what} ${path} does not exist.`);
  return parseJson(decodeText(folder.read(file), path, what), path);
}

const decoder = new TextDecoder('utf-8');

/** A memory folder: a {@link WritableFolder} over a `Map` of file name → bytes. */
export type MemoryFolder = WritableFolder & { readonly files: Map<string, Uint8Array> };

/**
 * A {@link WritableFolder} in memory: for tests, for pages that hold a model only for the session, and as what
 * {@link readFolder} reads a {@link ModelStore} into. Text is stored as UTF-8; `files` is the live map.
 *
 * @example
 * ```ts
 * const folder = memoryFolder('tiny', [['config.json', '{"model_type":"marian"}']]);
 * folder.write('notes.txt', 'hello');
 * console.log(folder.list()); // ['config.json', 'notes.txt']
 * ```
 */
export function memoryFolder(name: string, files?: Iterable<[string, FileData]>): MemoryFolder {
  const map = new Map<string, Uint8Array>();
  const check = (file: string) => pathSegments(file, name);
  for (const [file, data] of files ?? []) {
    check(file);
    map.set(file, toBytes(data));
  }
  const read = (file: string): Uint8Array => {
    const bytes = map.get(file);
    return bytes ?? missingInFolder(name, file);
  };
  return {
    name,
    files: map,
    has: (file) => map.has(file),
    read,
    readText: (file) => decoder.decode(read(file)),
    list: () => [...map.keys()].sort(),
    size: (file) => read(file).length,
    write: (file, data) => {
      check(file);
      map.set(file, toBytes(data));
    },
    remove: (file) => {
      map.delete(file);
    },
  };
}

/** Options of {@link readFolder}. */
export interface ReadFolderOptions {
  /** Read only these files (those of them that exist); default every file of the store. */
  only?: readonly string[];
  /** The folder's {@link Folder.name}; default the store's `location`. */
  name?: string;
  /** Cancels the reads. */
  signal?: AbortSignal;
}

/**
 * Reads every file of a store (or the files of `only` that exist) into a {@link memoryFolder}, so the synchronous
 * loaders can read a folder that lives behind an async store (HTTP, OPFS, a picked directory).
 *
 * @example
 * ```ts
 * const folder = await readFolder(store, { only: ['config.json', 'model.safetensors', 'tokenizer.json'] });
 * ```
 */
export async function readFolder(store: ModelStore, options: ReadFolderOptions = {}): Promise<MemoryFolder> {
  const { signal } = options;
  throwIfAborted(signal);
  let names: string[];
  if (options.only) {
    const present = await Promise.all(options.only.map((file) => store.exists(file, { signal })));
    names = options.only.filter((_, i) => present[i]);
  } else names = await store.list('', { signal });
  const folder = memoryFolder(options.name ?? store.location);
  for (const file of names) folder.files.set(file, await store.read(file, { signal }));
  return folder;
}

/** Options of {@link writeFolder}. */
export interface WriteFolderOptions {
  /**
   * Publish the files as this folder of the store (`ModelStore.publish`: all or nothing, replacing what was
   * there); default: write each file at the store's root, one atomic write per file.
   */
  folder?: string;
  /** Cancels the writes. */
  signal?: AbortSignal;
}

/**
 * Writes a memory folder's files into a store: as one checkpoint with `folder` (the store's `publish`), else file
 * by file.
 *
 * @example
 * ```ts
 * const out = memoryFolder('fine-tuned');
 * saveModel(model, out);
 * await writeFolder(out, new DirectoryHandleStore(picked), { folder: 'fine-tuned' });
 * ```
 */
export async function writeFolder(
  folder: { files: ReadonlyMap<string, Uint8Array> },
  store: ModelStore,
  options: WriteFolderOptions = {},
): Promise<void> {
  const { signal } = options;
  throwIfAborted(signal);
  if (options.folder !== undefined) {
    await store.publish(options.folder, folder.files, { signal });
    return;
  }
  for (const [file, bytes] of folder.files) await store.write(file, bytes, { signal });
}
