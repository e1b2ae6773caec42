import { defineConfig } from 'tsup';

// The CLI is bundled with tfjs-core's ESM sources: its gradient registrations (dist/register_all_gradients.js)
// use extensionless imports that Node cannot load directly. The wasm backend is bundled too (one tfjs-core
// engine) and finds its .wasm files in the installed package at run time.
export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: true,
  // The tfjs adapter and the translate library are bundled too: it must share the bundle's tfjs-core (one engine, one kernel registry).
  noExternal: [/^@tensorflow\//, /^@encouraging-loss\/(tfjs|translate)(\/|$)/],
  // tfjs's node platform code calls require('util') and the wasm loader reads __dirname; give the ESM bundle both.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);\nimport { fileURLToPath as __fileURLToPath } from 'node:url';\nconst __filename = __fileURLToPath(import.meta.url);\nconst __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
  },
});
