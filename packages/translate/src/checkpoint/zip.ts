import { inflateSync } from 'fflate';
import { invalidData } from '../errors.js';

/** One member of a zip archive. */
export interface ZipEntry {
  name: string;
  /** The member's declared (uncompressed) size in bytes. */
  size: number;
  /** The member's bytes (stored members are views of the archive, deflated ones are inflated). */
  data(): Uint8Array;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * Bounds on what a deflated member may inflate to. `torch.save` stores members uncompressed; weights repacked
 * with deflate shrink little (float data compresses by well under 2×), so a member declaring more than
 * {@link MAX_DEFLATE_RATIO} times its compressed size (plus {@link DEFLATE_SLACK} bytes for tiny members) is
 * refused before inflating, as is one over {@link MAX_INFLATED_BYTES}. Inflating never produces more than the
 * declared size.
 */
export const MAX_DEFLATE_RATIO = 64;
/** Bytes any deflated member may declare whatever its compressed size (see {@link MAX_DEFLATE_RATIO}). */
export const DEFLATE_SLACK = 65_536;
/** Largest inflated member: 2³¹ − 1 bytes. */
export const MAX_INFLATED_BYTES = 2 ** 31 - 1;

/** Inflates raw deflate data to exactly `size` bytes, never allocating more than `size` + 1. */
function inflateExactly(raw: Uint8Array, size: number, fail: (message: string) => never): Uint8Array {
  // A deflate stream holds at least one block header; fflate hands back its output buffer untouched for no input.
  if (raw.length === 0) return fail('corrupt deflate data: unexpected EOF');
  // fflate inflates into a caller's buffer without growing it: one byte of headroom tells "exactly size" from
  // "more than size". Past the buffer, its Huffman blocks write nowhere (typed-array stores out of range are
  // dropped) and it returns the whole buffer; a stored block that does not fit throws a RangeError from `set`.
  // So memory stays at size + 1 and work at the ~1032:1 that deflate can encode, linear in the compressed bytes.
  const out = new Uint8Array(size + 1);
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(raw, { out });
  } catch (error) {
    if (error instanceof RangeError) return fail(`inflates to more than its declared ${size} bytes`);
    return fail(`corrupt deflate data: ${(error as Error)?.message ?? String(error)}`);
  }
  if (inflated.length > size) fail(`inflates to more than its declared ${size} bytes`);
  if (inflated.length !== size) fail(`inflates to ${inflated.length} bytes, not its declared ${size}`);
  return inflated;
}

/**
 * Lists the members of a zip archive from its central directory (ZIP64 included), as `torch.save` writes them:
 * stored (uncompressed) members, deflated ones accepted too. Throws `INVALID_DATA` naming `source` for anything
 * malformed (offsets outside the file, unknown compression, encryption, a member name with a `..` segment, a
 * leading `/`, a backslash or a drive letter, a name used twice) and for a deflated member whose declared size is
 * beyond {@link MAX_DEFLATE_RATIO} × its compressed size + {@link DEFLATE_SLACK} or {@link MAX_INFLATED_BYTES}
 * (refused before inflating; inflating stops at the declared size, so no member allocates more).
 */
export function readZip(bytes: Uint8Array, source: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (message: string): never => invalidData(`${source}: not a readable zip archive (${message}).`);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    if (at + 8 > bytes.length) fail('a field runs past the end of the file');
    const value = view.getBigUint64(at, true);
    if (value > BigInt(bytes.length)) fail('an offset beyond the file');
    return Number(value);
  };
  if (bytes.length < 22) fail(`only ${bytes.length} bytes`);
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
        const next = () => {
          if (field + 8 > extra + 4 + length) fail(`${name} has a short ZIP64 extra field`);
          field += 8;
          return u64(field - 8);
        };
        if (size === 0xffffffff) size = next();
        if (compressed === 0xffffffff) compressed = next();
        if (local === 0xffffffff) local = next();
      }
      extra += 4 + length;
    }
    if (flags & 1) fail(`${name} is encrypted`);
    if (/(^|[/\\])\.\.([/\\]|$)/.test(name) || /^([/\\]|[a-zA-Z]:)/.test(name) || name.includes('\\')) {
      fail(`member name ${JSON.stringify(name)} is a path outside the archive`);
    }
    if (entries.has(name)) fail(`${name} appears twice`);
    if (method !== 0 && method !== 8) fail(`${name} uses compression method ${method}`);
    if (local + 30 > bytes.length || u32(local) !== LOCAL) fail(`${name} has no local header`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    if (start + compressed > bytes.length) fail(`${name} runs past the end of the file`);
    if (method === 0 && size !== compressed)
      fail(`${name} is stored with ${compressed} bytes but declares ${size}`);
    if (
      method === 8 &&
      (size > compressed * MAX_DEFLATE_RATIO + DEFLATE_SLACK || size > MAX_INFLATED_BYTES)
    ) {
      fail(
        `${name} declares ${size} bytes from ${compressed} compressed, beyond the ${MAX_DEFLATE_RATIO}:1 this reader inflates`,
      );
    }
    const raw = bytes.subarray(start, start + compressed);
    entries.set(name, {
      name,
      size,
      data: () => (method === 0 ? raw : inflateExactly(raw, size, (message) => fail(`${name} ${message}`))),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
