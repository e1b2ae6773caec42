// Bundles a bench entry with tsup (tfjs and the workspace packages from their sources, as the CLI bundles them) into
// node_modules/.cache/<name>, and returns the bundle's file URL. Used by run-speed.mjs and lora-bench-run.mjs.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = `${root}../../packages`;

/** Builds `bench/<file>.ts` and returns the URL of its bundle. */
export async function buildBench(file) {
  const outDir = `${root}node_modules/.cache/${file}`;
  await build({
    entry: [`${root}bench/${file}.ts`],
    outDir,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    clean: true,
    silent: true,
    config: false,
    noExternal: [/^@tensorflow\//, /^@encouraging-loss\//],
    external: [
      'playwright-core',
      '@xenova/transformers',
      '@huggingface/transformers',
      'onnxruntime-web',
      'typescript',
    ],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);\nimport { fileURLToPath as __fileURLToPath } from 'node:url';\nconst __filename = __fileURLToPath(import.meta.url);\nconst __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    },
    esbuildOptions(options) {
      // The packages from their source (a folder alias also maps subpaths: /node → src/node.ts, /graph → src/graph.ts).
      options.alias = {
        '@encouraging-loss/translate': `${packages}/translate/src`,
        '@encouraging-loss/core': `${packages}/core/src`,
        '@encouraging-loss/tfjs': `${packages}/tfjs/src`,
        '@encouraging-loss/onnxruntime-web': `${packages}/onnxruntime-web/src`,
      };
    },
  });
  return pathToFileURL(`${outDir}/${file}.js`).href;
}
