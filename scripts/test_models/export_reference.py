#!/usr/bin/python3
"""Tiny random-weight text-encoder checkpoints and their reference outputs, for modelkit's exporter
tests (tests/unit/export). Run with Debian's /usr/bin/python3 (torch, numpy); transformers is not
used: the encoders below are plain torch written from the published architectures (BERT, RoBERTa,
ELECTRA, sentence-transformers pooling), and safetensors files are written by hand (8-byte header
length, JSON header, raw little-endian data).

usage: export_reference.py OUT_DIR
Writes OUT_DIR/<case>/ (config.json, model.safetensors or shards, vocab.txt, and for
sentence-transformers modules.json + 1_Pooling/config.json) and OUT_DIR/<case>/reference/<batch>/
with the inputs and expected outputs as "<dtype> dims...\\n" + raw data (dtype f32 or i64).
OUT_DIR/cases.txt lists "<case> <input names> <output names>" one case a line. Deterministic.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)

VOCAB, HIDDEN, LAYERS, HEADS, INTER, MAX_POS = 50, 32, 2, 4, 37, 40


# --- safetensors -------------------------------------------------------------------------------

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def tensor_bytes(t):
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().tobytes()
    return t.contiguous().numpy().tobytes()


def write_safetensors(path, tensors, dtype_override=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": dtype_override.get(name, DTYPES[t.dtype]) if dtype_override else DTYPES[t.dtype],
                        "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_array(path, a):
    a = np.ascontiguousarray(a)
    kind = {np.dtype(np.float32): "f32", np.dtype(np.int64): "i64"}[a.dtype]
    with open(path, "wb") as f:
        f.write((" ".join([kind] + [str(d) for d in a.shape]) + "\n").encode())
        f.write(a.tobytes())


# --- the reference encoders (eager, dropout-free inference) -------------------------------------

ACTS = {
    "gelu": lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0))),
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))),
    "relu": torch.relu,
    "silu": lambda x: x * torch.sigmoid(x),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
}


def linear(w, name, x):
    return x @ w[name + ".weight"].float().T + w[name + ".bias"].float()


def layer_norm(w, name, x, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w[name + ".weight"].float(), w[name + ".bias"].float(), eps)


# Per family: the parameter names of one layer (relative to its layer prefix) and the layer prefix.
LAYER_NAMES = {
    "bert": dict(q="attention.self.query", k="attention.self.key", v="attention.self.value",
                 o="attention.output.dense", ln1="attention.output.LayerNorm", ff1="intermediate.dense",
                 ff2="output.dense", ln2="output.LayerNorm"),
    "distilbert": dict(q="attention.q_lin", k="attention.k_lin", v="attention.v_lin", o="attention.out_lin",
                       ln1="sa_layer_norm", ff1="ffn.lin1", ff2="ffn.lin2", ln2="output_layer_norm"),
    "albert": dict(q="attention.query", k="attention.key", v="attention.value", o="attention.dense",
                   ln1="attention.LayerNorm", ff1="ffn", ff2="ffn_output", ln2="full_layer_layer_norm"),
    "mpnet": dict(q="attention.attn.q", k="attention.attn.k", v="attention.attn.v", o="attention.attn.o",
                  ln1="attention.LayerNorm", ff1="intermediate.dense", ff2="output.dense", ln2="output.LayerNorm"),
}
LAYER_NAMES["roberta"] = LAYER_NAMES["electra"] = LAYER_NAMES["bert"]


def layer_prefixes(cfg, p, family):
    if family == "distilbert":
        return [p + "transformer.layer.%d." % i for i in range(cfg["num_hidden_layers"])]
    if family == "albert":
        per_group = cfg["num_hidden_layers"] // cfg["num_hidden_groups"]
        out = []
        for i in range(cfg["num_hidden_layers"]):
            g = i // per_group
            out += [p + "encoder.albert_layer_groups.%d.albert_layers.%d." % (g, j) for j in range(cfg["inner_group_num"])]
        return out
    return [p + "encoder.layer.%d." % i for i in range(cfg["num_hidden_layers"])]


def mpnet_bucket(relative_position, num_buckets=32, max_distance=128):
    """T5-style buckets as MPNet computes them (float32 log)."""
    n = -relative_position
    num_buckets //= 2
    ret = (n < 0).long() * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.minimum(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(is_small, n, large)


def encoder(w, cfg, p, ids, mask, types, family):
    eps = cfg["layer_norm_eps"]
    act = ACTS[cfg["hidden_act"]]
    x = w[p + "embeddings.word_embeddings.weight"].float()[ids]
    if family in ("roberta", "mpnet"):
        pad = 1 if family == "mpnet" else cfg["pad_token_id"]
        not_pad = (ids != pad).long()
        pos = torch.cumsum(not_pad, dim=1) * not_pad + pad
    else:
        pos = torch.arange(ids.shape[1]).unsqueeze(0).expand_as(ids)
    x = x + w[p + "embeddings.position_embeddings.weight"].float()[pos]
    if family not in ("distilbert", "mpnet"):
        if types is None:
            types = torch.zeros_like(ids)
        x = x + w[p + "embeddings.token_type_embeddings.weight"].float()[types]
    x = layer_norm(w, p + "embeddings.LayerNorm", x, eps)
    if family == "electra" and cfg["embedding_size"] != cfg["hidden_size"]:
        x = linear(w, p + "embeddings_project", x)
    if family == "albert":
        x = linear(w, p + "encoder.embedding_hidden_mapping_in", x)
    n, s, h = x.shape
    nh = cfg["num_attention_heads"]
    hd = h // nh
    bias = (1.0 - mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
    if family == "mpnet":
        pos_ids = torch.arange(s)
        buckets = mpnet_bucket(pos_ids[None, :] - pos_ids[:, None])
        bias = bias + w[p + "encoder.relative_attention_bias.weight"].float()[buckets].permute(2, 0, 1).unsqueeze(0)
    N = LAYER_NAMES[family]
    for L in layer_prefixes(cfg, p, family):

        def heads(t):
            return t.view(n, s, nh, hd).transpose(1, 2)

        q = heads(linear(w, L + N["q"], x))
        k = heads(linear(w, L + N["k"], x))
        v = heads(linear(w, L + N["v"], x))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(n, s, h)
        x = layer_norm(w, L + N["ln1"], linear(w, L + N["o"], ctx) + x, eps)
        inter = act(linear(w, L + N["ff1"], x))
        x = layer_norm(w, L + N["ln2"], linear(w, L + N["ff2"], inter) + x, eps)
    return x


def pooler(w, p, x, family="bert"):
    if family == "distilbert":  # no pooler: pre_classifier + relu on token 0
        return torch.relu(linear(w, "pre_classifier", x[:, 0]))
    return torch.tanh(linear(w, p + ("pooler" if family == "albert" else "pooler.dense"), x[:, 0]))


def run_head(case, w, cfg, ids, mask, types):
    family, head, p = case["family"], case["head"], case["prefix"]
    if head == "multiple-choice":
        b, c, s = ids.shape
        flat = lambda t: None if t is None else t.reshape(-1, s)
        x = encoder(w, cfg, p, flat(ids), flat(mask), flat(types), family)
        logits = linear(w, "classifier", pooler(w, p, x, family))
        return {"logits": logits.view(b, c)}
    x = encoder(w, cfg, p, ids, mask, types, family)
    if head == "base":
        out = {"last_hidden_state": x}
        if family not in ("electra", "distilbert"):
            out["pooler_output"] = pooler(w, p, x, family)
        return out
    if head == "sentence":
        m = mask.float().unsqueeze(-1)
        parts = []
        if case["pooling"] == "cls":
            parts.append(x[:, 0])
        if case["pooling"] == "max":
            parts.append(torch.where(m > 0, x, torch.full_like(x, -1e9)).max(dim=1).values)
        if case["pooling"] == "mean":
            parts.append((x * m).sum(1) / torch.clamp(m.sum(1), min=1e-9))
        e = torch.cat(parts, dim=1)
        if case.get("normalize"):
            e = torch.nn.functional.normalize(e, p=2, dim=1)
        return {"token_embeddings": x, "sentence_embedding": e}
    if head == "sequence-classification":
        if family in ("bert", "albert"):
            return {"logits": linear(w, "classifier", pooler(w, p, x, family))}
        if family == "distilbert":
            return {"logits": linear(w, "classifier", pooler(w, p, x, family))}
        t = linear(w, "classifier.dense", x[:, 0])
        t = torch.tanh(t) if family in ("roberta", "mpnet") else ACTS["gelu"](t)
        return {"logits": linear(w, "classifier.out_proj", t)}
    if head == "token-classification":
        return {"logits": linear(w, "classifier", x)}
    if head == "question-answering":
        both = linear(w, "qa_outputs", x)
        return {"start_logits": both[..., 0], "end_logits": both[..., 1]}
    if head == "masked-lm":
        if family == "bert":
            t = ACTS[cfg["hidden_act"]](linear(w, "cls.predictions.transform.dense", x))
            t = layer_norm(w, "cls.predictions.transform.LayerNorm", t, cfg["layer_norm_eps"])
            dec = w.get("cls.predictions.decoder.weight") if not cfg.get("tie_word_embeddings", True) else None
            bias = w["cls.predictions.bias"]
        elif family == "distilbert":
            t = ACTS[cfg["hidden_act"]](linear(w, "vocab_transform", x))
            t = layer_norm(w, "vocab_layer_norm", t, cfg["layer_norm_eps"])
            dec, bias = None, w["vocab_projector.bias"]
        elif family == "albert":
            t = ACTS[cfg["hidden_act"]](linear(w, "predictions.dense", x))
            t = layer_norm(w, "predictions.LayerNorm", t, cfg["layer_norm_eps"])
            dec, bias = None, w["predictions.bias"]
        elif family in ("roberta", "mpnet"):
            t = ACTS["gelu"](linear(w, "lm_head.dense", x))
            t = layer_norm(w, "lm_head.layer_norm", t, cfg["layer_norm_eps"])
            dec, bias = None, w["lm_head.bias"]
        else:
            t = ACTS["gelu"](linear(w, "generator_predictions.dense", x))
            t = layer_norm(w, "generator_predictions.LayerNorm", t, cfg["layer_norm_eps"])
            dec, bias = None, w["generator_lm_head.bias"]
        if dec is None:
            dec = w[p + "embeddings.word_embeddings.weight"]
        return {"logits": t @ dec.float().T + bias.float()}
    raise ValueError(head)


# --- checkpoints -------------------------------------------------------------------------------

CLASS_PREFIX = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta", "camembert": "Camembert",
                "electra": "Electra", "distilbert": "DistilBert", "albert": "Albert", "mpnet": "MPNet"}
SUFFIX = {"base": "Model", "sentence": "Model", "sequence-classification": "ForSequenceClassification",
          "token-classification": "ForTokenClassification", "question-answering": "ForQuestionAnswering",
          "masked-lm": "ForMaskedLM", "multiple-choice": "ForMultipleChoice"}


def make_weights(gen, case, cfg):
    family, head, p = case["family"], case["head"], case["prefix"]
    H, E, V = cfg["hidden_size"], cfg["embedding_size"], cfg["vocab_size"]
    w = {}

    def lin(name, out_f, in_f):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) * 0.2
        w[name + ".bias"] = torch.randn(out_f, generator=gen) * 0.1

    def ln(name, size):
        w[name + ".weight"] = 1.0 + torch.randn(size, generator=gen) * 0.1
        w[name + ".bias"] = torch.randn(size, generator=gen) * 0.1

    w[p + "embeddings.word_embeddings.weight"] = torch.randn(V, E, generator=gen) * 0.5
    w[p + "embeddings.position_embeddings.weight"] = torch.randn(cfg["max_position_embeddings"], E, generator=gen) * 0.5
    if family not in ("distilbert", "mpnet"):
        w[p + "embeddings.token_type_embeddings.weight"] = torch.randn(cfg["type_vocab_size"], E, generator=gen) * 0.5
    ln(p + "embeddings.LayerNorm", E)
    if family == "electra" and E != H:
        lin(p + "embeddings_project", H, E)
    if family == "albert":
        lin(p + "encoder.embedding_hidden_mapping_in", H, E)
    if family == "mpnet":
        w[p + "encoder.relative_attention_bias.weight"] = torch.randn(32, cfg["num_attention_heads"], generator=gen)
    N = LAYER_NAMES[family]
    for L in sorted(set(layer_prefixes(cfg, p, family))):
        for n in ("q", "k", "v", "o"):
            lin(L + N[n], H, H)
        ln(L + N["ln1"], H)
        lin(L + N["ff1"], cfg["intermediate_size"], H)
        lin(L + N["ff2"], H, cfg["intermediate_size"])
        ln(L + N["ln2"], H)
    has_pooler = family not in ("electra", "distilbert") and head in (
        "base", "sentence", "sequence-classification", "multiple-choice")
    if family in ("roberta", "mpnet") and head == "sequence-classification":
        has_pooler = False
    if has_pooler:
        lin(p + ("pooler" if family == "albert" else "pooler.dense"), H, H)
    if family == "distilbert" and head in ("sequence-classification", "multiple-choice"):
        lin("pre_classifier", H, H)
    nl = cfg["num_labels"]
    if head == "sequence-classification":
        if family in ("bert", "albert", "distilbert"):
            lin("classifier", nl, H)
        else:
            lin("classifier.dense", H, H)
            lin("classifier.out_proj", nl, H)
    elif head == "token-classification":
        lin("classifier", nl, H)
    elif head == "question-answering":
        lin("qa_outputs", 2, H)
    elif head == "multiple-choice":
        lin("classifier", 1, H)
    elif head == "masked-lm":
        if family == "bert":
            lin("cls.predictions.transform.dense", H, H)
            ln("cls.predictions.transform.LayerNorm", H)
            w["cls.predictions.bias"] = torch.randn(V, generator=gen) * 0.1
            if not cfg.get("tie_word_embeddings", True):
                w["cls.predictions.decoder.weight"] = torch.randn(V, H, generator=gen) * 0.2
        elif family == "distilbert":
            lin("vocab_transform", H, H)
            ln("vocab_layer_norm", H)
            w["vocab_projector.bias"] = torch.randn(V, generator=gen) * 0.1
        elif family == "albert":
            lin("predictions.dense", E, H)
            ln("predictions.LayerNorm", E)
            w["predictions.bias"] = torch.randn(V, generator=gen) * 0.1
        elif family in ("roberta", "mpnet"):
            lin("lm_head.dense", H, H)
            ln("lm_head.layer_norm", H)
            w["lm_head.bias"] = torch.randn(V, generator=gen) * 0.1
        else:
            lin("generator_predictions.dense", E, H)
            ln("generator_predictions.LayerNorm", E)
            w["generator_lm_head.bias"] = torch.randn(V, generator=gen) * 0.1
    return w


def batches(gen, case, cfg):
    """Two padded batches of different shapes: (lengths per row, sequence length)."""
    pad = cfg["pad_token_id"]
    out = []
    shapes = [("b0", [7, 4], 7), ("b1", [5, 2, 3], 5)]
    if case["family"] == "mpnet":
        shapes.append(("b2", [36, 20], 36))  # distances past 8 use MPNet's logarithmic buckets
    for name, lengths, seq in shapes:
        def one(lengths):
            ids = torch.full((len(lengths), seq), pad, dtype=torch.int64)
            mask = torch.zeros((len(lengths), seq), dtype=torch.int64)
            for r, n in enumerate(lengths):
                ids[r, :n] = torch.randint(pad + 1, cfg["vocab_size"], (n,), generator=gen)
                mask[r, :n] = 1
            types = torch.zeros_like(ids)
            for r, n in enumerate(lengths):
                types[r, n // 2:n] = 1
            return ids, mask, types
        if case["head"] == "multiple-choice":
            parts = [one([max(1, n - c) for n in lengths]) for c in range(3)]
            ids, mask, types = (torch.stack([p[i] for p in parts], dim=1) for i in range(3))
        else:
            ids, mask, types = one(lengths)
        out.append((name, ids, mask, types))
    return out


def make_case(root, name, case, gen):
    family = case["family"]
    ref_family = "roberta" if family in ("roberta", "xlm-roberta", "camembert") else family
    if family == "distilbert":
        case = dict(case, eps=1e-12)  # DistilBERT's LayerNorms use 1e-12 whatever the config
    case = dict(case, family=ref_family)
    cfg = {"model_type": family, "architectures": [CLASS_PREFIX[family] + SUFFIX[case["head"]]],
           "vocab_size": VOCAB, "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
           "intermediate_size": INTER, "hidden_act": case.get("act", "gelu"), "max_position_embeddings": MAX_POS,
           "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": case.get("eps", 1e-12),
           "pad_token_id": 1 if ref_family == "roberta" else 0, "embedding_size": case.get("embedding_size", HIDDEN)}
    if ref_family == "roberta":
        cfg["type_vocab_size"] = 1
    if ref_family == "mpnet":
        cfg["pad_token_id"] = 1
        cfg["relative_attention_num_buckets"] = 32
        cfg.pop("type_vocab_size")
    if ref_family == "albert":
        cfg["embedding_size"] = case.get("embedding_size", 16)
        cfg["num_hidden_groups"] = case.get("groups", 1)
        cfg["inner_group_num"] = case.get("inner", 1)
    if case["head"] in ("sequence-classification", "token-classification"):
        cfg["id2label"] = {str(i): "L%d" % i for i in range(3)}
        cfg["label2id"] = {"L%d" % i: i for i in range(3)}
    cfg["num_labels"] = len(cfg.get("id2label", {})) or 2
    if "tie" in case:
        cfg["tie_word_embeddings"] = case["tie"]
    w = make_weights(gen, case, cfg)
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    disk_cfg = {k: v for k, v in cfg.items() if k != "num_labels"}
    if family not in ("electra", "albert"):
        disk_cfg.pop("embedding_size")
    if family == "distilbert":  # DistilBERT's own key names; no token types
        for hf, own in (("hidden_size", "dim"), ("num_hidden_layers", "n_layers"), ("num_attention_heads", "n_heads"),
                        ("intermediate_size", "hidden_dim"), ("hidden_act", "activation")):
            disk_cfg[own] = disk_cfg.pop(hf)
        disk_cfg.pop("type_vocab_size")
        disk_cfg.pop("layer_norm_eps")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(disk_cfg, f, indent=2)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join("[tok%d]" % i for i in range(VOCAB)) + "\n")
    if case["head"] == "sentence":
        mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if case.get("normalize"):
            mods.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        with open(os.path.join(folder, "modules.json"), "w") as f:
            json.dump(mods, f)
        os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
        with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
            json.dump({"word_embedding_dimension": HIDDEN,
                       "pooling_mode_cls_token": case["pooling"] == "cls",
                       "pooling_mode_mean_tokens": case["pooling"] == "mean",
                       "pooling_mode_max_tokens": case["pooling"] == "max",
                       "pooling_mode_mean_sqrt_len_tokens": False}, f)
    # Storage: the dtype round trip is applied to the reference's weights too.
    storage = case.get("dtype", torch.float32)
    stored = {k: v.to(storage) for k, v in w.items()}
    if ref_family == "bert" and case["head"] != "sentence":
        stored[case["prefix"] + "embeddings.position_ids"] = torch.arange(MAX_POS).unsqueeze(0)  # a buffer old checkpoints keep
    if case.get("shards"):
        names = list(stored)
        half = len(names) // 2
        shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
        weight_map = {}
        for fname, keys in shards.items():
            write_safetensors(os.path.join(folder, fname), {k: stored[k] for k in keys})
            weight_map.update({k: fname for k in keys})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
    else:
        write_safetensors(os.path.join(folder, "model.safetensors"), stored)
    ref_w = {k: v.float() for k, v in stored.items()}
    input_names = ["input_ids", "attention_mask"]
    if ref_family in ("bert", "electra", "albert") and case["head"] != "sentence":
        input_names.append("token_type_ids")
    outputs = None
    for bname, ids, mask, types in batches(gen, dict(case, family=ref_family), cfg):
        use_types = types if "token_type_ids" in input_names else None
        outs = run_head(case, ref_w, cfg, ids, mask, use_types)
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        for n, t in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types)):
            if n in input_names:
                write_array(os.path.join(d, n + ".bin"), t.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, ",".join(input_names), ",".join(outputs))


CASES = {
    "bert-base": dict(family="bert", head="base", prefix=""),
    "bert-seqcls": dict(family="bert", head="sequence-classification", prefix="bert."),
    "bert-tokcls": dict(family="bert", head="token-classification", prefix="bert.", act="gelu_new"),
    "bert-qa": dict(family="bert", head="question-answering", prefix="bert.", act="relu", eps=1e-5),
    "bert-mlm": dict(family="bert", head="masked-lm", prefix="bert.", act="silu"),
    "bert-mlm-untied": dict(family="bert", head="masked-lm", prefix="bert.", tie=False),
    "bert-mc": dict(family="bert", head="multiple-choice", prefix="bert.", act="quick_gelu"),
    "bert-f16": dict(family="bert", head="sequence-classification", prefix="bert.", dtype=torch.float16),
    "bert-bf16": dict(family="bert", head="sequence-classification", prefix="bert.", dtype=torch.bfloat16),
    "bert-sharded": dict(family="bert", head="token-classification", prefix="bert.", shards=True),
    "roberta-base": dict(family="roberta", head="base", prefix="", eps=1e-5),
    "roberta-seqcls": dict(family="roberta", head="sequence-classification", prefix="roberta.", eps=1e-5),
    "roberta-tokcls": dict(family="roberta", head="token-classification", prefix="roberta."),
    "roberta-qa": dict(family="roberta", head="question-answering", prefix="roberta."),
    "roberta-mlm": dict(family="roberta", head="masked-lm", prefix="roberta."),
    "roberta-mc": dict(family="roberta", head="multiple-choice", prefix="roberta."),
    "xlm-roberta-seqcls": dict(family="xlm-roberta", head="sequence-classification", prefix="roberta."),
    "xlm-roberta-base": dict(family="xlm-roberta", head="base", prefix=""),
    "camembert-mlm": dict(family="camembert", head="masked-lm", prefix="roberta."),
    "camembert-qa": dict(family="camembert", head="question-answering", prefix="roberta."),
    "electra-base": dict(family="electra", head="base", prefix="", embedding_size=16),
    "electra-seqcls": dict(family="electra", head="sequence-classification", prefix="electra."),
    "electra-tokcls": dict(family="electra", head="token-classification", prefix="electra.", embedding_size=16),
    "electra-qa": dict(family="electra", head="question-answering", prefix="electra."),
    "electra-mlm": dict(family="electra", head="masked-lm", prefix="electra.", embedding_size=16),
    "distilbert-base": dict(family="distilbert", head="base", prefix=""),
    "distilbert-seqcls": dict(family="distilbert", head="sequence-classification", prefix="distilbert.", act="relu"),
    "distilbert-tokcls": dict(family="distilbert", head="token-classification", prefix="distilbert."),
    "distilbert-qa": dict(family="distilbert", head="question-answering", prefix="distilbert."),
    "distilbert-mlm": dict(family="distilbert", head="masked-lm", prefix="distilbert."),
    "distilbert-mc": dict(family="distilbert", head="multiple-choice", prefix="distilbert."),
    "albert-base": dict(family="albert", head="base", prefix="", act="gelu_new"),
    "albert-seqcls": dict(family="albert", head="sequence-classification", prefix="albert.", groups=2),
    "albert-tokcls": dict(family="albert", head="token-classification", prefix="albert.", inner=2),
    "albert-qa": dict(family="albert", head="question-answering", prefix="albert."),
    "albert-mlm": dict(family="albert", head="masked-lm", prefix="albert.", act="gelu_new"),
    "albert-mc": dict(family="albert", head="multiple-choice", prefix="albert."),
    "mpnet-base": dict(family="mpnet", head="base", prefix="", eps=1e-5),
    "mpnet-seqcls": dict(family="mpnet", head="sequence-classification", prefix="mpnet."),
    "mpnet-tokcls": dict(family="mpnet", head="token-classification", prefix="mpnet."),
    "mpnet-qa": dict(family="mpnet", head="question-answering", prefix="mpnet."),
    "mpnet-mlm": dict(family="mpnet", head="masked-lm", prefix="mpnet."),
    "mpnet-mc": dict(family="mpnet", head="multiple-choice", prefix="mpnet."),
    "st-mpnet-mean": dict(family="mpnet", head="sentence", prefix="", pooling="mean", normalize=True),
    "st-mean-normalize": dict(family="bert", head="sentence", prefix="", pooling="mean", normalize=True),
    "st-cls": dict(family="bert", head="sentence", prefix="", pooling="cls"),
    "st-max": dict(family="bert", head="sentence", prefix="", pooling="max"),
}


# --- audio encoders: Wav2Vec2, HuBERT, WavLM, the Whisper encoder -------------------------------
# Plain torch from the published architectures (transformers' eager inference path), on padded
# batches of raw audio (or log-mel features for Whisper). Listed in OUT_DIR/audio_cases.txt.

F = torch.nn.functional
AUDIO_CONV = dict(conv_dim=[16, 16, 16], conv_kernel=[10, 3, 3], conv_stride=[5, 2, 2])
AUDIO_CLASS = {"wav2vec2": "Wav2Vec2", "hubert": "Hubert", "wavlm": "WavLM", "whisper": "Whisper"}
AUDIO_SUFFIX = {"base": "Model", "ctc": "ForCTC", "seqcls": "ForSequenceClassification",
                "frame": "ForAudioFrameClassification", "asr": "ForConditionalGeneration"}


def audio_frame_mask(mask, frames, cfg):
    """transformers' _get_feature_vector_attention_mask: lengths through each conv, then a mask."""
    lengths = mask.sum(-1)
    for k, s in zip(cfg["conv_kernel"], cfg["conv_stride"]):
        lengths = torch.div(lengths - k, s, rounding_mode="floor") + 1
    m = torch.zeros((mask.shape[0], frames), dtype=torch.long)
    m[(torch.arange(mask.shape[0]), lengths - 1)] = 1
    return m.flip([-1]).cumsum(-1).flip([-1]).bool()


def wavlm_buckets(rel, num_buckets, max_distance):
    num_buckets //= 2
    out = (rel > 0).long() * num_buckets
    rel = torch.abs(rel)
    max_exact = num_buckets // 2
    large = torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    large = torch.min((max_exact + large).long(), torch.full_like(rel, num_buckets - 1))
    return out + torch.where(rel < max_exact, rel, large)


def pos_conv_weight(w, base):
    if base + ".weight_g" in w:
        return torch._weight_norm(w[base + ".weight_v"], w[base + ".weight_g"], 2)
    return torch._weight_norm(w[base + ".parametrizations.weight.original1"],
                              w[base + ".parametrizations.weight.original0"], 2)


def speech_encoder(w, cfg, kind, p, values, mask):
    act = ACTS[cfg["hidden_act"]]
    eps = cfg["layer_norm_eps"]
    x = values[:, None]
    for i, (c, k, s) in enumerate(zip(cfg["conv_dim"], cfg["conv_kernel"], cfg["conv_stride"])):
        b = p + "feature_extractor.conv_layers.%d." % i
        x = F.conv1d(x, w[b + "conv.weight"], w.get(b + "conv.bias"), stride=s)
        if cfg["feat_extract_norm"] == "layer":
            x = F.layer_norm(x.transpose(1, 2), (c,), w[b + "layer_norm.weight"], w[b + "layer_norm.bias"]).transpose(1, 2)
        elif i == 0:
            x = F.group_norm(x, c, w[b + "layer_norm.weight"], w[b + "layer_norm.bias"])
        x = ACTS[cfg["feat_extract_activation"]](x)
    x = x.transpose(1, 2)
    if kind != "hubert" or cfg.get("feat_proj_layer_norm", True):
        x = layer_norm(w, p + "feature_projection.layer_norm", x, eps)
    x = linear(w, p + "feature_projection.projection", x)
    n, t, h = x.shape
    nh = cfg["num_attention_heads"]
    hd = h // nh
    fm, bias = None, None
    if mask is not None:
        fm = audio_frame_mask(mask, t, cfg)
        x = x.masked_fill(~fm[..., None], 0.0)
        bias = (1.0 - fm.float())[:, None, None, :] * torch.finfo(torch.float32).min
    pc = p + "encoder.pos_conv_embed.conv"
    kern = cfg["num_conv_pos_embeddings"]
    y = F.conv1d(x.transpose(1, 2), pos_conv_weight(w, pc), w[pc + ".bias"], padding=kern // 2,
                 groups=cfg["num_conv_pos_embedding_groups"])
    if kern % 2 == 0:
        y = y[:, :, :-1]
    x = x + ACTS[cfg["feat_extract_activation"]](y).transpose(1, 2)
    stable = cfg["do_stable_layer_norm"]
    if not stable:
        x = layer_norm(w, p + "encoder.layer_norm", x, eps)
    position_bias = None
    if kind == "wavlm":
        pos = torch.arange(t)
        buckets = wavlm_buckets(pos[None, :] - pos[:, None], cfg["num_buckets"], cfg["max_bucket_distance"])
        values_ = w[p + "encoder.layers.0.attention.rel_attn_embed.weight"][buckets].permute(2, 0, 1)
        position_bias = values_.unsqueeze(0).repeat(n, 1, 1, 1).view(n * nh, t, t)
    for i in range(cfg["num_hidden_layers"]):
        L = p + "encoder.layers.%d." % i
        a_in = layer_norm(w, L + "layer_norm", x, eps) if stable else x
        A = L + "attention."
        if kind == "wavlm":
            # gated relative position bias, then torch's own multi-head attention as WavLM calls it
            g = a_in.view(n, t, nh, hd).permute(0, 2, 1, 3)
            proj = linear(w, A + "gru_rel_pos_linear", g).view(n, nh, t, 2, 4).sum(-1)
            gate_a, gate_b = torch.sigmoid(proj).chunk(2, dim=-1)
            gate = gate_a * (gate_b * w[A + "gru_rel_pos_const"] - 1.0) + 2.0
            gated = (gate.view(n * nh, -1, 1) * position_bias).view(-1, t, t)
            q = a_in.transpose(0, 1)
            attn, _ = F.multi_head_attention_forward(
                q, q, q, h, nh, torch.empty([0]),
                torch.cat((w[A + "q_proj.bias"], w[A + "k_proj.bias"], w[A + "v_proj.bias"])),
                None, None, False, 0.0, w[A + "out_proj.weight"], w[A + "out_proj.bias"], False,
                None if fm is None else ~fm, False, gated, use_separate_proj_weight=True,
                q_proj_weight=w[A + "q_proj.weight"], k_proj_weight=w[A + "k_proj.weight"],
                v_proj_weight=w[A + "v_proj.weight"])
            attn = attn.transpose(0, 1)
        else:
            def heads(z):
                return z.view(n, t, nh, hd).transpose(1, 2)
            q = heads(linear(w, A + "q_proj", a_in) * hd ** -0.5)
            k = heads(linear(w, A + "k_proj", a_in))
            v = heads(linear(w, A + "v_proj", a_in))
            scores = q @ k.transpose(-1, -2)
            if bias is not None:
                scores = scores + bias
            attn = linear(w, A + "out_proj", (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(n, t, h))
        y = x + attn
        ff = lambda z: linear(w, L + "feed_forward.output_dense", act(linear(w, L + "feed_forward.intermediate_dense", z)))
        if stable:
            x = y + ff(layer_norm(w, L + "final_layer_norm", y, eps))
        else:
            y = layer_norm(w, L + "layer_norm", y, eps)
            x = layer_norm(w, L + "final_layer_norm", y + ff(y), eps)
    if stable:
        x = layer_norm(w, p + "encoder.layer_norm", x, eps)
    return x, fm


def whisper_encoder(w, cfg, p, feats):
    x = ACTS["gelu"](F.conv1d(feats, w[p + "conv1.weight"], w[p + "conv1.bias"], padding=1))
    x = ACTS["gelu"](F.conv1d(x, w[p + "conv2.weight"], w[p + "conv2.bias"], padding=1, stride=2))
    x = x.permute(0, 2, 1) + w[p + "embed_positions.weight"]
    n, t, h = x.shape
    nh = cfg["encoder_attention_heads"]
    hd = h // nh
    for i in range(cfg["encoder_layers"]):
        L = p + "layers.%d." % i
        a = layer_norm(w, L + "self_attn_layer_norm", x, 1e-5)
        heads = lambda z: z.view(n, t, nh, hd).transpose(1, 2)
        q = heads(linear(w, L + "self_attn.q_proj", a) * hd ** -0.5)
        k = heads(a @ w[L + "self_attn.k_proj.weight"].T)  # k_proj has no bias
        v = heads(linear(w, L + "self_attn.v_proj", a))
        ctx = (torch.softmax(q @ k.transpose(-1, -2), -1) @ v).transpose(1, 2).reshape(n, t, h)
        x = x + linear(w, L + "self_attn.out_proj", ctx)
        f = layer_norm(w, L + "final_layer_norm", x, 1e-5)
        x = x + linear(w, L + "fc2", ACTS[cfg["activation_function"]](linear(w, L + "fc1", f)))
    return layer_norm(w, p + "layer_norm", x, 1e-5)


def make_audio_case(root, name, case, gen):
    kind, head = case["family"], case["head"]
    cls = AUDIO_CLASS[kind] + AUDIO_SUFFIX[head]
    w = {}

    def rnd(*shape, scale=0.2):
        return torch.randn(*shape, generator=gen) * scale

    def lin(nm, o, i, bias=True):
        w[nm + ".weight"] = rnd(o, i)
        if bias:
            w[nm + ".bias"] = rnd(o, scale=0.1)

    def ln(nm, size):
        w[nm + ".weight"] = 1.0 + rnd(size, scale=0.1)
        w[nm + ".bias"] = rnd(size, scale=0.1)

    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    if kind == "whisper":
        # Whisper's own input shape (80 mels x 3000 frames) when the case is built for `build`, with
        # the feature extractor's config; otherwise 8 x 24.
        MELS, POSITIONS = (80, 1500) if case.get("full_input") else (8, 12)
        cfg = {"model_type": "whisper", "architectures": [cls], "d_model": HIDDEN, "encoder_layers": LAYERS,
               "encoder_attention_heads": HEADS, "encoder_ffn_dim": INTER, "decoder_layers": 1,
               "decoder_attention_heads": HEADS, "decoder_ffn_dim": INTER, "activation_function": case.get("act", "gelu"),
               "num_mel_bins": MELS, "max_source_positions": POSITIONS, "max_target_positions": 16,
               "vocab_size": VOCAB, "init_std": 0.02, "is_encoder_decoder": True}
        p = "model.encoder." if head == "asr" else "encoder."
        w[p + "conv1.weight"] = rnd(HIDDEN, MELS, 3, scale=0.1)
        w[p + "conv1.bias"] = rnd(HIDDEN, scale=0.1)
        w[p + "conv2.weight"] = rnd(HIDDEN, HIDDEN, 3, scale=0.1)
        w[p + "conv2.bias"] = rnd(HIDDEN, scale=0.1)
        pos = torch.arange(POSITIONS).float()[:, None] * torch.exp(-math.log(10000) * torch.arange(HIDDEN // 2).float() / (HIDDEN // 2 - 1))
        w[p + "embed_positions.weight"] = torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)
        for i in range(LAYERS):
            L = p + "layers.%d." % i
            for nm in ("q_proj", "v_proj", "out_proj"):
                lin(L + "self_attn." + nm, HIDDEN, HIDDEN)
            lin(L + "self_attn.k_proj", HIDDEN, HIDDEN, bias=False)
            ln(L + "self_attn_layer_norm", HIDDEN)
            lin(L + "fc1", INTER, HIDDEN)
            lin(L + "fc2", HIDDEN, INTER)
            ln(L + "final_layer_norm", HIDDEN)
        ln(p + "layer_norm", HIDDEN)
        # decoder tensors the encoder export leaves alone
        dp = "model.decoder." if head == "asr" else "decoder."
        w[dp + "embed_tokens.weight"] = rnd(VOCAB, HIDDEN)
        if head == "asr":
            w["proj_out.weight"] = w[dp + "embed_tokens.weight"].clone()
        if case.get("full_input"):
            with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
                json.dump({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 80,
                           "sampling_rate": 16000, "hop_length": 160, "n_fft": 400, "chunk_length": 30,
                           "n_samples": 480000, "nb_max_frames": 3000, "padding_value": 0.0,
                           "return_attention_mask": False, "processor_class": "WhisperProcessor"}, f, indent=2)
        inputs = ["input_features"]
        batches_ = [("b0", torch.randn(2, MELS, 2 * POSITIONS, generator=gen)),
                    ("b1", torch.randn(3, MELS, 2 * POSITIONS, generator=gen))]
    else:
        cfg = {"model_type": kind, "architectures": [cls], "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
               "num_attention_heads": HEADS, "intermediate_size": INTER, "hidden_act": case.get("act", "gelu"),
               "layer_norm_eps": 1e-5, **AUDIO_CONV, "num_feat_extract_layers": 3,
               "conv_bias": case.get("conv_bias", False), "feat_extract_norm": case.get("norm", "group"),
               "feat_extract_activation": "gelu", "do_stable_layer_norm": case.get("stable", False),
               "num_conv_pos_embeddings": case.get("pos_kernel", 8), "num_conv_pos_embedding_groups": 4,
               "vocab_size": 20, "classifier_proj_size": 12, "use_weighted_layer_sum": False, "add_adapter": False,
               "initializer_range": 0.02, "mask_time_prob": 0.05}
        if kind == "hubert":
            cfg["feat_proj_layer_norm"] = case.get("feat_proj_layer_norm", True)
        if kind == "wavlm":
            cfg["num_buckets"], cfg["max_bucket_distance"] = 16, 20  # distances past 4 use the log buckets
        if head in ("seqcls", "frame"):
            cfg["id2label"] = {str(i): "L%d" % i for i in range(3)}
            cfg["label2id"] = {"L%d" % i: i for i in range(3)}
        p = "" if head == "base" else kind + "."
        cin = 1
        for i, (c, k) in enumerate(zip(cfg["conv_dim"], cfg["conv_kernel"])):
            b = p + "feature_extractor.conv_layers.%d." % i
            w[b + "conv.weight"] = rnd(c, cin, k, scale=0.5 if i == 0 else 0.3)
            if cfg["conv_bias"]:
                w[b + "conv.bias"] = rnd(c, scale=0.1)
            if cfg["feat_extract_norm"] == "layer" or i == 0:
                ln(b + "layer_norm", c)
            cin = c
        if kind != "hubert" or cfg["feat_proj_layer_norm"]:
            ln(p + "feature_projection.layer_norm", 16)
        lin(p + "feature_projection.projection", HIDDEN, 16)
        w[p + "masked_spec_embed"] = torch.rand(HIDDEN, generator=gen)  # stored, unused at inference
        pc = p + "encoder.pos_conv_embed.conv"
        kern = cfg["num_conv_pos_embeddings"]
        gname, vname = ((".parametrizations.weight.original0", ".parametrizations.weight.original1")
                        if case.get("parametrizations") else (".weight_g", ".weight_v"))
        w[pc + gname] = 1.0 + rnd(1, 1, kern, scale=0.3)
        w[pc + vname] = rnd(HIDDEN, HIDDEN // 4, kern)
        w[pc + ".bias"] = rnd(HIDDEN, scale=0.1)
        ln(p + "encoder.layer_norm", HIDDEN)
        for i in range(LAYERS):
            L = p + "encoder.layers.%d." % i
            for nm in ("q_proj", "k_proj", "v_proj", "out_proj"):
                lin(L + "attention." + nm, HIDDEN, HIDDEN)
            if kind == "wavlm":
                lin(L + "attention.gru_rel_pos_linear", 8, HIDDEN // HEADS)
                w[L + "attention.gru_rel_pos_const"] = 1.0 + rnd(1, HEADS, 1, 1, scale=0.3)
                if i == 0:
                    w[L + "attention.rel_attn_embed.weight"] = rnd(16, HEADS, scale=1.0)
            ln(L + "layer_norm", HIDDEN)
            lin(L + "feed_forward.intermediate_dense", INTER, HIDDEN)
            lin(L + "feed_forward.output_dense", HIDDEN, INTER)
            ln(L + "final_layer_norm", HIDDEN)
        if head == "ctc":
            lin("lm_head", 20, HIDDEN)
        elif head == "seqcls":
            lin("projector", 12, HIDDEN)
            lin("classifier", 3, 12)
        elif head == "frame":
            lin("classifier", 3, HIDDEN)
        if "mask" in case:
            with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
                json.dump({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
                           "sampling_rate": 16000, "padding_value": 0.0, "do_normalize": True,
                           "return_attention_mask": case["mask"]}, f, indent=2)
        inputs = ["input_values"] + (["attention_mask"] if case.get("mask") else [])
        batches_ = []
        for bname, lengths, t in (("b0", [800, 563], 800), ("b1", [640, 401, 517], 640)):
            values = torch.zeros(len(lengths), t)
            mask = torch.zeros(len(lengths), t, dtype=torch.int64)
            for r, n in enumerate(lengths):
                values[r, :n] = torch.randn(n, generator=gen)
                mask[r, :n] = 1
            batches_.append((bname, values, mask))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(folder, "model.safetensors"), w)
    outputs = None
    for batch in batches_:
        d = os.path.join(folder, "reference", batch[0])
        os.makedirs(d, exist_ok=True)
        if kind == "whisper":
            outs = {"last_hidden_state": whisper_encoder(w, cfg, p, batch[1])}
            write_array(os.path.join(d, "input_features.bin"), batch[1].numpy())
        else:
            _, values, mask = batch
            use_mask = mask if case.get("mask") else None
            x, fm = speech_encoder(w, cfg, kind, p, values, use_mask)
            if head == "base":
                outs = {"last_hidden_state": x}
            elif head == "ctc":
                outs = {"logits": linear(w, "lm_head", x)}
            elif head == "frame":
                outs = {"logits": linear(w, "classifier", x)}
            else:
                hs = linear(w, "projector", x)
                if fm is None:
                    pooled = hs.mean(dim=1)
                else:
                    hs = hs.masked_fill(~fm[..., None], 0.0)
                    pooled = hs.sum(dim=1) / fm.sum(dim=1).view(-1, 1)
                outs = {"logits": linear(w, "classifier", pooled)}
            write_array(os.path.join(d, "input_values.bin"), values.numpy())
            if use_mask is not None:
                write_array(os.path.join(d, "attention_mask.bin"), mask.numpy())
        outputs = list(outs)
        for n_, t_ in outs.items():
            write_array(os.path.join(d, n_ + ".bin"), t_.float().numpy())
    return "%s %s %s" % (name, ",".join(inputs), ",".join(outputs))


AUDIO_CASES = {
    "wav2vec2-base": dict(family="wav2vec2", head="base", mask=False),
    "wav2vec2-ctc-mask": dict(family="wav2vec2", head="ctc", norm="layer", stable=True, conv_bias=True, mask=True,
                              parametrizations=True),
    "wav2vec2-seqcls": dict(family="wav2vec2", head="seqcls"),
    "wav2vec2-seqcls-mask": dict(family="wav2vec2", head="seqcls", mask=True, pos_kernel=7),
    "wav2vec2-frame": dict(family="wav2vec2", head="frame", norm="layer", act="relu"),
    "hubert-ctc": dict(family="hubert", head="ctc", parametrizations=True, feat_proj_layer_norm=False),
    "hubert-seqcls-mask": dict(family="hubert", head="seqcls", stable=True, norm="layer", mask=True, pos_kernel=7),
    "wavlm-base": dict(family="wavlm", head="base"),
    "wavlm-ctc-mask": dict(family="wavlm", head="ctc", stable=True, norm="layer", mask=True, parametrizations=True),
    "wavlm-seqcls-mask": dict(family="wavlm", head="seqcls", mask=True),
    "wavlm-frame": dict(family="wavlm", head="frame"),
    "whisper-asr": dict(family="whisper", head="asr"),
    "whisper-base": dict(family="whisper", head="base", act="gelu_new"),
    "whisper-asr-80": dict(family="whisper", head="asr", full_input=True),
}


def make_audio_cases(root):
    lines = []
    for i, (name, case) in enumerate(sorted(AUDIO_CASES.items())):
        gen = torch.Generator().manual_seed(5000 + i)
        lines.append(make_audio_case(root, name, case, gen))
    with open(os.path.join(root, "audio_cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    lines = []
    for i, (name, case) in enumerate(sorted(CASES.items())):
        gen = torch.Generator().manual_seed(1000 + i)
        lines.append(make_case(root, name, case, gen))
    # A checkpoint with PyTorch pickles only.
    binonly = os.path.join(root, "bin-only")
    os.makedirs(binonly, exist_ok=True)
    with open(os.path.join(root, "bert-base", "config.json")) as f:
        cfg = f.read()
    with open(os.path.join(binonly, "config.json"), "w") as f:
        f.write(cfg)
    with open(os.path.join(binonly, "pytorch_model.bin"), "wb") as f:
        f.write(b"not read: modelkit never unpickles")
    make_audio_cases(root)
    with open(os.path.join(root, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
