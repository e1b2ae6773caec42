import { defineConfig } from 'tsup';

export default defineConfig({
  // The main entry is platform-neutral (no `node:` import: checked by src/platform-neutral.test.ts); `/node`
  // adds what only Node has.
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm'],
  dts: { compilerOptions: { paths: {} } },
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
