import { describeModelStore } from '../../test/model-store-contract.js';
import { type DirectoryHandleLike, DirectoryHandleStore } from '../index.js';

// The origin-private file system of a real Chromium: the store the playground keeps its checkpoints in.
let folder: DirectoryHandleLike;
let count = 0;

async function names(at: DirectoryHandleLike, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const [name, entry] of at.entries!()) {
    out.push(prefix + name);
    if (entry.kind === 'directory') out.push(...(await names(entry, `${prefix}${name}/`)));
  }
  return out;
}

describeModelStore(
  'DirectoryHandleStore over OPFS (Chromium)',
  async () => {
    const root = (await navigator.storage.getDirectory()) as unknown as DirectoryHandleLike;
    folder = await root.getDirectoryHandle(`contract-${Date.now()}-${count++}`, { create: true });
    return new DirectoryHandleStore(folder, 'OPFS');
  },
  { folders: true, rawNames: () => names(folder) },
);
