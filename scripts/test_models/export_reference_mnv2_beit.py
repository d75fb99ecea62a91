"""MobileNetV2 and BEiT reference checkpoints for the vision exporter tests: tiny random-weight
checkpoints with transformers' parameter names and the outputs of plain torch modules written from
transformers' modeling_mobilenet_v2.py and modeling_beit.py (eager inference, BatchNorm with running
statistics, no dropout). Imported by export_reference.py (make_vision_cases); seeds 10000+i
(MobileNetV2) and 11000+i (BEiT)."""
import json
import math
import os

import torch

F = torch.nn.functional


def _write_case(root, name, cfg, w, forward, gen, size, write_safetensors, write_array, processor=None):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if processor:
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(processor, f, indent=1)
    write_safetensors(os.path.join(folder, "model.safetensors"), w)
    height, width = size
    outputs = None
    for bname, batch in (("b1", 1), ("b3", 3)):
        pixels = torch.randn(batch, cfg.get("num_channels", 3), height, width, generator=gen)
        outs = forward(pixels)
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, "pixel_values", ",".join(outputs))


def _labels(cfg, n):
    if n:
        cfg["id2label"] = {str(i): "class%d" % i for i in range(n)}
        cfg["label2id"] = {"class%d" % i: i for i in range(n)}


# --- MobileNetV2 --------------------------------------------------------------------------------

def _make_divisible(value, divisor, min_value):
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def mobilenet_v2_case(root, name, case, gen, write_safetensors, write_array):
    cfg = {"model_type": "mobilenet_v2", "architectures": [case["cls"]], "num_channels": 3,
           "image_size": case.get("image_size", 32), "depth_multiplier": case.get("depth_multiplier", 1.0),
           "depth_divisible_by": 8, "min_depth": 8, "expand_ratio": case.get("expand_ratio", 6),
           "output_stride": case.get("output_stride", 32),
           "first_layer_is_expansion": case.get("first_layer_is_expansion", True),
           "finegrained_output": case.get("finegrained_output", True), "hidden_act": "relu6",
           "tf_padding": case.get("tf_padding", True), "classifier_dropout_prob": 0.2, "layer_norm_eps": 0.001}
    _labels(cfg, case.get("labels"))
    dm, p, eps, tf = cfg["depth_multiplier"], case["prefix"], cfg["layer_norm_eps"], cfg["tf_padding"]

    def depth(c):
        return _make_divisible(int(round(c * dm)), 8, 8)

    w, plan = {}, []

    def conv_bn(base, out_c, in_c, k, stride=1, groups=1, dilation=1, act=True, gain=1.0):
        w[base + ".convolution.weight"] = (torch.randn(out_c, in_c // groups, k, k, generator=gen)
                                           * (gain / (in_c // groups * k * k)) ** 0.5)
        w[base + ".normalization.weight"] = 1.0 + torch.randn(out_c, generator=gen) * 0.2
        w[base + ".normalization.bias"] = torch.randn(out_c, generator=gen) * 0.1
        w[base + ".normalization.running_mean"] = torch.randn(out_c, generator=gen) * 0.1
        w[base + ".normalization.running_var"] = 0.5 + torch.rand(out_c, generator=gen)
        w[base + ".normalization.num_batches_tracked"] = torch.tensor(3)
        return (base, k, stride, groups, dilation, act)

    def run(layer, x):
        base, k, stride, groups, dilation, act = layer
        if tf:  # TensorFlow SAME padding from the input size
            ph = max(k - (stride if x.shape[-2] % stride == 0 else x.shape[-2] % stride), 0)
            pw = max(k - (stride if x.shape[-1] % stride == 0 else x.shape[-1] % stride), 0)
            x = F.pad(x, (pw // 2 * dilation, (pw - pw // 2) * dilation, ph // 2 * dilation, (ph - ph // 2) * dilation))
            pad = 0
        else:
            pad = (k - 1) // 2 * dilation
        y = F.conv2d(x, w[base + ".convolution.weight"], None, stride, pad, dilation, groups)
        y = F.batch_norm(y, w[base + ".normalization.running_mean"], w[base + ".normalization.running_var"],
                         w[base + ".normalization.weight"], w[base + ".normalization.bias"], False, 0.0, eps)
        return F.relu6(y) if act else y

    channels = [depth(c) for c in [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]]
    strides = [2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]
    stem = depth(32)
    # The stem's output is large enough that ReLU6 clips a good part of it at 6; the layers after it
    # keep unit gain, so float32 rounding is not amplified past the test's bound.
    stem_layers = [conv_bn(p + "conv_stem.first_conv", stem, 3, 3, stride=2, gain=40.0)]
    if not cfg["first_layer_is_expansion"]:
        stem_layers.append(conv_bn(p + "conv_stem.expand_1x1", stem, stem, 1))
    stem_layers.append(conv_bn(p + "conv_stem.conv_3x3", stem, stem, 3, groups=stem))
    stem_layers.append(conv_bn(p + "conv_stem.reduce_1x1", channels[0], stem, 1, act=False))
    current, dilation = 2, 1
    for i in range(16):
        if current == cfg["output_stride"]:
            stride, layer_dilation = 1, dilation
            dilation *= strides[i]
        else:
            stride, layer_dilation = strides[i], 1
            current *= stride
        cin, cout = channels[i], channels[i + 1]
        expanded = _make_divisible(int(round(cin * cfg["expand_ratio"])), 8, 8)
        b = p + "layer.%d." % i
        plan.append(([conv_bn(b + "expand_1x1", expanded, cin, 1),
                      conv_bn(b + "conv_3x3", expanded, expanded, 3, stride, expanded, layer_dilation),
                      conv_bn(b + "reduce_1x1", cout, expanded, 1, act=False)], stride == 1 and cin == cout))
    last = 1280 if cfg["finegrained_output"] and dm < 1.0 else depth(1280)
    head = conv_bn(p + "conv_1x1", last, channels[-1], 1)
    if case.get("labels"):
        w["classifier.weight"] = torch.randn(case["labels"], last, generator=gen) * (1.0 / last) ** 0.5
        w["classifier.bias"] = torch.randn(case["labels"], generator=gen) * 0.1

    def forward(pixels):
        # float64: the reference is then the exact arithmetic (17 layers of BatchNorm folded or not
        # differ by float32 rounding alone), and the test's bound is the export's own error.
        for k in list(w):
            w[k] = w[k].double() if w[k].is_floating_point() else w[k]
        x = pixels.double()
        for layer in stem_layers:
            x = run(layer, x)
        for layers, residual in plan:
            y = x
            for layer in layers:
                y = run(layer, y)
            x = x + y if residual else y
        x = run(head, x)
        pooled = x.mean([-2, -1])
        if case.get("labels"):
            return {"logits": pooled @ w["classifier.weight"].T + w["classifier.bias"]}
        return {"last_hidden_state": x, "pooler_output": pooled}

    size = case.get("export_size", (cfg["image_size"], cfg["image_size"]))
    return _write_case(root, name, cfg, w, forward, gen, size, write_safetensors, write_array, case.get("processor"))


MOBILENET_V2_CASES = {
    # depth_multiplier 0.35 (rounding steps up where rounding lost > 10%), TF padding at an odd size
    # (asymmetric pads), finegrained_output keeps 1280 channels.
    "mobilenet_v2-base": dict(cls="MobileNetV2Model", prefix="", depth_multiplier=0.35, expand_ratio=3,
                              image_size=35),
    # torch padding, a separate stem expansion, output_stride 8 (dilated depthwise layers), 1280 scaled.
    "mobilenet_v2-imgcls": dict(cls="MobileNetV2ForImageClassification", prefix="mobilenet_v2.",
                                depth_multiplier=0.5, expand_ratio=2, tf_padding=False, first_layer_is_expansion=False,
                                finegrained_output=False, output_stride=8, labels=5),
    # depth_multiplier 1, TF padding with dilation (output_stride 16).
    "mobilenet_v2-stride16": dict(cls="MobileNetV2ForImageClassification", prefix="mobilenet_v2.", expand_ratio=1.5,
                                  output_stride=16, labels=3, image_size=30),
}


# --- BEiT ----------------------------------------------------------------------------------------

B_HIDDEN, B_LAYERS, B_HEADS, B_INTER, B_PATCH = 32, 2, 4, 37, 8


def beit_relative_index(gh, gw):
    """[1 + gh*gw, 1 + gh*gw] rows of the relative position table: patch pairs by their offset, then the
    class token's row, column and self (the table's last three rows)."""
    n = (2 * gh - 1) * (2 * gw - 1) + 3
    ys, xs = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + gh - 1
    dx = xs[:, None] - xs[None, :] + gw - 1
    index = torch.zeros(gh * gw + 1, gh * gw + 1, dtype=torch.long)
    index[1:, 1:] = dy * (2 * gw - 1) + dx
    index[0, :] = n - 3
    index[:, 0] = n - 2
    index[0, 0] = n - 1
    return index


def beit_case(root, name, case, gen, write_safetensors, write_array):
    H, heads, image = B_HIDDEN, B_HEADS, case.get("image_size", 32)
    cfg = {"model_type": "beit", "architectures": [case["cls"]], "hidden_size": H, "num_hidden_layers": B_LAYERS,
           "num_attention_heads": heads, "intermediate_size": B_INTER, "hidden_act": case.get("act", "gelu"),
           "image_size": image, "patch_size": B_PATCH, "num_channels": 3, "layer_norm_eps": 1e-12,
           "use_mask_token": False,
           "use_absolute_position_embeddings": case.get("abs_pos", False),
           "use_relative_position_bias": case.get("rel_bias", False),
           "use_shared_relative_position_bias": case.get("shared_bias", False),
           "layer_scale_init_value": case.get("layer_scale", 0.1),
           "use_mean_pooling": case.get("mean_pooling", True), "vocab_size": 64}
    _labels(cfg, case.get("labels"))
    p = case["prefix"]
    g = image // B_PATCH
    T = g * g + 1
    w = {}

    def rnd(*shape, scale):
        return torch.randn(*shape, generator=gen) * scale

    def lin(nm, o, i, bias=True):
        w[nm + ".weight"] = rnd(o, i, scale=0.2)
        if bias:
            w[nm + ".bias"] = rnd(o, scale=0.1)

    def ln(nm):
        w[nm + ".weight"] = 1.0 + rnd(H, scale=0.1)
        w[nm + ".bias"] = rnd(H, scale=0.1)

    def table(nm):
        w[nm] = rnd((2 * g - 1) * (2 * g - 1) + 3, heads, scale=0.5)

    w[p + "embeddings.cls_token"] = rnd(1, 1, H, scale=0.5)
    w[p + "embeddings.patch_embeddings.projection.weight"] = rnd(H, 3, B_PATCH, B_PATCH, scale=0.1)
    w[p + "embeddings.patch_embeddings.projection.bias"] = rnd(H, scale=0.1)
    if cfg["use_absolute_position_embeddings"]:
        w[p + "embeddings.position_embeddings"] = rnd(1, T, H, scale=0.5)
    if cfg["use_shared_relative_position_bias"]:
        table(p + "encoder.relative_position_bias.relative_position_bias_table")
    for i in range(B_LAYERS):
        lp = p + "encoder.layer.%d." % i
        ln(lp + "layernorm_before")
        lin(lp + "attention.attention.query", H, H)
        lin(lp + "attention.attention.key", H, H, bias=False)
        lin(lp + "attention.attention.value", H, H)
        if cfg["use_relative_position_bias"]:
            table(lp + "attention.attention.relative_position_bias.relative_position_bias_table")
        lin(lp + "attention.output.dense", H, H)
        ln(lp + "layernorm_after")
        lin(lp + "intermediate.dense", B_INTER, H)
        lin(lp + "output.dense", H, B_INTER)
        if cfg["layer_scale_init_value"] > 0:
            w[lp + "lambda_1"] = rnd(H, scale=0.3) + 0.5
            w[lp + "lambda_2"] = rnd(H, scale=0.3) + 0.5
    if cfg["use_mean_pooling"]:
        ln(p + "pooler.layernorm")
    else:
        ln(p + "layernorm")
    if case.get("labels"):
        lin("classifier", case["labels"], H)
    index = beit_relative_index(g, g)
    act = {"gelu": lambda x: F.gelu(x), "relu": torch.relu}[cfg["hidden_act"]]

    def linear(nm, x):
        y = x @ w[nm + ".weight"].T
        return y + w[nm + ".bias"] if nm + ".bias" in w else y

    def norm(nm, x):
        return F.layer_norm(x, (H,), w[nm + ".weight"], w[nm + ".bias"], cfg["layer_norm_eps"])

    def bias_of(nm):  # [heads, T, T]
        return w[nm][index.flatten()].view(T, T, heads).permute(2, 0, 1)

    def forward(pixels):
        B = pixels.shape[0]
        x = F.conv2d(pixels, w[p + "embeddings.patch_embeddings.projection.weight"],
                     w[p + "embeddings.patch_embeddings.projection.bias"], stride=B_PATCH)
        x = x.flatten(2).transpose(1, 2)
        cls = w[p + "embeddings.cls_token"].expand(B, -1, -1)
        if cfg["use_absolute_position_embeddings"]:
            pos = w[p + "embeddings.position_embeddings"]
            x = x + pos[:, 1:]
            cls = cls + pos[:, :1]
        x = torch.cat([cls, x], dim=1)
        d = H // heads
        for i in range(B_LAYERS):
            lp = p + "encoder.layer.%d." % i
            h = norm(lp + "layernorm_before", x)

            def split(t):
                return t.view(B, T, heads, d).transpose(1, 2)

            q = split(linear(lp + "attention.attention.query", h))
            k = split(linear(lp + "attention.attention.key", h))
            v = split(linear(lp + "attention.attention.value", h))
            s = q @ k.transpose(-1, -2) / math.sqrt(d)
            if cfg["use_relative_position_bias"]:
                s = s + bias_of(lp + "attention.attention.relative_position_bias.relative_position_bias_table")[None]
            if cfg["use_shared_relative_position_bias"]:
                s = s + bias_of(p + "encoder.relative_position_bias.relative_position_bias_table")[None]
            a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H)
            a = linear(lp + "attention.output.dense", a)
            if cfg["layer_scale_init_value"] > 0:
                a = w[lp + "lambda_1"] * a
            x = x + a
            m = linear(lp + "output.dense", act(linear(lp + "intermediate.dense", norm(lp + "layernorm_after", x))))
            if cfg["layer_scale_init_value"] > 0:
                m = w[lp + "lambda_2"] * m
            x = x + m
        if cfg["use_mean_pooling"]:
            pooled = norm(p + "pooler.layernorm", x[:, 1:].mean(1))
        else:
            x = norm(p + "layernorm", x)
            pooled = x[:, 0]
        if case.get("labels"):
            return {"logits": linear("classifier", pooled)}
        return {"last_hidden_state": x, "pooler_output": pooled}

    return _write_case(root, name, cfg, w, forward, gen, (image, image), write_safetensors, write_array,
                       case.get("processor"))


BEIT_CASES = {
    # BEiT's fine-tuned classifiers: per-layer relative position bias, layer scale, mean pooling.
    "beit-imgcls": dict(cls="BeitForImageClassification", prefix="beit.", rel_bias=True, labels=4,
                        processor={"image_processor_type": "BeitImageProcessor", "do_resize": True,
                                   "size": {"height": 32, "width": 32}, "do_center_crop": False,
                                   "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}),
    # Pre-training style: absolute positions and one shared bias, class-token pooling, no layer scale.
    "beit-base": dict(cls="BeitModel", prefix="", abs_pos=True, shared_bias=True, layer_scale=0.0,
                      mean_pooling=False),
    # Both biases at once, absolute positions, mean pooling, a 40x40 image (5x5 patches).
    "beit-both-bias": dict(cls="BeitModel", prefix="", abs_pos=True, rel_bias=True, shared_bias=True,
                           image_size=40),
}


def make_cases(root, write_safetensors, write_array):
    """The MobileNetV2 and BEiT cases; returns their vision_cases.txt lines."""
    lines = []
    for i, (name, case) in enumerate(sorted(MOBILENET_V2_CASES.items())):
        gen = torch.Generator().manual_seed(10000 + i)
        lines.append(mobilenet_v2_case(root, name, case, gen, write_safetensors, write_array))
    for i, (name, case) in enumerate(sorted(BEIT_CASES.items())):
        gen = torch.Generator().manual_seed(11000 + i)
        lines.append(beit_case(root, name, case, gen, write_safetensors, write_array))
    return lines
