"""PyTorch reference for `el-translate bench-base`: the training step of torch_marian.py's OPUS-MT base shape.

d_model 512, 6 + 6 layers, 8 heads, ffn 2048, vocabulary 58101 (HF MarianMTModel's equations, written out in
torch_marian.py), label-smoothed CE, ``torch.optim.Adam`` + ``clip_grad_norm_`` (``--optimizer app``: the app's Adam written out in
Python); a batch of 80 × 25 random tokens (2,000 target tokens, no padding).
Prints one JSON line: wall and CPU seconds per step, tokens/s (wall), peak RSS. Run it under flock /tmp/bench.lock:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_step_base.py --threads 1
    OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_step_base.py --threads 2

(/usr/bin/python3: Debian's python3-torch; torch.set_num_threads does not limit libopenblas0-pthread's own threads,
OPENBLAS_NUM_THREADS does.)
"""

import argparse
import json
import resource
import time

import torch

import torch_marian as tm

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--batch", type=int, default=80)
parser.add_argument("--length", type=int, default=25)
parser.add_argument("--optimizer", default="torch", choices=["torch", "app"], help="torch.optim.Adam or adam_step")
args = parser.parse_args()
torch.set_num_threads(args.threads)
model = tm.MarianMT(tm.make_config("base", 58101))
source, decoder_ids, labels = tm.random_batch(model.config, args.batch, args.length)
moments = {}
optimizer = tm.make_optimizer(model)
wall, cpu = [], []
for step in range(args.steps + 1):  # step 0 warms up
    started, cpu_started = time.perf_counter(), time.process_time()
    if args.optimizer == "torch":
        tm.idiomatic_training_step(model, optimizer, source, decoder_ids, labels)
    else:
        tm.training_step(model, moments, step + 1, source, decoder_ids, labels)
    if step > 0:
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
tokens = args.batch * args.length
print(
    json.dumps(
        {
            "threads": args.threads,
            "parameters": sum(p.numel() for p in model.parameters()),
            "tokensPerStep": tokens,
            "stepSeconds": wall,
            "stepCpuSeconds": cpu,
            "tokensPerSecond": tokens * len(wall) / sum(wall),
            "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
    )
)
