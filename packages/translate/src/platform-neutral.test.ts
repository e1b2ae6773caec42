import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the main entry', () => {
  it('bundles for the browser as is: no node: import anywhere it reaches', async () => {
    const result = await build({
      entryPoints: [new URL('./index.ts', import.meta.url).pathname],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
      alias: { '@encouraging-loss/core': new URL('../../core/src/index.ts', import.meta.url).pathname },
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((file) => file.endsWith('store/model-store.ts'))).toBe(true);
    for (const file of inputs) expect(readFileSync(file, 'utf8')).not.toMatch(/from ['"]node:/);
    expect(result.outputFiles[0].text).not.toMatch(/\bnode:/);
  });
});
