#!/usr/bin/python3
"""Exports realistic-size float models for the quantization benchmarks (random weights,
Debian's python3-torch): a MiniLM-size BERT encoder (hidden 384, 6 layers, 12 heads) and a
ResNet-style CNN at 224x224. The test models are tiny on purpose; speed-ups from int8 kernels
only show at sizes like these.

usage: export_bench_models.py OUT_DIR"""
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_tiny_models as tiny  # noqa: E402  (the BERT-like module definition)

MINILM = dict(tiny.BERT, vocab_size=8192, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536, max_position_embeddings=512)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class ResNetish(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(Block(64, 64, 1), Block(64, 128, 2), Block(128, 256, 2), Block(256, 512, 2))
        self.fc = nn.Linear(512, classes)

    def forward(self, pixel_values):
        return self.fc(self.layers(self.stem(pixel_values)).mean(dim=(2, 3)))


def randomize_batchnorm(model):
    # Fresh BatchNorm layers are identities; give them statistics like a trained network's.
    g = torch.Generator().manual_seed(2)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    bert_dir = os.path.join(out, "minilm-like")
    os.makedirs(bert_dir, exist_ok=True)
    bert = tiny.BertLike(MINILM).eval()
    ids = torch.randint(0, MINILM["vocab_size"], (1, 128))
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    dyn["last_hidden_state"] = {0: "batch_size", 1: "sequence_length"}
    dyn["pooler_output"] = {0: "batch_size"}
    torch.onnx.export(bert, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(bert_dir, "model.onnx"),
                      opset_version=14, input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state", "pooler_output"], dynamic_axes=dyn)
    with open(os.path.join(bert_dir, "config.json"), "w") as f:
        json.dump({"architectures": ["BertModel"], "model_type": "bert", **MINILM}, f, indent=2)

    cnn_dir = os.path.join(out, "resnet-like")
    os.makedirs(cnn_dir, exist_ok=True)
    cnn = ResNetish().eval()
    randomize_batchnorm(cnn)
    torch.onnx.export(cnn, (torch.randn(1, 3, 224, 224),), os.path.join(cnn_dir, "model.onnx"), opset_version=14,
                      input_names=["pixel_values"], output_names=["logits"],
                      dynamic_axes={"pixel_values": {0: "batch_size"}, "logits": {0: "batch_size"}})
    with open(os.path.join(cnn_dir, "config.json"), "w") as f:
        json.dump({"architectures": ["ResNetForImageClassification"], "model_type": "resnet", "num_channels": 3,
                   "image_size": 224}, f, indent=2)
    with open(os.path.join(cnn_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "ConvNextImageProcessor", "do_resize": True, "size": {"shortest_edge": 224},
                   "crop_pct": 0.875, "resample": 3, "do_rescale": True, "rescale_factor": 1 / 255,
                   "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
                  f, indent=2)
    print(f"export_bench_models: wrote {bert_dir} and {cnn_dir}")


if __name__ == "__main__":
    main()
