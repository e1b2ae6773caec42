import { invalidData } from '../errors.js';

/**
 * A restricted reader for the Python pickles `torch.save` writes for a state dict. It runs no code: it knows the
 * opcodes of protocols 2–4 that build plain data (ints, floats, strings, bytes, tuples, lists, dicts) and exactly
 * these globals, which it maps to data instead of calling them:
 *
 * - `collections.OrderedDict` → a `Map` (the state dict; a `BUILD` of its `_metadata` is accepted and ignored)
 * - `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` → a {@link TensorRef} (storage, offset, size, stride)
 * - `torch._utils._rebuild_parameter` → the tensor it wraps
 * - `torch.FloatStorage`, `HalfStorage`, `BFloat16Storage`, `DoubleStorage`, `LongStorage`, `IntStorage` … → a
 *   storage type named in a persistent id
 *
 * Any other global (`os.system`, `builtins.eval`, a model class …) is `INVALID_DATA` at the opcode that names it,
 * before anything could use it.
 */

/** Element types of the storages torch writes, with their safetensors names. */
export const STORAGE_TYPES = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
} as const;
export type StorageDType = (typeof STORAGE_TYPES)[keyof typeof STORAGE_TYPES];

/** A storage named by a persistent id: its element type, its key (the zip entry `data/<key>`) and length. */
export interface StorageRef {
  kind: 'storage';
  dtype: StorageDType;
  key: string;
  /** Number of elements (legacy files) or bytes/elements as the persistent id says; checked against the data. */
  size: number;
}

/** A tensor view of a storage, as `_rebuild_tensor_v2(storage, offset, size, stride, …)` describes it. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

interface Global {
  kind: 'global';
  name: string;
}

class Tuple {
  constructor(readonly items: unknown[]) {}
}

const MARK = Symbol('mark');

const ALLOWED = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_TYPES).map((name) => `torch.${name}`),
]);

/** Options of {@link readPickle}. */
export interface PickleOptions {
  /** File name for messages. */
  source: string;
  /** Maps a persistent id (a tuple's items) to a value; storages are deduplicated by the caller. */
  persistentLoad: (pid: unknown[]) => unknown;
}

/** Tuples are returned as arrays. */
function plain(value: unknown): unknown {
  return value instanceof Tuple ? value.items : value;
}

/** A value for a message: primitives as they are, containers by kind only (they may nest deeply or be cyclic). */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null || typeof value !== 'object')
    return typeof value === 'symbol' ? 'a MARK' : String(value);
  if (value instanceof Tuple) return 'a tuple';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a dict';
  return `a ${(value as { kind?: string }).kind ?? 'value'}`;
}

function integer(value: unknown, what: string, source: string): number {
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    invalidData(`${source}: ${what} must be a non-negative integer, got ${describe(value)}.`);
  }
  return value as number;
}

function rebuildTensor(args: unknown[], source: string): TensorRef {
  const [storage, offset, size, stride] = args;
  const sizes = plain(size);
  const strides = plain(stride);
  if (
    !(storage && typeof storage === 'object' && (storage as StorageRef).kind === 'storage') ||
    !Array.isArray(sizes) ||
    !Array.isArray(strides) ||
    sizes.length !== strides.length
  ) {
    return invalidData(`${source}: _rebuild_tensor_v2 called with arguments a state dict never has.`);
  }
  return {
    kind: 'tensor',
    storage: storage as StorageRef,
    offset: integer(offset, 'a storage offset', source),
    shape: sizes.map((s) => integer(s, 'a tensor size', source)),
    stride: strides.map((s) => integer(s, 'a tensor stride', source)),
  };
}

/**
 * Reads one pickle from `bytes` starting at `start`; returns the value and the offset after its STOP opcode.
 * Throws `INVALID_DATA` (naming the file and byte offset) for an opcode or a global outside the state-dict subset.
 */
export function readPickle(
  bytes: Uint8Array,
  options: PickleOptions,
  start = 0,
): { value: unknown; end: number } {
  const { source } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let opcodeAt = start;
  const fail = (message: string): never => invalidData(`${source}: pickle byte ${opcodeAt}: ${message}`);
  const need = (n: number) => {
    if (pos + n > bytes.length) fail('the pickle ends early.');
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = () => {
    need(4);
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const u64 = () => {
    need(8);
    pos += 8;
    const value = view.getBigUint64(pos - 8, true);
    if (value > BigInt(bytes.length)) fail(`a length of ${value} exceeds the file.`);
    return Number(value);
  };
  const take = (n: number) => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const text = (n: number) => {
    try {
      return decoder.decode(take(n));
    } catch {
      return fail('a string is not valid UTF-8.');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a GLOBAL name has no end of line.');
    const value = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return value;
  };
  const top = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) fail('the stack is empty.');
    return stack[stack.length - 1];
  };
  const pop = () => {
    top();
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail('no MARK on the stack.');
    return stack.splice(at).slice(1);
  };
  const global = (module: string, name: string): Global => {
    const full = `${module}.${name}`;
    if (!ALLOWED.has(full)) {
      fail(
        `refers to the Python global ${full}; a PyTorch state dict never does, so the file is refused unread.`,
      );
    }
    return { kind: 'global', name: full };
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEMS on something that is not a dict.');
    if (items.length % 2) fail('SETITEMS with an odd number of items.');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number')
        fail('a dict key that is not a string or an int.');
      (target as Map<unknown, unknown>).set(key, items[i + 1]);
    }
  };
  const callGlobal = (callable: unknown, args: unknown): unknown => {
    if (!(callable && typeof callable === 'object' && (callable as Global).kind === 'global')) {
      return fail('REDUCE of something that is not a known global.');
    }
    const list = plain(args);
    if (!Array.isArray(list)) return fail('REDUCE arguments are not a tuple.');
    switch ((callable as Global).name) {
      case 'collections.OrderedDict':
        if (list.length !== 0) fail('OrderedDict built from arguments.');
        return new Map();
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor':
        return rebuildTensor(list, source);
      case 'torch._utils._rebuild_parameter': {
        const tensor = list[0] as TensorRef | undefined;
        if (tensor?.kind !== 'tensor') fail('_rebuild_parameter of something that is not a tensor.');
        return tensor;
      }
      default:
        return fail(`${(callable as Global).name} is a type, not something a state dict calls.`);
    }
  };

  for (;;) {
    opcodeAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unknown pickle protocol.');
        break;
      case 0x95: // FRAME (protocol 4): a length prefix only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || stack[0] === MARK) fail(`STOP with ${stack.length} values on the stack.`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new Tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new Tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new Tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new Tuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new Tuple([pop(), b, c]));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo ${key} was never stored.`);
        stack.push(memo.get(key));
        break;
      }
      case 0x4a: // BININT
        need(4);
        pos += 4;
        stack.push(view.getInt32(pos - 4, true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = u8();
        const raw = take(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
        if (n > 0 && raw[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        stack.push(
          value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(value)
            : value,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        pos += 8;
        stack.push(view.getFloat64(pos - 8, false));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL of non-strings.');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(callGlobal(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: only the state dict's `_metadata` (module versions), which is not needed.
        const state = pop();
        const target = stack[stack.length - 1];
        if (!(target instanceof Map) || !(state instanceof Map || state instanceof Tuple)) {
          fail('BUILD of something other than an OrderedDict.');
        }
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(stack[stack.length - 1], [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(stack[stack.length - 1], items);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) fail('APPEND to something that is not a list.');
        (list as unknown[]).push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) fail('APPENDS to something that is not a list.');
        // One by one: spreading 100k+ items as arguments overflows the call stack.
        for (const item of items) (list as unknown[]).push(item);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = plain(pop());
        if (!Array.isArray(pid)) fail('a persistent id that is not a tuple.');
        stack.push(options.persistentLoad(pid as unknown[]));
        break;
      }
      default:
        fail(
          `opcode 0x${op.toString(16).padStart(2, '0')} is outside what torch.save writes for a state dict.`,
        );
    }
  }
}

/** Reads the storage type and key of a persistent id `('storage', torch.XStorage, key, location, size[, view])`. */
export function storageFromPid(pid: unknown[], source: string): StorageRef {
  const [tag, type, key, , size, view] = pid;
  const name =
    (type as Global | undefined)?.kind === 'global' ? (type as Global).name.slice('torch.'.length) : '';
  if (tag !== 'storage' || !(name in STORAGE_TYPES) || typeof key !== 'string') {
    return invalidData(`${source}: a persistent id that is not a torch storage.`);
  }
  if (view !== undefined && view !== null)
    invalidData(`${source}: storage views of the pre-1.0 format are not read.`);
  return {
    kind: 'storage',
    dtype: STORAGE_TYPES[name as keyof typeof STORAGE_TYPES],
    key,
    size: integer(size, 'a storage size', source),
  };
}
