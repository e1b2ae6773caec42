import { deflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { outcome, storedZip } from '../../test/checkpoint-builders.js';
import { readZip } from './zip.js';

const dataError = (pattern: RegExp) =>
  expect.objectContaining({ code: 'INVALID_DATA', message: expect.stringMatching(pattern) });

/** A one-member zip whose member `m` holds `compressed` (raw deflate) and declares `size` inflated bytes. */
function deflatedZip(compressed: Uint8Array, size: number): Uint8Array {
  const zip = storedZip([{ name: 'm', data: compressed }]);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const central = zip.length - 22 - (46 + 1);
  view.setUint16(8, 8, true); // local header: method
  view.setUint16(central + 10, 8, true);
  view.setUint32(central + 24, size, true);
  return zip;
}

/** Bytes that deflate well but not trivially: a repeating ramp with a little noise. */
function sample(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = 12345;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = (i % 251) ^ (state >>> 29);
  }
  return bytes;
}

describe('deflated members', () => {
  test.each([
    ['Huffman-coded', 9],
    ['stored blocks', 0],
  ])('%s deflate data reads back byte for byte', (_, level) => {
    const data = sample(200_000);
    const zip = deflatedZip(deflateRawSync(data, { level }), data.length);
    const entry = readZip(zip, 'ok.zip').get('m');
    expect(entry?.size).toBe(data.length);
    // Buffer.equals: toEqual walks a 200 kB array element by element.
    expect(Buffer.from(entry?.data() ?? []).equals(data)).toBe(true);
  });

  test('an empty deflated member (one empty final block) is zero bytes', () => {
    const zip = deflatedZip(deflateRawSync(new Uint8Array(0)), 0);
    expect(readZip(zip, 'empty.zip').get('m')?.data()).toEqual(new Uint8Array(0));
  });

  test.each([
    ['Huffman-coded', 9],
    ['stored blocks', 0],
  ])('%s data longer than declared is refused without allocating what it inflates to', (_, level) => {
    // 4 MB that inflate from a member declaring 1000 bytes. The bound leaves room for fflate's Huffman tables,
    // built per block and dropped (~0.3 bytes per inflated byte here), not for the inflated data.
    const compressed = deflateRawSync(sample(4_000_000), { level });
    const zip = deflatedZip(compressed, 1000);
    const result = outcome('long.zip', () => readZip(zip, 'long.zip').get('m')?.data(), 2_000_000);
    expect(result).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /long.zip: not a readable zip archive \(m inflates to more than its declared 1000 bytes\)/,
      ),
    });
  });

  test('data shorter than declared names both sizes', () => {
    const zip = deflatedZip(deflateRawSync(sample(500)), 600);
    expect(() => readZip(zip, 'short.zip').get('m')?.data()).toThrow(
      dataError(/short.zip: not a readable zip archive \(m inflates to 500 bytes, not its declared 600\)/),
    );
  });

  test('cut or missing deflate data is corrupt', () => {
    const compressed = deflateRawSync(sample(5000));
    for (const [name, raw] of [
      ['cut.zip', compressed.subarray(0, compressed.length >> 1)],
      ['none.zip', new Uint8Array(0)],
    ] as const) {
      expect(() => readZip(deflatedZip(raw, 5000), name).get('m')?.data(), name).toThrow(
        dataError(
          new RegExp(`${name}: not a readable zip archive \\(m corrupt deflate data: unexpected EOF\\)`),
        ),
      );
    }
  });
});
