#!/usr/bin/python3
"""Writes a ConvNeXt-tiny-size checkpoint (config.json + preprocessor_config.json + model.safetensors,
random float32 weights with transformers' ConvNextForImageClassification parameter names, ~28M
parameters, 224x224 images, depths 3-3-9-3, widths 96-192-384-768, 1000 labels) for
bench/vision_int8.sh. Convolutions and Linears normal(0, 0.02), LayerNorms 1/0, and layer scales 0.5
rather than the untrained 1e-6, so that every block shapes the output (a trained ConvNeXt's scales are
of that order, not 1e-6). numpy only; tensors are written one at a time.
usage: make_convnext_checkpoint.py OUT_DIR"""
import json
import os
import struct
import sys

import numpy as np

SIZES, DEPTHS, IMAGE, LABELS = [96, 192, 384, 768], [3, 3, 9, 3], 224, 1000


def shapes():
    """(name, shape, kind): kind is normal, ones, zeros or scale."""
    p = "convnext."
    yield p + "embeddings.patch_embeddings.weight", (SIZES[0], 3, 4, 4), "normal"
    yield p + "embeddings.patch_embeddings.bias", (SIZES[0],), "zeros"
    yield p + "embeddings.layernorm.weight", (SIZES[0],), "ones"
    yield p + "embeddings.layernorm.bias", (SIZES[0],), "zeros"
    prev = SIZES[0]
    for s, (c, depth) in enumerate(zip(SIZES, DEPTHS)):
        st = p + "encoder.stages.%d." % s
        if s > 0:
            yield st + "downsampling_layer.0.weight", (prev,), "ones"
            yield st + "downsampling_layer.0.bias", (prev,), "zeros"
            yield st + "downsampling_layer.1.weight", (c, prev, 2, 2), "normal"
            yield st + "downsampling_layer.1.bias", (c,), "zeros"
        for j in range(depth):
            lp = st + "layers.%d." % j
            yield lp + "dwconv.weight", (c, 1, 7, 7), "normal"
            yield lp + "dwconv.bias", (c,), "zeros"
            yield lp + "layernorm.weight", (c,), "ones"
            yield lp + "layernorm.bias", (c,), "zeros"
            yield lp + "pwconv1.weight", (4 * c, c), "normal"
            yield lp + "pwconv1.bias", (4 * c,), "zeros"
            yield lp + "pwconv2.weight", (c, 4 * c), "normal"
            yield lp + "pwconv2.bias", (c,), "zeros"
            yield lp + "layer_scale_parameter", (c,), "scale"
        prev = c
    yield p + "layernorm.weight", (SIZES[-1],), "ones"
    yield p + "layernorm.bias", (SIZES[-1],), "zeros"
    yield "classifier.weight", (LABELS, SIZES[-1]), "normal"
    yield "classifier.bias", (LABELS,), "zeros"


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    config = {"architectures": ["ConvNextForImageClassification"], "model_type": "convnext", "num_channels": 3,
              "patch_size": 4, "num_stages": 4, "hidden_sizes": SIZES, "depths": DEPTHS, "hidden_act": "gelu",
              "image_size": IMAGE, "layer_norm_eps": 1e-12, "layer_scale_init_value": 1e-6,
              "initializer_range": 0.02, "id2label": {str(i): "class%d" % i for i in range(LABELS)}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "ConvNextImageProcessor", "do_resize": True,
                   "size": {"shortest_edge": IMAGE}, "crop_pct": 0.875, "resample": 3,
                   "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}, f, indent=2)
    header, offset = {}, 0
    items = list(shapes())
    for name, shape, _ in items:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape, kind in items:
            if kind == "normal":
                a = rng.standard_normal(shape, dtype=np.float32) * 0.02
            else:
                a = np.full(shape, {"ones": 1.0, "zeros": 0.0, "scale": 0.5}[kind], dtype=np.float32)
            f.write(a.tobytes())


if __name__ == "__main__":
    main()
