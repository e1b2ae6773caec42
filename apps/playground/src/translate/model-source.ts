/**
 * Where the page reads an exported model folder from: a URL (served beside the site or anywhere the page may
 * fetch) or files picked from the disk (a folder input). transformers.js reads it through `env.fetch`.
 */
export interface ModelSource {
  /**
   * Path prefix on this site that transformers.js joins the model name to (`env.localModelPath`). A path, not a
   * URL: transformers.js 4.3.2 treats an `http:` local path as remote and, with remote models off, finds nothing.
   */
  base: string;
  /** The folder's name: transformers.js's model id. */
  name: string;
  /** Picked files by their path inside the folder (`onnx/encoder_model.onnx`), for a folder from the disk. */
  files?: Map<string, File>;
}

/** A path no request ever reaches: picked files are answered by {@link modelFetch} before any network. */
export const PICKED_BASE = '/__picked-model__/';

/** The model folder at `url` on this site (relative to the page), e.g. `models/opus-mt-en-de/`. */
export function sourceFromUrl(url: string): ModelSource {
  const absolute = new URL(url.endsWith('/') ? url : `${url}/`, document.baseURI);
  const parts = absolute.pathname.split('/').filter(Boolean);
  const name = parts.pop();
  if (absolute.origin !== location.origin) {
    throw new Error(
      `The model folder must be served by this site (${location.origin}), got ${absolute.origin}.`,
    );
  }
  if (!name || !/^[\w.-]+$/.test(name)) {
    throw new Error(
      `The model folder URL must end in a folder name of letters, digits, "-", "_" or ".", got "${url}".`,
    );
  }
  return { base: `/${parts.map((p) => `${p}/`).join('')}`, name };
}

/** The folder picked with `<input type="file" webkitdirectory>`: files keyed by their path inside it. */
export function sourceFromFiles(list: FileList): ModelSource {
  const files = new Map<string, File>();
  let name = '';
  for (const file of Array.from(list)) {
    const [folder, ...rest] = file.webkitRelativePath.split('/');
    name ||= folder;
    files.set(rest.join('/'), file);
  }
  if (!files.has('config.json'))
    throw new Error('The picked folder has no config.json: pick the exported folder itself.');
  return { base: PICKED_BASE, name: name.replace(/[^\w.-]/g, '_') || 'model', files };
}

/** A fetch that answers picked files from memory and passes everything else to the browser's fetch. */
export function modelFetch(source: () => ModelSource | undefined): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const { pathname } = new URL(url, document.baseURI);
    const picked = source();
    if (picked?.files && pathname.startsWith(PICKED_BASE)) {
      const path = decodeURIComponent(pathname.slice(PICKED_BASE.length + picked.name.length + 1));
      const file = picked.files.get(path);
      return file ? new Response(file) : new Response('not found', { status: 404 });
    }
    return fetch(input, init);
  };
}

/** `models/index.json`: the model folders the site serves (the build writes one; `pnpm playground` its own). */
export interface ModelsIndex {
  /** The folder the Translate view opens with, relative to the page (`models/opus-mt-tiny/`). */
  default: string;
  models: { url: string; label: string }[];
}

/** The site's `models/index.json`, or undefined where the host has none (a static host of `dist` without it). */
export async function readModelsIndex(url = 'models/index.json'): Promise<ModelsIndex | undefined> {
  try {
    const response = await fetch(new URL(url, document.baseURI), { cache: 'no-store' });
    if (!response.ok) return undefined;
    const index = (await response.json()) as ModelsIndex;
    if (typeof index?.default !== 'string' || !Array.isArray(index.models)) return undefined;
    return index;
  } catch {
    return undefined;
  }
}
