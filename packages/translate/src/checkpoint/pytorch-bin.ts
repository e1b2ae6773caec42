import { invalidData } from '../errors.js';
import { readPickle, type StorageDType, type StorageRef, storageFromPid, type TensorRef } from './pickle.js';
import type { NamedTensor } from './safetensors.js';
import { readZip } from './zip.js';

const ITEM_BYTES: Record<StorageDType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** The magic number that opens the pre-1.6 (non-zip) `torch.save` format. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Bytes per element of the arrays {@link materialize} returns (F16/BF16 are upcast to float32). */
const OUTPUT_BYTES: Record<StorageDType, number> = { ...ITEM_BYTES, F16: 4, BF16: 4, BOOL: 1 };

/** Largest single tensor read: 2³¹ − 1 bytes once materialised (F16/BF16 count as the float32 they become). */
export const MAX_TENSOR_BYTES = 2 ** 31 - 1;

/**
 * The memory budget of one checkpoint: the tensors materialised from it hold at most
 * `OUTPUT_BUDGET_FACTOR × (bytes of the storages they read) + OUTPUT_BUDGET_SLACK` bytes in all. A factor of 4
 * covers F16/BF16 upcast to float32 (2×) with room for a few views that overlap in one storage; a view with stride
 * 0 (`torch.zeros(1).expand(2 ** 26)`: 4 bytes stored, 256 MiB as an array) is what it refuses.
 */
export const OUTPUT_BUDGET_FACTOR = 4;
/** Bytes any checkpoint may materialise beyond {@link OUTPUT_BUDGET_FACTOR} × its storage bytes: 1 MiB. */
export const OUTPUT_BUDGET_SLACK = 2 ** 20;

type OutputArray = NamedTensor['data'];

/** The typed-array reader and the output constructor of a storage type; `undefined` for types no Marian has. */
function elementAccess(
  dtype: StorageDType,
  storage: Uint8Array,
):
  | { read: (i: number) => number | bigint; make: (n: number) => OutputArray; outDtype: NamedTensor['dtype'] }
  | undefined {
  switch (dtype) {
    case 'F32': {
      const src = new Float32Array(storage.buffer, storage.byteOffset, storage.byteLength / 4);
      return { read: (i) => src[i], make: (n) => new Float32Array(n), outDtype: 'F32' };
    }
    case 'F16':
    case 'BF16': {
      const src = new Uint16Array(storage.buffer, storage.byteOffset, storage.byteLength / 2);
      const bits = new Uint32Array(1);
      const asFloat = new Float32Array(bits.buffer);
      const read =
        dtype === 'F16'
          ? (i: number) => halfToFloat(src[i])
          : (i: number) => {
              bits[0] = src[i] << 16;
              return asFloat[0];
            };
      return { read, make: (n) => new Float32Array(n), outDtype: dtype };
    }
    case 'F64': {
      const src = new Float64Array(storage.buffer, storage.byteOffset, storage.byteLength / 8);
      return { read: (i) => src[i], make: (n) => new Float64Array(n), outDtype: 'F64' };
    }
    case 'I64': {
      const src = new BigInt64Array(storage.buffer, storage.byteOffset, storage.byteLength / 8);
      return { read: (i) => src[i], make: (n) => new BigInt64Array(n), outDtype: 'I64' };
    }
    case 'I32': {
      const src = new Int32Array(storage.buffer, storage.byteOffset, storage.byteLength / 4);
      return { read: (i) => src[i], make: (n) => new Int32Array(n), outDtype: 'I32' };
    }
    case 'U8':
    case 'BOOL': {
      const src = storage;
      return { read: (i) => src[i], make: (n) => new Uint8Array(n), outDtype: 'U8' };
    }
    default:
      return undefined;
  }
}

/**
 * A storage's bytes where typed arrays can view them: the bytes themselves when 8-byte aligned (torch aligns zip
 * members to 64 bytes), else an aligned copy (legacy files place storages anywhere).
 */
function aligned(storage: Uint8Array): Uint8Array {
  return storage.byteOffset % 8 === 0 ? storage : new Uint8Array(storage); // a copy (Buffer#slice would be a view)
}

/**
 * Copies the elements a view selects (offset + Σ index·stride) into a row-major array; F16/BF16 become float32.
 * `reserve(bytes)` is called before the output is allocated and throws when the checkpoint's budget is spent.
 */
function materialize(
  ref: TensorRef,
  storage: Uint8Array,
  source: string,
  name: string,
  reserve: (bytes: number) => void,
): NamedTensor {
  const { dtype } = ref.storage;
  const itemBytes = ITEM_BYTES[dtype];
  if (storage.byteLength % itemBytes)
    invalidData(`${source}: storage ${ref.storage.key} is not whole ${dtype} items.`);
  const available = storage.byteLength / itemBytes;
  const outBytes = OUTPUT_BYTES[dtype];
  // The element count, refused as soon as a partial product passes the cap (no overflow, no huge product).
  let count = ref.shape.includes(0) ? 0 : 1;
  for (let k = 0; count > 0 && k < ref.shape.length; k++) {
    count *= ref.shape[k];
    if (count * outBytes > MAX_TENSOR_BYTES) {
      invalidData(
        `${source}: tensor ${name} of shape [${ref.shape}] ${dtype} is larger than ${MAX_TENSOR_BYTES} bytes.`,
      );
    }
  }
  if (count > 0) {
    const last = ref.shape.reduce((sum, size, k) => sum + (size - 1) * ref.stride[k], ref.offset);
    if (last >= available) {
      invalidData(
        `${source}: tensor ${name} reads element ${last} of storage ${ref.storage.key}, which holds ${available}.`,
      );
    }
  }
  const access = elementAccess(dtype, storage);
  if (!access) {
    return invalidData(
      `${source}: tensor ${name} has element type ${dtype}, which no Marian checkpoint holds.`,
    );
  }
  reserve(count * outBytes);
  const out = access.make(count);
  if (count === 0) return { dtype: access.outDtype, shape: [...ref.shape], data: out };
  const rank = ref.shape.length;
  // Row-major contiguous F32 view (the usual case): one copy of the bytes.
  let expected = 1;
  let contiguous = true;
  for (let k = rank - 1; k >= 0; k--) {
    if (ref.shape[k] !== 1 && ref.stride[k] !== expected) contiguous = false;
    expected *= ref.shape[k];
  }
  if (contiguous && dtype === 'F32') {
    (out as Float32Array).set(new Float32Array(storage.buffer, storage.byteOffset + ref.offset * 4, count));
    return { dtype: access.outDtype, shape: [...ref.shape], data: out };
  }
  // Otherwise walk the index space in row-major order with an odometer over the strides.
  const { read } = access;
  const index = new Array<number>(rank).fill(0);
  let at = ref.offset;
  for (let i = 0; i < count; i++) {
    (out as { [k: number]: number | bigint })[i] = read(at);
    for (let k = rank - 1; k >= 0; k--) {
      index[k]++;
      at += ref.stride[k];
      if (index[k] < ref.shape[k]) break;
      at -= index[k] * ref.stride[k];
      index[k] = 0;
    }
  }
  return { dtype: access.outDtype, shape: [...ref.shape], data: out };
}

/**
 * Materializes every tensor of a state dict; views that are the same (tied weights: one storage, offset, shape
 * and stride) share one result, so a 58k × 512 embedding tied four ways is copied once. Each storage is fetched
 * (and inflated, for a deflated zip member) once; the arrays materialised stay within the budget
 * {@link OUTPUT_BUDGET_FACTOR} × (bytes of the storages read) + {@link OUTPUT_BUDGET_SLACK}, checked before each
 * allocation.
 */
function materializeAll(
  refs: Map<string, TensorRef>,
  source: string,
  storageBytes: (key: string, name: string) => Uint8Array,
): Map<string, NamedTensor> {
  const buffers = new Map<string, Uint8Array>();
  let storageTotal = 0;
  for (const [name, ref] of refs) {
    if (buffers.has(ref.storage.key)) continue;
    const bytes = storageBytes(ref.storage.key, name);
    storageTotal += bytes.length;
    buffers.set(ref.storage.key, aligned(bytes));
  }
  const budget = OUTPUT_BUDGET_FACTOR * storageTotal + OUTPUT_BUDGET_SLACK;
  let spent = 0;
  const reserve = (name: string) => (bytes: number) => {
    spent += bytes;
    if (spent > budget) {
      invalidData(
        `${source}: tensor ${name} takes the tensors read past ${budget} bytes, ${OUTPUT_BUDGET_FACTOR}× the ${storageTotal} bytes of storage they view (+ ${OUTPUT_BUDGET_SLACK}): views with stride 0 or overlapping views are not expanded that far.`,
      );
    }
  };
  const tensors = new Map<string, NamedTensor>();
  const views = new Map<string, NamedTensor>();
  for (const [name, ref] of refs) {
    const signature = `${ref.storage.key}|${ref.offset}|${ref.shape}|${ref.stride}`;
    let tensor = views.get(signature);
    if (!tensor) {
      tensor = materialize(ref, buffers.get(ref.storage.key)!, source, name, reserve(name));
      views.set(signature, tensor);
    }
    tensors.set(name, tensor);
  }
  return tensors;
}

function stateDict(value: unknown, source: string): Map<string, TensorRef> {
  if (!(value instanceof Map))
    invalidData(`${source}: the pickle holds no state dict (an OrderedDict of tensors).`);
  const out = new Map<string, TensorRef>();
  for (const [name, tensor] of value as Map<unknown, unknown>) {
    if (typeof name !== 'string' || !(tensor && (tensor as TensorRef).kind === 'tensor')) {
      invalidData(`${source}: state dict entry ${String(name)} is not a tensor.`);
    }
    out.set(name as string, tensor as TensorRef);
  }
  return out;
}

function readZipCheckpoint(bytes: Uint8Array, source: string): Map<string, NamedTensor> {
  const entries = readZip(bytes, source);
  const pickleName = [...entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pickleName) return invalidData(`${source}: a zip without <name>/data.pkl is not a torch.save file.`);
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder.data()).trim() !== 'little') {
    invalidData(`${source}: big-endian checkpoints are not read.`);
  }
  const storages = new Map<string, StorageRef>();
  const { value } = readPickle(entries.get(pickleName)!.data(), {
    source: `${source}:${pickleName}`,
    persistentLoad: (pid) => {
      const storage = storageFromPid(pid, source);
      const known = storages.get(storage.key);
      if (known && known.dtype !== storage.dtype)
        invalidData(`${source}: storage ${storage.key} has two types.`);
      if (!known) storages.set(storage.key, storage);
      return known ?? storage;
    },
  });
  return materializeAll(stateDict(value, source), source, (key, name) => {
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) return invalidData(`${source}: storage ${key} of ${name} is missing.`);
    return entry.data();
  });
}

/** The pre-1.6 format: magic, protocol, sys info, the state dict, the storage keys, then each storage's data. */
function readLegacyCheckpoint(bytes: Uint8Array, source: string): Map<string, NamedTensor> {
  const noPersistent = () => invalidData(`${source}: unexpected persistent id.`);
  const magic = readPickle(bytes, { source, persistentLoad: noPersistent });
  if (magic.value !== LEGACY_MAGIC) invalidData(`${source}: not a torch.save file (no magic number).`);
  const protocol = readPickle(bytes, { source, persistentLoad: noPersistent }, magic.end);
  if (protocol.value !== 1001)
    invalidData(
      `${source}: torch.save protocol ${typeof protocol.value === 'number' ? protocol.value : typeof protocol.value} is not read.`,
    );
  const info = readPickle(bytes, { source, persistentLoad: noPersistent }, protocol.end);
  if (!(info.value instanceof Map) || info.value.get('little_endian') !== true) {
    invalidData(`${source}: big-endian checkpoints are not read.`);
  }
  const storages = new Map<string, StorageRef>();
  const main = readPickle(
    bytes,
    {
      source,
      persistentLoad: (pid) => {
        const storage = storageFromPid(pid, source);
        const known = storages.get(storage.key);
        if (!known) storages.set(storage.key, storage);
        return known ?? storage;
      },
    },
    info.end,
  );
  const keys = readPickle(bytes, { source, persistentLoad: noPersistent }, main.end);
  if (!Array.isArray(keys.value) || keys.value.some((k) => typeof k !== 'string')) {
    invalidData(`${source}: the storage key list is malformed.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const storage = storages.get(key);
    if (!storage || at + 8 > bytes.length) return invalidData(`${source}: storage ${key} is missing.`);
    const count = Number(view.getBigInt64(at, true));
    const length = count * ITEM_BYTES[storage.dtype];
    if (count < 0 || at + 8 + length > bytes.length)
      invalidData(`${source}: storage ${key} runs past the file.`);
    data.set(key, bytes.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return materializeAll(stateDict(main.value, source), source, (key, name) => {
    const storage = data.get(key);
    return storage ?? invalidData(`${source}: storage ${key} of ${name} is missing.`);
  });
}

/**
 * Reads a `pytorch_model.bin` state dict without running Python: the zip format of `torch.save` (torch ≥ 1.6: a
 * restricted pickle plus one `data/<key>` member per storage) or the older non-zip format. Views are resolved
 * through their storage offset and strides, so transposed or sliced tensors and tensors sharing one storage
 * (tied weights) come out right. F16/BF16 are upcast to float32 (the dtype field keeps the stored type).
 * Throws `INVALID_DATA` naming `source` for a pickle that references anything but the state-dict vocabulary, and
 * for a file asking for more memory than it holds: a tensor over {@link MAX_TENSOR_BYTES}, or tensors (stride-0
 * views, say) beyond {@link OUTPUT_BUDGET_FACTOR} × their storage bytes + {@link OUTPUT_BUDGET_SLACK} in all.
 */
export function readPytorchBin(bytes: Uint8Array, source = 'pytorch_model.bin'): Map<string, NamedTensor> {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    return readZipCheckpoint(bytes, source);
  }
  if (bytes.length >= 3 && bytes[0] === 0x80 && bytes[2] === 0x8a) return readLegacyCheckpoint(bytes, source);
  return invalidData(`${source}: neither a torch.save zip nor the legacy torch.save format.`);
}
