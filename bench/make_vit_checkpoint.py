#!/usr/bin/python3
"""Writes a ViT-base-size checkpoint (config.json + preprocessor_config.json + model.safetensors,
random float32 weights with transformers' ViTForImageClassification parameter names, ~86M parameters,
224x224 images, patch 16, 1000 labels) for bench/export_vs_copy.sh vit. numpy only; tensors are
written one at a time.
usage: make_vit_checkpoint.py OUT_DIR"""
import json
import os
import struct
import sys

import numpy as np

H, L, I, PATCH, IMAGE, LABELS = 768, 12, 3072, 16, 224, 1000


def shapes():
    grid = IMAGE // PATCH
    yield "vit.embeddings.cls_token", (1, 1, H)
    yield "vit.embeddings.position_embeddings", (1, grid * grid + 1, H)
    yield "vit.embeddings.patch_embeddings.projection.weight", (H, 3, PATCH, PATCH)
    yield "vit.embeddings.patch_embeddings.projection.bias", (H,)
    for i in range(L):
        p = "vit.encoder.layer.%d." % i
        for n in ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                  "attention.output.dense"):
            yield p + n + ".weight", (H, H)
            yield p + n + ".bias", (H,)
        for n in ("layernorm_before", "layernorm_after"):
            yield p + n + ".weight", (H,)
            yield p + n + ".bias", (H,)
        yield p + "intermediate.dense.weight", (I, H)
        yield p + "intermediate.dense.bias", (I,)
        yield p + "output.dense.weight", (H, I)
        yield p + "output.dense.bias", (H,)
    yield "vit.layernorm.weight", (H,)
    yield "vit.layernorm.bias", (H,)
    yield "classifier.weight", (LABELS, H)
    yield "classifier.bias", (LABELS,)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    config = {"architectures": ["ViTForImageClassification"], "model_type": "vit", "hidden_size": H,
              "num_hidden_layers": L, "num_attention_heads": 12, "intermediate_size": I, "hidden_act": "gelu",
              "image_size": IMAGE, "patch_size": PATCH, "num_channels": 3, "qkv_bias": True,
              "layer_norm_eps": 1e-12, "initializer_range": 0.02,
              "id2label": {str(i): "class%d" % i for i in range(LABELS)}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "ViTImageProcessor", "do_resize": True,
                   "size": {"height": IMAGE, "width": IMAGE}, "image_mean": [0.5, 0.5, 0.5],
                   "image_std": [0.5, 0.5, 0.5]}, f, indent=2)
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


if __name__ == "__main__":
    main()
