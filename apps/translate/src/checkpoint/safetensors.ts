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

/**
 * Parses a safetensors file, validating the header (offsets in bounds, contiguous, sizes matching shapes).
 * Throws `EncouragingLossError` naming the problem.
 */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (bytes.length < 8) invalidData(`${source}: too short for a safetensors header (${bytes.length} bytes).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || headerLength > 100_000_000) {
    invalidData(`${source}: header length ${headerLength} exceeds the file (${bytes.length} bytes).`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    return invalidData(`${source}: header is not JSON (${(error as Error).message}).`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, NamedTensor>();
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, value]) => {
      const entry = value as { dtype: SafetensorsDType; shape: number[]; data_offsets: [number, number] };
      if (!(entry.dtype in BYTES))
        invalidData(`${source}: tensor ${name} has unsupported dtype ${entry.dtype}.`);
      return { name, ...entry };
    })
    .sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
  let expectedOffset = 0;
  for (const {
    name,
    dtype,
    shape,
    data_offsets: [begin, end],
  } of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (begin !== expectedOffset || end < begin || end > dataLength) {
      invalidData(
        `${source}: tensor ${name} has bad data_offsets [${begin}, ${end}] (data is ${dataLength} bytes).`,
      );
    }
    if (end - begin !== size * BYTES[dtype]) {
      invalidData(
        `${source}: tensor ${name} holds ${end - begin} bytes, shape [${shape.join(', ')}] ${dtype} needs ${size * BYTES[dtype]}.`,
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
