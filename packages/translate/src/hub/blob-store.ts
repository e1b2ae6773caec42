import { readBody } from '../store/read-body.js';

/**
 * Where a page keeps Hub downloads, keyed by paths of the Python cache layout: `models--ORG--NAME/blobs/{etag}`,
 * `…/refs/{revision}` (the commit) and `…/snapshots/{commit}.json` (file → etag; a browser store has no symlinks).
 * {@link cacheApiBlobStore} (Cache API), {@link directoryBlobStore} (OPFS or a picked folder) and
 * {@link memoryBlobStore} implement it.
 */
export interface HubBlobStore {
  read(key: string): Promise<Uint8Array | undefined>;
  /** Stores `bytes` whole: a reader never sees part of them. */
  write(key: string, bytes: Uint8Array): Promise<void>;
}

/** A {@link HubBlobStore} in memory (tests, or a page that keeps nothing). */
export function memoryBlobStore(): HubBlobStore & { readonly entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    read: async (key) => entries.get(key),
    write: async (key, bytes) => {
      entries.set(key, bytes);
    },
  };
}

/**
 * A {@link HubBlobStore} over a Cache API cache (`await caches.open('hub')`), one entry per key under `base` (a URL no
 * request ever goes to).
 */
export function cacheApiBlobStore(
  cache: Cache,
  base = 'https://hub-cache.el-translate.invalid/',
): HubBlobStore {
  const url = (key: string) => new URL(key, base).href;
  return {
    async read(key) {
      const response = await cache.match(url(key));
      return response ? readBody(response) : undefined;
    },
    async write(key, bytes) {
      await cache.put(url(key), new Response(bytes as Uint8Array<ArrayBuffer>));
    },
  };
}

/**
 * A {@link HubBlobStore} in a directory: the origin private file system (`await navigator.storage.getDirectory()`)
 * or a folder the user picked. A key's `/`-separated parts are folders. `createWritable` writes to a swap file that
 * replaces the file only on `close()`, so a reload mid-download leaves no partial blob.
 */
export function directoryBlobStore(root: FileSystemDirectoryHandle): HubBlobStore {
  async function folder(parts: string[], create: boolean): Promise<FileSystemDirectoryHandle> {
    let handle = root;
    for (const part of parts) handle = await handle.getDirectoryHandle(part, { create });
    return handle;
  }
  return {
    async read(key) {
      const parts = key.split('/');
      try {
        const file = await (await folder(parts.slice(0, -1), false)).getFileHandle(parts[parts.length - 1]);
        return await readBody(await file.getFile());
      } catch (error) {
        if ((error as DOMException).name === 'NotFoundError') return undefined;
        throw error;
      }
    },
    async write(key, bytes) {
      const parts = key.split('/');
      const file = await (await folder(parts.slice(0, -1), true)).getFileHandle(parts[parts.length - 1], {
        create: true,
      });
      const writable = await file.createWritable();
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
    },
  };
}
