"""A PyTorch reference of HF transformers' M2M100ForConditionalGeneration (NLLB-200 and M2M100 checkpoints).

Written from reading transformers/models/m2m_100/modeling_m2m_100.py (no `transformers` is installed here), as plain
functions over a state dict with HF's key names, so the fixture script can run it in float64:

- M2M100SinusoidalPositionalEmbedding: offset 2; get_embedding builds, in float32, freq_i = exp(-i·ln(10000)/(h-1))
  for i < h = d/2, and row p = [sin(p·freq), cos(p·freq)] (half sin, half cos; a zero column when d is odd), the
  padding_idx row zeroed. Position ids come from the ids: (cumsum(ids != pad) + past) · (ids != pad) + pad, so
  padding reads the zero row and the first real token reads row pad + 1.
- Embeddings: embed_tokens(ids) · sqrt(d_model) (scale_embedding) + positions, then dropout.
- Pre-norm layers: h = h + Dropout(SelfAttn(LN(h))); decoder adds h = h + Dropout(CrossAttn(LN(h), enc));
  h = h + Dropout(fc2(ActDropout(act(fc1(LN(h)))))). LayerNorm eps 1e-5. Attention: q scaled by head_dim^-0.5,
  masks added as finfo(dtype).min, softmax, attention dropout.
- The encoder's and decoder's stacks end with their own `layer_norm`.
- lm_head tied to model.shared, no final_logits_bias; labels: decoder inputs are labels shifted right after
  decoder_start_token_id (-100 → pad), loss = mean cross-entropy over labels != -100.
- Generation (greedy): decoder starts from decoder_start_token_id; ForcedBOSTokenLogitsProcessor makes the first
  generated token forced_bos_token_id; then argmax until eos_token_id or max_new_tokens.
"""

import math

import torch


def sinusoidal_table(num_embeddings, dim, padding_idx):
    """M2M100SinusoidalPositionalEmbedding.get_embedding, in float32 as HF computes it."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float) * -step)
    args = torch.arange(num_embeddings, dtype=torch.float).unsqueeze(1) * freqs.unsqueeze(0)
    table = torch.cat([torch.sin(args), torch.cos(args)], dim=1).view(num_embeddings, -1)
    if dim % 2 == 1:
        table = torch.cat([table, torch.zeros(num_embeddings, 1)], dim=1)
    table[padding_idx, :] = 0
    return table


def position_ids(ids, padding_idx, past=0):
    mask = ids.ne(padding_idx).long()
    return (torch.cumsum(mask, dim=1) + past) * mask + padding_idx


def embed(params, cfg, ids, past=0):
    d = cfg["d_model"]
    scale = math.sqrt(d) if cfg.get("scale_embedding", True) else 1.0
    tokens = params["model.shared.weight"][ids] * scale
    table = sinusoidal_table(cfg["pad_token_id"] + 1 + ids.shape[1] + past + 2, d, cfg["pad_token_id"])
    positions = table.to(tokens.dtype)[position_ids(ids, cfg["pad_token_id"], past)]
    return tokens + positions


def linear(params, prefix, x):
    return x @ params[prefix + ".weight"].t() + params[prefix + ".bias"]


def layer_norm(params, prefix, x):
    return torch.nn.functional.layer_norm(
        x, (x.shape[-1],), params[prefix + ".weight"], params[prefix + ".bias"], eps=1e-5
    )


def activation(cfg, x):
    name = cfg["activation_function"]
    if name == "relu":
        return torch.relu(x)
    if name in ("gelu",):
        return torch.nn.functional.gelu(x)
    if name in ("swish", "silu"):
        return x * torch.sigmoid(x)
    raise ValueError(name)


def attention(params, prefix, heads, x, kv, mask):
    """M2M100Attention: mask [B, 1, T, S] of 0 / finfo.min, added to the scores."""
    b, t, d = x.shape
    s = kv.shape[1]
    hd = d // heads
    q = (linear(params, prefix + ".q_proj", x) * hd**-0.5).view(b, t, heads, hd).transpose(1, 2)
    k = linear(params, prefix + ".k_proj", kv).view(b, s, heads, hd).transpose(1, 2)
    v = linear(params, prefix + ".v_proj", kv).view(b, s, heads, hd).transpose(1, 2)
    scores = q @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores + mask
    probs = torch.softmax(scores, dim=-1)
    out = (probs @ v).transpose(1, 2).reshape(b, t, d)
    return linear(params, prefix + ".out_proj", out)


def padding_mask(ids, pad, dtype, target_length):
    keep = ids.ne(pad)[:, None, None, :].expand(ids.shape[0], 1, target_length, ids.shape[1])
    return torch.zeros(keep.shape, dtype=dtype).masked_fill(~keep, torch.finfo(dtype).min)


def causal_mask(length, dtype):
    mask = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype)
    return torch.triu(mask, diagonal=1)[None, None]


def encode(params, cfg, source_ids):
    dtype = params["model.shared.weight"].dtype
    h = embed(params, cfg, source_ids)
    mask = padding_mask(source_ids, cfg["pad_token_id"], dtype, source_ids.shape[1])
    for i in range(cfg["encoder_layers"]):
        p = f"model.encoder.layers.{i}"
        h = h + attention(
            params, p + ".self_attn", cfg["encoder_attention_heads"], *(2 * [layer_norm(params, p + ".self_attn_layer_norm", h)]), mask
        )
        x = layer_norm(params, p + ".final_layer_norm", h)
        h = h + linear(params, p + ".fc2", activation(cfg, linear(params, p + ".fc1", x)))
    return layer_norm(params, "model.encoder.layer_norm", h)


def decode(params, cfg, source_ids, encoded, decoder_ids):
    """Logits [B, T, V] (teacher forcing; the decoder has only the causal mask, as with labels in HF)."""
    dtype = encoded.dtype
    h = embed(params, cfg, decoder_ids)
    causal = causal_mask(decoder_ids.shape[1], dtype)
    cross = padding_mask(source_ids, cfg["pad_token_id"], dtype, decoder_ids.shape[1])
    heads = cfg["decoder_attention_heads"]
    for i in range(cfg["decoder_layers"]):
        p = f"model.decoder.layers.{i}"
        x = layer_norm(params, p + ".self_attn_layer_norm", h)
        h = h + attention(params, p + ".self_attn", heads, x, x, causal)
        x = layer_norm(params, p + ".encoder_attn_layer_norm", h)
        h = h + attention(params, p + ".encoder_attn", heads, x, encoded, cross)
        x = layer_norm(params, p + ".final_layer_norm", h)
        h = h + linear(params, p + ".fc2", activation(cfg, linear(params, p + ".fc1", x)))
    h = layer_norm(params, "model.decoder.layer_norm", h)
    return h @ params["model.shared.weight"].t()


def shift_right(labels, pad, start):
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = start
    return shifted.masked_fill(shifted == -100, pad)


def pad_batch(rows, value):
    length = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (length - len(r)) for r in rows], dtype=torch.long)


def label_log_probs(params, cfg, sources, targets):
    """Per-token log p(label) for each pair (lists of ids), and the mean NLL over all label tokens."""
    source_ids = pad_batch(sources, cfg["pad_token_id"])
    labels = pad_batch(targets, -100)
    decoder_ids = shift_right(labels, cfg["pad_token_id"], cfg["decoder_start_token_id"])
    logits = decode(params, cfg, source_ids, encode(params, cfg, source_ids), decoder_ids)
    log_probs = torch.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    mask = labels.ne(-100)
    mean_nll = -(picked * mask).sum() / mask.sum()
    per_pair = [picked[i, : len(t)].tolist() for i, t in enumerate(targets)]
    return per_pair, mean_nll


def greedy(params, cfg, source, forced_bos, max_new_tokens):
    """Greedy generation of one sentence with the first token forced (recomputing the decoder each step)."""
    source_ids = torch.tensor([source], dtype=torch.long)
    encoded = encode(params, cfg, source_ids)
    out = [cfg["decoder_start_token_id"]]
    for step in range(max_new_tokens):
        logits = decode(params, cfg, source_ids, encoded, torch.tensor([out], dtype=torch.long))[0, -1]
        token = forced_bos if step == 0 else int(torch.argmax(logits))
        out.append(token)
        if token == cfg["eos_token_id"]:
            break
    return out[1:]
