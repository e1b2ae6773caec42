// Types of assemble-wasm.mjs, for the TypeScript tests that import it.

/** A module's two builds as base64: importing an unshared and a shared memory. */
export interface EncodedVariants {
  unshared: string;
  shared: string;
}

export const MEMORY_IMPORTS: { unshared: string; shared: string };
export function assembleVariants(name: string, source: string): EncodedVariants;
export function assembleWatFile(name: string): EncodedVariants;
export function bytesFile(options: {
  header: string;
  what: string;
  constant: string;
  encoded: EncodedVariants;
}): string;
export function writeOrCheck(targets: [URL, string][], script: string): void;
