import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const source = (path: string) => new URL(path, import.meta.url).pathname;

describe('the main entry', () => {
  it('bundles for the browser as is: no node: import anywhere it reaches', async () => {
    const result = await build({
      entryPoints: [source('./index.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
      alias: {
        '@encouraging-loss/core': source('../../core/src/index.ts'),
        '@encouraging-loss/tfjs': source('../../tfjs/src/index.ts'),
        '@encouraging-loss/onnxruntime-web/graph': source('../../onnxruntime-web/src/graph.ts'),
        '@encouraging-loss/onnxruntime-web': source('../../onnxruntime-web/src/index.ts'),
      },
    });
    // esbuild lists the Node-only files a package's `browser` field disables as `(disabled):…`: not bundled.
    const inputs = Object.keys(result.metafile.inputs).filter((file) => !file.startsWith('(disabled):'));
    for (const reached of ['store/model-store.ts', 'training/fine-tune.ts', 'models/m2m100/modeling.ts']) {
      expect(inputs.some((file) => file.endsWith(reached))).toBe(true);
    }
    const importsNode = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']node:/;
    for (const file of inputs) expect(readFileSync(file, 'utf8'), file).not.toMatch(importsNode);
    expect(result.outputFiles[0].text).not.toMatch(importsNode);
  });
});
