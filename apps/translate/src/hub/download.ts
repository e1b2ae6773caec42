import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type HubContext,
  HubError,
  hubAuthHeaders,
  hubErrorFor,
  hubFetch,
  normalizeHubEtag,
} from '@encouraging-loss/translate';

/** Where and what a file of a revision is, from the `HEAD` of its `/resolve/` URL. */
export interface HubFileMetadata {
  /** The blob name: sha256 for an LFS file (`X-Linked-Etag`), the git blob sha1 otherwise (`ETag`). */
  etag: string;
  /** Size in bytes (`X-Linked-Size`, else `Content-Length`), when the server says. */
  size?: number;
  /** `X-Repo-Commit`. */
  commit?: string;
  /** URL of the bytes: the CDN location of an LFS file, else the `/resolve/` URL. */
  location: string;
}

/**
 * `HEAD`s a file's `/resolve/` URL without following the LFS redirect (a renamed repository's same-origin redirect is
 * followed), and reads its ETag, size, commit and download location as `huggingface_hub` does.
 */
export async function fileMetadata(context: HubContext, url: string, file: string): Promise<HubFileMetadata> {
  let current = url;
  for (let hop = 0; hop < 6; hop++) {
    const response = await hubFetch(context, current, {
      method: 'HEAD',
      redirect: 'manual',
      headers: { ...hubAuthHeaders(context, current), 'accept-encoding': 'identity' },
    });
    const linkedEtag = response.headers.get('x-linked-etag');
    const location = response.headers.get('location');
    const isRedirect = response.status >= 300 && response.status < 400 && location !== null;
    if (isRedirect && !linkedEtag && new URL(location, current).origin === new URL(current).origin) {
      current = new URL(location, current).href;
      continue;
    }
    if (!isRedirect && !response.ok) {
      throw hubErrorFor(context, {
        status: response.status,
        errorCode: response.headers.get('x-error-code'),
        url: current,
        file,
      });
    }
    const etag = normalizeHubEtag(linkedEtag ?? response.headers.get('etag'));
    if (!etag || !/^[\w.-]+$/.test(etag)) {
      throw hubErrorFor(context, {
        status: response.status,
        message: `no usable ETag for '${file}'`,
        url: current,
      });
    }
    const size = Number(
      response.headers.get('x-linked-size') ?? response.headers.get('content-length') ?? Number.NaN,
    );
    return {
      etag,
      ...(Number.isSafeInteger(size) && (linkedEtag || !isRedirect) ? { size } : {}),
      ...(response.headers.get('x-repo-commit')
        ? { commit: response.headers.get('x-repo-commit') as string }
        : {}),
      location: isRedirect ? new URL(location, current).href : current,
    };
  }
  throw hubErrorFor(context, { status: 310, message: 'too many redirects', url });
}

/**
 * The hash a blob must have to match its ETag: sha256 of the bytes for a 64-hex ETag (LFS), sha1 of
 * `blob {size}\0` + the bytes for a 40-hex one (a git blob id), none otherwise (only the size is checked).
 */
function expectedHash(etag: string, size: number | undefined): { name: string; hash: Hash } | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return { name: 'sha256', hash: createHash('sha256') };
  if (/^[0-9a-f]{40}$/.test(etag) && size !== undefined) {
    return { name: 'git sha1', hash: createHash('sha1').update(`blob ${size}\0`) };
  }
  return undefined;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** A blob to download: `metadata.location` → `blobPath` (`blobs/{etag}`). */
export interface BlobDownload {
  file: string;
  metadata: HubFileMetadata;
  blobPath: string;
  /** Bytes written so far (a resumed download starts at the `.incomplete` file's size) and the total. */
  onProgress?: (bytes: number, total: number | undefined) => void;
}

/**
 * Downloads a blob into `{blobPath}.incomplete`, continuing an existing one with a `Range` request, checks its size
 * and hash against the ETag, then renames it to `blobPath`. A failed transfer keeps the `.incomplete` file for the
 * next run to continue; bytes that do not match are deleted.
 */
export async function downloadBlob(context: HubContext, download: BlobDownload): Promise<void> {
  const { file, metadata, blobPath } = download;
  const { etag, size, location } = metadata;
  const incomplete = `${blobPath}.incomplete`;
  await mkdir(dirname(blobPath), { recursive: true });
  let offset = await fileSize(incomplete);
  if (size !== undefined && offset > size) offset = 0;
  let response: Response | undefined;
  if (size === undefined || offset < size) {
    response = await hubFetch(context, location, {
      headers: {
        ...hubAuthHeaders(context, location),
        'accept-encoding': 'identity',
        ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
      },
    });
    if (response.status === 206) {
      const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
      if (!start || Number(start[1]) !== offset) {
        await response.body?.cancel();
        throw hubErrorFor(context, {
          status: 206,
          message: `a range answer not starting at ${offset}`,
          url: location,
        });
      }
    } else if (response.status === 200) {
      offset = 0;
    } else if (!(response.status === 416 && offset > 0)) {
      await response.body?.cancel();
      throw hubErrorFor(context, {
        status: response.status,
        errorCode: response.headers.get('x-error-code'),
        url: location,
        file,
      });
    }
  }

  const expected = expectedHash(etag, size);
  if (offset > 0 && expected) {
    for await (const chunk of createReadStream(incomplete, { end: offset - 1 })) expected.hash.update(chunk);
  }
  let bytes = offset;
  download.onProgress?.(bytes, size);
  if (response?.body && response.status !== 416) {
    const handle = await open(incomplete, offset > 0 ? 'a' : 'w');
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await handle.write(value);
        expected?.hash.update(value);
        bytes += value.length;
        download.onProgress?.(bytes, size);
      }
      await handle.sync();
    } catch (error) {
      if (context.signal?.aborted) throw error;
      throw new HubError(
        'NETWORK',
        context.repo,
        `download of '${file}' from '${context.repo}' stopped at ${bytes} of ${size ?? '?'} bytes ` +
          `(${(error as Error).message}); run again to continue it`,
      );
    } finally {
      await handle.close();
    }
  }

  if (size !== undefined && bytes < size) {
    throw new HubError(
      'NETWORK',
      context.repo,
      `download of '${file}' from '${context.repo}' ended at ${bytes} of ${size} bytes; run again to continue it`,
    );
  }
  const actual = expected?.hash.digest('hex');
  if ((size !== undefined && bytes > size) || (actual !== undefined && actual !== etag)) {
    await rm(incomplete, { force: true });
    const found = actual !== undefined && actual !== etag ? `${expected?.name} ${actual}` : `${bytes} bytes`;
    const wanted = actual !== undefined && actual !== etag ? etag : `${size} bytes`;
    throw new HubError(
      'CHECKSUM_MISMATCH',
      context.repo,
      `'${file}' of '${context.repo}' does not match the Hub's checksum: got ${found}, expected ${wanted}; ` +
        'the download was deleted, run again to fetch it anew',
    );
  }
  await rename(incomplete, blobPath);
}
