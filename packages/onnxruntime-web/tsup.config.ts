import { defineConfig } from 'tsup';

export default defineConfig({
  // The main entry imports onnxruntime-web; `graph` and `session` import no runtime.
  entry: { index: 'src/index.ts', graph: 'src/graph.ts', session: 'src/session-entry.ts' },
  format: ['esm'],
  dts: { compilerOptions: { paths: {} } },
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
