import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // vitest and fast-check are the suite's runtime; core is a dependency, never bundled.
  external: ['vitest', '@encouraging-loss/core'],
});
