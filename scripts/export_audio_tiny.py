#!/usr/bin/python3
"""Exports a tiny wav2vec2-style audio backbone (random weights) with Debian's python3-torch:
a convolutional feature encoder over raw audio (`input_values`), a projection, one
transformer encoder layer, and `last_hidden_state`. Beside it a config.json of model_type
wav2vec2 / Wav2Vec2Model, which modelkit resolves to feature-extraction.

usage: export_audio_tiny.py OUT_DIR"""
import json
import os
import sys

import torch
from torch import nn


class AudioTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 16, kernel_size=10, stride=5)
        self.conv2 = nn.Conv1d(16, 32, kernel_size=3, stride=2)
        self.proj = nn.Linear(32, 32)
        self.norm = nn.LayerNorm(32)
        self.layer = nn.TransformerEncoderLayer(d_model=32, nhead=2, dim_feedforward=64, batch_first=True)

    def forward(self, input_values):
        x = input_values.unsqueeze(1)
        x = nn.functional.gelu(self.conv1(x))
        x = nn.functional.gelu(self.conv2(x))
        x = self.norm(self.proj(x.transpose(1, 2)))
        return self.layer(x)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = AudioTiny().eval()
    example = torch.randn(1, 1600)
    torch.onnx.export(model, (example,), os.path.join(out, "model.onnx"), input_names=["input_values"],
                      output_names=["last_hidden_state"], opset_version=14,
                      dynamic_axes={"input_values": {0: "batch_size", 1: "sequence_length"},
                                    "last_hidden_state": {0: "batch_size", 1: "frames"}})
    config = {"architectures": ["Wav2Vec2Model"], "model_type": "wav2vec2", "hidden_size": 32,
              "num_hidden_layers": 1, "num_attention_heads": 2, "conv_dim": [16, 32], "conv_kernel": [10, 3],
              "conv_stride": [5, 2], "vocab_size": 32}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print(f"export_audio_tiny: wrote {out}/model.onnx")


if __name__ == "__main__":
    main()
