import { inflateRawSync } from 'node:zlib';
import { invalidData } from '../errors.js';

/** One member of a zip archive. */
export interface ZipEntry {
  name: string;
  /** The member's bytes (stored members are views of the archive, deflated ones are inflated). */
  data(): Uint8Array;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * Lists the members of a zip archive from its central directory (ZIP64 included), as `torch.save` writes them:
 * stored (uncompressed) members, deflated ones accepted too. Throws `INVALID_DATA` naming `source` for anything
 * malformed (offsets outside the file, unknown compression, encryption).
 */
export function readZip(bytes: Uint8Array, source: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (message: string): never => invalidData(`${source}: not a readable zip archive (${message}).`);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    const value = view.getBigUint64(at, true);
    if (value > BigInt(bytes.length)) fail('an offset beyond the file');
    return Number(value);
  };
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (u32(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail('no end-of-central-directory record');
  let count = u16(eocd + 10);
  let offset = u32(eocd + 16);
  if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && u32(eocd - 20) === EOCD64_LOCATOR) {
    const record = u64(eocd - 20 + 8);
    if (record + 56 > bytes.length || u32(record) !== EOCD64) fail('a bad ZIP64 record');
    count = u64(record + 32);
    offset = u64(record + 48);
  }
  const entries = new Map<string, ZipEntry>();
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || u32(at) !== CENTRAL) fail(`central directory entry ${i} is missing`);
    const flags = u16(at + 8);
    const method = u16(at + 10);
    let compressed = u32(at + 20);
    let size = u32(at + 24);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    let local = u32(at + 42);
    if (at + 46 + nameLength + extraLength + commentLength > bytes.length)
      fail(`central directory entry ${i} is cut`);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    // ZIP64 extended information: the 0xffffffff fields, in order size, compressed size, local offset.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = u16(extra);
      const length = u16(extra + 2);
      if (extra + 4 + length > extraEnd) fail(`${name} has a malformed extra field`);
      if (id === 0x0001) {
        let field = extra + 4;
        if (size === 0xffffffff) {
          size = u64(field);
          field += 8;
        }
        if (compressed === 0xffffffff) {
          compressed = u64(field);
          field += 8;
        }
        if (local === 0xffffffff) local = u64(field);
      }
      extra += 4 + length;
    }
    if (flags & 1) fail(`${name} is encrypted`);
    if (method !== 0 && method !== 8) fail(`${name} uses compression method ${method}`);
    if (local + 30 > bytes.length || u32(local) !== LOCAL) fail(`${name} has no local header`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + compressed > bytes.length) fail(`${name} runs past the end of the file`);
    entries.set(name, {
      name,
      data: () => {
        const raw = bytes.subarray(start, start + compressed);
        if (method === 0) return raw;
        const inflated = new Uint8Array(inflateRawSync(raw));
        if (inflated.length !== size) fail(`${name} inflates to ${inflated.length} bytes, not ${size}`);
        return inflated;
      },
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
