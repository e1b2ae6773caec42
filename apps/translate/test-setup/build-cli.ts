import { renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

/**
 * Builds the CLI once for the tests that run it as a child process (SIGKILL/resume, end to end), with core
 * and the tfjs adapter bundled from their sources so the tests do not depend on a prior `pnpm build`.
 */
export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // Built beside the final folder and renamed into place: a second vitest run started meanwhile keeps the old CLI.
  const outDir = `${root}node_modules/.cache/el-translate-test`;
  const building = `${outDir}.${process.pid}`;
  await build({
    config: fileURLToPath(new URL('../tsup.config.ts', import.meta.url)),
    entry: [`${root}src/cli.ts`],
    outDir: building,
    clean: true,
    silent: true,
    sourcemap: false,
    noExternal: [/^@tensorflow\//, /^@encouraging-loss\//],
    // Run from the repository root, tsup does not see this package's dependencies: keep transformers.js (and
    // through it `sharp`, which only resolves from its own install) external.
    external: ['@huggingface/transformers', '@xenova/transformers'],
    esbuildOptions(options) {
      options.alias = {
        '@encouraging-loss/translate/node': `${root}../../packages/translate/src/node.ts`,
        '@encouraging-loss/translate': `${root}../../packages/translate/src/index.ts`,
        '@encouraging-loss/core': `${root}../../packages/core/src/index.ts`,
        '@encouraging-loss/tfjs': `${root}../../packages/tfjs/src/index.ts`,
        '@encouraging-loss/onnxruntime-web/graph': `${root}../../packages/onnxruntime-web/src/graph.ts`,
        '@encouraging-loss/onnxruntime-web': `${root}../../packages/onnxruntime-web/src/index.ts`,
      };
    },
  });
  rmSync(outDir, { recursive: true, force: true });
  renameSync(building, outDir);
}
