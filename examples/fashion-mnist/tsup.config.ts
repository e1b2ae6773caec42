import { defineConfig } from 'tsup';

// tfjs-core is bundled from its ESM sources: its gradient registrations (dist/register_all_gradients.js) use
// extensionless imports that Node cannot load directly. Our packages and the wasm backend are bundled with it (one
// tfjs-core engine, one kernel registry); ours from their sources (tsconfig paths), so the experiment runs the
// working tree's loss without a build of core and tfjs.
export default defineConfig({
  entry: ['src/experiment.ts', 'src/report.ts', 'src/bonus-floor.ts'],
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: true,
  noExternal: [/^@tensorflow\//, /^@encouraging-loss\//],
  // tfjs's node platform code calls require('util') and the wasm loader reads __dirname; give the ESM bundle both.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);\nimport { fileURLToPath as __fileURLToPath } from 'node:url';\nconst __filename = __fileURLToPath(import.meta.url);\nconst __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
  },
});
