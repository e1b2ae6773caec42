// `pnpm create-backend <name> [--peer <package>@<range>]`: writes packages/<name>, a backend package for
// @encouraging-loss/<name> that passes its conformance suite once the TensorOps in src/<name>-ops.ts are filled in,
// and registers it: the changesets `fixed` group, an initial changeset and a row in the root README's package table.
// The walk-through is docs/writing-a-backend.md; scripts/create-backend.test.ts generates one over core's
// typed-array ops and runs its suite.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspace = join(dirname(fileURLToPath(import.meta.url)), '..');
const repository = 'https://github.com/encouraging-loss/encouraging-loss';

const camel = (name) => name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

function packageJson(name, peer) {
  const core = JSON.parse(readFileSync(join(workspace, 'packages', 'core', 'package.json'), 'utf8'));
  const devDependencies = {
    '@arethetypeswrong/cli': core.devDependencies['@arethetypeswrong/cli'],
    '@encouraging-loss/conformance': 'workspace:^',
    publint: core.devDependencies.publint,
  };
  const manifest = {
    name: `@encouraging-loss/${name}`,
    version: '0.0.0',
    description: `Encouraging Loss (EL) and Conservative EL for ${name}: the loss and its exact gradient from @encouraging-loss/core.`,
    keywords: ['encouraging-loss', name, 'loss-function', 'machine-learning'],
    license: 'MIT',
    author: 'encouraging-loss contributors',
    repository: { type: 'git', url: `git+${repository}.git`, directory: `packages/${name}` },
    homepage: `${repository}/tree/main/packages/${name}#readme`,
    bugs: { url: `${repository}/issues` },
    type: 'module',
    sideEffects: false,
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist', 'src', 'LICENSE', 'README.md', '!src/**/*.test.ts', '!src/**/*.test-d.ts'],
    engines: core.engines,
    publishConfig: { access: 'public' },
    scripts: {
      build: 'tsup',
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
      lint: 'publint --strict && attw --pack --profile esm-only',
    },
    dependencies: { '@encouraging-loss/core': 'workspace:^' },
    ...(peer ? { peerDependencies: { [peer.name]: peer.range } } : {}),
    devDependencies,
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

const files = (name, peer) => {
  const ops = `${camel(name)}Ops`;
  return {
    'package.json': packageJson(name, peer),
    'tsup.config.ts': `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  // Types of the built package point at @encouraging-loss/core's published types, not at its sources.
  dts: { compilerOptions: { paths: {} } },
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
`,
    'tsconfig.json': `${JSON.stringify(
      {
        extends: '../../tsconfig.base.json',
        compilerOptions: {
          paths: {
            '@encouraging-loss/core': ['../core/src/index.ts'],
            '@encouraging-loss/conformance': ['../conformance/src/index.ts'],
          },
        },
        include: ['src', 'vitest.config.ts', 'tsup.config.ts'],
      },
      null,
      2,
    )}\n`,
    'tsconfig.build.json': `${JSON.stringify(
      {
        extends: '../../tsconfig.base.json',
        include: ['src'],
        exclude: ['src/**/*.test.ts', 'src/**/*.test-d.ts'],
      },
      null,
      2,
    )}\n`,
    'vitest.config.ts': `import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run against the workspace's sources of core and the conformance suite, not their builds.
  resolve: {
    alias: {
      '@encouraging-loss/core': fileURLToPath(new URL('../core/src/index.ts', import.meta.url)),
      '@encouraging-loss/conformance': fileURLToPath(new URL('../conformance/src/index.ts', import.meta.url)),
    },
  },
  test: {
    name: '${name}',
    include: ['src/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
`,
    'conformance-expectations.json': `${JSON.stringify({ [name]: {} }, null, 2)}\n`,
    [`src/${name}-ops.ts`]: `import type { InputDescription, TensorOps } from '@encouraging-loss/core';

// Everything framework-specific lives in this file: fill it in (docs/writing-a-backend.md, steps 2 and 3) and the
// conformance suite (src/conformance.test.ts) tells you what is still wrong.

/** The framework's tensor type: replace \`unknown\` (e.g. \`import type { NdArray } from 'ndarray'\`). */
export type Tensor = unknown;

const todo = (what: string): never => {
  throw new Error(\`@encouraging-loss/${name}: \${what} is not implemented yet (src/${name}-ops.ts)\`);
};

/**
 * \`TensorOps<Tensor>\` for ${name}: the primitives core builds the loss from. Elementwise binary ops broadcast
 * (NumPy rules); "last axis" reductions keep the axis; \`oneHot\` gives an all-false row for an index outside
 * [0, K); \`sumLastAxis\` must not lose the tail of K = 32 000 classes (accumulate in float64 or pairwise).
 */
export const ${ops}: TensorOps<Tensor> = {
  specificationVersion: 'v1',
  name: '${name}',
  scalar: () => todo('scalar'),
  intScalar: () => todo('intScalar'),
  vector: () => todo('vector'),
  add: () => todo('add'),
  sub: () => todo('sub'),
  mul: () => todo('mul'),
  div: () => todo('div'),
  maximum: () => todo('maximum'),
  neg: () => todo('neg'),
  abs: () => todo('abs'),
  exp: () => todo('exp'),
  log: () => todo('log'),
  greater: () => todo('greater'),
  equal: () => todo('equal'),
  logicalAnd: () => todo('logicalAnd'),
  logicalNot: () => todo('logicalNot'),
  where: () => todo('where'),
  castLike: () => todo('castLike'),
  maxLastAxis: () => todo('maxLastAxis'),
  sumLastAxis: () => todo('sumLastAxis'),
  sumAll: () => todo('sumAll'),
  expandLastAxis: () => todo('expandLastAxis'),
  squeezeLastAxis: () => todo('squeezeLastAxis'),
  oneHot: () => todo('oneHot'),
  lastAxisSize: () => todo('lastAxisSize'),
};

/** What core's input checks read from a tensor: its shape, dtype name and (on the host) its values. */
export function describeTensor(_tensor: Tensor): InputDescription {
  return todo('describeTensor');
}

/** The dtype names of your framework that core's input checks accept. */
export const dtypes = {
  floatDTypes: ['float32', 'float64'],
  indexDTypes: ['int32', 'int64'],
} as const;

/** A tensor from row-major values: \`'float'\` in your float dtype, \`'int'\` class indices, \`'bool'\` a mask. */
export function fromArray(
  _data: ArrayLike<number>,
  _shape: readonly number[],
  _kind: 'float' | 'int' | 'bool',
): Tensor {
  return todo('fromArray');
}

/** A tensor's values (row-major) and shape. */
export function toArray(_tensor: Tensor): { data: ArrayLike<number>; shape: readonly number[] } {
  return todo('toArray');
}
`,
    'src/encouraging-loss.ts': `import {
  createEncouragingLoss,
  type EncouragingLossOptions,
  type LossComponents,
  type LossWithGrad,
  prepareInput,
  prepareSigmoidInput,
  type SigmoidEncouragingLossOptions,
} from '@encouraging-loss/core';
import { ${ops}, describeTensor, dtypes, type Tensor } from './${name}-ops.js';

// The one definition of the math, bound to this backend's ops; this file only checks inputs and forwards.
const bound = createEncouragingLoss(${ops});

function prepare(logits: Tensor, targets: Tensor, options: EncouragingLossOptions | undefined) {
  const { targetType, options: resolved } = prepareInput(
    describeTensor(logits),
    describeTensor(targets),
    options,
    dtypes,
  );
  return { ...resolved, targetType };
}

/**
 * The Encouraging Loss of \`logits\` \`[...B, K]\` against class indices \`[...B]\` or soft targets \`[...B, K]\`.
 *
 * @throws EncouragingLossError for a bad dtype, shape, option or target.
 */
export function encouragingLoss(logits: Tensor, targets: Tensor, options?: EncouragingLossOptions): Tensor {
  return bound.encouragingLoss(logits, targets, prepare(logits, targets, options));
}

/** The loss and its exact gradient with respect to \`logits\` (the gradient of the sum for \`'none'\`). */
export function encouragingLossWithGrad(
  logits: Tensor,
  targets: Tensor,
  options?: EncouragingLossOptions,
): LossWithGrad<Tensor> {
  return bound.encouragingLossWithGrad(logits, targets, prepare(logits, targets, options));
}

/** The loss with its cross-entropy and bonus parts, reduced alike. */
export function encouragingLossComponents(
  logits: Tensor,
  targets: Tensor,
  options?: EncouragingLossOptions,
): LossComponents<Tensor> {
  return bound.encouragingLossComponents(logits, targets, prepare(logits, targets, options));
}

/** The multi-label (sigmoid) variant and its gradient; targets 0, 1 or \`ignoreIndex\` of the logits' shape. */
export function sigmoidEncouragingLossWithGrad(
  logits: Tensor,
  targets: Tensor,
  options?: SigmoidEncouragingLossOptions,
): LossWithGrad<Tensor> {
  const { options: resolved } = prepareSigmoidInput(describeTensor(logits), describeTensor(targets), options, {
    floatDTypes: dtypes.floatDTypes,
  });
  return bound.sigmoidEncouragingLossWithGrad(logits, targets, resolved);
}
`,
    'src/index.ts': `export {
  encouragingLoss,
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
} from './encouraging-loss.js';
export { ${ops}, type Tensor } from './${name}-ops.js';
`,
    'src/conformance.test.ts': `import { type ConformanceCase, describeConformance } from '@encouraging-loss/conformance';
import expectations from '../conformance-expectations.json' with { type: 'json' };
import {
  encouragingLossComponents,
  encouragingLossWithGrad,
  sigmoidEncouragingLossWithGrad,
} from './encouraging-loss.js';
import { ${ops}, fromArray, type Tensor, toArray } from './${name}-ops.js';

const inputs = ({ logits, targets, targetType }: ConformanceCase) =>
  [
    fromArray(logits.data, logits.shape, 'float'),
    fromArray(targets.data, targets.shape, targetType === 'indices' ? 'int' : 'float'),
  ] as const;

// Expected failures live in conformance-expectations.json (the support matrix is generated from it), each with
// its reason; the list is strict: a listed case that passes fails the run.
describeConformance<Tensor>({
  name: '${name}',
  precision: 'float32', // or 'float64' if the backend computes in float64: it selects the tolerances
  expectedFailures: expectations['${name}'],
  lossWithGrad: (testCase) => {
    const { loss, grad } = encouragingLossWithGrad(...inputs(testCase), testCase.options);
    return { loss: toArray(loss), grad: toArray(grad) };
  },
  components: (testCase) => {
    const out = encouragingLossComponents(...inputs(testCase), testCase.options);
    return { loss: toArray(out.loss), crossEntropy: toArray(out.crossEntropy), bonus: toArray(out.bonus) };
  },
  sigmoidLossWithGrad: ({ logits, targets, options }) => {
    const { loss, grad } = sigmoidEncouragingLossWithGrad(
      fromArray(logits.data, logits.shape, 'float'),
      fromArray(targets.data, targets.shape, 'float'),
      options,
    );
    return { loss: toArray(loss), grad: toArray(grad) };
  },
  ops: { ops: ${ops}, fromArray, toArray },
});
`,
    'README.md': `# @encouraging-loss/${name}

Encouraging Loss (EL) and Conservative EL (Zhao et al., AAAI 2022) for ${name}: the loss and its exact closed-form
gradient from [\`@encouraging-loss/core\`](${repository}/tree/main/packages/core), on ${name}'s tensors.

\`\`\`sh
npm i @encouraging-loss/${name}${peer ? ` ${peer.name}` : ''}
\`\`\`

ESM-only: \`import\` it (\`require()\` works too on Node ^20.19 and ≥ 22.12).

## API

- \`encouragingLoss(logits, targets, options?)\`, \`encouragingLossWithGrad(...)\` → \`{ loss, grad }\`,
  \`encouragingLossComponents(...)\` → \`{ loss, crossEntropy, bonus }\`, \`sigmoidEncouragingLossWithGrad(...)\`.
- \`${ops}\`: \`TensorOps\` for \`createEncouragingLoss\` from the core.

Options are the core's (\`logEnd\`, \`bonusWeight\`, \`labelSmoothing\`, \`ignoreIndex\`, \`reduction\`, \`classWeights\`,
\`numerics\`, \`input\`); bad input throws \`EncouragingLossError\` with a \`code\`. Conformance: see the
[support matrix](${repository}/blob/main/docs/support-matrix.md).
`,
  };
};

/**
 * Writes packages/<name> (or `packageDir`) and registers the package under `root` (the changesets `fixed` group, an
 * initial changeset, a row in README.md). Returns the paths it wrote.
 */
export function createBackend({ name, peer, root = workspace, packageDir = join(root, 'packages', name) }) {
  if (!/^[a-z][a-z0-9-]*$/.test(name ?? '')) {
    throw new Error(
      `The backend name must be an npm name without the scope (kebab-case), got ${String(name)}.`,
    );
  }
  if (existsSync(packageDir)) throw new Error(`${packageDir} exists already.`);
  const written = [];
  for (const [file, text] of Object.entries(files(name, peer))) {
    const path = join(packageDir, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(path);
  }
  copyFileSync(join(workspace, 'LICENSE'), join(packageDir, 'LICENSE'));
  written.push(join(packageDir, 'LICENSE'));

  // Released with core and the other adapters during 0.x.
  const configPath = join(root, '.changeset', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  const group = config.fixed.find((g) => g.includes('@encouraging-loss/core'));
  if (!group.includes(`@encouraging-loss/${name}`)) group.push(`@encouraging-loss/${name}`);
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const changeset = join(root, '.changeset', `${name}-initial.md`);
  writeFileSync(
    changeset,
    `---\n"@encouraging-loss/${name}": minor\n---\n\nFirst release: Encouraging Loss and Conservative EL for ${name}, over the core's TensorOps.\n`,
  );
  written.push(configPath, changeset);

  // The root README's package table: a row after the last packages/ row.
  const readmePath = join(root, 'README.md');
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const last = lines.findLastIndex((line) => line.startsWith('| [packages/'));
  if (last >= 0 && !lines.some((line) => line.startsWith(`| [packages/${name}]`))) {
    lines.splice(
      last + 1,
      0,
      `| [packages/${name}](packages/${name}) | \`@encouraging-loss/${name}\` | ${peer ? `\`${peer.name}\` ${peer.range}` : '—'} | Encouraging Loss on ${name} tensors |`,
    );
    writeFileSync(readmePath, lines.join('\n'));
    written.push(readmePath);
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, ...rest] = process.argv.slice(2);
  const peerIndex = rest.indexOf('--peer');
  let peer;
  if (peerIndex >= 0) {
    const spec = rest[peerIndex + 1] ?? '';
    const at = spec.lastIndexOf('@');
    if (at <= 0) throw new Error(`--peer wants <package>@<range>, got ${spec}`);
    peer = { name: spec.slice(0, at), range: spec.slice(at + 1) };
  }
  try {
    const written = createBackend({ name, peer });
    console.log(`wrote\n${written.map((p) => `  ${p.slice(workspace.length + 1)}`).join('\n')}`);
    console.log(
      `\nnext: pnpm install, fill in packages/${name}/src/${name}-ops.ts, then\n  npx vitest run --project ${name}\n(docs/writing-a-backend.md walks through it)`,
    );
  } catch (error) {
    console.error(String(error instanceof Error ? error.message : error));
    process.exit(1);
  }
}
