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
    dataError(/model.safetensors: tensor w has bad data_offsets/),
  );
  const broken = good.slice();
  broken[9] = 0x7b; // corrupt the JSON
  expect(() => readSafetensors(broken)).toThrow(dataError(/header is not JSON/));
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 10n ** 12n, true);
  expect(() => readSafetensors(huge)).toThrow(dataError(/header length/));
});
