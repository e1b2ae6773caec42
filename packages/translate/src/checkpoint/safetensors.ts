import { invalidData } from '../errors.js';

/** Data types this reader/writer handles. F16 and BF16 are read (as Float32Array), not written. */
export type SafetensorsDType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16';

/** One named tensor. `data` is row-major; I64 uses BigInt64Array. */
export interface NamedTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

/** A parsed file: tensors by name and the string metadata (`__metadata__`). */
export interface SafetensorsFile {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, F16: 2, BF16: 2 };

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Serialises tensors in the safetensors format: an 8-byte little-endian header length, a JSON header
 * (`{name: {dtype, shape, data_offsets}}`, padded with spaces to 8 bytes), then the raw little-endian data.
 * Names are written sorted, so equal inputs give byte-identical files.
 *
 * @example
 * const bytes = writeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]));
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, NamedTensor>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    if (tensor.dtype === 'F16' || tensor.dtype === 'BF16')
      invalidData(`Cannot write ${tensor.dtype} tensor ${name}.`);
    const size = tensor.shape.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== size) {
      invalidData(`Tensor ${name} has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}].`);
    }
    const length = size * BYTES[tensor.dtype];
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = JSON.stringify(header);
  const encoded = new TextEncoder().encode(json);
  json += ' '.repeat((8 - (encoded.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    out.set(bytes, position); // typed arrays are little-endian on every platform Node runs on
    position += bytes.length;
  }
  return out;
}

/** Largest header the safetensors library reads (`MAX_HEADER_SIZE`, 100 MB); a longer one is refused unread. */
export const MAX_HEADER_BYTES = 100_000_000;

/** A JSON value for a message, short and safe for anything JSON.parse returns. */
function show(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A non-negative integer JSON.parse can hold exactly. */
const isIndex = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Checks one header entry the way the safetensors library does, before anything is sized from it. */
function headerEntry(name: string, value: unknown, dataLength: number, source: string): HeaderEntry {
  const where = `${source}: tensor ${JSON.stringify(name)}`;
  if (!isObject(value)) return invalidData(`${where} is ${show(value)}, not {dtype, shape, data_offsets}.`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype)) {
    return invalidData(
      `${where} has unsupported dtype ${show(dtype)} (read: ${Object.keys(BYTES).join(', ')}).`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    return invalidData(`${where} has shape ${show(shape)}, not a list of non-negative integers.`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
    return invalidData(`${where} has data_offsets ${show(offsets)}, not [begin, end] with 0 ≤ begin ≤ end.`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    invalidData(`${where} has data_offsets [${begin}, ${end}] past the ${dataLength} bytes of data.`);
  }
  // The element count, stopped as soon as it passes what the data can hold (no overflow, no huge product).
  const itemBytes = BYTES[dtype as SafetensorsDType];
  let size = shape.includes(0) ? 0 : 1;
  let tooLarge = false;
  for (let k = 0; size > 0 && k < shape.length && !tooLarge; k++) {
    size *= shape[k];
    tooLarge = size * itemBytes > end - begin;
  }
  if (tooLarge || size * itemBytes !== end - begin) {
    invalidData(
      `${where} holds ${end - begin} bytes; shape [${shape.join(', ')}] ${dtype} needs ${tooLarge ? 'more' : size * itemBytes}.`,
    );
  }
  return { name, dtype: dtype as SafetensorsDType, shape: [...shape], begin, end };
}

/**
 * Parses a safetensors file, validating the header as the safetensors library does: the 8-byte length within the
 * file and at most {@link MAX_HEADER_BYTES}, a UTF-8 JSON object, `__metadata__` a string → string map, each
 * tensor `{dtype, shape, data_offsets}` with a supported dtype, non-negative integer sizes and offsets, and the
 * tensors' byte ranges exactly tiling the data (no gap, overlap or trailing byte) with sizes matching their
 * shapes. Everything else is `INVALID_DATA` naming `source`; nothing is allocated from an unchecked size.
 */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (bytes.length < 8) invalidData(`${source}: too short for a safetensors header (${bytes.length} bytes).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    invalidData(
      `${source}: header length ${declared} is over the ${MAX_HEADER_BYTES} bytes safetensors allows.`,
    );
  }
  const headerLength = Number(declared);
  if (headerLength > bytes.length - 8) {
    invalidData(`${source}: header length ${headerLength} exceeds the file (${bytes.length} bytes).`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    return invalidData(`${source}: header is not UTF-8 JSON (${(error as Error).message}).`);
  }
  if (!isObject(header)) return invalidData(`${source}: header is ${show(header)}, not a JSON object.`);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const rawMetadata = header.__metadata__ ?? {};
  if (!isObject(rawMetadata) || !Object.values(rawMetadata).every((v) => typeof v === 'string')) {
    invalidData(`${source}: __metadata__ is ${show(rawMetadata)}, not an object of strings.`);
  }
  const metadata = rawMetadata as Record<string, string>;
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, value]) => headerEntry(name, value, dataLength, source))
    .sort((a, b) => a.begin - b.begin || a.end - b.end);
  const tensors = new Map<string, NamedTensor>();
  let expectedOffset = 0;
  for (const { name, dtype, shape, begin, end } of entries) {
    if (begin !== expectedOffset) {
      invalidData(
        `${source}: tensor ${JSON.stringify(name)} has data_offsets [${begin}, ${end}]: ${begin < expectedOffset ? 'it overlaps the tensor before it' : `bytes ${expectedOffset}–${begin} belong to no tensor`}.`,
      );
    }
    expectedOffset = end;
    // Copy into a fresh buffer: the data may be unaligned, and a Node Buffer's slice() is a view of a shared pool.
    const slice = new Uint8Array(end - begin);
    slice.set(bytes.subarray(dataStart + begin, dataStart + end));
    let data: NamedTensor['data'];
    switch (dtype) {
      case 'F32':
        data = new Float32Array(slice.buffer);
        break;
      case 'F64':
        data = new Float64Array(slice.buffer);
        break;
      case 'I32':
        data = new Int32Array(slice.buffer);
        break;
      case 'I64':
        data = new BigInt64Array(slice.buffer);
        break;
      case 'U8':
        data = slice;
        break;
      default: {
        const halves = new Uint16Array(slice.buffer);
        const floats = new Float32Array(halves.length);
        const bits = new Uint32Array(floats.buffer);
        for (let i = 0; i < halves.length; i++) {
          if (dtype === 'BF16') bits[i] = halves[i] << 16;
          else floats[i] = halfToFloat(halves[i]);
        }
        data = floats;
      }
    }
    tensors.set(name, { dtype, shape, data });
  }
  if (expectedOffset !== dataLength)
    invalidData(`${source}: ${dataLength - expectedOffset} trailing bytes after the last tensor.`);
  return { tensors, metadata };
}
