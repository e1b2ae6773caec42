import type { Server } from 'node:http';

export { CROSS_ORIGIN_ISOLATION, serveStatic } from '../../../scripts/static-server.mjs';

/** What `el-translate export` writes and the Translate view loads. */
export declare const EXPORTED_FILES: readonly string[];

/** The files of {@link EXPORTED_FILES} that `dir` lacks. */
export declare function missingExportFiles(dir: string): string[];

/** A model folder served beside the site: its URL on the site, a line about it, and its folder on disk. */
export interface ServedModel {
  url: string;
  label: string;
  dir: string;
}

/** The model folders to serve (`--model`, else the newest `pnpm start` export, else the bundled demo). */
export declare function chooseModels(options: { site: string; model?: string; runs?: string }): {
  mounts: Record<string, string>;
  models: ServedModel[];
  index: { default: string; models: { url: string; label: string }[] };
};

/** Parses the command line, chooses the models and starts the server. */
export declare function startPlayground(
  argv: string[],
  options?: { cwd?: string; runs?: string },
): Promise<
  | { server: Server; url: string; models: ServedModel[]; usage?: undefined }
  | { usage: string; server?: undefined; url?: undefined; models?: undefined }
>;
