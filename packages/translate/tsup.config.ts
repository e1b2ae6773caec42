import { defineConfig } from 'tsup';

export default defineConfig({
  // The main entry is platform-neutral (no `node:` import: checked by src/platform-neutral.test.ts); `/node`
  // adds what only Node has.
  entry: ['src/index.ts', 'src/node.ts'],
  // tfjs-core registers no gradients itself, and its ESM gradient files import without extensions, which Node
  // cannot load: they are bundled (tfjs-core keeps its engine and registries on the global object, so the copy
  // registers into the one engine of the installed tfjs-core).
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  format: ['esm'],
  dts: { compilerOptions: { paths: {} } },
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
