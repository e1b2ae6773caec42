import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assertAllClose,
  referenceEncouragingLoss,
  roundTo,
  seededRandom,
  tolerancesFor,
} from '@encouraging-loss/conformance';
import { isEncouragingLossError } from '@encouraging-loss/core';
import { describe, expect, it } from 'vitest';
import { EncouragingLossSession as RuntimeFreeSession } from './session-entry.js';
import { int64, ort } from './test-utils.js';
import { EncouragingLossSession } from './web-session.js';

// onnxruntime-node: CommonJS, its CPU binary inside the package. Injected as it is, namespace and all.
const ortNode = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-node');
const tolerance = tolerancesFor('float32');
const K = 5;

function batch(rows: number, seed: number) {
  const random = seededRandom(seed);
  const logits = roundTo(
    Array.from({ length: rows * K }, () => 6 * (2 * random() - 1)),
    'float32',
  );
  const targets = Int32Array.from({ length: rows }, (_, i) => (i === 1 ? -100 : (i * 2) % K));
  return { logits, targets };
}

describe('the runtime is injected', () => {
  it('a session from the runtime-free entry runs on onnxruntime-node and returns its tensors', async () => {
    const { logits, targets } = batch(6, 4);
    const session = await RuntimeFreeSession.create({ logEnd: 0.5, labelSmoothing: 0.1 }, {}, ortNode);
    expect(session.runtime).toBe(ortNode);
    const { loss, grad } = await session.run(
      new ortNode.Tensor('float32', Float32Array.from(logits), [6, K]),
      new ortNode.Tensor('int64', int64(targets), [6]),
    );
    expect(loss).toBeInstanceOf(ortNode.Tensor);
    const reference = referenceEncouragingLoss(
      { data: logits, shape: [6, K] },
      { data: targets, shape: [6] },
      'indices',
      { logEnd: 0.5, labelSmoothing: 0.1 },
    );
    assertAllClose(Array.from(loss.data as Float32Array), reference.loss, tolerance, 'loss');
    assertAllClose(Array.from(grad.data as Float32Array), reference.grad, tolerance, 'grad');
    await session.release();
  });

  it("the main entry's session takes onnxruntime-node too, and tensors of onnxruntime-web as inputs", async () => {
    const { logits, targets } = batch(3, 9);
    const session = await EncouragingLossSession.create({ logEnd: 1, reduction: 'none' }, {}, ortNode);
    expect(session).toBeInstanceOf(EncouragingLossSession);
    const { loss, grad } = await session.run(
      new ort.Tensor('float32', Float32Array.from(logits), [3, K]),
      new ort.Tensor('int32', targets, [3]),
    );
    expect(loss).toBeInstanceOf(ortNode.Tensor);
    const reference = referenceEncouragingLoss(
      { data: logits, shape: [3, K] },
      { data: targets, shape: [3] },
      'indices',
      { logEnd: 1, reduction: 'none' },
    );
    assertAllClose(Array.from(loss.data as Float32Array), reference.loss, tolerance, 'loss');
    assertAllClose(Array.from(grad.data as Float32Array), reference.grad, tolerance, 'grad');
    await session.release();
  });

  it('defaults to onnxruntime-web in the main entry', async () => {
    const session = await EncouragingLossSession.create({}, { executionProviders: ['wasm'] });
    expect(session.runtime).toBe(ort);
    await session.release();
  });

  it('something that is not a runtime is INVALID_OPTION', async () => {
    for (const runtime of [undefined, {}, { Tensor: ortNode.Tensor }]) {
      const error = await RuntimeFreeSession.create({}, {}, runtime as unknown as typeof ortNode).catch(
        (e: unknown) => e,
      );
      expect(isEncouragingLossError(error) && error.code).toBe('INVALID_OPTION');
      expect((error as Error).message).toMatch(/InferenceSession and Tensor/);
    }
  });
});

describe('entries', () => {
  const src = dirname(fileURLToPath(import.meta.url));
  // Every module an entry reaches through relative imports, and the bare packages they import.
  function packagesReachedFrom(entry: string): Set<string> {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(src, file), 'utf8');
      for (const [, type, specifier] of text.matchAll(
        /^(?:import|export)(\s+type)?[^'"]*?from\s+'([^']+)'/gms,
      )) {
        if (type) continue; // erased at build time
        if (specifier.startsWith('./')) visit(specifier.slice(2).replace(/\.js$/, '.ts'));
        else packages.add(specifier);
      }
    };
    visit(entry);
    return packages;
  }

  it('the graph and session entries import no ONNX Runtime', () => {
    for (const entry of ['graph.ts', 'session-entry.ts']) {
      const packages = [...packagesReachedFrom(entry)];
      expect(
        packages.filter((p) => p.startsWith('onnxruntime')),
        entry,
      ).toEqual([]);
      expect(packages.length, entry).toBeGreaterThan(0);
    }
    expect([...packagesReachedFrom('index.ts')]).toContain('onnxruntime-web');
  });

  it('package.json exports every entry tsup builds', () => {
    const pkg = JSON.parse(readFileSync(join(src, '..', 'package.json'), 'utf8'));
    expect(Object.keys(pkg.exports)).toEqual(['.', './graph', './session', './package.json']);
  });
});
