"""The PyTorch side of ``el-translate bench``: a line-based JSON server around torch_marian.py.

``el-translate bench`` starts one of these per thread count and asks it for one timed operation at a time, between
its own, so the two engines alternate sample by sample on the shared machine. Each request is one JSON line on
stdin, each answer one JSON line on stdout:

    {"cmd": "setup", "preset": "small", "vocab": 1000, "batch": 80, "length": 25,
     "ids": {"pad": 0, "eos": 1, "start": 0}}   → {"parameters": 790528}
    {"cmd": "step"}                  → {"ms": 301.2, "loss": 6.9}   one training step (forward, backward, Adam)
    {"cmd": "step", "optimizer": "app"}   the same with the app's Adam written out per parameter in Python;
                                         the default, "torch", is torch.optim.Adam + clip_grad_norm_ (HF Trainer's)
    {"cmd": "greedy", "batch": 16, "sourceLength": 20, "maxLength": 40}   → {"ms": …}   (EOS never wins: see below)
    {"cmd": "beam", "beam": 5, "batch": 16, "sourceLength": 20, "maxLength": 40}   → {"ms": …}
    {"cmd": "memory"}                → {"maxRss": bytes}   peak resident set of this process so far

Decoding runs with ``final_logits_bias[eos] = -1e4`` on both sides, so every sentence decodes to ``maxLength`` and the
two engines do the same amount of work whatever the random weights would emit.

Threads come from ``--threads`` (torch.set_num_threads); set OMP_WAIT_POLICY=PASSIVE for more than one on a shared
machine (the bench does).
"""

import argparse
import json
import resource
import sys
import time

import torch

import torch_marian as tm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = moments = batch = optimizer = None
    step = 0
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        cmd = request["cmd"]
        if cmd == "setup":
            vocab = request.get("vocab") or (58101 if request["preset"] == "base" else 1000)
            ids = request.get("ids") or {}
            overrides = {
                key: ids[name]
                for key, name in (("pad_token_id", "pad"), ("eos_token_id", "eos"), ("decoder_start_token_id", "start"))
                if name in ids
            }
            model = tm.MarianMT(tm.make_config(request["preset"], vocab, **overrides), seed=request.get("seed", 1))
            moments, step = {}, 0
            optimizer = tm.make_optimizer(model)
            batch = tm.random_batch(model.config, request["batch"], request["length"])
            answer = {"parameters": sum(p.numel() for p in model.parameters())}
        elif cmd == "step":
            step += 1
            started = time.perf_counter()
            if request.get("optimizer", "torch") == "app":
                loss = tm.training_step(model, moments, step, *batch)
            else:
                loss = tm.idiomatic_training_step(model, optimizer, *batch)
            answer = {"ms": (time.perf_counter() - started) * 1000, "loss": loss}
        elif cmd in ("greedy", "beam"):
            model.eval()
            with torch.no_grad():
                model.final_logits_bias[0, model.config["eos_token_id"]] = -1e4
            g = torch.Generator().manual_seed(3)
            shape = (request["batch"], request["sourceLength"])
            source = torch.randint(3, model.config["vocab_size"] - 1, shape, generator=g)
            started = time.perf_counter()
            if cmd == "greedy":
                model.greedy(source, request["maxLength"])
            else:
                model.beam_search(source, request["beam"], request["maxLength"])
            answer = {"ms": (time.perf_counter() - started) * 1000}
            with torch.no_grad():
                model.final_logits_bias.zero_()
        elif cmd == "memory":
            answer = {"maxRss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
        else:
            answer = {"error": f"unknown command {cmd}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
