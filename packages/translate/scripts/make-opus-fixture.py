#!/usr/bin/python3
"""Writes packages/translate/fixtures/opus-mt-tiny: a tiny OPUS-MT-shaped model folder made by the real tools.

- Debian `spm_train` (unigram) trains source.spm (English) and target.spm (German) on phrases of the
  trans-de-en dictionary (/usr/share/trans/de-en, Debian package trans-de-en).
- vocab.json is laid out as Helsinki-NLP/opus-mt-* repos have it: one joint vocabulary, "</s>" = 0, "<unk>" = 1,
  the pieces of both SentencePiece models, two multilingual target tokens (">>deu<<", ">>nld<<"), "<pad>" last.
  One rare source piece is left out on purpose, so a test sees a piece that maps to "<unk>".
- config.json / generation_config.json / tokenizer_config.json / special_tokens_map.json as in
  Helsinki-NLP/opus-mt-en-de, with tiny dimensions.
- python3-torch writes pytorch_model.bin: torch.save of an OrderedDict with HF MarianMTModel's key names, the tied
  keys (model.shared / encoder+decoder embed_tokens / lm_head) sharing one storage, the static sinusoidal
  embed_positions, a non-contiguous (transposed) weight and a weight that is a view at a storage offset.
- The same state dict in the legacy (pre-1.6, non-zip) torch.save format: variants/legacy/pytorch_model.bin, and
  split into two torch.save shards with pytorch_model.bin.index.json: variants/sharded-bin/.
- The same tensors as model.safetensors (F32), model-f16.safetensors, model-bf16.safetensors and a two-shard
  variant (sharded/model-0000x-of-00002.safetensors + model.safetensors.index.json), written by hand in the
  safetensors layout (8-byte little-endian header length, JSON header, raw little-endian data).
- malicious/pytorch_model.bin: a torch-style zip whose data.pkl calls os.system (pickle protocol 2), and
  malicious/eval.bin whose pickle reaches builtins.eval, malicious/stack-global.bin (protocol 4, STACK_GLOBAL):
  loaders must refuse them without running them.
- variants/protocol4/pytorch_model.bin: the state dict saved with pickle protocol 4.
- spm_encode output (pieces) of held-out dictionary sentences: test-sentences.{en,de} and .pieces files.

Run: /usr/bin/python3 packages/translate/scripts/make-opus-fixture.py   (from the repository root)
Reruns give identical files except variants/legacy/pytorch_model.bin, whose storage keys are object addresses.
Needs: Debian packages sentencepiece, python3-torch, trans-de-en.
"""

import collections
import io
import json
import math
import os
import pickle
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "opus-mt-tiny")
DICTIONARY = "/usr/share/trans/de-en"
VOCAB_SIZE = 250  # per SentencePiece model
D_MODEL, FFN, HEADS, LAYERS, MAX_POSITIONS = 16, 32, 2, 1, 64
TEST_SENTENCES = 400


def phrases():
    """Pairs of (German, English) phrases with at least three words, from dictionary entries 'de | de :: en | en'."""
    pairs = []
    with open(DICTIONARY, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or " :: " not in line:
                continue
            german, english = line.rstrip("\n").split(" :: ", 1)
            for de, en in zip(german.split(" | "), english.split(" | ")):
                # Drop the dictionary's annotations: {m}, [coll.], (…), <…>.
                de = re.sub(r"\{[^}]*\}|\[[^\]]*\]|<[^>]*>", "", de).strip()
                en = re.sub(r"\{[^}]*\}|\[[^\]]*\]|<[^>]*>", "", en).strip()
                de, en = re.sub(r"\s+", " ", de), re.sub(r"\s+", " ", en)
                if len(de.split()) >= 3 and len(en.split()) >= 3 and ";" not in de + en:
                    pairs.append((de, en))
    return pairs


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
        f.write(data)


def train_spm(sentences, prefix):
    # Fixed paths: spm_train records the input and prefix in the model's trainer_spec.
    corpus = prefix + ".txt"
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    subprocess.run(
        [
            "spm_train",
            f"--input={corpus}",
            f"--model_prefix={prefix}",
            f"--vocab_size={VOCAB_SIZE}",
            "--model_type=unigram",
            "--character_coverage=0.9995",
            "--num_threads=1",
            "--seed_sentencepiece_size=20000",
            "--input_sentence_size=0",
            "--minloglevel=2",
        ],
        check=True,
    )
    os.unlink(corpus)
    with open(prefix + ".vocab", encoding="utf-8") as f:
        return [line.split("\t")[0] for line in f]


def spm_encode(model, sentences):
    out = subprocess.run(
        ["spm_encode", f"--model={model}", "--output_format=piece"],
        input="\n".join(sentences) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def sinusoidal(n_pos, dim):
    """HF MarianSinusoidalPositionalEmbedding._init_weight: sin features in the first half, cos in the second."""
    import numpy as np

    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim)
    sentinel = dim // 2 if dim % 2 == 0 else (dim // 2) + 1
    out[:, 0:sentinel] = torch.FloatTensor(np.sin(position_enc[:, 0::2]))
    out[:, sentinel:] = torch.FloatTensor(np.cos(position_enc[:, 1::2]))
    return out


def state_dict(vocab_size, pad_id):
    g = torch.Generator().manual_seed(20260)
    normal = lambda *shape: torch.randn(*shape, generator=g) * 0.3  # noqa: E731
    sd = collections.OrderedDict()
    shared = normal(vocab_size, D_MODEL)
    shared[pad_id] = 0  # nn.Embedding(padding_idx) keeps the pad row zero
    sd["model.shared.weight"] = shared
    positions = sinusoidal(MAX_POSITIONS, D_MODEL)
    for side in ("encoder", "decoder"):
        sd[f"model.{side}.embed_tokens.weight"] = shared  # tied: one storage
        sd[f"model.{side}.embed_positions.weight"] = positions
        attentions = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
        for i in range(LAYERS):
            p = f"model.{side}.layers.{i}"
            for a in attentions:
                for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                    sd[f"{p}.{a}.{proj}.weight"] = normal(D_MODEL, D_MODEL)
                    sd[f"{p}.{a}.{proj}.bias"] = normal(D_MODEL)
                sd[f"{p}.{a}_layer_norm.weight"] = 1 + normal(D_MODEL)
                sd[f"{p}.{a}_layer_norm.bias"] = normal(D_MODEL)
            # A transposed view (strides (1, FFN)) and a slice at a storage offset, as torch.save keeps them.
            sd[f"{p}.fc1.weight"] = normal(D_MODEL, FFN).t()
            sd[f"{p}.fc1.bias"] = normal(FFN + 10)[7 : 7 + FFN]
            sd[f"{p}.fc2.weight"] = normal(D_MODEL, FFN)
            sd[f"{p}.fc2.bias"] = normal(D_MODEL)
            sd[f"{p}.final_layer_norm.weight"] = 1 + normal(D_MODEL)
            sd[f"{p}.final_layer_norm.bias"] = normal(D_MODEL)
    sd["lm_head.weight"] = shared
    sd["final_logits_bias"] = normal(1, vocab_size)
    # As Module.state_dict() sets it: pickled as the OrderedDict's state (a BUILD opcode).
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("model", {"version": 1})])
    return sd


def total_bytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors.values())


def safetensors_bytes(tensors, dtype):
    """The safetensors layout: u64 LE header length, JSON header padded with spaces to 8 bytes, raw data."""
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if dtype == "F16":
            raw = t.half().numpy().tobytes()
        elif dtype == "BF16":
            raw = t.bfloat16().view(torch.int16).numpy().tobytes()
        else:
            raw = t.float().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


class Exploit:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def malicious_zip(payload, protocol=2):
    """A zip laid out as torch.save writes it (archive/data.pkl, archive/version), holding a hostile pickle."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("archive/data.pkl", pickle.dumps(payload, protocol=protocol)), ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def main():
    os.makedirs(ROOT, exist_ok=True)
    pairs = phrases()
    # Deterministic split: every 7th pair is held out for the tokenizer test.
    train = [p for i, p in enumerate(pairs) if i % 7]
    held_out = [p for i, p in enumerate(pairs) if i % 7 == 0]
    step = max(1, len(held_out) // TEST_SENTENCES)
    test = held_out[::step][:TEST_SENTENCES]
    # Hand-written cases for the normaliser (nmt_nfkc): extra spaces, NBSP, full-width letters, a ligature, a tab,
    # an emoji and CJK text no piece covers, an empty line.
    extra_en = ["  The  office   is\u00a0closed.  ", "\uff21\uff22\uff23 are full-width letters", "the \ufb01nal\tword",
                "an emoji \U0001f600\U0001f600 and \u6f22\u5b57 here", ""]
    extra_de = ["  Das  B\u00fcro   ist\u00a0geschlossen.  ", "\uff21\uff22\uff23 sind breite Buchstaben",
                "das \ufb01nale\tWort", "ein Emoji \U0001f600 und \u6f22\u5b57 hier", ""]
    tmp = os.path.join(tempfile.gettempdir(), "el-opus-fixture")
    os.makedirs(tmp, exist_ok=True)
    src_pieces = train_spm([en for _, en in train], os.path.join(tmp, "source"))
    tgt_pieces = train_spm([de for de, _ in train], os.path.join(tmp, "target"))
    for side in ("source", "target"):
        with open(os.path.join(tmp, side + ".model"), "rb") as f:
            write(os.path.join(ROOT, side + ".spm"), f.read())

    # Joint vocabulary as OPUS-MT's: </s>=0, <unk>=1, pieces, language tokens, <pad> last.
    vocab, dropped = ["</s>", "<unk>"], src_pieces[-1]
    for piece in src_pieces + tgt_pieces:
        if piece not in ("<unk>", "<s>", "</s>") and piece not in vocab and piece != dropped:
            vocab.append(piece)
    vocab += [">>deu<<", ">>nld<<", "<pad>"]
    ids = {piece: i for i, piece in enumerate(vocab)}
    pad_id = ids["<pad>"]
    write(os.path.join(ROOT, "vocab.json"), json.dumps(ids, ensure_ascii=False, indent=2) + "\n")
    write(os.path.join(ROOT, "dropped-piece.txt"), dropped + "\n")

    config = {
        "_name_or_path": "opus-mt-tiny",
        "_num_labels": 3,
        "activation_dropout": 0.0,
        "activation_function": "swish",
        "add_bias_logits": False,
        "add_final_layer_norm": False,
        "architectures": ["MarianMTModel"],
        "attention_dropout": 0.0,
        "bad_words_ids": [[pad_id]],
        "bos_token_id": 0,
        "classif_dropout": 0.0,
        "classifier_dropout": 0.0,
        "d_model": D_MODEL,
        "decoder_attention_heads": HEADS,
        "decoder_ffn_dim": FFN,
        "decoder_layerdrop": 0.0,
        "decoder_layers": LAYERS,
        "decoder_start_token_id": pad_id,
        "decoder_vocab_size": len(vocab),
        "dropout": 0.1,
        "encoder_attention_heads": HEADS,
        "encoder_ffn_dim": FFN,
        "encoder_layerdrop": 0.0,
        "encoder_layers": LAYERS,
        "eos_token_id": 0,
        "forced_eos_token_id": 0,
        "gradient_checkpointing": False,
        "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
        "max_length": 512,
        "max_position_embeddings": MAX_POSITIONS,
        "model_type": "marian",
        "normalize_before": False,
        "normalize_embedding": False,
        "num_beams": 4,
        "num_hidden_layers": LAYERS,
        "pad_token_id": pad_id,
        "scale_embedding": True,
        "share_encoder_decoder_embeddings": True,
        "static_position_embeddings": True,
        "transformers_version": "4.22.0.dev0",
        "use_cache": True,
        "vocab_size": len(vocab),
    }
    write(os.path.join(ROOT, "config.json"), json.dumps(config, indent=2) + "\n")
    generation = {
        "bad_words_ids": [[pad_id]],
        "bos_token_id": 0,
        "decoder_start_token_id": pad_id,
        "eos_token_id": 0,
        "forced_eos_token_id": 0,
        "max_length": 512,
        "num_beams": 4,
        "pad_token_id": pad_id,
        "renormalize_logits": True,
        "transformers_version": "4.32.0.dev0",
    }
    write(os.path.join(ROOT, "generation_config.json"), json.dumps(generation, indent=2) + "\n")
    write(os.path.join(ROOT, "tokenizer_config.json"), json.dumps({"target_lang": "de", "source_lang": "en"}) + "\n")
    write(
        os.path.join(ROOT, "special_tokens_map.json"),
        json.dumps({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}) + "\n",
    )

    sd = state_dict(len(vocab), pad_id)
    torch.save(sd, os.path.join(ROOT, "pytorch_model.bin"))
    # The pre-1.6 torch.save format (a sequence of pickles, then the raw storages) of early Hub uploads.
    os.makedirs(os.path.join(ROOT, "variants", "legacy"), exist_ok=True)
    torch.save(sd, os.path.join(ROOT, "variants", "legacy", "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    # save_pretrained's safetensors: no embed_positions, the tied copies dropped (model.shared.weight kept).
    saved = {k: v for k, v in sd.items() if "embed_positions" not in k and "embed_tokens" not in k and k != "lm_head.weight"}
    write(os.path.join(ROOT, "model.safetensors"), safetensors_bytes(saved, "F32"))
    write(os.path.join(ROOT, "variants", "f16", "model.safetensors"), safetensors_bytes(saved, "F16"))
    write(os.path.join(ROOT, "variants", "bf16", "model.safetensors"), safetensors_bytes(saved, "BF16"))
    # Pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL), as torch.save(pickle_protocol=4) writes it.
    os.makedirs(os.path.join(ROOT, "variants", "protocol4"), exist_ok=True)
    torch.save(sd, os.path.join(ROOT, "variants", "protocol4", "pytorch_model.bin"), pickle_protocol=4)
    # A sharded pytorch_model.bin (torch.save per shard + pytorch_model.bin.index.json), the tied copies with it.
    bin_names = list(sd.keys())
    bin_shards = [bin_names[: len(bin_names) // 2], bin_names[len(bin_names) // 2 :]]
    bin_map = {}
    for i, shard in enumerate(bin_shards):
        file = f"pytorch_model-{i + 1:05d}-of-{len(bin_shards):05d}.bin"
        os.makedirs(os.path.join(ROOT, "variants", "sharded-bin"), exist_ok=True)
        torch.save(collections.OrderedDict((k, sd[k]) for k in shard), os.path.join(ROOT, "variants", "sharded-bin", file))
        bin_map.update({k: file for k in shard})
    write(
        os.path.join(ROOT, "variants", "sharded-bin", "pytorch_model.bin.index.json"),
        json.dumps({"metadata": {"total_size": total_bytes(sd)}, "weight_map": bin_map}, indent=2) + "\n",
    )
    names = sorted(saved)
    shards = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write(os.path.join(ROOT, "variants", "sharded", file), safetensors_bytes({k: saved[k] for k in shard}, "F32"))
        weight_map.update({k: file for k in shard})
    total = sum(saved[k].numel() * 4 for k in names)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    write(os.path.join(ROOT, "variants", "sharded", "model.safetensors.index.json"), json.dumps(index, indent=2) + "\n")

    write(os.path.join(ROOT, "malicious", "pytorch_model.bin"), malicious_zip(Exploit(os.system, "touch /tmp/el-pwned")))
    write(os.path.join(ROOT, "malicious", "eval.bin"), malicious_zip(Exploit(eval, "__import__('os').getcwd()")))
    write(
        os.path.join(ROOT, "malicious", "stack-global.bin"),
        malicious_zip(Exploit(os.system, "touch /tmp/el-pwned"), protocol=4),
    )

    # The reference segmentation: Debian's spm_encode, one line of pieces per sentence.
    en = [en for _, en in test] + extra_en
    de = [de for de, _ in test] + extra_de
    write(os.path.join(ROOT, "test-sentences.en"), "\n".join(en) + "\n")
    write(os.path.join(ROOT, "test-sentences.de"), "\n".join(de) + "\n")
    write(os.path.join(ROOT, "test-sentences.en.pieces"), spm_encode(os.path.join(ROOT, "source.spm"), en))
    write(os.path.join(ROOT, "test-sentences.de.pieces"), spm_encode(os.path.join(ROOT, "target.spm"), de))
    print(f"{len(vocab)} tokens, pad {pad_id}, {len(en)} test sentences, dropped piece {dropped!r}", file=sys.stderr)


if __name__ == "__main__":
    main()
