import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeSystemError, invalidData, withIo } from '../errors.js';
import { folderPath, type WritableFolder } from '../store/folder.js';
import { pathSegments } from '../store/model-store.js';
import { writeFileAtomic } from './atomic.js';
import { readWholeFile } from './read-file.js';

/** Every file below `dir`, as `/`-separated names relative to `root`. */
function listFiles(root: string, prefix: string): string[] {
  const dir = prefix === '' ? root : join(root, prefix);
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listFiles(root, name));
    else if (entry.isFile() || (entry.isSymbolicLink() && isFile(join(root, name)))) out.push(name);
  }
  return out;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A {@link WritableFolder} over a folder of the Node file system (`@encouraging-loss/translate/node`): reads with
 * `fs` sync calls, writes each file atomically (a temporary file beside it, fsync, rename; see
 * `writeFileAtomic`), creating the folder on the first write. Messages name files as `${dir}/${file}`.
 *
 * @example
 * ```ts
 * const { model, tokenizer } = await loadModel(nodeFolder('runs/demo/cel'));
 * saveModel(model, nodeFolder('runs/demo/copy'));
 * ```
 */
export function nodeFolder(dir: string): WritableFolder {
  // Messages say `${name}/${file}` as `join(dir, file)` did: no trailing separator on the name.
  const name = dir.length > 1 ? dir.replace(/[/\\]+$/, '') || '/' : dir;
  const path = (file: string) => {
    pathSegments(file, name);
    return join(dir, file);
  };
  const read = (file: string): Uint8Array => {
    const full = path(file);
    try {
      return readWholeFile(full);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const where = folderPath(name, file);
      if (code === 'ENOENT' || code === 'ENOTDIR') invalidData(`${where} does not exist.`);
      if (code === 'EISDIR') invalidData(`${where} is a folder; expected a file.`);
      if (code?.startsWith('E')) invalidData(`${where} cannot be read: ${describeSystemError(error)}.`);
      throw error;
    }
  };
  return {
    name,
    has: (file) => isFile(path(file)),
    read,
    readText: (file) => new TextDecoder('utf-8').decode(read(file)),
    list: () => (existsSync(dir) ? withIo('list', dir, () => listFiles(dir, '')).sort() : []),
    size: (file) => withIo('read', folderPath(name, file), () => statSync(path(file)).size),
    write: (file, data) => {
      const full = path(file);
      withIo('create the folder', dirname(full), () => mkdirSync(dirname(full), { recursive: true }));
      writeFileAtomic(full, data);
    },
    remove: (file) => withIo('remove', folderPath(name, file), () => rmSync(path(file), { force: true })),
  };
}

/**
 * Checks that `dir` is an existing folder: `INVALID_DATA` naming it when it does not exist or is a file
 * (`what` names its role: `Model folder`, `--init folder`).
 */
export function checkFolder(dir: string, what = 'Model folder'): void {
  if (!existsSync(dir)) invalidData(`${what} ${dir} does not exist.`);
  if (!statSync(dir).isDirectory()) invalidData(`${what} ${dir} is a file; expected a folder.`);
}

/**
 * {@link nodeFolder} over a folder that must exist (a model to load): {@link checkFolder} first, so a mistyped
 * path says `Model folder x does not exist.` rather than that it lacks a file.
 */
export function existingFolder(dir: string, what = 'Model folder'): WritableFolder {
  checkFolder(dir, what);
  return nodeFolder(dir);
}
