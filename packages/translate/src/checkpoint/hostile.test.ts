import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  bytesOf,
  OP,
  outcome,
  pickleGlobal,
  pickleInt,
  pickleString,
  stateDictPickle,
  storedZip,
  torchZip,
  type ViewSpec,
} from '../../test/checkpoint-builders.js';
import { readPickle } from './pickle.js';
import {
  MAX_TENSOR_BYTES,
  OUTPUT_BUDGET_FACTOR,
  OUTPUT_BUDGET_SLACK,
  readPytorchBin,
} from './pytorch-bin.js';
import { readZip } from './zip.js';

const hostile = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../fixtures/hostile/${name}`, import.meta.url)));
const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../fixtures/opus-mt-tiny/${name}`, import.meta.url)));
const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });
const MiB = 2 ** 20;

/** A torch zip of one 4-byte float32 storage `0` (value 7) and the given views of it. */
function viewsOf(views: Omit<ViewSpec, 'storage'>[], storage = new Uint8Array(new Float32Array([7]).buffer)) {
  return torchZip(stateDictPickle(views.map((v) => ({ storage: '0', ...v }))), { 0: storage });
}

describe('pytorch_model.bin asking for more memory than it holds (fixtures written by torch.save)', () => {
  test('torch.zeros(1).expand(2**26): 762 bytes asking for 256 MiB is refused before allocating', () => {
    const result = outcome(
      'stride0.bin',
      () => readPytorchBin(hostile('stride0-2e26.bin'), 'stride0.bin'),
      MiB,
    );
    expect(result).toMatchObject({
      ok: false,
      message: expect.stringMatching(/tensor w takes the tensors read past/),
    });
  });

  test('a tensor one byte over the 2³¹ − 1 byte cap is refused, float16 counted as the float32 it becomes', () => {
    expect(() => readPytorchBin(hostile('stride0-2e29.bin'), 'f32.bin')).toThrow(
      dataError(/f32.bin: tensor w of shape \[536870912\] F32 is larger than 2147483647 bytes/),
    );
    expect(() => readPytorchBin(hostile('stride0-f16-2e29.bin'), 'f16.bin')).toThrow(
      dataError(/f16.bin: tensor w of shape \[536870912\] F16 is larger than 2147483647 bytes/),
    );
  });

  test('the per-tensor cap is exact: 2³¹ − 1 bytes pass it (and meet the budget), 2³¹ do not', () => {
    expect(MAX_TENSOR_BYTES).toBe(2 ** 31 - 1);
    const u8 = (size: number) =>
      viewsOf([{ name: 'b', storageType: 'ByteStorage', shape: [size], stride: [0] }], new Uint8Array([1]));
    expect(() => readPytorchBin(u8(2 ** 31 - 1), 'u8.bin')).toThrow(
      dataError(/u8.bin: tensor b takes the tensors/),
    );
    expect(() => readPytorchBin(u8(2 ** 31), 'u8.bin')).toThrow(dataError(/is larger than 2147483647 bytes/));
    const f32 = (size: number) => viewsOf([{ name: 'w', shape: [size], stride: [0] }]);
    expect(() => readPytorchBin(f32(2 ** 29 - 1), 'f.bin')).toThrow(dataError(/tensor w takes the tensors/));
    expect(() => readPytorchBin(f32(2 ** 29), 'f.bin')).toThrow(dataError(/is larger than 2147483647 bytes/));
  });

  test('the budget is across tensors: eight 256 KiB stride-0 views of 4-byte storages stop at the fifth', () => {
    // Budget 4 × 32 bytes of storage + 1 MiB = 1048704 bytes; each view is 2^16 float32 = 262144 bytes.
    expect(OUTPUT_BUDGET_FACTOR * 32 + OUTPUT_BUDGET_SLACK).toBe(1048704);
    const result = outcome(
      'many.bin',
      () => readPytorchBin(hostile('stride0-many.bin'), 'many.bin'),
      2 * MiB,
    );
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/many.bin: tensor w4 takes/) });
  });

  test('small stride-0 views read to the values torch gives them', () => {
    const tensors = readPytorchBin(hostile('expanded-views.bin'));
    // torch.load of this file prints scalar [2.5 ×4], rows [[0, 1, 2], [0, 1, 2]], columns [[1, 1, 1], [2, 2, 2]].
    expect(tensors.get('scalar')).toEqual({
      dtype: 'F32',
      shape: [4],
      data: new Float32Array([2.5, 2.5, 2.5, 2.5]),
    });
    expect(tensors.get('rows')).toEqual({
      dtype: 'F32',
      shape: [2, 3],
      data: new Float32Array([0, 1, 2, 0, 1, 2]),
    });
    expect(tensors.get('columns')).toEqual({
      dtype: 'F32',
      shape: [2, 3],
      data: new Float32Array([1, 1, 1, 2, 2, 2]),
    });
  });

  test('shapes whose product overflows, negative sizes and strides are INVALID_DATA', () => {
    const huge = viewsOf([{ name: 'w', shape: [2 ** 40, 2 ** 40, 2 ** 40], stride: [0, 0, 0] }]);
    expect(() => readPytorchBin(huge, 'huge.bin')).toThrow(dataError(/is larger than 2147483647 bytes/));
    const beyondSafe = viewsOf([{ name: 'w', shape: [2n ** 62n], stride: [0] }]);
    expect(() => readPytorchBin(beyondSafe, 'big.bin')).toThrow(
      dataError(/a tensor size must be a non-negative integer/),
    );
    expect(() => readPytorchBin(viewsOf([{ name: 'w', shape: [-1], stride: [1] }]), 'n.bin')).toThrow(
      dataError(/a tensor size must be a non-negative integer, got -1/),
    );
    expect(() => readPytorchBin(viewsOf([{ name: 'w', shape: [1], stride: [-1] }]), 'n.bin')).toThrow(
      dataError(/a tensor stride must be/),
    );
    expect(() => readPytorchBin(viewsOf([{ name: 'w', shape: [2], stride: [1] }]), 'o.bin')).toThrow(
      dataError(/o.bin: tensor w reads element 1 of storage 0, which holds 1/),
    );
  });

  test('zero-element tensors read as empty arrays whatever their offset (torch needs no storage for them)', () => {
    const zip = viewsOf([
      { name: 'a', shape: [0], stride: [1], offset: 1000 },
      { name: 'b', shape: [3, 0], stride: [0, 1], offset: 5 },
    ]);
    const tensors = readPytorchBin(zip, 'empty.bin');
    expect(tensors.get('a')).toEqual({ dtype: 'F32', shape: [0], data: new Float32Array(0) });
    expect(tensors.get('b')).toEqual({ dtype: 'F32', shape: [3, 0], data: new Float32Array(0) });
  });
});

describe('zip container', () => {
  test('a 16 KB deflate bomb declaring 16 MiB is refused before inflating', () => {
    const result = outcome('bomb.bin', () => readPytorchBin(hostile('zip-bomb.bin'), 'bomb.bin'), MiB);
    expect(result).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /archive\/data\/0 declares 16777216 bytes from \d+ compressed, beyond the 64:1/,
      ),
    });
  });

  test('a bomb that understates its size stops inflating at the declared size', () => {
    const result = outcome(
      'lying.bin',
      () => readPytorchBin(hostile('zip-bomb-lying.bin'), 'lying.bin'),
      MiB,
    );
    expect(result).toMatchObject({
      ok: false,
      message: expect.stringMatching(/archive\/data\/0 inflates to more than its declared 1024 bytes/),
    });
  });

  test('a deflated archive (the tiny model repacked by Python zipfile) reads like the stored one', () => {
    const deflated = readPytorchBin(hostile('deflated.bin'));
    const stored = readPytorchBin(fixture('pytorch_model.bin'));
    expect([...deflated.keys()]).toEqual([...stored.keys()]);
    for (const [name, tensor] of stored) expect(deflated.get(name), name).toEqual(tensor);
  });

  test('corrupt deflate data is INVALID_DATA naming the member', () => {
    const bytes = Uint8Array.from(hostile('deflated.bin'));
    const entry = readZip(bytes, 'x').get('pytorch_model/data.pkl')!;
    expect(entry.size).toBeGreaterThan(0);
    // The member's data follows its local header: a first byte of 0xff is a deflate block of the reserved type 3.
    const local = Buffer.from(bytes).indexOf('pytorch_model/data.pkl') + 'pytorch_model/data.pkl'.length;
    bytes[local] = 0xff;
    expect(() => readPytorchBin(bytes, 'corrupt.bin')).toThrow(
      dataError(
        /corrupt.bin: not a readable zip archive \(pytorch_model\/data.pkl corrupt deflate data: .*invalid block type/,
      ),
    );
  });

  test('member names with .., absolute paths, backslashes or used twice are refused', () => {
    const data = new Uint8Array(4);
    for (const name of [
      '../data.pkl',
      'archive/../../etc/passwd',
      '/etc/passwd',
      'C:evil',
      'archive\\data.pkl',
    ]) {
      expect(() => readZip(storedZip([{ name, data }]), 'names.zip'), name).toThrow(
        dataError(/names.zip: not a readable zip archive \(member name .* is a path outside the archive\)/),
      );
    }
    const twice = storedZip([
      { name: 'a/data.pkl', data },
      { name: 'a/data.pkl', data },
    ]);
    expect(() => readZip(twice, 'twice.zip')).toThrow(dataError(/a\/data.pkl appears twice/));
  });

  test('archives shorter than an end record, or whose stored size lies, are INVALID_DATA', () => {
    for (const length of [0, 4, 21]) {
      const bytes = bytesOf('PK\x03\x04', new Uint8Array(Math.max(0, length - 4))).subarray(0, length);
      expect(() => readZip(bytes, 'short.zip')).toThrow(dataError(/short.zip: not a readable zip archive/));
    }
    const zip = storedZip([{ name: 'a', data: new Uint8Array(8) }]);
    const directory = Buffer.from(zip).indexOf('PK\x01\x02');
    new DataView(zip.buffer).setUint32(directory + 24, 4096, true);
    expect(() => readZip(zip, 'lie.zip')).toThrow(dataError(/a is stored with 8 bytes but declares 4096/));
  });
});

describe('restricted unpickler', () => {
  const source = 'p.pkl';
  const read = (bytes: Uint8Array) => readPickle(bytes, { source, persistentLoad: () => null }).value;
  // Opcodes the reader knows (CPython pickletools names): everything else must be refused.
  const known = new Set([
    0x80, 0x95, 0x2e, 0x28, 0x7d, 0x5d, 0x29, 0x74, 0x85, 0x86, 0x87, 0x71, 0x72, 0x94, 0x68, 0x6a, 0x4a,
    0x4b, 0x4d, 0x8a, 0x47, 0x4e, 0x88, 0x89, 0x58, 0x8c, 0x8d, 0x42, 0x43, 0x63, 0x93, 0x52, 0x62, 0x73,
    0x75, 0x61, 0x65, 0x51,
  ]);

  test('every opcode outside the state-dict subset is refused at its byte', () => {
    let refused = 0;
    for (let op = 0; op < 256; op++) {
      if (known.has(op)) continue;
      const bytes = bytesOf(OP.PROTO, 2, op, 'os\nsystem\n', OP.STOP);
      const hex = op.toString(16).padStart(2, '0');
      expect(() => read(bytes), hex).toThrow(
        dataError(new RegExp(`p.pkl: pickle byte 2: opcode 0x${hex} is outside what torch.save writes`)),
      );
      refused++;
    }
    // INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1-4, PERSID, LONG4, STRING, UNICODE, DICT, LIST, POP, DUP … 218 in all.
    expect(refused).toBe(256 - known.size);
  });

  test('GLOBAL and STACK_GLOBAL of anything but the tensor-rebuild allowlist are refused (fast-check)', () => {
    const allowed =
      /^(collections\.OrderedDict|torch\._utils\._rebuild_(tensor_v2|tensor|parameter)|torch\.\w+Storage)$/;
    const part = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\n\r]/.test(s));
    const names = fc.oneof(
      fc.tuple(part, part),
      fc.constantFrom(
        ['os', 'system'],
        ['posix', 'system'],
        ['builtins', 'eval'],
        ['builtins', 'getattr'],
        ['torch', 'load'],
        ['torch._utils', '_rebuild_tensor_v3'],
        ['torch', 'Tensor'],
        ['collections', 'OrderedDict.__init__'],
        ['torch.nn', 'Module'],
      ),
    );
    fc.assert(
      fc.property(names, fc.boolean(), ([module, name], stacked) => {
        fc.pre(!allowed.test(`${module}.${name}`));
        const bytes = stacked
          ? bytesOf(
              OP.PROTO,
              4,
              pickleString(module),
              pickleString(name),
              0x93,
              OP.EMPTY_TUPLE,
              OP.REDUCE,
              OP.STOP,
            )
          : bytesOf(OP.PROTO, 2, pickleGlobal(module, name), OP.EMPTY_TUPLE, OP.REDUCE, OP.STOP);
        const result = outcome(source, () => read(bytes));
        expect(result.ok).toBe(false);
        if (!result.ok)
          expect(result.message).toMatch(/refers to the Python global|not valid UTF-8|no end of line/);
      }),
      { numRuns: 200, seed: 21 },
    );
  });

  test('an allowed storage type is data, never called', () => {
    const bytes = bytesOf(
      OP.PROTO,
      2,
      pickleGlobal('torch', 'FloatStorage'),
      OP.EMPTY_TUPLE,
      OP.REDUCE,
      OP.STOP,
    );
    expect(() => read(bytes)).toThrow(
      dataError(/torch.FloatStorage is a type, not something a state dict calls/),
    );
  });

  test('APPENDS of 130k items and 300k nested tuples do not overflow the stack', () => {
    const items = new Uint8Array(2 * 130_000).map((_, i) => (i % 2 === 0 ? OP.BININT1 : (i >> 1) % 256));
    const list = read(bytesOf(OP.PROTO, 2, OP.EMPTY_LIST, OP.MARK, items, OP.APPENDS, OP.STOP)) as number[];
    expect(list.length).toBe(130_000);
    expect(list[129_999]).toBe(129_999 % 256);
    const nested = bytesOf(OP.PROTO, 2, OP.EMPTY_TUPLE, new Uint8Array(300_000).fill(OP.TUPLE1), OP.STOP);
    let depth = 0;
    for (let value = read(nested); Array.isArray(value) || (value as { items?: unknown })?.items; depth++) {
      value = ((value as { items?: unknown[] }).items ?? (value as unknown[]))[0];
    }
    expect(depth).toBe(300_001);
    // As a torch.save file, the same pickle is no state dict.
    expect(() => readPytorchBin(torchZip(nested, {}), 'deep.bin')).toThrow(
      dataError(/deep.bin: the pickle holds no state dict/),
    );
  });

  test('memo indices up to 2³² − 1 work; unset ones and BINPUT of an empty stack are refused', () => {
    const u32 = (value: number) => {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, value, true);
      return out;
    };
    const stored = bytesOf(OP.PROTO, 2, OP.MARK, pickleString('x'), OP.LONG_BINPUT, u32(2 ** 32 - 1));
    const pair = read(bytesOf(stored, OP.LONG_BINGET, u32(2 ** 32 - 1), OP.TUPLE, OP.STOP));
    expect((pair as { items: unknown[] }).items).toEqual(['x', 'x']);
    expect(() => read(bytesOf(stored, OP.LONG_BINGET, u32(2 ** 32 - 2), OP.STOP))).toThrow(
      dataError(/memo 4294967294 was never stored/),
    );
    expect(() => read(bytesOf(OP.PROTO, 2, OP.BINPUT, 0, OP.NONE, OP.STOP))).toThrow(
      dataError(/the stack is empty/),
    );
    expect(() => read(bytesOf(OP.PROTO, 2, OP.MARK, OP.BINPUT, 0, OP.STOP))).toThrow(
      dataError(/the stack is empty/),
    );
  });

  test('a storage size or a protocol that is a nested container is named by kind, not printed', () => {
    // 100k lists pushed, then each appended into the one below it: one list nested 100k deep.
    const nestedList = bytesOf(
      new Uint8Array(100_000).fill(OP.EMPTY_LIST),
      new Uint8Array(99_999).fill(OP.APPEND),
    );
    const view: ViewSpec = { name: 'w', storage: '0', shape: [1], stride: [1] };
    const pickle = stateDictPickle([view]);
    // Replace the storage-size int (BININT 0) of the persistent id with a deep list.
    const at = Buffer.from(pickle).indexOf(Buffer.from(bytesOf(pickleString('cpu'), pickleInt(0))));
    const patched = bytesOf(
      pickle.subarray(0, at),
      pickleString('cpu'),
      nestedList,
      pickle.subarray(at + 5 + 5),
    );
    expect(() => readPytorchBin(torchZip(patched, { 0: new Uint8Array(4) }), 'size.bin')).toThrow(
      dataError(/a storage size must be a non-negative integer, got a list/),
    );
  });
});
