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
    "tanh": torch.tanh,
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
    if family == "deberta":
        return deberta_encoder(w, cfg, p, ids, mask, types)
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


def pooler(w, p, x, family="bert", cfg=None):
    if family == "distilbert":  # no pooler: pre_classifier + relu on token 0
        return torch.relu(linear(w, "pre_classifier", x[:, 0]))
    if family == "deberta":  # ContextPooler
        return ACTS[cfg.get("pooler_hidden_act", "gelu")](linear(w, "pooler.dense", x[:, 0]))
    if family == "electra":  # SequenceSummary (first token, dense, gelu)
        return ACTS["gelu"](linear(w, "sequence_summary.summary", x[:, 0]))
    return torch.tanh(linear(w, p + ("pooler" if family == "albert" else "pooler.dense"), x[:, 0]))


def run_head(case, w, cfg, ids, mask, types):
    family, head, p = case["family"], case["head"], case["prefix"]
    if family == "modernbert":
        return modernbert_run(case, w, cfg, ids, mask)
    if head == "multiple-choice":
        b, c, s = ids.shape
        flat = lambda t: None if t is None else t.reshape(-1, s)
        x = encoder(w, cfg, p, flat(ids), flat(mask), flat(types), family)
        logits = linear(w, "classifier", pooler(w, p, x, family, cfg))
        return {"logits": logits.view(b, c)}
    x = encoder(w, cfg, p, ids, mask, types, family)
    if head == "base":
        out = {"last_hidden_state": x}
        if family not in ("electra", "distilbert", "deberta"):
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
        if family in ("distilbert", "deberta"):
            return {"logits": linear(w, "classifier", pooler(w, p, x, family, cfg))}
        t = linear(w, "classifier.dense", x[:, 0])
        t = torch.tanh(t) if family in ("roberta", "mpnet") else ACTS["gelu"](t)
        return {"logits": linear(w, "classifier.out_proj", t)}
    if head == "token-classification":
        return {"logits": linear(w, "classifier", x)}
    if head == "question-answering":
        both = linear(w, "qa_outputs", x)
        return {"start_logits": both[..., 0], "end_logits": both[..., 1]}
    if head == "masked-lm":
        if family == "deberta" and not cfg.get("legacy", True):
            t = ACTS[cfg["hidden_act"]](linear(w, "lm_predictions.lm_head.dense", x))
            t = layer_norm(w, "lm_predictions.lm_head.LayerNorm", t, cfg["layer_norm_eps"])
            dec, bias = None, w["lm_predictions.lm_head.bias"]
        elif family in ("bert", "deberta"):
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


# --- DeBERTa-v2/v3 (disentangled attention) -----------------------------------------------------

def linear_opt(w, name, x):
    """A Linear whose bias may be absent (bias=False in the architecture)."""
    y = x @ w[name + ".weight"].float().T
    return y + w[name + ".bias"].float() if name + ".bias" in w else y


def layer_norm_opt(w, name, x, eps):
    b = w.get(name + ".bias")
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w[name + ".weight"].float(),
                                          None if b is None else b.float(), eps)


def deberta_log_bucket(rel, bucket_size, max_position):
    """Relative distances past bucket_size / 2 go to logarithmic buckets (float32, as DeBERTa does)."""
    mid = bucket_size // 2
    sign = torch.sign(rel)
    inside = (rel < mid) & (rel > -mid)
    abs_pos = torch.where(inside, torch.full_like(rel, mid - 1), rel.abs())
    scaled = torch.log(abs_pos / mid) / torch.log(torch.tensor((max_position - 1) / mid)) * (mid - 1)
    log_pos = torch.ceil(scaled) + mid
    return torch.where(abs_pos <= mid, rel.float(), log_pos * sign).long()


def deberta_span(cfg):
    max_rel = cfg.get("max_relative_positions", -1)
    if max_rel < 1:
        max_rel = cfg["max_position_embeddings"]
    buckets = cfg.get("position_buckets", -1)
    return (buckets if buckets > 0 else max_rel), buckets, max_rel


def deberta_att_types(cfg):
    t = cfg.get("pos_att_type") or []
    if isinstance(t, str):
        t = [x.strip() for x in t.lower().split("|")]
    return t


def deberta_encoder(w, cfg, p, ids, mask, types):
    eps = cfg["layer_norm_eps"]
    act = ACTS[cfg["hidden_act"]]
    E, H = cfg.get("embedding_size", cfg["hidden_size"]), cfg["hidden_size"]
    n, s = ids.shape
    x = w[p + "embeddings.word_embeddings.weight"].float()[ids]
    if cfg.get("position_biased_input", True):
        x = x + w[p + "embeddings.position_embeddings.weight"].float()[torch.arange(s)].unsqueeze(0)
    if cfg.get("type_vocab_size", 0) > 0:
        x = x + w[p + "embeddings.token_type_embeddings.weight"].float()[types]
    if E != H:
        x = x @ w[p + "embeddings.embed_proj.weight"].float().T
    x = layer_norm(w, p + "embeddings.LayerNorm", x, eps)
    mf = mask.float().unsqueeze(-1)
    x = x * mf
    emb = x
    visible = (mask[:, None, :, None] * mask[:, None, None, :]).bool()
    nh = cfg["num_attention_heads"]
    hd = H // nh
    att = deberta_att_types(cfg)
    span, buckets, max_rel = deberta_span(cfg)
    q_ids = torch.arange(s)
    relpos = q_ids[:, None] - q_ids[None, :]
    if buckets > 0:
        relpos = deberta_log_bucket(relpos, buckets, max_rel)
    rel = None
    if cfg.get("relative_attention", False):
        rel = w[p + "encoder.rel_embeddings.weight"].float()
        if "layer_norm" in cfg.get("norm_rel_ebd", "none"):
            rel = layer_norm(w, p + "encoder.LayerNorm", rel, eps)
    share = cfg.get("share_att_key", False)
    factor = 1 + ("c2p" in att) + ("p2c" in att)
    for i in range(cfg["num_hidden_layers"]):
        L = p + "encoder.layer.%d." % i

        def heads(t):
            return t.view(t.shape[0], -1, nh, hd).transpose(1, 2)

        q = heads(linear(w, L + "attention.self.query_proj", x))
        k = heads(linear(w, L + "attention.self.key_proj", x))
        v = heads(linear(w, L + "attention.self.value_proj", x))
        scale = math.sqrt(hd * factor)
        scores = q @ k.transpose(-1, -2) / scale
        if rel is not None:
            r = rel.unsqueeze(0)
            if "c2p" in att:
                pk = heads(linear(w, L + ("attention.self.key_proj" if share else "attention.self.pos_key_proj"), r))
                all_c2p = q @ pk.transpose(-1, -2)  # [n, h, q, 2 span]
                idx = torch.clamp(relpos + span, 0, 2 * span - 1).expand(n, nh, s, s)
                scores = scores + torch.gather(all_c2p, -1, idx) / scale
            if "p2c" in att:
                pq = heads(linear(w, L + ("attention.self.query_proj" if share else "attention.self.pos_query_proj"), r))
                all_p2c = k @ pq.transpose(-1, -2)  # [n, h, k, 2 span]
                # key j, query i: the embedding of the distance from j to i, i.e. index(-(j - i))
                idx = torch.clamp(-relpos + span, 0, 2 * span - 1).expand(n, nh, s, s)
                scores = scores + torch.gather(all_p2c, -1, idx).transpose(-1, -2) / scale
        scores = scores.masked_fill(~visible, torch.finfo(torch.float32).min)
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(n, s, H)
        y = layer_norm(w, L + "attention.output.LayerNorm", linear(w, L + "attention.output.dense", ctx) + x, eps)
        x = layer_norm(w, L + "output.LayerNorm", linear(w, L + "output.dense", act(linear(w, L + "intermediate.dense", y))) + y, eps)
        if i == 0 and cfg.get("conv_kernel_size", 0) > 0:
            ks = cfg["conv_kernel_size"]
            conv = torch.nn.functional.conv1d(emb.transpose(1, 2), w[p + "encoder.conv.conv.weight"].float(),
                                              w[p + "encoder.conv.conv.bias"].float(), padding=(ks - 1) // 2,
                                              groups=cfg.get("conv_groups", 1)).transpose(1, 2)
            conv = ACTS[cfg.get("conv_act", "tanh")](conv * mf)
            x = layer_norm(w, p + "encoder.conv.LayerNorm", x + conv, eps) * mf
    return x


def deberta_weights(w, gen, cfg, p, lin, ln):
    H, E = cfg["hidden_size"], cfg.get("embedding_size", cfg["hidden_size"])
    w.pop(p + "embeddings.position_embeddings.weight", None)
    if cfg.get("position_biased_input", True):
        w[p + "embeddings.position_embeddings.weight"] = torch.randn(cfg["max_position_embeddings"], E, generator=gen) * 0.5
    w.pop(p + "embeddings.token_type_embeddings.weight", None)
    if cfg.get("type_vocab_size", 0) > 0:
        w[p + "embeddings.token_type_embeddings.weight"] = torch.randn(cfg["type_vocab_size"], E, generator=gen) * 0.5
    w.pop(p + "embeddings.LayerNorm.weight")
    w.pop(p + "embeddings.LayerNorm.bias")
    ln(p + "embeddings.LayerNorm", H)
    if E != H:
        w[p + "embeddings.embed_proj.weight"] = torch.randn(H, E, generator=gen) * 0.2
    span, _, _ = deberta_span(cfg)
    if cfg.get("relative_attention", False):
        w[p + "encoder.rel_embeddings.weight"] = torch.randn(2 * span, H, generator=gen) * 0.5
        if "layer_norm" in cfg.get("norm_rel_ebd", "none"):
            ln(p + "encoder.LayerNorm", H)
    att = deberta_att_types(cfg)
    for i in range(cfg["num_hidden_layers"]):
        L = p + "encoder.layer.%d." % i
        for part in ("query_proj", "key_proj", "value_proj"):
            lin(L + "attention.self." + part, H, H)
        if cfg.get("relative_attention", False) and not cfg.get("share_att_key", False):
            if "c2p" in att:
                lin(L + "attention.self.pos_key_proj", H, H)
            if "p2c" in att:
                lin(L + "attention.self.pos_query_proj", H, H)
        lin(L + "attention.output.dense", H, H)
        ln(L + "attention.output.LayerNorm", H)
        lin(L + "intermediate.dense", cfg["intermediate_size"], H)
        lin(L + "output.dense", H, cfg["intermediate_size"])
        ln(L + "output.LayerNorm", H)
    if cfg.get("conv_kernel_size", 0) > 0:
        ks, groups = cfg["conv_kernel_size"], cfg.get("conv_groups", 1)
        w[p + "encoder.conv.conv.weight"] = torch.randn(H, H // groups, ks, generator=gen) * 0.2
        w[p + "encoder.conv.conv.bias"] = torch.randn(H, generator=gen) * 0.1
        ln(p + "encoder.conv.LayerNorm", H)


# --- ModernBERT ---------------------------------------------------------------------------------

def modernbert_rope(theta, dim, s):
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = torch.arange(s).float()[:, None] * inv_freq[None, :]
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def modernbert_local_layers(cfg):
    every = cfg.get("global_attn_every_n_layers", 3)
    return [i % every != 0 for i in range(cfg["num_hidden_layers"])]


def modernbert_encoder(w, cfg, p, ids, mask):
    eps = cfg["norm_eps"]
    act = ACTS[cfg["hidden_activation"]]
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = H // nh
    n, s = ids.shape
    x = layer_norm_opt(w, p + "embeddings.norm", w[p + "embeddings.tok_embeddings.weight"].float()[ids], eps)
    lowest = torch.finfo(torch.float32).min
    global_mask = torch.zeros(n, 1, s, s).masked_fill(~mask.bool()[:, None, None, :], lowest)
    pos = torch.arange(s)
    window = (pos[:, None] - pos[None, :]).abs() <= cfg["local_attention"] // 2
    local_mask = global_mask.masked_fill(~window[None, None], lowest)
    ropes = {False: modernbert_rope(cfg["global_rope_theta"], hd, s), True: modernbert_rope(cfg["local_rope_theta"], hd, s)}
    for i, local in enumerate(modernbert_local_layers(cfg)):
        L = p + "layers.%d." % i
        h = x if i == 0 else layer_norm_opt(w, L + "attn_norm", x, eps)
        qkv = linear_opt(w, L + "attn.Wqkv", h).view(n, s, 3, nh, hd)
        q, k, v = qkv.transpose(3, 1).unbind(dim=2)  # [n, heads, s, hd]
        cos, sin = ropes[local]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = q @ k.transpose(2, 3) * hd ** -0.5 + (local_mask if local else global_mask)
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(n, s, H)
        x = x + linear_opt(w, L + "attn.Wo", ctx)
        inp, gate = linear_opt(w, L + "mlp.Wi", layer_norm_opt(w, L + "mlp_norm", x, eps)).chunk(2, dim=-1)
        x = x + linear_opt(w, L + "mlp.Wo", act(inp) * gate)
    return layer_norm_opt(w, p + "final_norm", x, eps)


def modernbert_head(w, cfg, x):
    t = ACTS[cfg["classifier_activation"]](linear_opt(w, "head.dense", x))
    return layer_norm_opt(w, "head.norm", t, cfg["norm_eps"])


def modernbert_run(case, w, cfg, ids, mask):
    p, head = case["prefix"], case["head"]
    if head == "multiple-choice":
        b, c, s = ids.shape
        flat_mask = mask.reshape(-1, s)
        x = modernbert_encoder(w, cfg, p, ids.reshape(-1, s), flat_mask)
        if cfg["classifier_pooling"] == "mean":
            m = flat_mask.float().unsqueeze(-1)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1)
        else:  # the first token the mask keeps
            pooled = x[torch.arange(x.shape[0]), flat_mask.argmax(dim=-1)]
        return {"logits": linear(w, "classifier", modernbert_head(w, cfg, pooled)).view(b, c)}
    x = modernbert_encoder(w, cfg, p, ids, mask)
    if head == "base":
        return {"last_hidden_state": x}
    if head == "masked-lm":
        logits = modernbert_head(w, cfg, x) @ w[p + "embeddings.tok_embeddings.weight"].float().T
        return {"logits": logits + w["decoder.bias"].float() if cfg["decoder_bias"] else logits}
    if head == "sequence-classification":
        if cfg["classifier_pooling"] == "mean":
            m = mask.float().unsqueeze(-1)
            pooled = (x * m).sum(dim=1) / m.sum(dim=1)
        else:
            pooled = x[:, 0]
        return {"logits": linear(w, "classifier", modernbert_head(w, cfg, pooled))}
    if head == "token-classification":
        return {"logits": linear(w, "classifier", modernbert_head(w, cfg, x))}
    if head == "question-answering":
        both = linear(w, "classifier", modernbert_head(w, cfg, x))
        return {"start_logits": both[..., 0], "end_logits": both[..., 1]}
    raise ValueError(head)


def modernbert_weights(gen, case, cfg):
    p, head = case["prefix"], case["head"]
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    w = {}

    def lin(name, out_f, in_f, bias):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) * 0.2
        if bias:
            w[name + ".bias"] = torch.randn(out_f, generator=gen) * 0.1

    def ln(name):
        w[name + ".weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
        if cfg["norm_bias"]:
            w[name + ".bias"] = torch.randn(H, generator=gen) * 0.1

    w[p + "embeddings.tok_embeddings.weight"] = torch.randn(V, H, generator=gen) * 0.5
    ln(p + "embeddings.norm")
    for i in range(cfg["num_hidden_layers"]):
        L = p + "layers.%d." % i
        if i > 0:
            ln(L + "attn_norm")
        lin(L + "attn.Wqkv", 3 * H, H, cfg["attention_bias"])
        lin(L + "attn.Wo", H, H, cfg["attention_bias"])
        ln(L + "mlp_norm")
        lin(L + "mlp.Wi", 2 * I, H, cfg["mlp_bias"])
        lin(L + "mlp.Wo", H, I, cfg["mlp_bias"])
    ln(p + "final_norm")
    if head != "base":
        lin("head.dense", H, H, cfg["classifier_bias"])
        ln("head.norm")
    if head == "masked-lm" and cfg["decoder_bias"]:
        w["decoder.bias"] = torch.randn(V, generator=gen) * 0.1
    if head in ("sequence-classification", "token-classification", "question-answering"):
        lin("classifier", cfg["num_labels"], H, True)
    if head == "multiple-choice":
        lin("classifier", 1, H, True)
    return w


# --- checkpoints -------------------------------------------------------------------------------

CLASS_PREFIX = {"deberta-v2": "DebertaV2", "modernbert": "ModernBert", "bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta", "camembert": "Camembert",
                "electra": "Electra", "distilbert": "DistilBert", "albert": "Albert", "mpnet": "MPNet"}
SUFFIX = {"base": "Model", "sentence": "Model", "sequence-classification": "ForSequenceClassification",
          "token-classification": "ForTokenClassification", "question-answering": "ForQuestionAnswering",
          "masked-lm": "ForMaskedLM", "multiple-choice": "ForMultipleChoice"}


def make_weights(gen, case, cfg):
    family, head, p = case["family"], case["head"], case["prefix"]
    if family == "modernbert":
        return modernbert_weights(gen, case, cfg)
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
    if family == "deberta":
        deberta_weights(w, gen, cfg, p, lin, ln)
    N = LAYER_NAMES.get(family, {})
    for L in ([] if family == "deberta" else sorted(set(layer_prefixes(cfg, p, family)))):
        for n in ("q", "k", "v", "o"):
            lin(L + N[n], H, H)
        ln(L + N["ln1"], H)
        lin(L + N["ff1"], cfg["intermediate_size"], H)
        lin(L + N["ff2"], H, cfg["intermediate_size"])
        ln(L + N["ln2"], H)
    has_pooler = family not in ("electra", "distilbert", "deberta") and head in (
        "base", "sentence", "sequence-classification", "multiple-choice")
    if family in ("roberta", "mpnet") and head == "sequence-classification":
        has_pooler = False
    if has_pooler:
        lin(p + ("pooler" if family == "albert" else "pooler.dense"), H, H)
    if family == "distilbert" and head in ("sequence-classification", "multiple-choice"):
        lin("pre_classifier", H, H)
    if family == "deberta" and head in ("sequence-classification", "multiple-choice"):
        lin("pooler.dense", H, H)
    if family == "electra" and head == "multiple-choice":
        lin("sequence_summary.summary", H, H)
    nl = cfg["num_labels"]
    if head == "sequence-classification":
        if family in ("bert", "albert", "distilbert", "deberta"):
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
        if family == "deberta" and not cfg.get("legacy", True):
            lin("lm_predictions.lm_head.dense", H, H)
            ln("lm_predictions.lm_head.LayerNorm", H)
            w["lm_predictions.lm_head.bias"] = torch.randn(V, generator=gen) * 0.1
        elif family == "deberta":
            lin("cls.predictions.transform.dense", E, H)
            ln("cls.predictions.transform.LayerNorm", E)
            w["cls.predictions.bias"] = torch.randn(V, generator=gen) * 0.1
        elif family == "bert":
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
    if case["family"] in ("mpnet", "deberta", "modernbert"):
        shapes.append(("b2", [36, 20], 36))  # long distances: logarithmic buckets, clamped spans, windows
    for name, lengths, seq in shapes:
        def one(lengths):
            ids = torch.full((len(lengths), seq), pad, dtype=torch.int64)
            mask = torch.zeros((len(lengths), seq), dtype=torch.int64)
            for r, n in enumerate(lengths):
                at = slice(seq - n, seq) if case.get("left_pad") else slice(0, n)
                ids[r, at] = torch.randint(pad + 1, cfg["vocab_size"], (n,), generator=gen)
                mask[r, at] = 1
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
    ref_family = {"roberta": "roberta", "xlm-roberta": "roberta", "camembert": "roberta",
                  "deberta-v2": "deberta"}.get(family, family)
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
    if ref_family == "deberta":
        cfg["type_vocab_size"] = 0
        cfg["layer_norm_eps"] = case.get("eps", 1e-7)
    if ref_family == "modernbert":
        for hf, own in (("hidden_act", "hidden_activation"), ("layer_norm_eps", "norm_eps")):
            cfg[own] = cfg.pop(hf)
        cfg["norm_eps"] = case.get("eps", 1e-5)
        cfg.pop("type_vocab_size")
        cfg.update(norm_bias=False, attention_bias=False, mlp_bias=False, classifier_bias=False, decoder_bias=True,
                   classifier_pooling="cls", classifier_activation="gelu", global_rope_theta=160000.0,
                   local_rope_theta=10000.0, global_attn_every_n_layers=2, local_attention=4)
    cfg.update(case.get("config", {}))
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
    if family not in ("electra", "albert", "deberta-v2"):
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
    if (ref_family in ("bert", "electra", "albert") or cfg.get("type_vocab_size", 0) > 0 and ref_family == "deberta") \
            and case["head"] != "sentence":
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


DEBERTA_V3 = dict(relative_attention=True, position_buckets=8, max_relative_positions=-1, share_att_key=True,
                  norm_rel_ebd="layer_norm", pos_att_type=["p2c", "c2p"], position_biased_input=False,
                  type_vocab_size=0, pooler_hidden_act="gelu", pooler_dropout=0)
DEBERTA_V2 = dict(relative_attention=True, max_relative_positions=16, position_buckets=-1, share_att_key=False,
                  pos_att_type="c2p|p2c", position_biased_input=True, type_vocab_size=2, conv_kernel_size=3,
                  conv_act="gelu")

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
    "electra-mc": dict(family="electra", head="multiple-choice", prefix="electra."),
    # DeBERTa-v3: log buckets (8 of them over 40 positions), shared keys, normed relative embeddings,
    # no absolute positions, no token types.
    "deberta-v3-base": dict(family="deberta-v2", head="base", prefix="", config=DEBERTA_V3),
    "deberta-v3-seqcls": dict(family="deberta-v2", head="sequence-classification", prefix="deberta.",
                              config=DEBERTA_V3),
    "deberta-v3-qa": dict(family="deberta-v2", head="question-answering", prefix="deberta.",
                          config=dict(DEBERTA_V3, pos_att_type=["c2p"])),
    "deberta-v3-mlm": dict(family="deberta-v2", head="masked-lm", prefix="deberta.", config=DEBERTA_V3),
    "deberta-v3-mlm-lm-head": dict(family="deberta-v2", head="masked-lm", prefix="deberta.",
                                   config=dict(DEBERTA_V3, legacy=False)),
    # DeBERTa-v2 as xlarge is made: own position projections, no buckets (span 16), absolute positions
    # too, token types, a convolution after the first layer, embeddings narrower than the layers.
    "deberta-v2-tokcls": dict(family="deberta-v2", head="token-classification", prefix="deberta.",
                              embedding_size=16, config=DEBERTA_V2),
    "deberta-v2-mc": dict(family="deberta-v2", head="multiple-choice", prefix="deberta.",
                          config=dict(DEBERTA_V2, conv_kernel_size=0, pooler_hidden_act="tanh")),
    # ModernBERT: layer 0 global, layer 1 local (window 4); with and without biases.
    "modernbert-base": dict(family="modernbert", head="base", prefix=""),
    "modernbert-seqcls": dict(family="modernbert", head="sequence-classification", prefix="model."),
    "modernbert-seqcls-mean": dict(family="modernbert", head="sequence-classification", prefix="model.",
                                   config=dict(classifier_pooling="mean", norm_bias=True, attention_bias=True,
                                               mlp_bias=True, classifier_bias=True, local_rope_theta=1000.0)),
    "modernbert-tokcls": dict(family="modernbert", head="token-classification", prefix="model.", act="gelu_new"),
    "modernbert-mlm": dict(family="modernbert", head="masked-lm", prefix="model."),
    "modernbert-qa": dict(family="modernbert", head="question-answering", prefix="model."),
    # left padding: the cls token multiple choice pools is the first one the mask keeps
    "modernbert-mc": dict(family="modernbert", head="multiple-choice", prefix="model.", left_pad=True),
    "modernbert-mc-mean": dict(family="modernbert", head="multiple-choice", prefix="model.",
                               config=dict(classifier_pooling="mean")),
    "st-mean-normalize": dict(family="bert", head="sentence", prefix="", pooling="mean", normalize=True),
    "st-cls": dict(family="bert", head="sentence", prefix="", pooling="cls"),
    "st-max": dict(family="bert", head="sentence", prefix="", pooling="max"),
}


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
    with open(os.path.join(root, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
