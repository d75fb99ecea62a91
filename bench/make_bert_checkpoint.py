#!/usr/bin/python3
"""Writes a BERT-base-size checkpoint (config.json + model.safetensors, random float32 weights with
transformers' BertModel parameter names, ~110M parameters) for bench/export_vs_copy.sh, or with
`minilm` a MiniLM-size one (hidden 384, 6 layers, ~22M parameters) for scripts/demo.sh. numpy only
(no torch); tensors are written one at a time.
usage: make_bert_checkpoint.py OUT_DIR [base|minilm]"""
import json
import os
import struct
import sys

import numpy as np

SIZES = {"base": (30522, 768, 12, 3072, 12), "minilm": (8192, 384, 6, 1536, 12)}
V, H, L, I, HEADS = SIZES[sys.argv[2] if len(sys.argv) > 2 else "base"]
P, T = 512, 2


def shapes():
    yield "embeddings.word_embeddings.weight", (V, H)
    yield "embeddings.position_embeddings.weight", (P, H)
    yield "embeddings.token_type_embeddings.weight", (T, H)
    yield "embeddings.LayerNorm.weight", (H,)
    yield "embeddings.LayerNorm.bias", (H,)
    for i in range(L):
        p = "encoder.layer.%d." % i
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            yield p + n + ".weight", (H, H)
            yield p + n + ".bias", (H,)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            yield p + n + ".weight", (H,)
            yield p + n + ".bias", (H,)
        yield p + "intermediate.dense.weight", (I, H)
        yield p + "intermediate.dense.bias", (I,)
        yield p + "output.dense.weight", (H, I)
        yield p + "output.dense.bias", (H,)
    yield "pooler.dense.weight", (H, H)
    yield "pooler.dense.bias", (H,)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": V, "hidden_size": H,
              "num_hidden_layers": L, "num_attention_heads": HEADS, "intermediate_size": I, "hidden_act": "gelu",
              "max_position_embeddings": P, "type_vocab_size": T, "layer_norm_eps": 1e-12, "pad_token_id": 0,
              "initializer_range": 0.02}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    header, offset = {}, 0
    items = list(shapes())
    for name, shape in items:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in items:
            f.write((rng.standard_normal(shape, dtype=np.float32) * 0.02).tobytes())
    print("parameters:", offset // 4)


if __name__ == "__main__":
    main()
