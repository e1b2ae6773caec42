/**
 * Fuzz/property tests of the checkpoint readers over mutations of the real fixtures (opus-mt-tiny, written by
 * torch and by hand in the safetensors layout): bytes set, flipped, inserted, deleted, truncated, length and
 * offset fields patched, safetensors headers mutated as JSON, pickles edited and repacked. Every case must end in
 * a value that is consistent (each tensor's data has the element count of its shape) or in `INVALID_DATA` naming
 * the file; anything else (TypeError, RangeError, stack overflow) fails. Allocation bound per case, measured as the
 * growth of `process.memoryUsage().arrayBuffers` across it: 4 MiB + 8 × the input's bytes (the readers' own
 * budgets are 4 × storage + 1 MiB for pytorch_model.bin, 2 × for safetensors' F16/BF16 upcast).
 *
 * Runs: the `fuzzParameters` counts below in normal runs (fixed seeds); `EL_FUZZ_RUNS=n` (`pnpm fuzz`) runs n each.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  applyEdits,
  byteEdits,
  bytesOf,
  collectGarbage,
  fuzzParameters,
  outcome,
  storedZip,
} from '../../test/checkpoint-builders.js';
import { readPickle } from './pickle.js';
import { readPytorchBin } from './pytorch-bin.js';
import { type NamedTensor, readSafetensors } from './safetensors.js';
import { readZip } from './zip.js';

const read = (path: string) =>
  new Uint8Array(readFileSync(fileURLToPath(new URL(`../../fixtures/${path}`, import.meta.url))));
const MiB = 2 ** 20;
const bound = (bytes: Uint8Array) => 4 * MiB + 8 * bytes.length;

/** A read value must be self-consistent: every tensor holds exactly the elements of its shape. */
function checkTensors(tensors: Map<string, NamedTensor>): void {
  for (const [name, tensor] of tensors) {
    expect(
      tensor.shape.every((size) => Number.isSafeInteger(size) && size >= 0),
      name,
    ).toBe(true);
    expect(tensor.data.length, name).toBe(tensor.shape.reduce((a, b) => a * b, 1));
  }
}

/** Collects garbage every `every` cases, so one case's growth is not hidden by a collection of earlier ones. */
function periodicCollect(every = 50) {
  let cases = 0;
  return () => {
    if (++cases % every === 0) collectGarbage();
  };
}

describe('safetensors', () => {
  const original = read('opus-mt-tiny/model.safetensors');
  const headerLength = Number(new DataView(original.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(original.subarray(8, 8 + headerLength))) as Record<
    string,
    unknown
  >;
  const data = original.subarray(8 + headerLength);
  const names = Object.keys(header).filter((name) => name !== '__metadata__');

  test('byte edits, mostly in the header: INVALID_DATA or a consistent value', () => {
    const tick = periodicCollect();
    fc.assert(
      fc.property(byteEdits(original.length, [[0, 8 + headerLength]]), (edits) => {
        tick();
        const bytes = applyEdits(original, edits);
        const result = outcome(
          'model.safetensors',
          () => readSafetensors(bytes, 'model.safetensors'),
          bound(bytes),
        );
        if (result.ok) checkTensors(result.value.tensors);
      }),
      fuzzParameters(300, 1),
    );
  });

  test('structured header mutations (wrong types, offsets, shapes, dtypes, lengths): INVALID_DATA or consistent', () => {
    const hostileValue = fc.oneof(
      fc.constantFrom(
        null,
        -1,
        0,
        1,
        1.5,
        2 ** 31,
        2 ** 53,
        2 ** 64,
        'F32',
        'F64',
        'BF16',
        'I64',
        'U8',
        'BOOL',
        '',
        true,
      ),
      fc.constantFrom(
        [],
        [0],
        [0, 0],
        [1, 2, 3],
        [-8, 8],
        [0, 2 ** 53],
        [2 ** 40, 2 ** 40],
        [[1]],
        {},
        { dtype: 'F32' },
      ),
      fc.array(fc.oneof(fc.nat(4096), fc.integer({ min: -5, max: 5 }), fc.double()), { maxLength: 4 }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('field' as const),
        tensor: fc.nat(),
        field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra'),
        value: hostileValue,
      }),
      fc.record({ kind: fc.constant('entry' as const), tensor: fc.nat(), value: hostileValue }),
      fc.record({ kind: fc.constant('delete' as const), tensor: fc.nat() }),
      fc.record({ kind: fc.constant('swap' as const), tensor: fc.nat(), other: fc.nat() }),
      fc.record({
        kind: fc.constant('shift' as const),
        tensor: fc.nat(),
        by: fc.integer({ min: -64, max: 64 }),
      }),
      fc.record({ kind: fc.constant('metadata' as const), value: hostileValue }),
      fc.record({ kind: fc.constant('header' as const), value: hostileValue }),
    );
    const lengthLie = fc.oneof(
      fc.constant(0n),
      fc.constant(0n),
      fc.bigInt({ min: -64n, max: 64n }),
      fc.constantFrom(2n ** 32n, 2n ** 63n, 100_000_001n),
    );
    const tick = periodicCollect();
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), lengthLie, (mutations, lie) => {
        tick();
        let mutated: unknown = structuredClone(header);
        for (const m of mutations) {
          const target = mutated as Record<string, unknown>;
          if (m.kind === 'header') {
            mutated = m.value;
            continue;
          }
          if (typeof target !== 'object' || target === null || Array.isArray(target)) continue;
          if (m.kind === 'metadata') {
            target.__metadata__ = m.value;
            continue;
          }
          const name = names[m.tensor % names.length];
          if (m.kind === 'delete') delete target[name];
          else if (m.kind === 'entry') target[name] = m.value;
          else {
            const entry = target[name];
            if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
            const fields = entry as Record<string, unknown>;
            if (m.kind === 'field') fields[m.field] = m.value;
            else if (m.kind === 'swap') {
              const other = target[names[m.other % names.length]] as Record<string, unknown> | null;
              if (other && typeof other === 'object')
                [fields.data_offsets, other.data_offsets] = [other.data_offsets, fields.data_offsets];
            } else if (Array.isArray(fields.data_offsets)) {
              fields.data_offsets = fields.data_offsets.map((v) => (typeof v === 'number' ? v + m.by : v));
            }
          }
        }
        const json = new TextEncoder().encode(JSON.stringify(mutated) ?? '');
        const declared = BigInt(json.length) + lie;
        const bytes = bytesOf(new Uint8Array(8), json, data);
        new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, declared), true);
        const result = outcome(
          'model.safetensors',
          () => readSafetensors(bytes, 'model.safetensors'),
          bound(bytes),
        );
        if (result.ok) checkTensors(result.value.tensors);
      }),
      fuzzParameters(400, 2),
    );
  });

  test('edits confined to the data read to the same names and shapes (a correct value)', () => {
    const shapes = readSafetensors(original).tensors;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(data.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (edits) => {
          const bytes = Uint8Array.from(original);
          for (const [at, value] of edits) bytes[8 + headerLength + at] = value;
          const tensors = readSafetensors(bytes, 'model.safetensors').tensors;
          expect([...tensors.keys()]).toEqual([...shapes.keys()]);
          for (const [name, tensor] of shapes) expect(tensors.get(name)!.shape).toEqual(tensor.shape);
        },
      ),
      fuzzParameters(50, 3),
    );
  });
});

describe('pytorch_model.bin', () => {
  const zip = read('opus-mt-tiny/pytorch_model.bin');
  const view = new DataView(zip.buffer);
  const eocd = zip.length - 22;
  const directory = view.getUint32(eocd + 16, true);
  const members = readZip(zip, 'x');
  const pickleName = [...members.keys()].find((name) => name.endsWith('data.pkl'))!;
  const pickle = members.get(pickleName)!.data().slice();
  const pickleAt = Buffer.from(zip).indexOf(Buffer.from(pickle));

  test('byte edits of the torch.save zip (pickle, local headers, central directory): INVALID_DATA or consistent', () => {
    const tick = periodicCollect();
    fc.assert(
      fc.property(
        byteEdits(zip.length, [
          [pickleAt, pickleAt + pickle.length],
          [directory, zip.length],
          [0, 128],
        ]),
        (edits) => {
          tick();
          const bytes = applyEdits(zip, edits);
          const result = outcome(
            'pytorch_model.bin',
            () => readPytorchBin(bytes, 'pytorch_model.bin'),
            bound(bytes),
          );
          if (result.ok) checkTensors(result.value);
        },
      ),
      fuzzParameters(250, 4),
    );
  });

  test('pickle edits (opcodes inserted, deleted, args patched), repacked into a valid zip: INVALID_DATA or consistent', () => {
    const others = [...members.values()]
      .filter((entry) => entry.name !== pickleName)
      .map((entry) => ({ name: entry.name, data: entry.data() }));
    const tick = periodicCollect();
    fc.assert(
      fc.property(byteEdits(pickle.length, [], 6), (edits) => {
        tick();
        const bytes = storedZip([{ name: pickleName, data: applyEdits(pickle, edits) }, ...others]);
        const result = outcome(
          'pytorch_model.bin',
          () => readPytorchBin(bytes, 'pytorch_model.bin'),
          bound(bytes),
        );
        if (result.ok) checkTensors(result.value);
      }),
      fuzzParameters(250, 5),
    );
  });

  test('byte edits of the legacy (pre-1.6) format: INVALID_DATA or consistent', () => {
    const legacy = read('opus-mt-tiny/variants/legacy/pytorch_model.bin');
    const tick = periodicCollect();
    fc.assert(
      fc.property(byteEdits(legacy.length, [[0, 6000]]), (edits) => {
        tick();
        const bytes = applyEdits(legacy, edits);
        const result = outcome('legacy.bin', () => readPytorchBin(bytes, 'legacy.bin'), bound(bytes));
        if (result.ok) checkTensors(result.value);
      }),
      fuzzParameters(150, 6),
    );
  });

  test('byte edits of deflated archives (the repacked model, the zip bomb): INVALID_DATA or consistent', () => {
    const files = [read('hostile/deflated.bin'), read('hostile/zip-bomb.bin')];
    const tick = periodicCollect(20);
    fc.assert(
      fc.property(fc.nat(1), fc.nat(), (which, seed) => {
        tick();
        const original = files[which];
        const edits = fc.sample(byteEdits(original.length, [[original.length - 600, original.length]]), {
          numRuns: 1,
          seed,
        })[0];
        const bytes = applyEdits(original, edits);
        const result = outcome('deflated.bin', () => readPytorchBin(bytes, 'deflated.bin'), bound(bytes));
        if (result.ok) checkTensors(result.value);
      }),
      fuzzParameters(80, 7),
    );
  });

  test('random opcode streams through the restricted unpickler end in INVALID_DATA or a value', () => {
    const opcodes = [...'\x80\x95.(}])t\x85\x86\x87qr\x94hjJKM\x8aGN\x88\x89X\x8c\x8dBCc\x93Rbsuae Q'].map(
      (c) => c.charCodeAt(0),
    );
    const step = fc.tuple(
      fc.oneof(fc.constantFrom(...opcodes), fc.integer({ min: 0, max: 255 })),
      fc.uint8Array({ maxLength: 9 }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const bytes = bytesOf(0x80, 2, ...steps.flat(), 0x2e);
        outcome(
          'p.pkl',
          () => readPickle(bytes, { source: 'p.pkl', persistentLoad: (pid) => pid }),
          bound(bytes),
        );
      }),
      fuzzParameters(600, 8),
    );
  });
});
