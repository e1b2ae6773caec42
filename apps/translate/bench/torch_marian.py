"""A PyTorch reference of the el-translate model: HF ``MarianMTModel``'s equations, written out independently.

Post-norm encoder-decoder transformer as in ``transformers/models/marian/modeling_marian.py``: token embeddings
scaled by sqrt(d_model) (``scale_embedding``) plus Marian's sinusoidal positions (sin of the even frequencies in the
first half, cos in the second), self-attention with queries scaled by head_dim**-0.5, residual + LayerNorm (eps
1e-5) after every block, a swish/relu/gelu feed-forward, and logits through the tied embedding plus
``final_logits_bias``. Parameter names follow HF checkpoints, so a ``model.safetensors`` written by el-translate
loads with :func:`load_safetensors`.

Used by ``bench/step_bench.py`` (the ``pnpm bench`` baseline) and runnable on its own::

    python3 torch_marian.py --preset base --batch 8 --length 25   # one timed training step

Only torch is needed (Debian ``python3-torch``; install ``libopenblas0-pthread`` or torch runs the reference BLAS).
"""

import json
import math
import struct

import torch
import torch.nn.functional as F
from torch import nn

PRESETS = {
    # apps/translate/src/model/config.ts, preset `small`
    "small": dict(d_model=128, layers=2, heads=4, ffn=256),
    # Helsinki-NLP/opus-mt-* (MarianMTModel base): 74M parameters with vocab 58101
    "base": dict(d_model=512, layers=6, heads=8, ffn=2048),
}


def make_config(preset="small", vocab_size=1000, **overrides):
    """The fields of the app's MarianConfig that the model reads, with the app's defaults."""
    sizes = PRESETS[preset]
    config = dict(
        vocab_size=vocab_size,
        d_model=sizes["d_model"],
        encoder_layers=sizes["layers"],
        decoder_layers=sizes["layers"],
        encoder_attention_heads=sizes["heads"],
        decoder_attention_heads=sizes["heads"],
        encoder_ffn_dim=sizes["ffn"],
        decoder_ffn_dim=sizes["ffn"],
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        activation_function="swish",
        max_position_embeddings=256,
        scale_embedding=True,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        init_std=0.02,
    )
    config.update(overrides)
    return config


def sinusoidal_positions(count, dim):
    """Marian's table [count, dim]: sin(pos / 10000^(j/dim)) for even j in the first half, cos in the second."""
    position = torch.arange(count, dtype=torch.float64)[:, None]
    j = torch.arange(0, dim, 2, dtype=torch.float64)[None, :]
    angles = position / torch.pow(10000.0, j / dim)
    half = (dim + 1) // 2
    table = torch.zeros(count, dim, dtype=torch.float64)
    table[:, : angles.shape[1]] = torch.sin(angles)
    table[:, half : half + dim // 2] = torch.cos(angles[:, : dim // 2])
    return table.float()


ACTIVATIONS = {"swish": F.silu, "relu": F.relu, "gelu": F.gelu}


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = d // heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def split(self, x):
        b, l, d = x.shape
        return x.view(b, l, self.heads, self.head_dim).transpose(1, 2)

    def project_kv(self, memory):
        return self.split(self.k_proj(memory)), self.split(self.v_proj(memory))

    def forward(self, x, key, value, bias, dropout, training):
        """x [B, L, d]; key/value [B, H, S, dh]; bias broadcast to [B, H, L, S] (0 or -1e9)."""
        q = self.split(self.q_proj(x) * self.head_dim**-0.5)
        scores = q @ key.transpose(-1, -2)
        if bias is not None:
            scores = scores + bias
        probs = F.dropout(torch.softmax(scores, dim=-1), dropout, training)
        b, _, l, _ = q.shape
        return self.out_proj((probs @ value).transpose(1, 2).reshape(b, l, -1))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["encoder_attention_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, c["encoder_ffn_dim"])
        self.fc2 = nn.Linear(c["encoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.self_attn = Attention(d, c["decoder_attention_heads"])
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.encoder_attn = Attention(d, c["decoder_attention_heads"])
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, c["decoder_ffn_dim"])
        self.fc2 = nn.Linear(c["decoder_ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"], padding_idx=c["pad_token_id"])
        self.encoder = Stack([EncoderLayer(c) for _ in range(c["encoder_layers"])])
        self.decoder = Stack([DecoderLayer(c) for _ in range(c["decoder_layers"])])


class MarianMT(nn.Module):
    """``MarianMTModel`` (tied embeddings): ``model.*`` parameters plus ``final_logits_bias`` [1, V]."""

    def __init__(self, config, seed=1):
        super().__init__()
        self.config = c = config
        torch.manual_seed(seed)
        self.model = Model(c)
        self.register_buffer("final_logits_bias", torch.zeros(1, c["vocab_size"]))
        self.register_buffer("positions", sinusoidal_positions(c["max_position_embeddings"], c["d_model"]))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, c["init_std"])
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.model.shared.weight, 0.0, c["init_std"])
        with torch.no_grad():
            self.model.shared.weight[c["pad_token_id"]].zero_()
        self.scale = math.sqrt(c["d_model"]) if c["scale_embedding"] else 1.0
        self.act = ACTIVATIONS[c["activation_function"]]

    def embed(self, ids, offset=0):
        length = ids.shape[1]
        x = self.model.shared(ids) * self.scale + self.positions[offset : offset + length]
        return F.dropout(x, self.config["dropout"], self.training)

    def block(self, x, update, norm):
        return norm(x + F.dropout(update, self.config["dropout"], self.training))

    def feed_forward(self, layer, x):
        hidden = F.dropout(self.act(layer.fc1(x)), self.config["activation_dropout"], self.training)
        return layer.fc2(hidden)

    def encode(self, source):
        """source [B, S] (padded with pad_token_id) → hidden [B, S, d] and the padding bias [B, 1, 1, S]."""
        c = self.config
        bias = (source == c["pad_token_id"]).float()[:, None, None, :] * -1e9
        x = self.embed(source)
        for layer in self.model.encoder.layers:
            k, v = layer.self_attn.project_kv(x)
            attended = layer.self_attn(x, k, v, bias, c["attention_dropout"], self.training)
            x = self.block(x, attended, layer.self_attn_layer_norm)
            x = self.block(x, self.feed_forward(layer, x), layer.final_layer_norm)
        return x, bias

    def decode_hidden(self, decoder_ids, hidden, bias):
        """Teacher-forced decoder states [B, T, d] for decoder inputs [B, T] (start token + shifted target)."""
        c = self.config
        length = decoder_ids.shape[1]
        causal = torch.triu(torch.full((length, length), -1e9), diagonal=1)
        x = self.embed(decoder_ids)
        for layer in self.model.decoder.layers:
            k, v = layer.self_attn.project_kv(x)
            x = self.block(
                x, layer.self_attn(x, k, v, causal, c["attention_dropout"], self.training), layer.self_attn_layer_norm
            )
            ck, cv = layer.encoder_attn.project_kv(hidden)
            x = self.block(
                x,
                layer.encoder_attn(x, ck, cv, bias, c["attention_dropout"], self.training),
                layer.encoder_attn_layer_norm,
            )
            x = self.block(x, self.feed_forward(layer, x), layer.final_layer_norm)
        return x

    def project(self, x):
        return F.linear(x, self.model.shared.weight) + self.final_logits_bias

    def forward(self, source, decoder_ids):
        hidden, bias = self.encode(source)
        return self.project(self.decode_hidden(decoder_ids, hidden, bias))

    # -- incremental decoding (key/value caches), as apps/translate/src/model/decode.ts does it --

    def start_decoding(self, hidden, bias):
        cross = [layer.encoder_attn.project_kv(hidden) for layer in self.model.decoder.layers]
        return {"cross": cross, "self": [None] * len(cross), "bias": bias, "length": 0}

    def step(self, state, ids):
        """ids [N] of the last tokens → logits [N, V] of the next; extends the self-attention caches."""
        x = self.embed(ids[:, None], state["length"])
        for i, layer in enumerate(self.model.decoder.layers):
            k, v = layer.self_attn.project_kv(x)
            if state["self"][i] is not None:
                k = torch.cat([state["self"][i][0], k], 2)
                v = torch.cat([state["self"][i][1], v], 2)
            state["self"][i] = (k, v)
            x = layer.self_attn_layer_norm(x + layer.self_attn(x, k, v, None, 0.0, False))
            ck, cv = state["cross"][i]
            x = layer.encoder_attn_layer_norm(x + layer.encoder_attn(x, ck, cv, state["bias"], 0.0, False))
            x = layer.final_layer_norm(x + self.feed_forward(layer, x))
        state["length"] += 1
        return self.project(x[:, 0])

    @staticmethod
    def reorder(state, rows, cross=False):
        state["self"] = [(k[rows], v[rows]) for k, v in state["self"]]
        if cross:
            state["cross"] = [(k[rows], v[rows]) for k, v in state["cross"]]
            state["bias"] = state["bias"][rows]

    @torch.no_grad()
    def greedy(self, source, max_length):
        """Greedy decoding of source [B, S] for up to max_length tokens; rows stop at EOS."""
        c = self.config
        hidden, bias = self.encode(source)
        state = self.start_decoding(hidden, bias)
        batch = source.shape[0]
        ids = torch.full((batch,), c["decoder_start_token_id"], dtype=torch.long)
        done = torch.zeros(batch, dtype=torch.bool)
        out = []
        for _ in range(max_length):
            ids = self.step(state, ids).argmax(-1)
            ids = torch.where(done, torch.full_like(ids, c["pad_token_id"]), ids)
            out.append(ids)
            done |= ids == c["eos_token_id"]
            if bool(done.all()):
                break
        return torch.stack(out, 1)

    @torch.no_grad()
    def beam_search(self, source, beam, max_length, length_penalty=1.0):
        """Beam search: log-prob sums, the top `beam` of beam × V per sentence each step, finished hypotheses
        (EOS or the cap) scored by sum / length**length_penalty; a sentence stops when it has `beam` finished."""
        c = self.config
        batch = source.shape[0]
        hidden, bias = self.encode(source)
        rows = torch.arange(batch).repeat_interleave(beam)
        state = self.start_decoding(hidden[rows], bias[rows])
        vocab = c["vocab_size"]
        scores = torch.zeros(batch, beam)
        scores[:, 1:] = -1e9  # all beams start equal: keep one
        ids = torch.full((batch * beam,), c["decoder_start_token_id"], dtype=torch.long)
        tokens = torch.zeros(batch * beam, 0, dtype=torch.long)
        finished = [[] for _ in range(batch)]
        for step in range(max_length):
            log_probs = torch.log_softmax(self.step(state, ids).float(), -1).view(batch, beam, vocab)
            total = (scores[:, :, None] + log_probs).view(batch, -1)
            top, index = total.topk(2 * beam, dim=-1)
            origin, token = index // vocab, index % vocab
            next_rows, next_ids, next_scores = [], [], []
            for b in range(batch):
                kept = 0
                for s, o, t in zip(top[b].tolist(), origin[b].tolist(), token[b].tolist()):
                    row = b * beam + o
                    if t == c["eos_token_id"] or step == max_length - 1:
                        if len(finished[b]) < beam:
                            finished[b].append((s / (step + 1) ** length_penalty, tokens[row].tolist() + [t]))
                        continue
                    if kept < beam:
                        next_rows.append(row)
                        next_ids.append(t)
                        next_scores.append(s if len(finished[b]) < beam else -1e9)
                        kept += 1
                while kept < beam:  # fewer than `beam` live continuations: pad with dead rows
                    next_rows.append(b * beam)
                    next_ids.append(c["pad_token_id"])
                    next_scores.append(-1e9)
                    kept += 1
            if all(len(f) >= beam for f in finished):
                break
            rows = torch.tensor(next_rows)
            self.reorder(state, rows)
            tokens = torch.cat([tokens[rows], torch.tensor(next_ids)[:, None]], 1)
            ids = torch.tensor(next_ids)
            scores = torch.tensor(next_scores).view(batch, beam)
        return [max(f)[1] if f else [] for f in finished]


def adam_step(model, moments, step, lr=1e-3, clip=1.0, betas=(0.9, 0.98), eps=1e-9):
    """The app's optimizer (training/train.ts): global-norm clipping, then Adam with bias correction."""
    params = [p for p in model.parameters() if p.grad is not None]
    with torch.no_grad():
        norm = torch.sqrt(sum((p.grad * p.grad).sum() for p in params))
        scale = min(1.0, clip / (float(norm) + 1e-6))
        c1 = 1 - betas[0] ** step
        c2 = 1 - betas[1] ** step
        for p in params:
            m, v = moments.setdefault(p, (torch.zeros_like(p), torch.zeros_like(p)))
            g = p.grad.mul_(scale)
            m.mul_(betas[0]).add_(g, alpha=1 - betas[0])
            v.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
            p.addcdiv_(m, (v / c2).sqrt_().add_(eps), value=-lr / c1)


def make_optimizer(model, lr=1e-3, betas=(0.9, 0.98), eps=1e-9):
    """The optimizer a PyTorch user (and HF Trainer) runs: ``torch.optim.Adam`` (its default multi-tensor
    ``foreach`` implementation on CPU), with the app's betas and eps."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps)


def _loss(model, source, decoder_ids, labels, label_smoothing, ignore_index):
    logits = model(source, decoder_ids)
    tokens = int((labels != ignore_index).sum())
    loss = F.cross_entropy(
        logits.view(-1, logits.shape[-1]),
        labels.view(-1),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction="sum",
    )
    return loss, max(1, tokens)


def training_step(model, moments, step, source, decoder_ids, labels, label_smoothing=0.1, ignore_index=-100):
    """Forward, label-smoothed CE summed over non-padding tokens ÷ their count, backward, and the app's Adam
    written out per parameter in Python (``adam_step``): the same update rule as el-translate's optimizer."""
    model.train()
    model.zero_grad(set_to_none=True)
    loss, tokens = _loss(model, source, decoder_ids, labels, label_smoothing, ignore_index)
    (loss / tokens).backward()
    adam_step(model, moments, step)
    return float(loss) / tokens


def idiomatic_training_step(model, optimizer, source, decoder_ids, labels, label_smoothing=0.1, ignore_index=-100):
    """The step a PyTorch user runs, as HF Trainer does it: forward, loss, backward,
    ``clip_grad_norm_(1.0)``, ``optimizer.step()`` with ``torch.optim.Adam`` (see :func:`make_optimizer`)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss, tokens = _loss(model, source, decoder_ids, labels, label_smoothing, ignore_index)
    (loss / tokens).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss) / tokens


def load_safetensors(path):
    """Reads a safetensors file of F32 tensors into {name: tensor} (no dependency on the safetensors package)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {info['dtype']}, only F32 is read")
        start, end = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).view(info["shape"])
    return out


def load_weights(model, path):
    """Loads an el-translate / HF Marian ``model.safetensors`` (HF names) into the model."""
    tensors = load_safetensors(path)
    own = dict(model.named_parameters())
    own["final_logits_bias"] = model.final_logits_bias
    with torch.no_grad():
        for name, p in own.items():
            if name not in tensors:
                raise KeyError(f"{path}: parameter {name} is missing")
            p.copy_(tensors[name].view(p.shape))


def random_batch(config, batch, length, seed=2):
    """Random token ids of shape [batch, length] for source, decoder input and labels."""
    g = torch.Generator().manual_seed(seed)
    # [3, V − 1): never padding (0 in the small preset, V − 1 in OPUS-MT configs)
    draw = lambda: torch.randint(3, config["vocab_size"] - 1, (batch, length), generator=g)  # noqa: E731
    return draw(), draw(), draw()


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--vocab", type=int, default=None, help="default 1000 (small) or 58101 (base)")
    parser.add_argument("--batch", type=int, default=80)
    parser.add_argument("--length", type=int, default=25)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--optimizer", default="torch", choices=["torch", "app"], help="torch.optim.Adam (default) or adam_step"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    vocab = args.vocab or (58101 if args.preset == "base" else 1000)
    model = MarianMT(make_config(args.preset, vocab))
    source, decoder_ids, labels = random_batch(model.config, args.batch, args.length)
    moments = {}
    optimizer = make_optimizer(model)
    for step in range(1, args.steps + 1):
        started = time.perf_counter()
        if args.optimizer == "torch":
            loss = idiomatic_training_step(model, optimizer, source, decoder_ids, labels)
        else:
            loss = training_step(model, moments, step, source, decoder_ids, labels)
        ms = (time.perf_counter() - started) * 1000
        print(f"step {step}: {ms:.1f} ms  loss {loss:.4f}  {args.batch * args.length / ms * 1000:.0f} tokens/s")
