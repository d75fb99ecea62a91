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
OUT_DIR/cases.txt lists "<case> <input names> <output names>" one case a line; OUT_DIR/vision_cases.txt
the same for the vision encoders (pixel_values in, written from transformers' ViT, DeiT, DINOv2 and CLIP
vision modules). Deterministic.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

import export_reference_mnv2_beit  # noqa: E402  (this folder is on sys.path when run as a script)
import export_reference_swin  # noqa: E402

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

# --- vision encoders (ViT, DeiT, DINOv2, CLIP vision tower) --------------------------------------
# Plain torch written from transformers' modeling_vit / modeling_deit / modeling_dinov2 /
# modeling_clip (eager inference): pre-norm layers over a strided-conv patch embedding.

V_HIDDEN, V_LAYERS, V_HEADS, V_INTER, V_PATCH = 32, 2, 4, 37, 8

VISION_LAYER_NAMES = {
    "vit": dict(ln1="layernorm_before", q="attention.attention.query", k="attention.attention.key",
                v="attention.attention.value", o="attention.output.dense", ln2="layernorm_after",
                fc1="intermediate.dense", fc2="output.dense"),
    "dinov2": dict(ln1="norm1", q="attention.attention.query", k="attention.attention.key",
                   v="attention.attention.value", o="attention.output.dense", ln2="norm2", fc1="mlp.fc1",
                   fc2="mlp.fc2", ls1="layer_scale1.lambda1", ls2="layer_scale2.lambda1"),
    "clip": dict(ln1="layer_norm1", q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj",
                 o="self_attn.out_proj", ln2="layer_norm2", fc1="mlp.fc1", fc2="mlp.fc2"),
}
VISION_LAYER_NAMES["deit"] = VISION_LAYER_NAMES["vit"]


def vision_config(case):
    arch = case["arch"]
    cfg = {"hidden_size": V_HIDDEN, "num_hidden_layers": V_LAYERS, "num_attention_heads": V_HEADS,
           "image_size": case.get("image_size", 32), "patch_size": V_PATCH, "num_channels": 3,
           "hidden_act": case.get("act", "quick_gelu" if arch == "clip" else "gelu"),
           "layer_norm_eps": case.get("eps", 1e-5 if arch == "clip" else 1e-12)}
    if arch == "dinov2":
        cfg.update(model_type="dinov2", mlp_ratio=case.get("mlp_ratio", 4), layerscale_value=1.0, qkv_bias=True,
                   layer_norm_eps=1e-6)
    else:
        cfg["intermediate_size"] = V_INTER
    if arch in ("vit", "deit"):
        cfg.update(model_type=arch, qkv_bias=case.get("qkv_bias", True))
    if arch == "clip":
        cfg.update(model_type="clip_vision_model", projection_dim=24)
    cfg["architectures"] = [case["cls"]]
    if case.get("labels"):
        cfg["id2label"] = {str(i): "class%d" % i for i in range(case["labels"])}
        cfg["label2id"] = {"class%d" % i: i for i in range(case["labels"])}
    return cfg


def vision_weights(gen, case, cfg):
    arch, p, H = case["arch"], case["prefix"], cfg["hidden_size"]
    inter = int(H * cfg["mlp_ratio"]) if arch == "dinov2" else cfg["intermediate_size"]
    grid = cfg["image_size"] // cfg["patch_size"]
    w = {}

    def lin(name, out_f, in_f, bias=True):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) * 0.2
        if bias:
            w[name + ".bias"] = torch.randn(out_f, generator=gen) * 0.1

    def ln(name):
        w[name + ".weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
        w[name + ".bias"] = torch.randn(H, generator=gen) * 0.1

    P, C = cfg["patch_size"], cfg["num_channels"]
    if arch == "clip":
        w[p + "embeddings.class_embedding"] = torch.randn(H, generator=gen) * 0.5
        w[p + "embeddings.patch_embedding.weight"] = torch.randn(H, C, P, P, generator=gen) * 0.1
        w[p + "embeddings.position_embedding.weight"] = torch.randn(grid * grid + 1, H, generator=gen) * 0.5
        ln(p + "pre_layrnorm")
        layer = p + "encoder.layers.%d."
    else:
        tokens = 2 if arch == "deit" else 1
        w[p + "embeddings.cls_token"] = torch.randn(1, 1, H, generator=gen) * 0.5
        if arch == "deit":
            w[p + "embeddings.distillation_token"] = torch.randn(1, 1, H, generator=gen) * 0.5
        if arch == "dinov2":
            w[p + "embeddings.mask_token"] = torch.zeros(1, H)
        w[p + "embeddings.position_embeddings"] = torch.randn(1, grid * grid + tokens, H, generator=gen) * 0.5
        w[p + "embeddings.patch_embeddings.projection.weight"] = torch.randn(H, C, P, P, generator=gen) * 0.1
        w[p + "embeddings.patch_embeddings.projection.bias"] = torch.randn(H, generator=gen) * 0.1
        layer = p + "encoder.layer.%d."
    names = VISION_LAYER_NAMES[arch]
    qkv_bias = cfg.get("qkv_bias", True)
    for i in range(cfg["num_hidden_layers"]):
        lp = layer % i
        ln(lp + names["ln1"])
        for k in ("q", "k", "v"):
            lin(lp + names[k], H, H, qkv_bias)
        lin(lp + names["o"], H, H)
        ln(lp + names["ln2"])
        lin(lp + names["fc1"], inter, H)
        lin(lp + names["fc2"], H, inter)
        if arch == "dinov2":
            w[lp + names["ls1"]] = 1.0 + torch.randn(H, generator=gen) * 0.3
            w[lp + names["ls2"]] = 1.0 + torch.randn(H, generator=gen) * 0.3
    if arch == "clip":
        ln(p + "post_layernorm")
        if case["head"] == "projection":
            lin("visual_projection", cfg["projection_dim"], H, bias=False)
    else:
        ln(p + "layernorm")
        if case["head"] == "base" and arch != "dinov2":
            lin(p + "pooler.dense", H, H)
    labels = case.get("labels", 0)
    if case["head"] == "classification":
        lin("classifier", labels, 2 * H if arch == "dinov2" else H)
    if case["head"] == "teacher":
        lin("cls_classifier", labels, H)
        lin("distillation_classifier", labels, H)
    return w


def vision_forward(w, cfg, case, pixels):
    arch, p, H = case["arch"], case["prefix"], cfg["hidden_size"]
    nh, P = cfg["num_attention_heads"], cfg["patch_size"]
    act = ACTS[cfg["hidden_act"]]
    eps = cfg["layer_norm_eps"]
    B, _, height, width = pixels.shape
    if arch == "clip":
        x = torch.nn.functional.conv2d(pixels, w[p + "embeddings.patch_embedding.weight"], stride=P)
    else:
        x = torch.nn.functional.conv2d(pixels, w[p + "embeddings.patch_embeddings.projection.weight"],
                                       w[p + "embeddings.patch_embeddings.projection.bias"], stride=P)
    x = x.flatten(2).transpose(1, 2)
    if arch == "clip":
        toks = [w[p + "embeddings.class_embedding"].expand(B, 1, -1)]
        pos = w[p + "embeddings.position_embedding.weight"].unsqueeze(0)
    else:
        toks = [w[p + "embeddings.cls_token"].expand(B, -1, -1)]
        if arch == "deit":
            toks.append(w[p + "embeddings.distillation_token"].expand(B, -1, -1))
        pos = w[p + "embeddings.position_embeddings"]
    x = torch.cat(toks + [x], dim=1)
    if arch == "dinov2":
        n_patches, n_pos = x.shape[1] - 1, pos.shape[1] - 1
        if not (n_patches == n_pos and height == width):
            side = int(n_pos ** 0.5)
            grid = pos[:, 1:].reshape(1, side, side, H).permute(0, 3, 1, 2)
            grid = torch.nn.functional.interpolate(grid, size=(height // P, width // P), mode="bicubic",
                                                   align_corners=False)
            pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, H)], dim=1)
    x = x + pos
    if arch == "clip":
        x = layer_norm(w, p + "pre_layrnorm", x, eps)
    names = VISION_LAYER_NAMES[arch]
    layer = p + ("encoder.layers.%d." if arch == "clip" else "encoder.layer.%d.")

    def lin(name, t):
        out = t @ w[name + ".weight"].T
        return out + w[name + ".bias"] if name + ".bias" in w else out

    for i in range(cfg["num_hidden_layers"]):
        lp = layer % i
        h = layer_norm(w, lp + names["ln1"], x, eps)
        q, k, v = (lin(lp + names[n], h).view(B, -1, nh, H // nh).transpose(1, 2) for n in ("q", "k", "v"))
        probs = torch.softmax(q @ k.transpose(-1, -2) * (H // nh) ** -0.5, dim=-1)
        a = lin(lp + names["o"], (probs @ v).transpose(1, 2).reshape(B, -1, H))
        if arch == "dinov2":
            a = a * w[lp + names["ls1"]]
        x = x + a
        m = lin(lp + names["fc2"], act(lin(lp + names["fc1"], layer_norm(w, lp + names["ln2"], x, eps))))
        if arch == "dinov2":
            m = m * w[lp + names["ls2"]]
        x = x + m
    if arch == "clip":
        pooled = layer_norm(w, p + "post_layernorm", x[:, 0], eps)
        if case["head"] == "projection":
            return {"image_embeds": pooled @ w["visual_projection.weight"].T, "last_hidden_state": x}
        return {"last_hidden_state": x, "pooler_output": pooled}
    x = layer_norm(w, p + "layernorm", x, eps)
    if case["head"] == "base":
        if arch == "dinov2":
            return {"last_hidden_state": x, "pooler_output": x[:, 0]}
        return {"last_hidden_state": x, "pooler_output": torch.tanh(lin(p + "pooler.dense", x[:, 0]))}
    if case["head"] == "teacher":
        return {"logits": (lin("cls_classifier", x[:, 0]) + lin("distillation_classifier", x[:, 1])) / 2}
    if arch == "dinov2":
        return {"logits": lin("classifier", torch.cat([x[:, 0], x[:, 1:].mean(dim=1)], dim=1))}
    return {"logits": lin("classifier", x[:, 0])}


def make_vision_case(root, name, case, gen):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    cfg = vision_config(case)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if case.get("processor"):
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(case["processor"], f, indent=1)
    w = vision_weights(gen, case, cfg)
    storage = case.get("dtype", torch.float32)
    stored = {k: v.to(storage) for k, v in w.items()}
    write_safetensors(os.path.join(folder, "model.safetensors"), stored)
    ref_w = {k: v.float() for k, v in stored.items()}
    height, width = case.get("export_size", (cfg["image_size"], cfg["image_size"]))
    outputs = None
    for bname, batch in (("b1", 1), ("b3", 3)):
        pixels = torch.randn(batch, 3, height, width, generator=gen)
        outs = vision_forward(ref_w, cfg, case, pixels)
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, "pixel_values", ",".join(outputs))


VISION_CASES = {
    "vit-base": dict(arch="vit", cls="ViTModel", head="base", prefix=""),
    "vit-imgcls": dict(arch="vit", cls="ViTForImageClassification", head="classification", prefix="vit.", labels=5,
                       act="gelu_new",
                       processor={"image_processor_type": "ViTImageProcessor", "do_resize": True,
                                  "size": {"height": 32, "width": 32}, "image_mean": [0.5, 0.5, 0.5],
                                  "image_std": [0.5, 0.5, 0.5]}),
    "vit-noqkvbias-bf16": dict(arch="vit", cls="ViTForImageClassification", head="classification", prefix="vit.",
                               labels=3, qkv_bias=False, dtype=torch.bfloat16),
    "deit-base": dict(arch="deit", cls="DeiTModel", head="base", prefix=""),
    "deit-imgcls": dict(arch="deit", cls="DeiTForImageClassification", head="classification", prefix="deit.",
                        labels=4),
    "deit-teacher": dict(arch="deit", cls="DeiTForImageClassificationWithTeacher", head="teacher", prefix="deit.",
                         labels=4),
    # image_size 48 (a 6x6 grid) exported at the processor's 32x32 crop: interpolated position embeddings.
    "dinov2-base": dict(arch="dinov2", cls="Dinov2Model", head="base", prefix="", image_size=48, export_size=(32, 32),
                        processor={"image_processor_type": "BitImageProcessor", "do_resize": True,
                                   "size": {"shortest_edge": 40}, "do_center_crop": True,
                                   "crop_size": {"height": 32, "width": 32}}),
    # A non-square crop (5x3 patches from a 4x4 grid).
    "dinov2-imgcls": dict(arch="dinov2", cls="Dinov2ForImageClassification", head="classification", prefix="dinov2.",
                          labels=3, export_size=(40, 24),
                          processor={"image_processor_type": "BitImageProcessor", "do_resize": True,
                                     "size": {"shortest_edge": 40}, "do_center_crop": True,
                                     "crop_size": {"height": 40, "width": 24}}),
    "dinov2-native": dict(arch="dinov2", cls="Dinov2Model", head="base", prefix="", mlp_ratio=2),
    "clip-vision-base": dict(arch="clip", cls="CLIPVisionModel", head="base", prefix="vision_model."),
    "clip-vision-proj": dict(arch="clip", cls="CLIPVisionModelWithProjection", head="projection",
                             prefix="vision_model.", act="gelu"),
}


def convnext_case(root, name, case, gen):
    """ConvNeXt from transformers' modeling_convnext: patchify conv + channels-first LayerNorm, stages of
    depthwise 7x7 conv / LayerNorm / pointwise Linears / layer scale with a residual, stride-2 downsampling
    between stages, pooled output the LayerNorm of the spatial mean."""
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    sizes, depths, p = case["hidden_sizes"], case["depths"], case["prefix"]
    cfg = {"model_type": "convnext", "architectures": [case["cls"]], "num_channels": 3, "patch_size": 4,
           "image_size": 32, "num_stages": len(sizes), "hidden_sizes": sizes, "depths": depths,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12, "layer_scale_init_value": case.get("layer_scale", 1e-6)}
    if case.get("labels"):
        cfg["id2label"] = {str(i): "class%d" % i for i in range(case["labels"])}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    w = {}

    def conv(name, out_c, in_c, k):
        w[name + ".weight"] = torch.randn(out_c, in_c, k, k, generator=gen) * 0.2
        w[name + ".bias"] = torch.randn(out_c, generator=gen) * 0.1

    def norm(name, size):
        w[name + ".weight"] = 1.0 + torch.randn(size, generator=gen) * 0.1
        w[name + ".bias"] = torch.randn(size, generator=gen) * 0.1

    def lin(name, out_f, in_f):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) * 0.2
        w[name + ".bias"] = torch.randn(out_f, generator=gen) * 0.1

    conv(p + "embeddings.patch_embeddings", sizes[0], 3, 4)
    norm(p + "embeddings.layernorm", sizes[0])
    prev = sizes[0]
    for s, (C, depth) in enumerate(zip(sizes, depths)):
        st = p + "encoder.stages.%d." % s
        if s > 0:
            norm(st + "downsampling_layer.0", prev)
            conv(st + "downsampling_layer.1", C, prev, 2)
        for j in range(depth):
            lp = st + "layers.%d." % j
            w[lp + "dwconv.weight"] = torch.randn(C, 1, 7, 7, generator=gen) * 0.2
            w[lp + "dwconv.bias"] = torch.randn(C, generator=gen) * 0.1
            norm(lp + "layernorm", C)
            lin(lp + "pwconv1", 4 * C, C)
            lin(lp + "pwconv2", C, 4 * C)
            if cfg["layer_scale_init_value"] > 0:
                w[lp + "layer_scale_parameter"] = 1.0 + torch.randn(C, generator=gen) * 0.3
        prev = C
    norm(p + "layernorm", sizes[-1])
    if case.get("labels"):
        lin("classifier", case["labels"], sizes[-1])
    write_safetensors(os.path.join(folder, "model.safetensors"), w)
    if case.get("processor"):
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(case["processor"], f, indent=1)
    F = torch.nn.functional

    def cf_norm(name, x):  # channels_first, eps 1e-6, as ConvNextLayerNorm computes it
        u = x.mean(1, keepdim=True)
        v = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(v + 1e-6)
        return w[name + ".weight"][:, None, None] * x + w[name + ".bias"][:, None, None]

    def forward(pixels):
        x = F.conv2d(pixels, w[p + "embeddings.patch_embeddings.weight"], w[p + "embeddings.patch_embeddings.bias"],
                     stride=4)
        x = cf_norm(p + "embeddings.layernorm", x)
        for s, (C, depth) in enumerate(zip(sizes, depths)):
            st = p + "encoder.stages.%d." % s
            if s > 0:
                x = cf_norm(st + "downsampling_layer.0", x)
                x = F.conv2d(x, w[st + "downsampling_layer.1.weight"], w[st + "downsampling_layer.1.bias"], stride=2)
            for j in range(depth):
                lp = st + "layers.%d." % j
                y = F.conv2d(x, w[lp + "dwconv.weight"], w[lp + "dwconv.bias"], padding=3, groups=C)
                y = y.permute(0, 2, 3, 1)
                y = layer_norm(w, lp + "layernorm", y, 1e-6)
                y = ACTS["gelu"](linear(w, lp + "pwconv1", y))
                y = linear(w, lp + "pwconv2", y)
                if cfg["layer_scale_init_value"] > 0:
                    y = w[lp + "layer_scale_parameter"] * y
                x = x + y.permute(0, 3, 1, 2)
        pooled = layer_norm(w, p + "layernorm", x.mean([-2, -1]), cfg["layer_norm_eps"])
        if case.get("labels"):
            return {"logits": linear(w, "classifier", pooled)}
        return {"last_hidden_state": x, "pooler_output": pooled}

    height, width = case.get("export_size", (32, 32))
    outputs = None
    for bname, batch in (("b1", 1), ("b3", 3)):
        pixels = torch.randn(batch, 3, height, width, generator=gen)
        outs = forward(pixels)
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, "pixel_values", ",".join(outputs))


CONVNEXT_CASES = {
    "convnext-base": dict(cls="ConvNextModel", prefix="", hidden_sizes=[8, 16], depths=[1, 2]),
    # ConvNeXt's processor: shortest edge int(40 / crop_pct) then a 40x40 crop; no layer scale.
    "convnext-imgcls": dict(cls="ConvNextForImageClassification", prefix="convnext.", hidden_sizes=[8, 12, 16],
                            depths=[2, 1, 1], labels=4, layer_scale=0.0, export_size=(40, 40),
                            processor={"image_processor_type": "ConvNextImageProcessor", "do_resize": True,
                                       "size": {"shortest_edge": 40}, "crop_pct": 0.875, "resample": 3}),
}


def resnet_case(root, name, case, gen):
    """ResNet from transformers' modeling_resnet, BatchNorm in inference mode (running statistics)."""
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    sizes, depths, p, kind = case["hidden_sizes"], case["depths"], case["prefix"], case["layer_type"]
    cfg = {"model_type": "resnet", "architectures": [case["cls"]], "num_channels": 3, "embedding_size": 8,
           "hidden_sizes": sizes, "depths": depths, "layer_type": kind, "hidden_act": "relu",
           "downsample_in_first_stage": case.get("first_stage", False),
           "downsample_in_bottleneck": case.get("in_bottleneck", False)}
    if case.get("labels"):
        cfg["id2label"] = {str(i): "class%d" % i for i in range(case["labels"])}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    w = {}
    F = torch.nn.functional

    def conv_bn(name, out_c, in_c, k):
        w[name + ".convolution.weight"] = torch.randn(out_c, in_c, k, k, generator=gen) * (1.5 / (in_c * k * k)) ** 0.5
        w[name + ".normalization.weight"] = 1.0 + torch.randn(out_c, generator=gen) * 0.2
        w[name + ".normalization.bias"] = torch.randn(out_c, generator=gen) * 0.1
        w[name + ".normalization.running_mean"] = torch.randn(out_c, generator=gen) * 0.1
        w[name + ".normalization.running_var"] = 0.5 + torch.rand(out_c, generator=gen)
        w[name + ".normalization.num_batches_tracked"] = torch.tensor(7)

    def run_conv_bn(name, x, stride, k, act=True):
        y = F.conv2d(x, w[name + ".convolution.weight"], stride=stride, padding=k // 2)
        y = F.batch_norm(y, w[name + ".normalization.running_mean"], w[name + ".normalization.running_var"],
                         w[name + ".normalization.weight"], w[name + ".normalization.bias"], False, 0.0, 1e-5)
        return torch.relu(y) if act else y

    conv_bn(p + "embedder.embedder", 8, 3, 7)
    plan = []
    prev = 8
    for s, (out, depth) in enumerate(zip(sizes, depths)):
        stride = 2 if s > 0 or cfg["downsample_in_first_stage"] else 1
        for j in range(depth):
            base = p + "encoder.stages.%d.layers.%d." % (s, j)
            cin, st = (prev, stride) if j == 0 else (out, 1)
            if cin != out or st != 1:
                conv_bn(base + "shortcut", out, cin, 1)
            if kind == "basic":
                conv_bn(base + "layer.0", out, cin, 3)
                conv_bn(base + "layer.1", out, out, 3)
            else:
                r = out // 4
                conv_bn(base + "layer.0", r, cin, 1)
                conv_bn(base + "layer.1", r, r, 3)
                conv_bn(base + "layer.2", out, r, 1)
            plan.append((base, cin, out, st))
        prev = out
    if case.get("labels"):
        w["classifier.1.weight"] = torch.randn(case["labels"], sizes[-1], generator=gen) * 0.2
        w["classifier.1.bias"] = torch.randn(case["labels"], generator=gen) * 0.1
    write_safetensors(os.path.join(folder, "model.safetensors"), w)
    # ResNet's processor (ConvNeXt's recipe) gives the export size: config.json has no image_size.
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "ConvNextImageProcessor", "do_resize": True, "size": {"shortest_edge": 32},
                   "crop_pct": 0.875, "resample": 3}, f, indent=1)
    dib = cfg["downsample_in_bottleneck"]

    def forward(pixels):
        x = run_conv_bn(p + "embedder.embedder", pixels, 2, 7)
        x = F.max_pool2d(x, 3, 2, 1)
        for base, cin, out, st in plan:
            res = run_conv_bn(base + "shortcut", x, st, 1, act=False) if (cin != out or st != 1) else x
            if kind == "basic":
                y = run_conv_bn(base + "layer.1", run_conv_bn(base + "layer.0", x, st, 3), 1, 3, act=False)
            else:
                y = run_conv_bn(base + "layer.0", x, st if dib else 1, 1)
                y = run_conv_bn(base + "layer.1", y, 1 if dib else st, 3)
                y = run_conv_bn(base + "layer.2", y, 1, 1, act=False)
            x = torch.relu(y + res)
        pooled = x.mean([-2, -1], keepdim=True)
        if case.get("labels"):
            return {"logits": linear(w, "classifier.1", pooled.flatten(1))}
        return {"last_hidden_state": x, "pooler_output": pooled}

    outputs = None
    for bname, batch in (("b1", 1), ("b3", 3)):
        pixels = torch.randn(batch, 3, 32, 32, generator=gen)
        outs = forward(pixels)
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, "pixel_values", ",".join(outputs))


RESNET_CASES = {
    "resnet-basic": dict(cls="ResNetModel", prefix="", layer_type="basic", hidden_sizes=[8, 16], depths=[2, 1]),
    "resnet-bottleneck": dict(cls="ResNetForImageClassification", prefix="resnet.", layer_type="bottleneck",
                              hidden_sizes=[16, 32, 32], depths=[1, 2, 1], labels=5, first_stage=True,
                              in_bottleneck=True),
}


def clip_text_weights(gen, w, p, cfg):
    H, V = cfg["hidden_size"], cfg["vocab_size"]
    w[p + "embeddings.token_embedding.weight"] = torch.randn(V, H, generator=gen) * 0.5
    w[p + "embeddings.position_embedding.weight"] = torch.randn(cfg["max_position_embeddings"], H, generator=gen) * 0.5
    names = VISION_LAYER_NAMES["clip"]
    for i in range(cfg["num_hidden_layers"]):
        lp = p + "encoder.layers.%d." % i
        for k in ("ln1", "ln2"):
            w[lp + names[k] + ".weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
            w[lp + names[k] + ".bias"] = torch.randn(H, generator=gen) * 0.1
        for k, (o, i_) in (("q", (H, H)), ("k", (H, H)), ("v", (H, H)), ("o", (H, H)),
                           ("fc1", (cfg["intermediate_size"], H)), ("fc2", (H, cfg["intermediate_size"]))):
            w[lp + names[k] + ".weight"] = torch.randn(o, i_, generator=gen) * 0.2
            w[lp + names[k] + ".bias"] = torch.randn(o, generator=gen) * 0.1
    w[p + "final_layer_norm.weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
    w[p + "final_layer_norm.bias"] = torch.randn(H, generator=gen) * 0.1


def clip_text_forward(w, cfg, p, ids, mask):
    """CLIPTextTransformer (eager): causal + padding masks, end-of-text pooling."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    B, S = ids.shape
    act = ACTS[cfg["hidden_act"]]
    eps = cfg["layer_norm_eps"]
    x = w[p + "embeddings.token_embedding.weight"][ids] + w[p + "embeddings.position_embedding.weight"][:S]
    low = torch.finfo(torch.float32).min
    causal = torch.full((S, S), low).triu(1)
    bias = causal[None, None] + (1.0 - mask[:, None, None, :].float()) * low
    names = VISION_LAYER_NAMES["clip"]
    for i in range(cfg["num_hidden_layers"]):
        lp = p + "encoder.layers.%d." % i
        h = layer_norm(w, lp + names["ln1"], x, eps)
        q, k, v = (linear(w, lp + names[n], h).view(B, S, nh, H // nh).transpose(1, 2) for n in ("q", "k", "v"))
        probs = torch.softmax(q @ k.transpose(-1, -2) * (H // nh) ** -0.5 + bias, dim=-1)
        x = x + linear(w, lp + names["o"], (probs @ v).transpose(1, 2).reshape(B, S, H))
        x = x + linear(w, lp + names["fc2"], act(linear(w, lp + names["fc1"], layer_norm(w, lp + names["ln2"], x, eps))))
    x = layer_norm(w, p + "final_layer_norm", x, eps)
    if cfg["eos_token_id"] == 2:
        at = ids.argmax(dim=-1)
    else:
        at = (ids == cfg["eos_token_id"]).int().argmax(dim=-1)
    return x, x[torch.arange(B), at]


def clip_text_batch(gen, cfg, lengths, S):
    """The end-of-text id after each text and as padding: eos_token_id, or with the legacy eos_token_id 2
    the largest id (vocab-1). Other ids from 3..vocab-1 without it, so with eos_token_id 40 the largest
    id is often not the end (pooling by argmax would be caught)."""
    V = cfg["vocab_size"]
    eos = V - 1 if cfg["eos_token_id"] == 2 else cfg["eos_token_id"]
    ids = torch.full((len(lengths), S), eos, dtype=torch.int64)
    mask = torch.zeros(len(lengths), S, dtype=torch.int64)
    for r, n in enumerate(lengths):
        t = torch.randint(3, V - 1, (n - 1,), generator=gen)
        ids[r, :n - 1] = torch.where(t == eos, t + 1, t)
        mask[r, :n] = 1
    return ids, mask


def clip_text_case(root, name, case, gen):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    V = 50
    tcfg = {"vocab_size": V, "hidden_size": V_HIDDEN, "num_hidden_layers": V_LAYERS, "num_attention_heads": V_HEADS,
            "intermediate_size": V_INTER, "max_position_embeddings": 12, "hidden_act": case.get("act", "quick_gelu"),
            "layer_norm_eps": 1e-5, "eos_token_id": case["eos"], "projection_dim": 24}
    if case["cls"] == "CLIPModel":
        vcase = dict(arch="clip", cls="CLIPVisionModel", head="base", prefix="vision_model.")
        vcfg = vision_config(vcase)
        del vcfg["architectures"]
        cfg = {"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 24,
               "logit_scale_init_value": 2.6592, "text_config": dict(tcfg, model_type="clip_text_model"),
               "vision_config": dict(vcfg, projection_dim=24)}
    else:
        cfg = dict(tcfg, model_type="clip_text_model", architectures=[case["cls"]])
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    w = {}
    clip_text_weights(gen, w, "text_model.", tcfg)
    if case["cls"] != "CLIPTextModel":
        w["text_projection.weight"] = torch.randn(24, V_HIDDEN, generator=gen) * 0.2
    if case["cls"] == "CLIPModel":
        vw = vision_weights(gen, dict(vcase, head="projection"), vcfg)
        w.update(vw)
        w["logit_scale"] = torch.tensor(2.6592)
    write_safetensors(os.path.join(folder, "model.safetensors"), w)
    inputs = ["input_ids", "attention_mask"]
    if case["cls"] == "CLIPModel":
        inputs = ["pixel_values"] + inputs
    outputs = None
    for bname, images, lengths, S in (("b1", 1, [7, 4], 7), ("b3", 3, [5, 5, 2], 6)):
        ids, mask = clip_text_batch(gen, tcfg, lengths, S)
        hidden, pooled = clip_text_forward(w, tcfg, "text_model.", ids, mask)
        if case["cls"] == "CLIPTextModel":
            outs = {"last_hidden_state": hidden, "pooler_output": pooled}
        elif case["cls"] == "CLIPTextModelWithProjection":
            outs = {"text_embeds": pooled @ w["text_projection.weight"].T, "last_hidden_state": hidden}
        else:
            pixels = torch.randn(images, 3, 32, 32, generator=gen)
            image = vision_forward(w, vcfg, dict(vcase, head="projection"), pixels)["image_embeds"]
            text = pooled @ w["text_projection.weight"].T
            image = image / image.norm(p=2, dim=-1, keepdim=True)
            text = text / text.norm(p=2, dim=-1, keepdim=True)
            per_text = text @ image.T * w["logit_scale"].exp()
            outs = {"logits_per_image": per_text.T, "logits_per_text": per_text, "text_embeds": text,
                    "image_embeds": image}
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        if case["cls"] == "CLIPModel":
            write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        write_array(os.path.join(d, "input_ids.bin"), ids.numpy())
        write_array(os.path.join(d, "attention_mask.bin"), mask.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, ",".join(inputs), ",".join(outputs))


CLIP_TEXT_CASES = {
    # eos_token_id 2: the original configs, pooled at the largest id.
    "clip-text-base": dict(cls="CLIPTextModel", eos=2),
    "clip-text-proj": dict(cls="CLIPTextModelWithProjection", eos=40, act="gelu"),
    "clip-model": dict(cls="CLIPModel", eos=40),
}


def make_vision_cases(root):
    """The vision cases, seeded apart from the text cases; returns their cases.txt lines."""
    lines = []
    for i, (name, case) in enumerate(sorted(VISION_CASES.items())):
        gen = torch.Generator().manual_seed(5000 + i)
        lines.append(make_vision_case(root, name, case, gen))
    for i, (name, case) in enumerate(sorted(CONVNEXT_CASES.items())):
        gen = torch.Generator().manual_seed(6000 + i)
        lines.append(convnext_case(root, name, case, gen))
    for i, (name, case) in enumerate(sorted(RESNET_CASES.items())):
        gen = torch.Generator().manual_seed(7000 + i)
        lines.append(resnet_case(root, name, case, gen))
    for i, (name, case) in enumerate(sorted(CLIP_TEXT_CASES.items())):
        gen = torch.Generator().manual_seed(8000 + i)
        lines.append(clip_text_case(root, name, case, gen))
    lines += export_reference_mnv2_beit.make_cases(root, write_safetensors, write_array)
    lines += export_reference_swin.make_cases(root, write_safetensors, write_array)
    return lines


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
    with open(os.path.join(root, "vision_cases.txt"), "w") as f:
        f.write("\n".join(make_vision_cases(root)) + "\n")


if __name__ == "__main__":
    main()
