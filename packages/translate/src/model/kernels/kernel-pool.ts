import { BATCH_MATMUL_SHARED } from './batch-matmul-bytes.js';
import { GEMM_SHARED } from './gemm-bytes.js';
import { moduleBytes } from './heap-module.js';

/**
 * A worker the pool can start: what both Node's `worker_threads.Worker` and the browser's `Worker` offer. The pool
 * only posts one message (its set-up) and later terminates it; everything else goes through shared memory.
 */
export interface KernelWorker {
  postMessage(message: unknown): void;
  terminate(): unknown;
  /** Node: let the process exit while the worker waits. */
  unref?(): void;
}

/** Starts a worker running `source`, a classic worker script that uses only `self.onmessage` (set once, then cleared). */
export type SpawnKernelWorker = (source: string) => KernelWorker;

/** The jobs a pool runs: the app kernel of the same name split by output rows, 8-column panels or batch items. */
const OP_GEMM = 1;
const OP_BMM = 2;
const OP_GEMM_PACKED = 3;

// Layout of the control block (Int32 slots). A job is cut into fixed chunks of rows (or batch items); whoever is
// free claims the next chunk by a compare-and-swap on CLAIM, which holds the job's tag (its generation) above the
// next chunk's index, so a worker that wakes late can never claim a chunk of another job. The caller claims chunks
// too and waits only for chunks already running elsewhere: a worker that does not get a core (a shared machine)
// costs nothing but its unclaimed share.
const GENERATION = 0; // bumped per job; idle workers wait on it
const CLAIM = 1; // (tag << 16) | next chunk
const DONE = 2; // chunks finished
const OP = 3;
const CHUNKS = 4;
const PER = 5; // items per chunk
const ITEMS = 6;
const ARGS = 8; // up to 24 i32 arguments
const MAX_THREADS = 64;
const CHUNKS_PER_THREAD = 4;
const MAX_CHUNKS = MAX_THREADS * CHUNKS_PER_THREAD;
const FAILED = 32; // 1 per chunk a worker could not compute (the caller recomputes it)
const SLOTS = FAILED + MAX_CHUNKS;
const TAG_MASK = 0x7fff;

/**
 * The worker's script: instantiates the kernel modules on the shared heap, then waits on the control block and
 * claims chunks of each job until none is left. It never returns to its event loop: the pool terminates it. A
 * classic browser worker script (`self.onmessage`); under Node the spawner defines `self` over worker_threads.
 */
const WORKER_SOURCE = `'use strict';
const onMessage = (data) => {
  // index: this worker's thread number (the caller is 0), which picks its own scratch for the packed product.
  const { memory, control, gemm, bmm, index } = data;
  const c = new Int32Array(control);
  const instance = (bytes) => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  let kernels;
  try {
    const products = instance(gemm);
    kernels = { gemm: products.gemm, gemmPacked: products.gemmPacked, bmm: instance(bmm).bmm, index };
  } catch {
    // This worker claims nothing: the caller and the other workers compute every chunk.
  }
  // 0, not the current value: a job posted before this worker started is still run. The loop ends when the pool
  // terminates the worker.
  let generation = 0;
  for (;;) {
    Atomics.wait(c, ${GENERATION}, generation);
    generation = Atomics.load(c, ${GENERATION});
    if (!kernels) continue;
    const tag = generation & ${TAG_MASK};
    for (;;) {
      const claim = Atomics.load(c, ${CLAIM});
      const chunk = claim & 0xffff;
      if (claim >>> 16 !== tag || chunk >= Atomics.load(c, ${CHUNKS})) break;
      if (Atomics.compareExchange(c, ${CLAIM}, claim, claim + 1) !== claim) continue;
      // The job cannot change before this chunk is counted done: its arguments are stable here.
      const per = c[${PER}];
      const start = chunk * per;
      const end = Math.min(c[${ITEMS}], start + per);
      try {
        run(kernels, c[${OP}], c, start, end);
      } catch {
        Atomics.store(c, ${FAILED} + chunk, 1);
      }
      Atomics.add(c, ${DONE}, 1);
      Atomics.notify(c, ${DONE});
    }
  }
};
function run(kernels, op, c, start, end) {
  const u = (i) => c[${ARGS} + i] >>> 0;
  if (op === ${OP_GEMM}) {
    const [a, b, out, k, n, kb] = [u(0), u(1), u(2), u(3), u(4), u(5)];
    kernels.gemm(a + start * k * 4, b, out + start * n * 4, end - start, k, n, kb);
  } else if (op === ${OP_GEMM_PACKED}) {
    const [a, b, out, m, k, n, lda, ldb, trans, kb, mb] = [u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7), u(8),
      u(9), u(10)];
    const scratch = u(11) + kernels.index * u(12);
    if (u(13)) {
      const bs = trans & 2 ? b + start * 32 * ldb : b + start * 32;
      kernels.gemmPacked(a, bs, out + start * 32, m, k, (end - start) * 8, lda, ldb, n, trans, kb, mb, scratch);
    } else {
      const as = trans & 1 ? a + start * 4 : a + start * lda * 4;
      kernels.gemmPacked(as, b, out + start * n * 4, end - start, k, n, lda, ldb, n, trans, kb, mb, scratch);
    }
  } else if (op === ${OP_BMM}) {
    const [a, b, out, m, k, n] = [u(0), u(1), u(2), u(3), u(4), u(5)];
    kernels.bmm(a + start * m * k * 4, b + start * k * n * 4, out + start * m * n * 4, end - start, m, k, n,
      u(6), u(7), u(8), u(9));
  }
}
self.onmessage = (event) => {
  self.onmessage = null;
  onMessage(event.data);
};
`;

/** Whether this thread may block in `Atomics.wait` (a browser page's main thread may not). */
export function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Threads for the app's own WebAssembly kernels (the blocked 2-D product and the batched product), over the shared
 * heap of tfjs-backend-wasm's threaded build. A job is cut into chunks of output rows (2-D, in multiples of the
 * kernel's 4-row tiles), of 8-column panels (a packed product wider than tall) or of batch items, so each entry is
 * computed exactly as on one thread: results are bit-identical
 * whatever the thread count. The calling thread claims chunks like the workers and then blocks (`Atomics.wait`)
 * until the chunks running elsewhere are done: tfjs kernels are synchronous. Workers wait on a futex between jobs
 * (no spinning: on a shared machine a spinning worker takes a core from whoever is working).
 */
export class KernelPool {
  readonly threads: number;
  private readonly control: Int32Array;
  private readonly workers: KernelWorker[];
  private readonly memory: WebAssembly.Memory;
  private closed = false;
  /** Chunks a worker could not compute and the caller computed again (a diagnostic; 0 in a healthy pool). */
  recomputedChunks = 0;

  private constructor(memory: WebAssembly.Memory, threads: number, spawn: SpawnKernelWorker) {
    this.memory = memory;
    this.threads = threads;
    this.control = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
    const gemm = moduleBytes(GEMM_SHARED);
    const bmm = moduleBytes(BATCH_MATMUL_SHARED);
    this.workers = [];
    for (let worker = 1; worker < threads; worker++) {
      const started = spawn(WORKER_SOURCE);
      started.unref?.();
      started.postMessage({ memory, control: this.control.buffer, gemm, bmm, index: worker });
      this.workers.push(started);
    }
  }

  /**
   * A pool of `threads` (the caller and `threads − 1` workers) on `memory`, or undefined when it cannot run here:
   * fewer than two threads, an unshared memory, or a thread that may not block.
   */
  static create(
    memory: WebAssembly.Memory,
    threads: number,
    spawn: SpawnKernelWorker,
  ): KernelPool | undefined {
    if (!(threads > 1) || typeof SharedArrayBuffer === 'undefined') return undefined;
    if (!(memory.buffer instanceof SharedArrayBuffer) || !mayBlock()) return undefined;
    return new KernelPool(memory, Math.min(Math.floor(threads), MAX_THREADS), spawn);
  }

  /** Whether this pool runs on `memory` (tfjs's heap; a new backend instance has a new one). */
  runsOn(memory: WebAssembly.Memory): boolean {
    return memory === this.memory;
  }

  /**
   * Runs `local(start, end)` here and the same job on the workers, over `items` split into `threads` ranges whose
   * boundaries are multiples of `align`; returns when every range is done. Fewer items than ranges leave workers idle.
   */
  private run(
    op: number,
    args: readonly number[],
    items: number,
    align: number,
    local: (start: number, end: number) => void,
  ): void {
    const blocks = Math.ceil(items / align);
    const chunks = Math.min(blocks, this.threads * CHUNKS_PER_THREAD);
    if (this.closed || chunks < 2) {
      local(0, items);
      return;
    }
    const c = this.control;
    const per = Math.ceil(blocks / chunks) * align;
    const count = Math.ceil(items / per);
    for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i] | 0;
    c[OP] = op;
    c[CHUNKS] = count;
    c[PER] = per;
    c[ITEMS] = items;
    c.fill(0, FAILED, FAILED + count);
    Atomics.store(c, DONE, 0);
    const tag = (c[GENERATION] + 1) & TAG_MASK;
    Atomics.store(c, CLAIM, tag << 16);
    Atomics.add(c, GENERATION, 1);
    Atomics.notify(c, GENERATION);
    for (;;) {
      const claim = Atomics.load(c, CLAIM);
      const chunk = claim & 0xffff;
      if (chunk >= count) break;
      if (Atomics.compareExchange(c, CLAIM, claim, claim + 1) !== claim) continue;
      local(chunk * per, Math.min(items, (chunk + 1) * per));
      Atomics.add(c, DONE, 1);
    }
    for (let done = Atomics.load(c, DONE); done < count; done = Atomics.load(c, DONE)) {
      Atomics.wait(c, DONE, done);
    }
    // A chunk a worker could not compute (a trap in its module): the same rows computed here give the same values.
    for (let chunk = 0; chunk < count; chunk++) {
      if (c[FAILED + chunk] === 0) continue;
      this.recomputedChunks++;
      local(chunk * per, Math.min(items, (chunk + 1) * per));
    }
  }

  /** `gemm(a, b, c, m, k, n, kb)` of gemm.wat split by rows in blocks of 4 (its tiles). */
  gemm(gemm: Gemm, a: number, b: number, out: number, m: number, k: number, n: number, kb: number): void {
    this.run(OP_GEMM, [a, b, out, k, n, kb], m, 4, (start, end) =>
      gemm(a + start * k * 4, b, out + start * n * 4, end - start, k, n, kb),
    );
  }

  /**
   * `gemmPacked` of gemm.wat over all of C, split by rows in blocks of 4 or, when C is wider than tall, by panels
   * of 8 columns: each chunk packs the whole of the other operand's share (B's panels for its rows, or A's rows for
   * its panels), so the split that repeats less packing wins — by rows, a 200-token step's [200, 512] × [512, 2048]
   * would pack all of B once per chunk, as much copying as half its arithmetic. Thread t (the caller is 0) packs into
   * `scratch + t · scratchBytes`, so `scratch` must hold {@link KernelPool.threads} of them.
   */
  gemmPacked(
    kernel: GemmPacked,
    ...[a, b, out, m, k, n, lda, ldb, trans, kb, mb, scratch, scratchBytes]: Parameters<PooledGemmPacked>
  ): void {
    const byColumns = n > m;
    const args = [a, b, out, m, k, n, lda, ldb, trans, kb, mb, scratch, scratchBytes, byColumns ? 1 : 0];
    if (byColumns) {
      this.run(OP_GEMM_PACKED, args, n / 8, 1, (start, end) => {
        const bs = trans & 2 ? b + start * 32 * ldb : b + start * 32;
        kernel(a, bs, out + start * 32, m, k, (end - start) * 8, lda, ldb, n, trans, kb, mb, scratch);
      });
    } else {
      this.run(OP_GEMM_PACKED, args, m, 4, (start, end) => {
        const as = trans & 1 ? a + start * 4 : a + start * lda * 4;
        kernel(as, b, out + start * n * 4, end - start, k, n, lda, ldb, n, trans, kb, mb, scratch);
      });
    }
  }

  /** `bmm(...)` of batch-matmul.wat split by batch items (contiguous operands). */
  bmm(
    bmm: (...args: number[]) => void,
    a: number,
    b: number,
    out: number,
    batch: number,
    m: number,
    k: number,
    n: number,
    strides: readonly [number, number, number, number],
  ): void {
    this.run(OP_BMM, [a, b, out, m, k, n, ...strides], batch, 1, (start, end) =>
      bmm(
        a + start * m * k * 4,
        b + start * k * n * 4,
        out + start * m * n * 4,
        end - start,
        m,
        k,
        n,
        ...strides,
      ),
    );
  }

  /** Stops the workers; later jobs run on the calling thread alone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const worker of this.workers) worker.terminate();
  }
}

/**
 * Products below this many multiply-adds run on the calling thread alone: waking a worker costs tens of µs, about
 * what 2^20 multiply-adds take on one core.
 */
const MIN_WORK = 2 ** 20;

type Gemm = (a: number, b: number, c: number, m: number, k: number, n: number, kb: number) => void;

/** gemm.wat's `gemm` on `memory`, over the pool when one runs there and the product is large enough. */
export function pooledGemm(
  memory: WebAssembly.Memory,
  gemm: Gemm,
  ...[a, b, c, m, k, n, kb]: Parameters<Gemm>
): void {
  const pool = kernelPool();
  if (pool?.runsOn(memory) && m * k * n >= MIN_WORK) pool.gemm(gemm, a, b, c, m, k, n, kb);
  else gemm(a, b, c, m, k, n, kb);
}

/** The operands of a packed product: where A, B and C are, its shape, and A's and B's row strides (in floats). */
type PackedOperands = [
  a: number,
  b: number,
  c: number,
  m: number,
  k: number,
  n: number,
  lda: number,
  ldb: number,
];

/**
 * gemm.wat's `gemmPacked`: `(a, b, c, m, k, n, lda, ldb, ldc, trans, kb, mb, scratch)`, each operand's rows `ld`
 * floats apart, A stored as `[k, m]` when `trans & 1`, B as `[n, k]` when `trans & 2`.
 */
export type GemmPacked = (
  ...args: [...PackedOperands, ldc: number, trans: number, kb: number, mb: number, scratch: number]
) => void;

/**
 * {@link pooledGemmPacked}'s arguments after the memory and the kernel: `(a, b, c, m, k, n, lda, ldb, trans, kb, mb,
 * scratch, scratchBytes)` for all of a contiguous C, and each thread's scratch size.
 */
type PooledGemmPacked = (
  ...args: [...PackedOperands, trans: number, kb: number, mb: number, scratch: number, scratchBytes: number]
) => void;

/** How many threads a product on `memory` runs on: scratch for {@link pooledGemmPacked} is per thread. */
export function productThreads(memory: WebAssembly.Memory): number {
  const pool = kernelPool();
  return pool?.runsOn(memory) ? pool.threads : 1;
}

/**
 * gemm.wat's `gemmPacked` on `memory`, over the pool as {@link pooledGemm} decides; `scratch` holds
 * {@link productThreads} regions of `scratchBytes` (the calling thread uses the first).
 */
export function pooledGemmPacked(
  memory: WebAssembly.Memory,
  kernel: GemmPacked,
  ...args: Parameters<PooledGemmPacked>
): void {
  const [a, b, c, m, k, n, lda, ldb, trans, kb, mb, scratch] = args;
  const pool = kernelPool();
  if (pool?.runsOn(memory) && m * k * n >= MIN_WORK) pool.gemmPacked(kernel, ...args);
  else kernel(a, b, c, m, k, n, lda, ldb, n, trans, kb, mb, scratch);
}

/** batch-matmul.wat's `bmm` on `memory` (contiguous operands), over the pool as {@link pooledGemm} decides. */
export function pooledBmm(
  memory: WebAssembly.Memory,
  bmm: (...args: number[]) => void,
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  strides: readonly [number, number, number, number],
): void {
  const pool = kernelPool();
  if (pool?.runsOn(memory) && batch * m * k * n >= MIN_WORK) pool.bmm(bmm, a, b, c, batch, m, k, n, strides);
  else bmm(a, b, c, batch, m, k, n, ...strides);
}

let pool: KernelPool | undefined;
let poolOn = true;

/** The pool the app's kernels split their work over, if `initBackend` started one (and it is not switched off). */
export function kernelPool(): KernelPool | undefined {
  return poolOn ? pool : undefined;
}

/**
 * Switches the app kernels' thread pool off (each product on the calling thread; tfjs's own XNNPACK threads, if
 * any, then run the 2-D products) or back on, process-wide. For measuring what it buys (`el-translate bench`);
 * results are bit-identical either way.
 */
export function experimental_setKernelPool(on: boolean): void {
  poolOn = on;
}

/** Installs (or with undefined removes) the pool used by the app's kernels. Closing the previous one is the caller's. */
export function setKernelPool(next: KernelPool | undefined): void {
  pool = next;
}

/** Spawns a browser Worker from a Blob URL (what `initBackend` uses where the global `Worker` exists). */
export function spawnBrowserWorker(source: string): KernelWorker {
  return new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
}
