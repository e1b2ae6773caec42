/**
 * Test helpers (imported only by `*.test.ts`): hand-assembled pickles and stored zip archives, to build the
 * malformed `torch.save` files real tools never write, and the allocation probe the hostile-file tests use.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EncouragingLossError } from '@encouraging-loss/core';
import fc from 'fast-check';

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const utf8 = (text: string) => new TextEncoder().encode(text);

/** Concatenates pickle pieces: numbers are opcode/raw bytes, strings raw latin-1 text, arrays as they are. */
export function bytesOf(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) =>
    typeof p === 'number' ? Uint8Array.of(p) : typeof p === 'string' ? latin1(p) : p,
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Pickle opcodes used by the builders (names as in CPython's pickletools). */
export const OP = {
  PROTO: 0x80,
  STOP: 0x2e,
  MARK: 0x28,
  EMPTY_DICT: 0x7d,
  EMPTY_LIST: 0x5d,
  EMPTY_TUPLE: 0x29,
  TUPLE: 0x74,
  TUPLE1: 0x85,
  REDUCE: 0x52,
  SETITEMS: 0x75,
  APPEND: 0x61,
  APPENDS: 0x65,
  BINPERSID: 0x51,
  BININT1: 0x4b,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  LONG_BINGET: 0x6a,
  NEWFALSE: 0x89,
  NONE: 0x4e,
} as const;

/** SHORT_BINUNICODE / BINUNICODE of `text`. */
export function pickleString(text: string): Uint8Array {
  const bytes = utf8(text);
  if (bytes.length < 256) return bytesOf(0x8c, bytes.length, bytes);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, bytes.length, true);
  return bytesOf(0x58, length, bytes);
}

/** BININT (a signed 32-bit int) or LONG1 (8 bytes) for larger magnitudes. */
export function pickleInt(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) {
    const out = new Uint8Array(5);
    out[0] = 0x4a;
    new DataView(out.buffer).setInt32(1, value, true);
    return out;
  }
  const out = new Uint8Array(10);
  out[0] = 0x8a;
  out[1] = 8;
  new DataView(out.buffer).setBigInt64(2, BigInt(value), true);
  return out;
}

/** GLOBAL `module.name` (protocol 2 text form). */
export function pickleGlobal(module: string, name: string): Uint8Array {
  return bytesOf(0x63, `${module}\n${name}\n`);
}

/** A tuple of already-pickled items (MARK … TUPLE). */
export function pickleTuple(...items: Uint8Array[]): Uint8Array {
  return bytesOf(OP.MARK, ...items, OP.TUPLE);
}

/** One tensor view of a state dict, as `_rebuild_tensor_v2` receives it. */
export interface ViewSpec {
  name: string;
  storage: string;
  storageType?: string;
  storageSize?: number;
  offset?: number | bigint;
  shape: (number | bigint)[];
  stride: (number | bigint)[];
}

/** The `data.pkl` of `torch.save(OrderedDict(...))` for these views, as torch writes it (protocol 2). */
export function stateDictPickle(views: ViewSpec[]): Uint8Array {
  const items = views.map((v) =>
    bytesOf(
      pickleString(v.name),
      pickleGlobal('torch._utils', '_rebuild_tensor_v2'),
      pickleTuple(
        bytesOf(
          pickleTuple(
            pickleString('storage'),
            pickleGlobal('torch', v.storageType ?? 'FloatStorage'),
            pickleString(v.storage),
            pickleString('cpu'),
            pickleInt(v.storageSize ?? 0),
          ),
          OP.BINPERSID,
        ),
        pickleInt(v.offset ?? 0),
        pickleTuple(...v.shape.map(pickleInt)),
        pickleTuple(...v.stride.map(pickleInt)),
        bytesOf(OP.NEWFALSE),
        bytesOf(pickleGlobal('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE),
      ),
      OP.REDUCE,
    ),
  );
  return bytesOf(
    OP.PROTO,
    2,
    pickleGlobal('collections', 'OrderedDict'),
    OP.EMPTY_TUPLE,
    OP.REDUCE,
    OP.MARK,
    ...items,
    OP.SETITEMS,
    OP.STOP,
  );
}

/** A zip archive of stored members, laid out as `torch.save` writes one (no CRCs: the readers do not check them). */
export function storedZip(members: { name: string; data: Uint8Array }[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of members) {
    const nameBytes = utf8(name);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const central = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    central.set(nameBytes, 46);
    locals.push(local, data);
    centrals.push(central);
    offset += local.length + data.length;
  }
  const directorySize = centrals.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, directorySize, true);
  ev.setUint32(16, offset, true);
  return bytesOf(...locals, ...centrals, end);
}

/** A torch.save zip (`archive/data.pkl`, `archive/data/<key>`, `archive/byteorder`) of a pickle and storages. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>): Uint8Array {
  return storedZip([
    { name: 'archive/data.pkl', data: pickle },
    { name: 'archive/byteorder', data: utf8('little') },
    ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
  ]);
}

let collect: (() => void) | undefined;
/** V8's `gc()`, exposed at run time (vitest's workers start without `--expose-gc`). */
export function collectGarbage(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

/** What a reader did with a hostile input: returned a value, or threw `INVALID_DATA` naming `source`. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Runs `read` and classifies the result. Any throw other than `EncouragingLossError('INVALID_DATA')` whose message
 * names `source` (a TypeError, a RangeError, a stack overflow, another code) is rethrown: that is the bug these
 * tests look for. `arrayBuffersBound` bytes is the most `process.memoryUsage().arrayBuffers` may grow across the
 * call (the result included); the growth is measured without a collection in between, so a large array allocated
 * and dropped inside the call still counts.
 */
export function outcome<T>(
  source: string,
  read: () => T,
  arrayBuffersBound = Number.POSITIVE_INFINITY,
): Outcome<T> & { grew: number } {
  const before = process.memoryUsage().arrayBuffers;
  let result: Outcome<T>;
  try {
    result = { ok: true, value: read() };
  } catch (error) {
    if (
      !(error instanceof EncouragingLossError) ||
      error.code !== 'INVALID_DATA' ||
      !error.message.includes(source)
    ) {
      throw error;
    }
    result = { ok: false, message: error.message };
  }
  const grew = process.memoryUsage().arrayBuffers - before;
  if (grew > arrayBuffersBound) {
    throw new Error(
      `${source}: array buffers grew by ${grew} bytes, more than the ${arrayBuffersBound} allowed.`,
    );
  }
  return { ...result, grew };
}

/**
 * Runs of a fuzz property: `ci` in normal test runs (fixed seeds, so CI is deterministic); with `EL_FUZZ_RUNS=n`
 * (`pnpm fuzz`) n / `cost` runs with a fresh seed each time (fast-check prints it with any counterexample).
 * `cost` is how many times slower one case is than a binary reader's (tokenizer.json through transformers.js: 10).
 */
export function fuzzParameters(ci: number, seed: number, cost = 1): { numRuns: number; seed?: number } {
  const requested = Number(process.env.EL_FUZZ_RUNS);
  if (Number.isFinite(requested) && requested > 0)
    return { numRuns: Math.max(ci, Math.ceil(requested / cost)) };
  return { numRuns: ci, seed };
}

/** One edit of a byte string: positions are taken modulo the length, so any edit applies to any input. */
export type ByteEdit =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'u64'; at: number; value: bigint };

/** Values a length or offset field is patched to: the edges of the integer types and small lies. */
const INTERESTING_U32 = [
  0, 1, 2, 7, 8, 255, 256, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];
const INTERESTING_U64 = [
  0n,
  1n,
  8n,
  2n ** 31n,
  2n ** 32n,
  2n ** 53n,
  2n ** 63n - 1n,
  2n ** 64n - 1n,
  100_000_001n,
];

/**
 * Arbitrary edits of a byte string of `length` bytes; `hot` ranges (where its structure lives: headers, the
 * pickle, the zip directory) get most positions.
 */
export function byteEdits(
  length: number,
  hot: [number, number][] = [],
  maxEdits = 4,
): fc.Arbitrary<ByteEdit[]> {
  const position = fc.oneof(
    fc.nat(Math.max(0, length - 1)),
    ...hot.map(([from, to]) => fc.integer({ min: from, max: Math.max(from, to - 1) })),
  );
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: position }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: position,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: position,
      length: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({
      kind: fc.constant('u32' as const),
      at: position,
      value: fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat()),
    }),
    fc.record({
      kind: fc.constant('u64' as const),
      at: position,
      value: fc.oneof(fc.constantFrom(...INTERESTING_U64), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: maxEdits });
}

/** Applies edits in order to a copy of `bytes`. */
export function applyEdits(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let out: Uint8Array = Uint8Array.from(bytes);
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % out.length;
    switch (edit.kind) {
      case 'set':
        if (out.length) out[at] = edit.value;
        break;
      case 'flip':
        if (out.length) out[at] ^= 1 << edit.bit;
        break;
      case 'cut':
        out = out.slice(0, at);
        break;
      case 'insert':
        out = bytesOf(out.subarray(0, at), edit.bytes, out.subarray(at));
        break;
      case 'delete':
        out = bytesOf(out.subarray(0, at), out.subarray(at + edit.length));
        break;
      case 'u32':
        if (at + 4 <= out.length) new DataView(out.buffer).setUint32(at, edit.value >>> 0, true);
        break;
      case 'u64':
        if (at + 8 <= out.length) new DataView(out.buffer).setBigUint64(at, edit.value, true);
        break;
    }
  }
  return out;
}
