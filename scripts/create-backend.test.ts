import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without types
import { createBackend } from './create-backend.mjs';

const workspace = fileURLToPath(new URL('..', import.meta.url));
const name = 'typed-test';
// Inside the workspace (the generated configs point at ../core and ../conformance), in a dot-folder that the
// `packages/*` globs of pnpm, vitest and turbo do not match.
const packageDir = join(workspace, 'packages', `.create-backend-test-${process.pid}`);
// The registration edits go to copies of the files they touch.
const registry = mkdtempSync(join(tmpdir(), 'create-backend-'));
mkdirSync(join(registry, '.changeset'));
cpSync(join(workspace, '.changeset', 'config.json'), join(registry, '.changeset', 'config.json'));
cpSync(join(workspace, 'README.md'), join(registry, 'README.md'));

afterAll(() => {
  rmSync(packageDir, { recursive: true, force: true });
  rmSync(registry, { recursive: true, force: true });
});

const node = (args: string[]) =>
  spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', timeout: 900_000 });
const tsc = () => node([join(workspace, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']);

// What a backend author writes into src/<name>-ops.ts; here the "framework" is core's typed arrays (float32).
const filledOps = `import {
  type ArrayTensor,
  arrayTensor,
  type InputDescription,
  type TensorOps,
  typedArrayOps,
} from '@encouraging-loss/core';

export type Tensor = ArrayTensor;

export const typedTestOps: TensorOps<Tensor> = { ...typedArrayOps, name: 'typed-test' };

export function describeTensor(tensor: Tensor): InputDescription {
  return { shape: tensor.shape, dtype: tensor.dtype, read: () => tensor.data };
}

export const dtypes = { floatDTypes: ['float32'], indexDTypes: ['int32'] } as const;

export function fromArray(data: ArrayLike<number>, shape: readonly number[], kind: 'float' | 'int' | 'bool'): Tensor {
  return arrayTensor(data, shape, kind === 'float' ? 'float32' : kind === 'int' ? 'int32' : 'bool');
}

export function toArray(tensor: Tensor): { data: ArrayLike<number>; shape: readonly number[] } {
  return { data: tensor.data, shape: tensor.shape };
}
`;

describe('pnpm create-backend', () => {
  it('writes a package that type-checks, registers it, and passes its conformance suite once the ops are filled in', () => {
    createBackend({ name, packageDir, root: registry, peer: { name: 'ndarray', range: '^1.0.0' } });

    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      name: '@encouraging-loss/typed-test',
      peerDependencies: { ndarray: '^1.0.0' },
      repository: { directory: 'packages/typed-test' },
      dependencies: { '@encouraging-loss/core': 'workspace:^' },
    });
    const config = JSON.parse(readFileSync(join(registry, '.changeset', 'config.json'), 'utf8'));
    expect(config.fixed[0]).toContain('@encouraging-loss/typed-test');
    expect(readFileSync(join(registry, '.changeset', 'typed-test-initial.md'), 'utf8')).toMatch(
      /"@encouraging-loss\/typed-test": minor/,
    );
    const rows = readFileSync(join(registry, 'README.md'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('| [packages/'));
    expect(rows.findIndex((r) => r.startsWith('| [packages/typed-test]'))).toBe(
      rows.findIndex((r) => r.startsWith('| [packages/onnxruntime-web]')) + 1,
    );

    // The skeleton type-checks as generated, and its suite fails on the unfilled ops, naming the file to edit.
    const skeleton = tsc();
    expect(skeleton.stdout + skeleton.stderr).toBe('');
    expect(skeleton.status).toBe(0);

    writeFileSync(join(packageDir, 'src', `${name}-ops.ts`), filledOps);
    const filled = tsc();
    expect(filled.stdout + filled.stderr).toBe('');

    const report = join(registry, 'report.json');
    const run = node([
      join(workspace, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--root',
      '.',
      '--reporter=json',
      `--outputFile=${report}`,
    ]);
    const result = JSON.parse(readFileSync(report, 'utf8'));
    expect(result.numFailedTests, run.stdout.slice(-2000) + run.stderr.slice(-2000)).toBe(0);
    expect(run.status).toBe(0);
    const titles: string[] = result.testResults.flatMap(
      (file: { assertionResults: { fullName: string }[] }) => file.assertionResults.map((a) => a.fullName),
    );
    // Wired, not skipped: components, the sigmoid variant and the primitive cases ran.
    for (const group of ['components', 'sigmoid', 'primitives', 'large vocabulary']) {
      expect(titles.filter((t) => t.includes(` ${group} `)).length, group).toBeGreaterThan(0);
    }
    expect(result.numPassedTests).toBeGreaterThan(250);
  });
});
