"""PyTorch's 2-D products on the shapes of bench/gemm-speed.ts, one thread (or --threads N): GFLOP/s per shape.

The counterpart of `node bench/run-speed.mjs gemm`: how far the app's WebAssembly SIMD product (4 float32 lanes, a
multiply and an add per lane, no fused multiply-add in Node 20) is from the BLAS PyTorch calls (Debian's OpenBLAS:
AVX2, 8 lanes, two fused multiply-adds per cycle). Run under `flock /tmp/bench.lock`.
"""
import argparse
import re
import time

import torch

SHAPES = [
    (2000, 128, 128), (2000, 128, 256), (2000, 256, 128), (128, 2000, 128),
    (200, 512, 512), (200, 512, 2048), (200, 2048, 512), (512, 200, 512),
    (58101, 512, 200), (58101, 200, 512), (200, 58101, 512),
]

parser = argparse.ArgumentParser()
parser.add_argument('--threads', type=int, default=1)
args = parser.parse_args()
torch.set_num_threads(args.threads)
blas = re.search(r'BLAS_INFO=(\w+)', torch.__config__.show())
# Debian's torch says "generic": it calls libblas.so.3, which update-alternatives points at OpenBLAS when
# libopenblas0-pthread is installed (the reference BLAS otherwise, several times slower).
print(f'torch {torch.__version__}, {args.threads} thread(s), BLAS_INFO={blas.group(1) if blas else "?"}')
for m, k, n in SHAPES:
    a = torch.randn(m, k)
    b = torch.randn(k, n)
    reps = max(2, round(2e9 / (2 * m * k * n)))
    times = []
    for _ in range(6):
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        times.append((time.perf_counter() - start) / reps)
    t = sorted(times[1:])[len(times[1:]) // 2]
    print(f'{m}×{k}×{n}'.ljust(16), f'{t * 1e3:8.2f} ms  {2 * m * k * n / t / 1e9:6.1f} GFLOP/s')
