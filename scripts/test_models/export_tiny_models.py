"""Exports the two tiny randomly-initialised test models with Debian's python3-torch.

bert-tiny-like/: a BERT-style encoder in plain torch (transformers is not available here) with
the inputs optimum's BERT export has (input_ids, attention_mask, token_type_ids; dims batch_size,
sequence_length) and a config.json in Hugging Face's format.
cnn-tiny/: a small CNN image classifier with a pixel_values input (dims batch_size,
num_channels, height, width) plus config.json and preprocessor_config.json.

Usage: /usr/bin/python3 export_tiny_models.py MODELS_DIR
"""
import json
import math
import os
import sys

import torch
from torch import nn

BERT = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128, max_position_embeddings=128, type_vocab_size=2,
            layer_norm_eps=1e-12, hidden_act="gelu", hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1, initializer_range=0.02, pad_token_id=0)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.head_dim = c["hidden_size"] // self.heads
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.output = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask_bias):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask_bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape)
        return self.norm(x + self.output(ctx))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = SelfAttention(c)
        self.intermediate = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.output = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x, mask_bias):
        x = self.attention(x, mask_bias)
        return self.norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class BertLike(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.pooler = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1], dtype=torch.long).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) \
            + self.token_type_embeddings(token_type_ids)
        x = self.norm(x)
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_bias)
        return x, torch.tanh(self.pooler(x[:, 0]))


class TinyCnn(nn.Module):
    def __init__(self, labels):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.classifier = nn.Linear(16, labels)

    def forward(self, pixel_values):
        return self.classifier(self.features(pixel_values).mean(dim=(2, 3)))


def save_test_data(dest, names, tensors):
    """Writes tensors as ONNX TensorProto files (test_data_set_0/input_N.pb / output_N.pb), the
    layout of ONNX's own node tests, so the C++ tests compare ONNX Runtime against torch."""
    from onnx import numpy_helper
    folder = os.path.join(dest, "test_data_set_0")
    os.makedirs(folder, exist_ok=True)
    for kind, items in (("input", names[0]), ("output", names[1])):
        for i, name in enumerate(items):
            proto = numpy_helper.from_array(tensors[name].detach().numpy(), name)
            with open(os.path.join(folder, f"{kind}_{i}.pb"), "wb") as f:
                f.write(proto.SerializeToString())


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export_bert(dest):
    torch.manual_seed(0)
    model = BertLike(BERT).eval()
    ids = torch.randint(0, BERT["vocab_size"], (1, 16))
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {"batch_size": 0, "sequence_length": 1}
    dyn = {name: dict((v, k) for k, v in axes.items()) for name in ("input_ids", "attention_mask", "token_type_ids")}
    dyn["last_hidden_state"] = {0: "batch_size", 1: "sequence_length"}
    dyn["pooler_output"] = {0: "batch_size"}
    os.makedirs(dest, exist_ok=True)
    torch.onnx.export(model, args, os.path.join(dest, "model.onnx"), opset_version=14,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state", "pooler_output"], dynamic_axes=dyn)
    # Reference outputs from torch for fixed inputs (ids, a padded mask, mixed token types).
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, BERT["vocab_size"], (2, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    with torch.no_grad():
        hidden, pooled = model(ids, mask, types)
    save_test_data(dest, (["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"]),
                   {"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
                    "last_hidden_state": hidden, "pooler_output": pooled})
    config = {"architectures": ["BertModel"], "model_type": "bert", **BERT,
              "position_embedding_type": "absolute", "torch_dtype": "float32", "use_cache": True}
    write_json(os.path.join(dest, "config.json"), config)


def export_cnn(dest):
    torch.manual_seed(0)
    labels = ["cat", "dog", "bird", "fish"]
    model = TinyCnn(len(labels)).eval()
    os.makedirs(dest, exist_ok=True)
    torch.onnx.export(model, (torch.randn(1, 3, 32, 32),), os.path.join(dest, "model.onnx"), opset_version=14,
                      input_names=["pixel_values"], output_names=["logits"],
                      dynamic_axes={"pixel_values": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"},
                                    "logits": {0: "batch_size"}})
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(pixels)
    save_test_data(dest, (["pixel_values"], ["logits"]), {"pixel_values": pixels, "logits": logits})
    config = {"architectures": ["ConvNextForImageClassification"], "model_type": "convnext",
              "num_channels": 3, "image_size": 32, "num_labels": len(labels),
              "id2label": {str(i): l for i, l in enumerate(labels)},
              "label2id": {l: i for i, l in enumerate(labels)}, "torch_dtype": "float32"}
    write_json(os.path.join(dest, "config.json"), config)
    write_json(os.path.join(dest, "preprocessor_config.json"), {
        "image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 32, "width": 32},
        "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]})


def main():
    models = sys.argv[1]
    export_bert(os.path.join(models, "bert-tiny-like"))
    export_cnn(os.path.join(models, "cnn-tiny"))
    print("test-models: exported bert-tiny-like and cnn-tiny with torch", torch.__version__)


if __name__ == "__main__":
    main()
