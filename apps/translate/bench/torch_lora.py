"""The PyTorch side of ``bench/lora-bench.ts``: LoRA fine-tuning of an M2M100 / NLLB-200 network, one thread.

The network is HF ``M2M100ForConditionalGeneration``'s (modeling_m2m_100.py) as
``packages/translate/scripts/m2m100_reference.py`` writes it out -- its sinusoidal table and position ids are imported
from there -- with the training-time dropouts added (embeddings, attention probabilities, each residual branch,
``activation_dropout`` after the activation) and LoRA on the target modules as PEFT's ``lora.Linear`` computes it:

    y = x W^T + b + (alpha / r) * dropout(x) A^T B^T

The base (every ``model.*`` tensor) has ``requires_grad = False``; A and B are the only leaves with gradients, and
``torch.optim.Adam`` (betas 0.9/0.98, eps 1e-9, the app's) with ``clip_grad_norm_(1.0)`` updates them alone. Loss:
label-smoothed cross-entropy 0.1 summed over non-padding tokens / their count (``F.cross_entropy``), the full
``[tokens, V]`` logits at once, no activation checkpointing (it fits in RAM; PyTorch does not need it here).

A line-based JSON server, one request per stdin line, one answer per stdout line:

    {"cmd": "setup", "config": {...config.json...}, "batch": 40, "length": 25,
     "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "targets": ["q_proj", "v_proj"]}, "seed": 1}
        -> {"parameters": 615073792, "trainable": 2359296}        random weights (normal(0, init_std), A kaiming, B 0)
    {"cmd": "step"}          -> {"ms": ..., "cpuMs": ..., "loss": ...}   forward, backward, clip, Adam
    {"cmd": "memory"}        -> {"maxRss": VmHWM bytes, "rss": VmRSS bytes}
    {"cmd": "resetPeak"}     -> {}   VmHWM := VmRSS (Linux /proc/self/clear_refs), so "memory" reports the steps' peak
    {"cmd": "check", "weights": "a.safetensors", "adapters": "b.safetensors", "source": [[...]], "decoder": [[...]],
     "labels": [[...]]}
        -> {"loss": ..., "grads": {"<module>.lora_A.weight": [...], ...}}   no dropout: the test's equality check

Run with Debian's python3-torch: ``OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_lora.py`` (torch.set_num_threads
does not limit libopenblas0-pthread's own threads; OPENBLAS_NUM_THREADS does).
"""

import json
import math
import os
import re
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

from torch_marian import load_safetensors  # this folder is on sys.path (the script's own)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "packages", "translate", "scripts"))
import m2m100_reference as ref  # noqa: E402


class LoraM2M100:
    """Frozen base tensors by HF name, and LoRA A/B by module path (``model.encoder.layers.0.self_attn.q_proj``)."""

    def __init__(self, config, lora, seed=1):
        self.config = c = config
        self.scale = lora["alpha"] / lora["r"]
        self.lora_dropout = lora.get("dropout", 0.0)
        torch.manual_seed(seed)
        d, std = c["d_model"], c.get("init_std", 0.02)
        params = {}

        def linear(prefix, out, inp):
            params[prefix + ".weight"] = torch.randn(out, inp) * std
            params[prefix + ".bias"] = torch.zeros(out)

        def norm(prefix):
            params[prefix + ".weight"] = torch.ones(d)
            params[prefix + ".bias"] = torch.zeros(d)

        shared = torch.randn(c["vocab_size"], d) * std
        shared[c["pad_token_id"]] = 0
        params["model.shared.weight"] = shared
        for side in ("encoder", "decoder"):
            for i in range(c[side + "_layers"]):
                p = f"model.{side}.layers.{i}"
                for attn in ("self_attn",) + (("encoder_attn",) if side == "decoder" else ()):
                    for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                        linear(f"{p}.{attn}.{proj}", d, d)
                    norm(f"{p}.{attn}_layer_norm")
                linear(p + ".fc1", c[side + "_ffn_dim"], d)
                linear(p + ".fc2", d, c[side + "_ffn_dim"])
                norm(p + ".final_layer_norm")
            norm(f"model.{side}.layer_norm")
        self.params = params
        self.lora = {}
        targets = lora["targets"]
        for name, w in params.items():
            if not name.endswith(".weight") or w.dim() != 2 or name == "model.shared.weight":
                continue
            module = name[: -len(".weight")]
            if isinstance(targets, str):
                hit = re.fullmatch(targets, module) is not None
            else:
                hit = any(module == t or module.endswith("." + t) for t in targets)
            if hit:
                bound = 1 / math.sqrt(w.shape[1])  # kaiming_uniform_(a=sqrt(5)), as PEFT's reset_lora_parameters
                a = torch.empty(lora["r"], w.shape[1]).uniform_(-bound, bound).requires_grad_()
                b = torch.zeros(w.shape[0], lora["r"], requires_grad=True)
                self.lora[module] = (a, b)

    def trainable(self):
        return [t for pair in self.lora.values() for t in pair]

    def named_trainable(self):
        for module, (a, b) in self.lora.items():
            yield module + ".lora_A.weight", a
            yield module + ".lora_B.weight", b

    # -- the network: m2m100_reference's equations with dropout and LoRA --

    def linear(self, prefix, x, training):
        y = F.linear(x, self.params[prefix + ".weight"], self.params[prefix + ".bias"])
        pair = self.lora.get(prefix)
        if pair is None:
            return y
        a, b = pair
        return y + F.linear(F.linear(F.dropout(x, self.lora_dropout, training), a), b) * self.scale

    def layer_norm(self, prefix, x):
        return F.layer_norm(x, (x.shape[-1],), self.params[prefix + ".weight"], self.params[prefix + ".bias"], eps=1e-5)

    def embed(self, ids, training):
        c = self.config
        scale = math.sqrt(c["d_model"]) if c["scale_embedding"] else 1.0
        tokens = F.embedding(ids, self.params["model.shared.weight"]) * scale
        table = ref.sinusoidal_table(c["pad_token_id"] + 1 + ids.shape[1] + 2, c["d_model"], c["pad_token_id"])
        return F.dropout(tokens + table[ref.position_ids(ids, c["pad_token_id"])], c["dropout"], training)

    def attention(self, prefix, heads, x, kv, mask, training):
        b, t, d = x.shape
        s, hd = kv.shape[1], d // heads
        q = (self.linear(prefix + ".q_proj", x, training) * hd**-0.5).view(b, t, heads, hd).transpose(1, 2)
        k = self.linear(prefix + ".k_proj", kv, training).view(b, s, heads, hd).transpose(1, 2)
        v = self.linear(prefix + ".v_proj", kv, training).view(b, s, heads, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + mask
        probs = F.dropout(torch.softmax(scores, dim=-1), self.config["attention_dropout"], training)
        return self.linear(prefix + ".out_proj", (probs @ v).transpose(1, 2).reshape(b, t, d), training)

    def feed_forward(self, p, x, training):
        c = self.config
        hidden = ref.activation(c, self.linear(p + ".fc1", x, training))
        return self.linear(p + ".fc2", F.dropout(hidden, c["activation_dropout"], training), training)

    def hidden(self, source, decoder_ids, training):
        """The decoder's last hidden states [B, T, d] (after its final layer_norm)."""
        c = self.config
        drop = lambda x: F.dropout(x, c["dropout"], training)  # noqa: E731
        dtype = self.params["model.shared.weight"].dtype
        h = self.embed(source, training)
        mask = ref.padding_mask(source, c["pad_token_id"], dtype, source.shape[1])
        for i in range(c["encoder_layers"]):
            p = f"model.encoder.layers.{i}"
            x = self.layer_norm(p + ".self_attn_layer_norm", h)
            h = h + drop(self.attention(p + ".self_attn", c["encoder_attention_heads"], x, x, mask, training))
            h = h + drop(self.feed_forward(p, self.layer_norm(p + ".final_layer_norm", h), training))
        encoded = self.layer_norm("model.encoder.layer_norm", h)
        h = self.embed(decoder_ids, training)
        causal = ref.causal_mask(decoder_ids.shape[1], dtype)
        cross = ref.padding_mask(source, c["pad_token_id"], dtype, decoder_ids.shape[1])
        heads = c["decoder_attention_heads"]
        for i in range(c["decoder_layers"]):
            p = f"model.decoder.layers.{i}"
            x = self.layer_norm(p + ".self_attn_layer_norm", h)
            h = h + drop(self.attention(p + ".self_attn", heads, x, x, causal, training))
            x = self.layer_norm(p + ".encoder_attn_layer_norm", h)
            h = h + drop(self.attention(p + ".encoder_attn", heads, x, encoded, cross, training))
            h = h + drop(self.feed_forward(p, self.layer_norm(p + ".final_layer_norm", h), training))
        return self.layer_norm("model.decoder.layer_norm", h)

    def loss(self, source, decoder_ids, labels, training, label_smoothing=0.1):
        """Label-smoothed CE summed over labels != -100, divided by their count (the app's step loss)."""
        logits = F.linear(self.hidden(source, decoder_ids, training), self.params["model.shared.weight"])
        tokens = max(1, int((labels != -100).sum()))
        summed = F.cross_entropy(
            logits.view(-1, logits.shape[-1]),
            labels.view(-1),
            ignore_index=-100,
            label_smoothing=label_smoothing,
            reduction="sum",
        )
        return summed / tokens


def make_optimizer(model, lr=1e-4):
    return torch.optim.Adam(model.trainable(), lr=lr, betas=(0.9, 0.98), eps=1e-9)


def training_step(model, optimizer, batch):
    optimizer.zero_grad(set_to_none=True)
    loss = model.loss(*batch, training=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.trainable(), 1.0)
    optimizer.step()
    return float(loss)


def random_batch(config, batch, length, seed=2):
    """Source, decoder inputs (start token + shifted labels) and labels [batch, length], no padding, EOS last."""
    g = torch.Generator().manual_seed(seed)
    draw = lambda: torch.randint(3, config["vocab_size"] - 1, (batch, length), generator=g)  # noqa: E731
    source, labels = draw(), draw()
    source[:, -1] = config["eos_token_id"]
    labels[:, -1] = config["eos_token_id"]
    decoder = torch.cat([torch.full((batch, 1), config["decoder_start_token_id"]), labels[:, :-1]], 1)
    return source, decoder, labels


def load_weights(model, weights_path, adapters_path):
    """Our base (HF keys) and adapters (PEFT keys, ``base_model.model.`` prefix) into the model."""
    base = load_safetensors(weights_path)
    for name in model.params:
        model.params[name] = base[name].clone()
    adapters = load_safetensors(adapters_path)
    with torch.no_grad():
        for name, t in model.named_trainable():
            t.copy_(adapters["base_model.model." + name])


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    model = optimizer = batch = None
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        cmd = request["cmd"]
        try:
            if cmd == "setup":
                model = batch = optimizer = None
                config = request["config"]
                model = LoraM2M100(config, request["lora"], seed=request.get("seed", 1))
                optimizer = make_optimizer(model)
                batch = random_batch(config, request["batch"], request["length"])
                answer = {
                    "parameters": sum(t.numel() for t in model.params.values()),
                    "trainable": sum(t.numel() for t in model.trainable()),
                    "threads": torch.get_num_threads(),
                }
            elif cmd == "step":
                started, cpu = time.perf_counter(), time.process_time()
                loss = training_step(model, optimizer, batch)
                answer = {
                    "ms": (time.perf_counter() - started) * 1000,
                    "cpuMs": (time.process_time() - cpu) * 1000,
                    "loss": loss,
                }
            elif cmd == "memory":
                answer = {"maxRss": status("VmHWM"), "rss": status("VmRSS")}
            elif cmd == "resetPeak":
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                answer = {}
            elif cmd == "check":
                model = LoraM2M100(request["config"], request["lora"])
                load_weights(model, request["weights"], request["adapters"])
                source, decoder, labels = (torch.tensor(request[k]) for k in ("source", "decoder", "labels"))
                loss = model.loss(source, decoder, labels, training=False)
                loss.backward()
                grads = {name: t.grad.flatten().tolist() for name, t in model.named_trainable()}
                answer = {"loss": float(loss), "grads": grads}
            else:
                answer = {"error": f"unknown command {cmd}"}
        except Exception as error:  # noqa: BLE001 -- reported to the driver, which fails the run with it
            answer = {"error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
