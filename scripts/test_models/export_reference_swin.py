"""Swin reference cases for modelkit's exporter tests, imported by export_reference.py.

Plain torch written from the facts of transformers' modeling_swin (eager inference, dropout and drop
path off): patch embedding (the image zero-padded on the right/bottom to a multiple of the patch,
a strided Conv, LayerNorm with torch's default eps), optional absolute position embeddings, stages of
window-attention blocks (LayerNorm, zero-padding to a multiple of the window, a cyclic shift of half a
window on odd blocks with the -100 mask between the shifted regions, the relative position bias,
the shift and the padding undone, residual; then LayerNorm + MLP, residual), patch merging between
stages (odd sizes zero-padded, the 2x2 neighbours concatenated, LayerNorm, Linear without bias), a
final LayerNorm and the mean over tokens. When a stage's smaller side is no larger than the window,
the window is that side and there is no shift.
"""
import json
import math
import os

import torch

F = torch.nn.functional


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def relative_index(ws):
    """[ws*ws, ws*ws] rows of the (2ws-1)^2 bias table: (dy + ws - 1) * (2ws - 1) + dx + ws - 1."""
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :]
    dx = xs[:, None] - xs[None, :]
    return (dy + ws - 1) * (2 * ws - 1) + dx + ws - 1


def shift_mask(hp, wp, ws, shift):
    """[windows, ws*ws, ws*ws]: -100 between positions of different shifted regions, else 0."""
    region = torch.zeros(hp, wp)
    bounds = lambda n: [(0, n - ws), (n - ws, n - shift), (n - shift, n)]
    label = 0
    for y0, y1 in bounds(hp):
        for x0, x1 in bounds(wp):
            region[y0:y1, x0:x1] = label
            label += 1
    win = region.view(hp // ws, ws, wp // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
    diff = win[:, None, :] - win[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


def make_case(root, name, case, gen, write_safetensors, write_array):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    p = case["prefix"]
    embed, depths, heads, ws, patch = case["embed_dim"], case["depths"], case["num_heads"], case["window"], case["patch"]
    ratio, eps, qkv_bias, absolute = case.get("mlp_ratio", 4.0), case.get("eps", 1e-5), case.get("qkv_bias", True), \
        case.get("absolute", False)
    cfg = {"model_type": "swin", "architectures": [case["cls"]], "image_size": case["image_size"], "patch_size": patch,
           "num_channels": 3, "embed_dim": embed, "depths": depths, "num_heads": heads, "window_size": ws,
           "mlp_ratio": ratio, "qkv_bias": qkv_bias, "hidden_act": "gelu", "use_absolute_embeddings": absolute,
           "layer_norm_eps": eps, "initializer_range": 0.02, "drop_path_rate": 0.1,
           "hidden_size": embed * 2 ** (len(depths) - 1)}
    if case.get("labels"):
        cfg["id2label"] = {str(i): "class%d" % i for i in range(case["labels"])}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if case.get("processor"):
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(case["processor"], f, indent=1)

    w = {}

    def lin(name, out_f, in_f, bias=True):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) * 0.2
        if bias:
            w[name + ".bias"] = torch.randn(out_f, generator=gen) * 0.1

    def norm(name, size):
        w[name + ".weight"] = 1.0 + torch.randn(size, generator=gen) * 0.1
        w[name + ".bias"] = torch.randn(size, generator=gen) * 0.1

    grid = case["image_size"] // patch
    w[p + "embeddings.patch_embeddings.projection.weight"] = torch.randn(embed, 3, patch, patch, generator=gen) * 0.2
    w[p + "embeddings.patch_embeddings.projection.bias"] = torch.randn(embed, generator=gen) * 0.1
    norm(p + "embeddings.norm", embed)
    if absolute:
        # The table as the original Swin stores it, one row per patch (transformers' own [1, N + 1, C]
        # table cannot be added to its N patches; the exporter refuses that shape).
        w[p + "embeddings.position_embeddings"] = torch.randn(1, grid * grid, embed, generator=gen) * 0.5
    for s, depth in enumerate(depths):
        dim = embed * 2 ** s
        st = p + "encoder.layers.%d." % s
        for j in range(depth):
            b = st + "blocks.%d." % j
            norm(b + "layernorm_before", dim)
            w[b + "attention.self.relative_position_bias_table"] = \
                torch.randn((2 * ws - 1) ** 2, heads[s], generator=gen) * 0.5
            # A persistent buffer in transformers' state dict: present in real checkpoints, not read.
            w[b + "attention.self.relative_position_index"] = relative_index(ws).to(torch.int64)
            for n in ("query", "key", "value"):
                lin(b + "attention.self." + n, dim, dim, qkv_bias)
            lin(b + "attention.output.dense", dim, dim)
            norm(b + "layernorm_after", dim)
            lin(b + "intermediate.dense", int(ratio * dim), dim)
            lin(b + "output.dense", dim, int(ratio * dim))
        if s < len(depths) - 1:
            norm(st + "downsample.norm", 4 * dim)
            lin(st + "downsample.reduction", 2 * dim, 4 * dim, bias=False)
    last = embed * 2 ** (len(depths) - 1)
    norm(p + "layernorm", last)
    if case.get("labels"):
        lin("classifier", case["labels"], last)
    write_safetensors(os.path.join(folder, "model.safetensors"), w)

    def linear(name, x):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    def layer_norm(name, x, e):
        return F.layer_norm(x, (x.shape[-1],), w[name + ".weight"], w[name + ".bias"], e)

    def block(x, h, wd, s, j):
        dim, nh = embed * 2 ** s, heads[s]
        b = p + "encoder.layers.%d.blocks.%d." % (s, j)
        win, shift = ws, (0 if j % 2 == 0 else ws // 2)
        if min(h, wd) <= win:
            win, shift = min(h, wd), 0
        assert win == ws, "transformers' bias table is window_size x window_size"
        batch = x.shape[0]
        y = layer_norm(b + "layernorm_before", x, eps).view(batch, h, wd, dim)
        pad_r, pad_b = (win - wd % win) % win, (win - h % win) % win
        y = F.pad(y, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, wd + pad_r
        if shift:
            y = torch.roll(y, shifts=(-shift, -shift), dims=(1, 2))
        nwin = (hp // win) * (wp // win)
        t = y.view(batch, hp // win, win, wp // win, win, dim).permute(0, 1, 3, 2, 4, 5).reshape(-1, win * win, dim)
        hd = dim // nh

        def split(z):
            return z.view(z.shape[0], z.shape[1], nh, hd).permute(0, 2, 1, 3)

        q = split(linear(b + "attention.self.query", t))
        k = split(linear(b + "attention.self.key", t))
        v = split(linear(b + "attention.self.value", t))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        table = w[b + "attention.self.relative_position_bias_table"]
        bias = table[relative_index(win).view(-1)].view(win * win, win * win, nh).permute(2, 0, 1)
        scores = scores + bias[None]
        if shift:
            n = win * win
            scores = (scores.view(batch, nwin, nh, n, n) + shift_mask(hp, wp, win, shift)[None, :, None]).view(-1, nh, n, n)
        ctx = (scores.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(t.shape[0], win * win, dim)
        a = linear(b + "attention.output.dense", ctx)
        a = a.view(batch, hp // win, wp // win, win, win, dim).permute(0, 1, 3, 2, 4, 5).reshape(batch, hp, wp, dim)
        if shift:
            a = torch.roll(a, shifts=(shift, shift), dims=(1, 2))
        a = a[:, :h, :wd, :].reshape(batch, h * wd, dim)
        x = x + a
        m = gelu(linear(b + "intermediate.dense", layer_norm(b + "layernorm_after", x, eps)))
        return x + linear(b + "output.dense", m)

    def merge(x, h, wd, s):
        dim = embed * 2 ** s
        st = p + "encoder.layers.%d.downsample." % s
        y = F.pad(x.view(x.shape[0], h, wd, dim), (0, 0, 0, wd % 2, 0, h % 2))
        y = torch.cat([y[:, 0::2, 0::2], y[:, 1::2, 0::2], y[:, 0::2, 1::2], y[:, 1::2, 1::2]], -1)
        y = y.reshape(x.shape[0], -1, 4 * dim)
        return linear(st + "reduction", layer_norm(st + "norm", y, 1e-5))

    def forward(pixels):
        height, width = pixels.shape[2:]
        x = F.pad(pixels, (0, (patch - width % patch) % patch, 0, (patch - height % patch) % patch))
        x = F.conv2d(x, w[p + "embeddings.patch_embeddings.projection.weight"],
                     w[p + "embeddings.patch_embeddings.projection.bias"], stride=patch)
        h, wd = x.shape[2:]
        x = layer_norm(p + "embeddings.norm", x.flatten(2).transpose(1, 2), 1e-5)
        if absolute:
            x = x + w[p + "embeddings.position_embeddings"]
        for s, depth in enumerate(depths):
            for j in range(depth):
                x = block(x, h, wd, s, j)
            if s < len(depths) - 1:
                x = merge(x, h, wd, s)
                h, wd = (h + 1) // 2, (wd + 1) // 2
        x = layer_norm(p + "layernorm", x, eps)
        pooled = x.mean(1)
        if case.get("labels"):
            return {"logits": linear("classifier", pooled)}
        return {"last_hidden_state": x, "pooler_output": pooled}

    height, width = case.get("export_size", (case["image_size"], case["image_size"]))
    outputs = None
    for bname, batch in (("b2", 2), ("b3", 3)):
        pixels = torch.randn(batch, 3, height, width, generator=gen)
        outs = forward(pixels)
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().numpy())
    return "%s %s %s" % (name, "pixel_values", ",".join(outputs))


CASES = {
    # 8x8 patches, window 4: stage 0 has 4 windows and a shifted block; stage 1 (4x4) is one window, unshifted.
    "swin-base": dict(cls="SwinModel", prefix="", image_size=32, patch=4, embed_dim=16, depths=[2, 2],
                      num_heads=[2, 4], window=4),
    # 34x28 (the processor's size): the image is padded to 36x28 (a 9x7 grid), stage 0 pads 9x7 to 12x8 for
    # its windows, patch merging pads 9 to 10 (5x4), stage 1's window is its smaller side (4, no shift) and
    # pads 5 rows to 8.
    "swin-imgcls-pad": dict(cls="SwinForImageClassification", prefix="swin.", image_size=34, patch=4, embed_dim=8,
                            depths=[2, 2], num_heads=[2, 2], window=4, labels=5, export_size=(34, 28),
                            processor={"image_processor_type": "ViTImageProcessor", "do_resize": True,
                                       "size": {"height": 34, "width": 28}}),
    # Absolute position embeddings, no qkv bias, three stages (16x16, 8x8, 4x4 = the window), mlp_ratio 2.
    "swin-abs": dict(cls="SwinForImageClassification", prefix="swin.", image_size=32, patch=2, embed_dim=8,
                     depths=[2, 2, 2], num_heads=[1, 2, 4], window=4, labels=3, absolute=True, qkv_bias=False,
                     mlp_ratio=2.0, eps=1e-6),
}


def make_cases(root, write_safetensors, write_array):
    """The Swin cases (seeds 12000 + i); returns their vision_cases.txt lines."""
    lines = []
    for i, (name, case) in enumerate(sorted(CASES.items())):
        gen = torch.Generator().manual_seed(12000 + i)
        lines.append(make_case(root, name, case, gen, write_safetensors, write_array))
    return lines
