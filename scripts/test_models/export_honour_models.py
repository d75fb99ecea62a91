"""Exports the small models of issue 10's tests with Debian's python3-torch: ONNX files that are
not Hugging Face exports, shaped like the real models users bring.

kv-gpt-tiny/model.onnx     a GPT-2-like decoder with a KV cache in ONNX Runtime GenAI's layout:
                           input_ids [batch_size, sequence_length], attention_mask [batch_size,
                           total_sequence_length], position_ids, past_key_values.N.{key,value}
                           [batch_size, heads, past_sequence_length, head_size] in, logits and
                           present.N.{key,value} [.., total_sequence_length, ..] out.
blazeface-like/model.onnx  a face-detector-shaped CNN with one NHWC input 'input:0' [1, 128, 128, 3]
                           (as MediaPipe's BlazeFace) and box/score outputs.
ppocr-det-like/model.onnx  a text-detection-shaped CNN with one NCHW input 'x' whose batch and
                           spatial dims are dynamic (as PP-OCR det), a sigmoid map out.
opset9/model.onnx          a CNN with BatchNorm and nearest Upsample exported at opset 9.
opset9-unknown-op/model.onnx  an opset-9 graph with an operator ONNX does not have ('MadeUpOp'),
                           which the opset upgrade must refuse naming it.

The CNNs are trained for a few steps on smooth synthetic images so their activations are not
those of random weights (a random-weight CNN's output is dominated by its biases, whatever the
input, which would make calibration data irrelevant).

Usage: /usr/bin/python3 export_honour_models.py MODELS_DIR [NAME...]
"""
import math
import os
import sys

import torch
from torch import nn

torch.manual_seed(0)


# ------------------------------------------------------------------ KV-cache decoder

class KvBlock(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.head_size = heads, hidden // heads
        self.ln1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.ln2 = nn.LayerNorm(hidden)
        self.fc = nn.Linear(hidden, 4 * hidden)
        self.out = nn.Linear(4 * hidden, hidden)

    def forward(self, x, past_k, past_v, mask_bias):
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(h, dim=-1)
        split = lambda t: t.view(b, s, self.heads, self.head_size).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + mask_bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, h)
        x = x + self.proj(ctx)
        x = x + self.out(nn.functional.gelu(self.fc(self.ln2(x))))
        return x, k, v


class KvGpt(nn.Module):
    def __init__(self, vocab=500, hidden=32, heads=2, layers=2, positions=512):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(positions, hidden)
        self.blocks = nn.ModuleList([KvBlock(hidden, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, input_ids, attention_mask, position_ids, *past):
        x = self.wte(input_ids) + self.wpe(position_ids)
        s = input_ids.shape[1]
        total = attention_mask.shape[1]
        # Causal over the new tokens, everything in the past visible, masked positions hidden.
        causal = torch.ones(s, total, dtype=torch.bool).tril(total - s)
        keep = causal[None, None] & attention_mask[:, None, None, :].bool()
        mask_bias = (~keep).float() * -1e4
        presents = []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, past[2 * i], past[2 * i + 1], mask_bias)
            presents += [k, v]
        return (self.head(self.ln(x)), *presents)


def export_kv(dest):
    model = KvGpt().eval()
    layers, heads, head_size = 2, 2, 16
    b, s, p = 1, 5, 3
    past = []
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(layers):
        for kv in ("key", "value"):
            past.append(torch.zeros(b, heads, p, head_size))
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            axes[names_in[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[names_out[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    ids = torch.randint(0, 500, (b, s))
    mask = torch.ones(b, p + s, dtype=torch.int64)
    pos = torch.arange(p, p + s)[None]
    os.makedirs(dest, exist_ok=True)
    torch.onnx.export(model, (ids, mask, pos, *past), os.path.join(dest, "model.onnx"), input_names=names_in,
                      output_names=names_out, dynamic_axes=axes, opset_version=14)


# ------------------------------------------------------------------ image CNNs

def synthetic_images(n, size):
    """Smooth gradients with a bright disc: enough structure to train a few steps on."""
    g = torch.Generator().manual_seed(1)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    out = []
    for _ in range(n):
        a, bb, c = torch.rand(3, generator=g)
        cx, cy, r = torch.rand(3, generator=g) * torch.tensor([0.6, 0.6, 0.2]) + torch.tensor([0.2, 0.2, 0.1])
        disc = (((xs - cx) ** 2 + (ys - cy) ** 2) < r * r).float()
        img = torch.stack([a * xs + (1 - a) * disc, bb * ys + (1 - bb) * disc, c * (1 - xs) * ys + disc * 0.5])
        out.append(img.clamp(0, 1))
    return torch.stack(out), None


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU())


class FaceLike(nn.Module):
    """NHWC in, like BlazeFace: boxes [1, 64, 4] and scores [1, 64, 1]."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, 24, 2), conv_bn(24, 32, 2), conv_bn(32, 32, 2))
        self.boxes = nn.Conv2d(32, 4, 1)
        self.scores = nn.Conv2d(32, 1, 1)

    def forward(self, x):  # x: [N, H, W, 3], values in [-1, 1]
        f = self.body(x.permute(0, 3, 1, 2))
        boxes = self.boxes(f).flatten(2).transpose(1, 2)
        scores = self.scores(f).flatten(2).transpose(1, 2)
        return boxes, scores


class DetLike(nn.Module):
    """NCHW in, like PP-OCR det: a probability map at the input's size."""

    def __init__(self):
        super().__init__()
        self.down = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, 32, 2))
        self.up = nn.Sequential(nn.Upsample(scale_factor=4, mode="nearest"), nn.Conv2d(32, 1, 3, 1, 1))

    def forward(self, x):
        return torch.sigmoid(self.up(self.down(x)))


def train_a_little(model, images, target_fn, steps=30):
    """A few steps so BatchNorm statistics and weights follow image-like inputs."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        out = model(images)
        loss = target_fn(out)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def export_blazeface(dest):
    model = FaceLike()
    imgs, _ = synthetic_images(16, 128)
    x = (imgs * 2 - 1).permute(0, 2, 3, 1)  # [-1, 1], NHWC as BlazeFace takes it
    target = imgs.mean(1, keepdim=True)
    train_a_little(model, x, lambda o: (o[1].mean() - 0.5) ** 2 + o[0].pow(2).mean() * 0.01
                   + (o[1].squeeze(-1) - nn.functional.avg_pool2d(target, 16).flatten(1)).pow(2).mean())
    os.makedirs(dest, exist_ok=True)
    torch.onnx.export(model, (x[:1],), os.path.join(dest, "model.onnx"), input_names=["input:0"],
                      output_names=["regressors", "classificators"], opset_version=13)


def export_ppocr_det(dest, opset=11, name="model.onnx", input_name="x"):
    model = DetLike()
    imgs, _ = synthetic_images(16, 96)
    mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
    x = (imgs - mean) / std
    target = (imgs.mean(1, keepdim=True) > 0.6).float()
    train_a_little(model, x, lambda o: nn.functional.binary_cross_entropy(o, target))
    os.makedirs(dest, exist_ok=True)
    dyn = {input_name: {0: "p2o.DynamicDimension.0", 2: "p2o.DynamicDimension.1", 3: "p2o.DynamicDimension.2"}}
    torch.onnx.export(model, (x[:1],), os.path.join(dest, name), input_names=[input_name],
                      output_names=["sigmoid_0.tmp_0"], dynamic_axes=dyn, opset_version=opset)


def export_unknown_op(dest):
    import onnx
    from onnx import TensorProto, helper
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    odd = helper.make_node("MadeUpOp", ["y"], ["z"], name="odd_node")
    graph = helper.make_graph([relu, odd], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 4
    os.makedirs(dest, exist_ok=True)
    onnx.save(model, os.path.join(dest, "model.onnx"))


EXPORTS = {
    "kv-gpt-tiny": export_kv,
    "blazeface-like": export_blazeface,
    "ppocr-det-like": export_ppocr_det,
    "opset9": lambda d: export_ppocr_det(d, opset=9),
    "opset9-unknown-op": export_unknown_op,
}


def main():
    root = sys.argv[1]
    names = sys.argv[2:] or list(EXPORTS)
    for name in names:
        EXPORTS[name](os.path.join(root, name))
        print(f"exported {name}")


if __name__ == "__main__":
    main()
