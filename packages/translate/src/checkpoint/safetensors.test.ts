import { expect, test } from 'vitest';
import { type NamedTensor, readSafetensors, writeSafetensors } from './safetensors.js';

test('round trip of every writable dtype, names sorted, header aligned', () => {
  const tensors = new Map<string, NamedTensor>([
    [
      'model.shared.weight',
      { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-7, -1e30]) },
    ],
    ['a.f64', { dtype: 'F64', shape: [1], data: new Float64Array([Math.PI]) }],
    ['b.i32', { dtype: 'I32', shape: [2, 1], data: new Int32Array([-5, 7]) }],
    ['c.i64', { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 40n), 3n]) }],
    ['d.u8', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
  ]);
  const bytes = writeSafetensors(tensors, { format: 'pt', note: 'x' });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  expect(headerLength % 8).toBe(0);
  // As read from disk: a Node Buffer at an odd offset of a larger pool.
  const pooled = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(bytes)]).subarray(3);
  const parsed = readSafetensors(pooled);
  expect(parsed.metadata).toEqual({ format: 'pt', note: 'x' });
  expect([...parsed.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
  for (const [name, tensor] of tensors) expect(parsed.tensors.get(name)).toEqual(tensor);
  // Deterministic bytes.
  expect(writeSafetensors(tensors, { format: 'pt', note: 'x' })).toEqual(bytes);
});

test('reads a hand-built file with F16 and BF16', () => {
  const header =
    '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}';
  const json = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + json.length + 6);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  // F16 1.0 = 0x3c00, -2.0 = 0xc000; BF16 1.5 = 0x3fc0 (little-endian).
  bytes.set([0x00, 0x3c, 0x00, 0xc0, 0xc0, 0x3f], 8 + json.length);
  const parsed = readSafetensors(bytes);
  expect(Array.from(parsed.tensors.get('h')!.data as Float32Array)).toEqual([1, -2]);
  expect(Array.from(parsed.tensors.get('b')!.data as Float32Array)).toEqual([1.5]);
});

/** An `INVALID_DATA` error whose message matches `pattern`. */
const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });

test('corrupt files are rejected with INVALID_DATA and a reason', () => {
  const good = writeSafetensors(new Map([['w', { dtype: 'F32', shape: [4], data: new Float32Array(4) }]]));
  expect(() => readSafetensors(good.slice(0, 5))).toThrow(dataError(/too short/));
  expect(() => readSafetensors(good.slice(0, good.length - 4), 'model.safetensors')).toThrow(
    dataError(/model.safetensors: tensor "w" has data_offsets \[0, 16\] past the 12 bytes of data/),
  );
  const broken = good.slice();
  broken[9] = 0x7b; // corrupt the JSON
  expect(() => readSafetensors(broken)).toThrow(dataError(/header is not UTF-8 JSON/));
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 10n ** 12n, true);
  expect(() => readSafetensors(huge)).toThrow(dataError(/header length/));
});

/** A safetensors file of `header` (serialised as given) and `dataLength` zero bytes; `declared` overrides the length. */
function fileOf(header: unknown, dataLength: number, declared?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + dataLength);
  new DataView(bytes.buffer).setBigUint64(0, declared ?? BigInt(json.length), true);
  bytes.set(json, 8);
  return bytes;
}

test('every malformed header is INVALID_DATA naming the file, never a TypeError or RangeError', () => {
  const w = (entry: unknown) => ({ w: entry });
  const ok = { dtype: 'F32', shape: [4], data_offsets: [0, 16] };
  const cases: [unknown, number, RegExp][] = [
    ['null', 16, /header is null, not a JSON object/],
    ['[1, 2]', 16, /header is an array of 2, not a JSON object/],
    ['"x"', 16, /header is "x", not a JSON object/],
    [w(null), 16, /tensor "w" is null, not \{dtype, shape, data_offsets\}/],
    [w([1]), 16, /tensor "w" is an array of 1, not/],
    [w({ ...ok, dtype: undefined }), 16, /tensor "w" has unsupported dtype undefined/],
    [w({ ...ok, dtype: 'F8_E4M3' }), 16, /unsupported dtype "F8_E4M3"/],
    [w({ ...ok, dtype: 'toString' }), 16, /unsupported dtype "toString"/],
    [w({ ...ok, shape: '4' }), 16, /has shape "4", not a list of non-negative integers/],
    [w({ ...ok, shape: 4 }), 16, /has shape 4, not a list/],
    [w({ ...ok, shape: [-4] }), 16, /has shape an array of 1, not a list/],
    [w({ ...ok, shape: [1.5] }), 16, /has shape an array of 1, not a list/],
    [w({ ...ok, shape: [null] }), 16, /has shape an array of 1/],
    [w({ ...ok, shape: [2 ** 53] }), 16, /has shape an array of 1/],
    [w({ ...ok, data_offsets: undefined }), 16, /has data_offsets undefined, not \[begin, end\]/],
    [w({ ...ok, data_offsets: [0] }), 16, /has data_offsets an array of 1/],
    [w({ ...ok, data_offsets: [0, 16, 32] }), 16, /has data_offsets an array of 3/],
    [
      w({ ...ok, data_offsets: [-4, 12] }),
      16,
      /has data_offsets an array of 2, not \[begin, end\] with 0 ≤ begin ≤ end/,
    ],
    [w({ ...ok, data_offsets: [0.5, 16] }), 16, /has data_offsets an array of 2/],
    [w({ ...ok, data_offsets: [16, 0] }), 16, /has data_offsets an array of 2/],
    [w({ ...ok, data_offsets: ['0', '16'] }), 16, /has data_offsets an array of 2/],
    [w({ ...ok, data_offsets: [0, 32] }), 16, /data_offsets \[0, 32\] past the 16 bytes of data/],
    [w({ ...ok, shape: [5] }), 16, /holds 16 bytes; shape \[5\] F32 needs more/],
    [w({ ...ok, shape: [3] }), 16, /holds 16 bytes; shape \[3\] F32 needs 12/],
    [w({ ...ok, shape: [2 ** 40, 2 ** 40, 2 ** 40] }), 16, /shape \[1099511627776, .*\] F32 needs more/],
    [w({ ...ok, dtype: 'F64' }), 16, /holds 16 bytes; shape \[4\] F64 needs more/],
    [w({ ...ok, dtype: 'F16' }), 16, /holds 16 bytes; shape \[4\] F16 needs 8/],
    [
      { a: ok, b: { ...ok, data_offsets: [8, 24] } },
      24,
      /tensor "b" has data_offsets \[8, 24\]: it overlaps the tensor before it/,
    ],
    [
      { a: ok, b: { ...ok, data_offsets: [20, 36] } },
      36,
      /tensor "b" has data_offsets \[20, 36\]: bytes 16–20 belong to no tensor/,
    ],
    [w(ok), 20, /4 trailing bytes after the last tensor/],
    [{ __metadata__: { format: 1 }, ...w(ok) }, 16, /__metadata__ is an object, not an object of strings/],
    [{ __metadata__: [], ...w(ok) }, 16, /__metadata__ is an array of 0/],
  ];
  for (const [header, dataLength, message] of cases) {
    const bytes = fileOf(header, dataLength);
    expect(() => readSafetensors(bytes, 'bad.safetensors'), JSON.stringify(header)).toThrow(
      dataError(new RegExp(`^bad\\.safetensors: (.* )?${message.source}`)),
    );
  }
  // The header length: past the file, or past safetensors' 100 MB cap (refused unread, whatever the file).
  expect(() => readSafetensors(fileOf(w(ok), 16, 10_000n), 'a.safetensors')).toThrow(
    dataError(/a.safetensors: header length 10000 exceeds the file/),
  );
  expect(() => readSafetensors(fileOf(w(ok), 16, 100_000_001n), 'a.safetensors')).toThrow(
    dataError(/a.safetensors: header length 100000001 is over the 100000000 bytes safetensors allows/),
  );
  expect(() => readSafetensors(fileOf(w(ok), 16, 2n ** 64n - 1n), 'a.safetensors')).toThrow(
    dataError(/header length 18446744073709551615 is over/),
  );
  const latin1 = fileOf('{"\xff": 1}', 0);
  latin1[10] = 0xff;
  expect(() => readSafetensors(latin1, 'a.safetensors')).toThrow(dataError(/header is not UTF-8 JSON/));
  // What the safetensors library accepts, read: a null __metadata__, zero-size tensors sharing an offset.
  const empty = { dtype: 'F32', shape: [0, 3], data_offsets: [16, 16] };
  const read = readSafetensors(fileOf({ __metadata__: null, w: ok, e: empty }, 16), 'fine.safetensors');
  expect(read.metadata).toEqual({});
  expect(read.tensors.get('e')).toEqual({ dtype: 'F32', shape: [0, 3], data: new Float32Array(0) });
  expect(read.tensors.get('w')).toEqual({ dtype: 'F32', shape: [4], data: new Float32Array(4) });
});
