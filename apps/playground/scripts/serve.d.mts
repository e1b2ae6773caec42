import type { Server } from 'node:http';

/** Serves `mounts` (URL prefix → folder) on 127.0.0.1; resolves once listening. */
export function serveStatic(
  mounts: Record<string, string>,
  options?: { port?: number; host?: string },
): Promise<{ server: Server; url: string }>;
