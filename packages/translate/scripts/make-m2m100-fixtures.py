#!/usr/bin/python3
"""Writes packages/translate/fixtures/nllb-200-tiny and fixtures/m2m100-tiny: tiny M2M100-family folders laid out as
facebook/nllb-200-distilled-600M and facebook/m2m100_418M are published, plus reference outputs of HF's model.

- Debian `spm_train --model_type=bpe` trains one joint English+German sentencepiece.bpe.model on phrases of the
  trans-de-en dictionary (as make-opus-fixture.py reads them); both folders carry it.
- nllb-200-tiny: ids as NllbTokenizer computes them (fairseq offset: <s>=0 <pad>=1 </s>=2 <unk>=3, spm id + 1; the
  202 language codes after the spm vocabulary, <mask> last), config.vocab_size two larger than the tokenizer (as
  256206 vs 256204 in NLLB-200); model.safetensors (the tied copies dropped) and a two-shard variant with its index.
  tokenizer_config.json / special_tokens_map.json as in the NLLB repo, and tokenizer.json as transformers'
  NllbConverter writes it (BPE vocab and merges from the spm model, its precompiled charsmap, Metaspace, the
  `eng_Latn $A </s>` template, language codes and <mask> as added tokens).
- m2m100-tiny: vocab.json as fairseq's dictionary (<s> <pad> </s> <unk>, then pieces by corpus frequency, so the
  ids are not spm's; one piece left out so that it maps to <unk>), language tokens __xx__ after it, 8 made-up words;
  pytorch_model.bin (torch.save, tied keys sharing one storage) and a two-shard .bin variant with its index.
- reference.json in each folder, from m2m100_reference.py (HF's M2M100ForConditionalGeneration, written from its
  source) run in float64 with dropout off: per-token log-probs of a padded batch of sentence pairs, the mean NLL and
  its gradient for a few parameters, greedy outputs with the target language forced as first token.
- tokenizer-reference.json in each folder: ids of held-out sentences (and hand-written normaliser cases) through
  python3-sentencepiece plus each tokenizer's id rules.

Run: /usr/bin/python3 packages/translate/scripts/make-m2m100-fixtures.py   (from the repository root)
Needs: Debian packages sentencepiece, python3-sentencepiece, python3-torch, trans-de-en.
"""

import collections
import importlib.util
import json
import os
import sys
import tempfile

import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import m2m100_reference as ref  # noqa: E402

_spec = importlib.util.spec_from_file_location("make_opus_fixture", os.path.join(HERE, "make-opus-fixture.py"))
opus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(opus)

FIXTURES = os.path.join(HERE, "..", "fixtures")
SPM_VOCAB = 400
D_MODEL, FFN, ENCODER_HEADS, DECODER_HEADS, ENCODER_LAYERS, DECODER_LAYERS = 16, 32, 2, 4, 2, 2
MAX_POSITIONS = 64
MAX_NEW_TOKENS = 12
TEST_SENTENCES = 120

# transformers/models/nllb/tokenization_nllb.py FAIRSEQ_LANGUAGE_CODES (their order fixes the ids).
NLLB_CODES = """ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn amh_Ethi apc_Arab arb_Arab
ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl
bem_Latn ben_Beng bho_Deva bjn_Arab bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn
ckb_Arab crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn est_Latn eus_Latn
ewe_Latn fao_Latn pes_Arab fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gla_Latn gle_Latn glg_Latn grn_Latn
guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn
ita_Latn jav_Latn jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor knc_Arab knc_Latn kaz_Cyrl
kbp_Latn kea_Latn khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kon_Latn kor_Hang kmr_Latn lao_Laoo lvs_Latn lij_Latn
lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn lua_Latn lug_Latn luo_Latn lus_Latn mag_Deva mai_Deva mal_Mlym
mar_Deva min_Latn mkd_Cyrl plt_Latn mlt_Latn mni_Beng khk_Cyrl mos_Latn mri_Latn zsm_Latn mya_Mymr nld_Latn nno_Latn
nob_Latn npi_Deva nso_Latn nus_Latn nya_Latn oci_Latn gaz_Latn ory_Orya pag_Latn pan_Guru pap_Latn pol_Latn por_Latn
prs_Arab pbt_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Beng scn_Latn shn_Mymr sin_Sinh slk_Latn
slv_Latn smo_Latn sna_Latn snd_Arab som_Latn sot_Latn spa_Latn als_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn
swh_Latn szl_Latn tam_Taml tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi taq_Latn taq_Tfng tpi_Latn tsn_Latn
tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn urd_Arab uzn_Latn vec_Latn vie_Latn
war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn yue_Hant zho_Hans zho_Hant zul_Latn""".split()

# transformers/models/m2m_100/tokenization_m2m_100.py FAIRSEQ_LANGUAGE_CODES["m2m100"].
M2M100_CODES = """af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu ha he hi
hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr ms my ne nl no ns oc or pa pl ps pt
ro ru sd si sk sl so sq sr ss su sv sw ta th tl tn tr uk ur uz vi wo xh yi yo zh zu""".split()

# Hand-written normaliser cases (nmt_nfkc): extra spaces, NBSP, full-width letters, a ligature, a tab, an emoji and
# CJK text no piece covers, an empty line.
EXTRA_EN = ["  The  office   is\u00a0closed.  ", "\uff21\uff22\uff23 are full-width letters", "the \ufb01nal\tword",
            "an emoji \U0001f600\U0001f600 and \u6f22\u5b57 here", ""]
EXTRA_DE = ["  Das  B\u00fcro   ist\u00a0geschlossen.  ", "\uff21\uff22\uff23 sind breite Buchstaben",
            "das \ufb01nale\tWort", "ein Emoji \U0001f600 und \u6f22\u5b57 hier", ""]


def train_bpe(sentences, prefix):
    corpus = prefix + ".txt"
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    import subprocess

    subprocess.run(
        ["spm_train", f"--input={corpus}", f"--model_prefix={prefix}", f"--vocab_size={SPM_VOCAB}",
         "--model_type=bpe", "--character_coverage=0.9995", "--num_threads=1", "--input_sentence_size=0",
         "--minloglevel=2"],
        check=True,
    )
    os.unlink(corpus)
    with open(prefix + ".model", "rb") as f:
        return f.read()


def proto_fields(data):
    """Top-level fields of a protobuf message: (field number, wire type, value) with bytes for length-delimited."""
    pos, out = 0, []

    def varint():
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            out.append((field, wire, varint()))
        elif wire == 1:
            out.append((field, wire, data[pos : pos + 8]))
            pos += 8
        elif wire == 2:
            length = varint()
            out.append((field, wire, data[pos : pos + length]))
            pos += length
        elif wire == 5:
            out.append((field, wire, data[pos : pos + 4]))
            pos += 4
    return out


def nllb_tokenizer_json(model_bytes, sp, code_ids, mask_id):
    """tokenizer.json as transformers' NllbConverter (an SpmConverter for BPE models) writes it, without `tokenizers`:
    BPE vocab <s> <pad> </s> <unk> then spm pieces 3… at id + 1; merges: every split of each piece into two pieces,
    ordered by the merged piece's spm id (then the parts' ids); the model's precompiled charsmap then spaces runs
    collapsed; Metaspace with a prefix space; TemplateProcessing `eng_Latn $A </s>`; the language codes and <mask>
    as added special tokens."""
    import base64

    normalizer_spec = next(v for f, w, v in proto_fields(model_bytes) if f == 3)
    charsmap = next((v for f, w, v in proto_fields(normalizer_spec) if f == 2), b"")
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    spm_ids = {p: i for i, p in enumerate(pieces)}
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(3, len(pieces)):
        vocab[pieces[i]] = i + 1
    merges = []
    for merged in pieces[3:]:
        local = [(merged[:k], merged[k:]) for k in range(1, len(merged)) if merged[:k] in spm_ids and merged[k:] in spm_ids]
        merges += sorted(local, key=lambda lr: (spm_ids[lr[0]], spm_ids[lr[1]]))
    special = lambda i, content, **kw: {"id": i, "content": content, "single_word": False, "lstrip": kw.get("lstrip", False),  # noqa: E731
                                        "rstrip": False, "normalized": kw.get("normalized", False), "special": True}
    added = [special(i, t) for t, i in list(vocab.items())[:4]]
    added += [special(i, code) for code, i in code_ids.items()]
    added.append(special(mask_id, "<mask>", lstrip=True, normalized=True))
    template = lambda *parts: [p for p in parts]  # noqa: E731
    seq = lambda name: {"Sequence": {"id": name, "type_id": 0}}  # noqa: E731
    tok = lambda name: {"SpecialToken": {"id": name, "type_id": 0}}  # noqa: E731
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True, "prepend_scheme": "always"}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": template(tok("eng_Latn"), seq("A"), tok("</s>")),
            "pair": template(tok("eng_Latn"), seq("A"), seq("B"), tok("</s>")),
            "special_tokens": {
                "eng_Latn": {"id": "eng_Latn", "ids": [code_ids["eng_Latn"]], "tokens": ["eng_Latn"]},
                "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": metaspace,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "vocab": vocab,
                  "merges": [f"{l} {r}" for l, r in merges]},
    }


def state_dict(vocab_size, pad_id, seed):
    """Random weights under HF key names. Scales chosen so that greedy outputs vary (not one token repeated) while
    float32 stays within ~1e-5 of float64 (projections at std 1 make PyTorch's own float32 log-probs 6e-5 off)."""
    g = torch.Generator().manual_seed(seed)
    normal = lambda *shape, std=0.3: torch.randn(*shape, generator=g, dtype=torch.float64).float() * std  # noqa: E731
    sd = collections.OrderedDict()
    shared = normal(vocab_size, D_MODEL, std=0.6)
    shared[pad_id] = 0  # nn.Embedding(padding_idx)
    sd["model.shared.weight"] = shared
    for side, layers in (("encoder", ENCODER_LAYERS), ("decoder", DECODER_LAYERS)):
        sd[f"model.{side}.embed_tokens.weight"] = shared  # tied: one storage
        attentions = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
        for i in range(layers):
            p = f"model.{side}.layers.{i}"
            for a in attentions:
                for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                    sd[f"{p}.{a}.{proj}.weight"] = normal(D_MODEL, D_MODEL, std=0.5)
                    sd[f"{p}.{a}.{proj}.bias"] = normal(D_MODEL)
                sd[f"{p}.{a}_layer_norm.weight"] = 1 + normal(D_MODEL)
                sd[f"{p}.{a}_layer_norm.bias"] = normal(D_MODEL)
            sd[f"{p}.fc1.weight"] = normal(FFN, D_MODEL, std=0.5)
            sd[f"{p}.fc1.bias"] = normal(FFN)
            sd[f"{p}.fc2.weight"] = normal(D_MODEL, FFN, std=0.5)
            sd[f"{p}.fc2.bias"] = normal(D_MODEL)
            sd[f"{p}.final_layer_norm.weight"] = 1 + normal(D_MODEL)
            sd[f"{p}.final_layer_norm.bias"] = normal(D_MODEL)
        sd[f"model.{side}.layer_norm.weight"] = 1 + normal(D_MODEL)
        sd[f"model.{side}.layer_norm.bias"] = normal(D_MODEL)
    sd["lm_head.weight"] = shared
    return sd


def config_json(vocab_size, extra):
    config = {
        "activation_dropout": 0.0,
        "activation_function": "relu",
        "architectures": ["M2M100ForConditionalGeneration"],
        "attention_dropout": 0.1,
        "bos_token_id": 0,
        "d_model": D_MODEL,
        "decoder_attention_heads": DECODER_HEADS,
        "decoder_ffn_dim": FFN,
        "decoder_layerdrop": 0,
        "decoder_layers": DECODER_LAYERS,
        "decoder_start_token_id": 2,
        "dropout": 0.1,
        "encoder_attention_heads": ENCODER_HEADS,
        "encoder_ffn_dim": FFN,
        "encoder_layerdrop": 0,
        "encoder_layers": ENCODER_LAYERS,
        "eos_token_id": 2,
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "max_length": 200,
        "max_position_embeddings": MAX_POSITIONS,
        "model_type": "m2m_100",
        "num_hidden_layers": ENCODER_LAYERS,
        "pad_token_id": 1,
        "scale_embedding": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    config.update(extra)
    return dict(sorted(config.items()))


def rounded(values):
    return [float(f"{v:.10g}") for v in values]


def reference(sd, cfg, pairs, src_id, tgt_id, encode_source, encode_target):
    """reference.json: log-probs, mean-NLL gradients and greedy outputs of the HF reference in float64."""
    params = {k: v.double().clone().requires_grad_(True) for k, v in sd.items() if k != "lm_head.weight"}
    sources = [encode_source(en) for en, _ in pairs]
    targets = [encode_target(de) for _, de in pairs]
    per_pair, mean_nll = ref.label_log_probs(params, cfg, sources, targets)
    mean_nll.backward()
    # The shared embedding's rows: the pad row (no gradient), </s>, the target language and a few label tokens.
    rows = sorted({cfg["pad_token_id"], 2, tgt_id, targets[0][1], targets[1][2], sources[0][1]})
    names = [
        "model.encoder.layers.0.self_attn.q_proj.weight",
        "model.encoder.layers.1.fc1.bias",
        "model.encoder.layer_norm.weight",
        "model.decoder.layers.0.encoder_attn.k_proj.weight",
        "model.decoder.layers.1.fc2.weight",
        "model.decoder.layers.1.self_attn_layer_norm.bias",
        "model.decoder.layer_norm.bias",
    ]
    gradients = {n: {"shape": list(params[n].shape), "values": rounded(params[n].grad.flatten().tolist())} for n in names}
    shared_grad = params["model.shared.weight"].grad
    gradients["model.shared.weight"] = {"rows": rows, "values": [rounded(shared_grad[r].tolist()) for r in rows]}
    with torch.no_grad():
        outputs = [ref.greedy(params, cfg, s, tgt_id, MAX_NEW_TOKENS) for s in sources]
        margins = []
        for s, out in zip(sources, outputs):
            source_ids = torch.tensor([s])
            logits = ref.decode(params, cfg, source_ids, ref.encode(params, cfg, source_ids), torch.tensor([[2] + out]))
            for step in range(1, len(out)):
                top = torch.topk(logits[0, step], 2).values
                margins.append(float(top[0] - top[1]))
    print(f"  mean NLL {float(mean_nll):.6f}, smallest greedy top-2 logit margin {min(margins):.3g}", file=sys.stderr)
    return {
        "pairs": [{"source": en, "target": de, "source_ids": s, "labels": t, "log_probs": rounded(lp)}
                  for (en, de), s, t, lp in zip(pairs, sources, targets, per_pair)],
        "mean_nll": float(mean_nll),
        "gradients": gradients,
        "greedy": {"max_new_tokens": MAX_NEW_TOKENS, "forced_bos_token_id": tgt_id, "outputs": outputs},
    }


def dump(path, value):
    opus.write(path, json.dumps(value, ensure_ascii=False, indent=1) + "\n")


def write_sharded_safetensors(folder, tensors):
    names = sorted(tensors)
    shards = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        opus.write(os.path.join(folder, file), opus.safetensors_bytes({k: tensors[k] for k in shard}, "F32"))
        weight_map.update({k: file for k in shard})
    index = {"metadata": {"total_size": opus.total_bytes(tensors)}, "weight_map": weight_map}
    dump(os.path.join(folder, "model.safetensors.index.json"), index)


def write_sharded_bin(folder, sd):
    names = list(sd)
    shards = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    os.makedirs(folder, exist_ok=True)
    for i, shard in enumerate(shards):
        file = f"pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin"
        torch.save(collections.OrderedDict((k, sd[k]) for k in shard), os.path.join(folder, file))
        weight_map.update({k: file for k in shard})
    dump(os.path.join(folder, "pytorch_model.bin.index.json"), {"metadata": {"total_size": opus.total_bytes(sd)}, "weight_map": weight_map})


def main():
    pairs = opus.phrases()
    train = [p for i, p in enumerate(pairs) if i % 7]
    held_out = [p for i, p in enumerate(pairs) if i % 7 == 0]
    step = max(1, len(held_out) // TEST_SENTENCES)
    test = held_out[::step][:TEST_SENTENCES]
    tmp = os.path.join(tempfile.gettempdir(), "el-m2m100-fixture")
    os.makedirs(tmp, exist_ok=True)
    model_bytes = train_bpe([en for _, en in train] + [de for de, _ in train], os.path.join(tmp, "spm"))
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    sp_size = sp.get_piece_size()
    english = [en for _, en in test] + EXTRA_EN
    german = [de for de, _ in test] + EXTRA_DE
    # Short pairs of different lengths for the model reference (a padded batch).
    model_pairs = [(en, de) for de, en in test if len(en) < 40 and len(de) < 40][:4]

    # NLLB: fairseq offset, language codes after the spm vocabulary, <mask> last.
    root = os.path.join(FIXTURES, "nllb-200-tiny")
    code_ids = {code: sp_size + 1 + i for i, code in enumerate(NLLB_CODES)}
    tokenizer_size = sp_size + 1 + len(NLLB_CODES) + 1

    def nllb_ids(text, lang):
        ids = [sp.piece_to_id(p) for p in sp.encode(text, out_type=str)]
        return [code_ids[lang]] + [i + 1 if i else 3 for i in ids] + [2]

    opus.write(os.path.join(root, "sentencepiece.bpe.model"), model_bytes)
    opus.write(os.path.join(root, "tokenizer.json"),
               json.dumps(nllb_tokenizer_json(model_bytes, sp, code_ids, tokenizer_size - 1), ensure_ascii=False) + "\n")
    cfg = config_json(tokenizer_size + 2, {"tokenizer_class": "NllbTokenizer", "_name_or_path": "nllb-200-tiny"})
    dump(os.path.join(root, "config.json"), cfg)
    dump(os.path.join(root, "generation_config.json"), {"bos_token_id": 0, "decoder_start_token_id": 2, "eos_token_id": 2, "max_length": 200, "pad_token_id": 1})
    mask = {"content": "<mask>", "lstrip": True, "normalized": True, "rstrip": False, "single_word": False}
    specials = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": mask, "pad_token": "<pad>",
                "sep_token": "</s>", "unk_token": "<unk>"}
    dump(os.path.join(root, "special_tokens_map.json"), {"additional_special_tokens": NLLB_CODES, **specials})
    dump(os.path.join(root, "tokenizer_config.json"), {
        "additional_special_tokens": NLLB_CODES, **specials, "mask_token": {"__type": "AddedToken", **mask}, "model_max_length": 1024, "sp_model_kwargs": {},
        "src_lang": None, "tgt_lang": None, "tokenizer_class": "NllbTokenizer", "tokenizer_file": None})
    sd = state_dict(cfg["vocab_size"], 1, 2022)
    saved = {k: v for k, v in sd.items() if "embed_tokens" not in k and k != "lm_head.weight"}
    opus.write(os.path.join(root, "model.safetensors"), opus.safetensors_bytes(saved, "F32"))
    write_sharded_safetensors(os.path.join(root, "variants", "sharded"), saved)
    print("nllb-200-tiny:", file=sys.stderr)
    dump(os.path.join(root, "reference.json"), {
        "src_lang": "eng_Latn", "tgt_lang": "deu_Latn",
        **reference(sd, cfg, model_pairs, code_ids["eng_Latn"], code_ids["deu_Latn"],
                    lambda t: nllb_ids(t, "eng_Latn"), lambda t: nllb_ids(t, "deu_Latn"))})
    dump(os.path.join(root, "tokenizer-reference.json"), {
        "src_lang": "eng_Latn", "tgt_lang": "deu_Latn", "vocab_size": tokenizer_size,
        "english": english, "source_ids": [nllb_ids(t, "eng_Latn") for t in english],
        "german": german, "target_ids": [nllb_ids(t, "deu_Latn") for t in german]})

    # M2M100: vocab.json in fairseq dictionary order (by corpus frequency), one rare piece left out.
    root = os.path.join(FIXTURES, "m2m100-tiny")
    counts = collections.Counter(p for _, en in train for p in sp.encode(en, out_type=str))
    counts.update(p for de, _ in train for p in sp.encode(de, out_type=str))
    pieces = [sp.id_to_piece(i) for i in range(3, sp_size)]
    ordered = sorted(pieces, key=lambda p: (-counts[p], p))
    dropped = ordered[-1]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in ordered[:-1]:
        vocab[piece] = len(vocab)
    lang_ids = {f"__{code}__": len(vocab) + i for i, code in enumerate(M2M100_CODES)}

    def m2m_ids(text, lang):
        return [lang_ids[f"__{lang}__"]] + [vocab.get(p, 3) for p in sp.encode(text, out_type=str)] + [2]

    opus.write(os.path.join(root, "sentencepiece.bpe.model"), model_bytes)
    dump(os.path.join(root, "vocab.json"), vocab)
    opus.write(os.path.join(root, "dropped-piece.txt"), dropped + "\n")
    cfg = config_json(len(vocab) + len(M2M100_CODES) + 8, {
        "_name_or_path": "m2m100-tiny", "decoder_layerdrop": 0.05, "encoder_layerdrop": 0.05, "early_stopping": True,
        "num_beams": 5, "transformers_version": "4.4.0.dev0"})
    del cfg["torch_dtype"]
    dump(os.path.join(root, "config.json"), cfg)
    lang_tokens = list(lang_ids)
    dump(os.path.join(root, "special_tokens_map.json"), {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>",
        "additional_special_tokens": lang_tokens})
    dump(os.path.join(root, "tokenizer_config.json"), {
        "src_lang": None, "tgt_lang": None, "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "language_codes": "m2m100", "num_madeup_words": 8,
        "model_max_length": 1024, "tokenizer_class": "M2M100Tokenizer"})
    sd = state_dict(cfg["vocab_size"], 1, 100418)
    torch.save(sd, os.path.join(root, "pytorch_model.bin"))
    write_sharded_bin(os.path.join(root, "variants", "sharded-bin"), sd)
    print("m2m100-tiny:", file=sys.stderr)
    dump(os.path.join(root, "reference.json"), {
        "src_lang": "en", "tgt_lang": "de",
        **reference(sd, cfg, model_pairs, lang_ids["__en__"], lang_ids["__de__"],
                    lambda t: m2m_ids(t, "en"), lambda t: m2m_ids(t, "de"))})
    dump(os.path.join(root, "tokenizer-reference.json"), {
        "src_lang": "en", "tgt_lang": "de", "vocab_size": len(vocab) + len(M2M100_CODES) + 8,
        "english": english, "source_ids": [m2m_ids(t, "en") for t in english],
        "german": german, "target_ids": [m2m_ids(t, "de") for t in german]})
    print(f"spm {sp_size} pieces; NLLB tokenizer {tokenizer_size}; M2M100 vocab.json {len(vocab)}, dropped {dropped!r}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
