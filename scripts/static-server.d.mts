import type { Server } from 'node:http';

/** The only address the server listens on. */
export declare const HOST: '127.0.0.1';

/** The decoded path of a request target, or the status (400 malformed, 403 traversal) that refuses it. */
export declare function requestPath(
  target: string | undefined,
): { path: string; status?: undefined } | { path?: undefined; status: 400 | 403 };

/** COOP `same-origin` + COEP `require-corp`: the headers that make a page cross-origin isolated. */
export declare const CROSS_ORIGIN_ISOLATION: Readonly<Record<string, string>>;

/** Serves `mounts` (URL prefix → folder) and `options.files` (exact path → body) on 127.0.0.1; resolves once listening. */
export declare function serveStatic(
  mounts: Record<string, string>,
  options?: {
    port?: number;
    files?: Record<string, { body: string | Uint8Array; type?: string }>;
    /** Sent with every response (e.g. {@link CROSS_ORIGIN_ISOLATION}). */
    headers?: Record<string, string>;
  },
): Promise<{ server: Server; url: string }>;
