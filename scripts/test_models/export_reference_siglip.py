"""SigLIP cases for export_reference.py (vision section): tiny random-weight checkpoints with
transformers' parameter names and the outputs of plain torch written from transformers'
modeling_siglip.py (eager inference; read at commit 1c51a62 of the 4.4x series, defaults from the
5.x configuration_siglip.py):

- vision tower: strided-conv patch embedding with bias, learned position embedding (one row per
  patch, no class token), pre-norm layers (gelu_pytorch_tanh by default), post_layernorm ->
  last_hidden_state; pooler_output from the attention-pooling head: a learned probe attends over
  last_hidden_state through torch.nn.MultiheadAttention (used here as transformers uses it), then
  residual + mlp(layernorm(.)), the probe's row.
- text tower: token + position embeddings, the same layers without any mask (SigLIP's text tower is
  not causal and optimum exports no attention_mask), final_layer_norm -> last_hidden_state;
  pooler_output = head(last position).
- SiglipModel: both poolers L2-normalised; logits_per_text = text @ image^T * exp(logit_scale) +
  logit_bias, logits_per_image its transpose.
- SiglipForImageClassification: classifier on the mean of last_hidden_state over the patches.

make_siglip_cases(root) writes the case folders and returns their vision_cases.txt lines.
"""
import json
import os

import torch

S_HIDDEN, S_LAYERS, S_HEADS, S_INTER, S_PATCH, S_IMAGE = 32, 2, 4, 37, 8, 32
S_VOCAB, S_MAX_POS = 50, 12
F = torch.nn.functional


def tower_config(kind, case):
    cfg = {"hidden_size": S_HIDDEN, "num_hidden_layers": S_LAYERS, "num_attention_heads": S_HEADS,
           "intermediate_size": S_INTER}
    if "act" in case:  # else transformers' default, gelu_pytorch_tanh
        cfg["hidden_act"] = case["act"]
    if "eps" in case:  # else 1e-6
        cfg["layer_norm_eps"] = case["eps"]
    if kind == "vision":
        cfg.update(model_type="siglip_vision_model", image_size=S_IMAGE, patch_size=S_PATCH, num_channels=3)
        if "use_head" in case:
            cfg["vision_use_head"] = case["use_head"]
    else:
        cfg.update(model_type="siglip_text_model", vocab_size=S_VOCAB, max_position_embeddings=S_MAX_POS)
        if "projection_size" in case:
            cfg["projection_size"] = case["projection_size"]
    return cfg


def activation(name):
    """transformers' ACT2FN entry: gelu_pytorch_tanh is torch's tanh-approximated gelu."""
    from export_reference import ACTS
    if name == "gelu_pytorch_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    return ACTS[name]


def defaults(cfg):
    return cfg.get("hidden_act", "gelu_pytorch_tanh"), cfg.get("layer_norm_eps", 1e-6)


def encoder_weights(gen, w, p, cfg):
    H, inter = cfg["hidden_size"], cfg["intermediate_size"]

    def lin(name, o, i):
        w[name + ".weight"] = torch.randn(o, i, generator=gen) * 0.2
        w[name + ".bias"] = torch.randn(o, generator=gen) * 0.1

    for i in range(cfg["num_hidden_layers"]):
        lp = p + "encoder.layers.%d." % i
        for n in ("layer_norm1", "layer_norm2"):
            w[lp + n + ".weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
            w[lp + n + ".bias"] = torch.randn(H, generator=gen) * 0.1
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            lin(lp + "self_attn." + n, H, H)
        lin(lp + "mlp.fc1", inter, H)
        lin(lp + "mlp.fc2", H, inter)


def ln(w, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), w[name + ".weight"], w[name + ".bias"], eps)


def lin(w, name, x):
    return F.linear(x, w[name + ".weight"], w[name + ".bias"])


def encoder(w, p, cfg, x):
    """SiglipEncoder with no attention mask: pre-norm self-attention and MLP, each with a residual."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    act_name, eps = defaults(cfg)
    act = activation(act_name)
    B, T, _ = x.shape
    for i in range(cfg["num_hidden_layers"]):
        lp = p + "encoder.layers.%d." % i
        h = ln(w, lp + "layer_norm1", x, eps)
        q, k, v = (lin(w, lp + "self_attn." + n, h).view(B, T, nh, H // nh).transpose(1, 2)
                   for n in ("q_proj", "k_proj", "v_proj"))
        probs = torch.softmax(q @ k.transpose(2, 3) * (H // nh) ** -0.5, dim=-1)
        x = x + lin(w, lp + "self_attn.out_proj", (probs @ v).transpose(1, 2).reshape(B, T, H))
        x = x + lin(w, lp + "mlp.fc2", act(lin(w, lp + "mlp.fc1", ln(w, lp + "layer_norm2", x, eps))))
    return x


def vision_weights(gen, w, cfg, head):
    H, P, C = cfg["hidden_size"], cfg["patch_size"], cfg["num_channels"]
    p = "vision_model."
    patches = (cfg["image_size"] // P) ** 2
    w[p + "embeddings.patch_embedding.weight"] = torch.randn(H, C, P, P, generator=gen) * 0.1
    w[p + "embeddings.patch_embedding.bias"] = torch.randn(H, generator=gen) * 0.1
    w[p + "embeddings.position_embedding.weight"] = torch.randn(patches, H, generator=gen) * 0.5
    encoder_weights(gen, w, p, cfg)
    w[p + "post_layernorm.weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
    w[p + "post_layernorm.bias"] = torch.randn(H, generator=gen) * 0.1
    if head:
        hp = p + "head."
        w[hp + "probe"] = torch.randn(1, 1, H, generator=gen)
        w[hp + "attention.in_proj_weight"] = torch.randn(3 * H, H, generator=gen) * 0.2
        w[hp + "attention.in_proj_bias"] = torch.randn(3 * H, generator=gen) * 0.1
        w[hp + "attention.out_proj.weight"] = torch.randn(H, H, generator=gen) * 0.2
        w[hp + "attention.out_proj.bias"] = torch.randn(H, generator=gen) * 0.1
        w[hp + "layernorm.weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
        w[hp + "layernorm.bias"] = torch.randn(H, generator=gen) * 0.1
        for name, o, i in (("mlp.fc1", cfg["intermediate_size"], H), ("mlp.fc2", H, cfg["intermediate_size"])):
            w[hp + name + ".weight"] = torch.randn(o, i, generator=gen) * 0.2
            w[hp + name + ".bias"] = torch.randn(o, generator=gen) * 0.1


def vision_forward(w, cfg, pixels, head):
    """SiglipVisionTransformer: (last_hidden_state, pooler_output or None)."""
    p, H = "vision_model.", cfg["hidden_size"]
    act_name, eps = defaults(cfg)
    x = F.conv2d(pixels, w[p + "embeddings.patch_embedding.weight"], w[p + "embeddings.patch_embedding.bias"],
                 stride=cfg["patch_size"])
    x = x.flatten(2).transpose(1, 2) + w[p + "embeddings.position_embedding.weight"].unsqueeze(0)
    x = ln(w, p + "post_layernorm", encoder(w, p, cfg, x), eps)
    if not head:
        return x, None
    hp = p + "head."
    mha = torch.nn.MultiheadAttention(H, cfg["num_attention_heads"], batch_first=True)
    mha.in_proj_weight.copy_(w[hp + "attention.in_proj_weight"])
    mha.in_proj_bias.copy_(w[hp + "attention.in_proj_bias"])
    mha.out_proj.weight.copy_(w[hp + "attention.out_proj.weight"])
    mha.out_proj.bias.copy_(w[hp + "attention.out_proj.bias"])
    mha.eval()
    probe = w[hp + "probe"].repeat(x.shape[0], 1, 1)
    h = mha(probe, x, x)[0]
    h = h + lin(w, hp + "mlp.fc2", activation(act_name)(lin(w, hp + "mlp.fc1", ln(w, hp + "layernorm", h, eps))))
    return x, h[:, 0]


def text_weights(gen, w, cfg):
    H, p = cfg["hidden_size"], "text_model."
    w[p + "embeddings.token_embedding.weight"] = torch.randn(cfg["vocab_size"], H, generator=gen) * 0.5
    w[p + "embeddings.position_embedding.weight"] = torch.randn(cfg["max_position_embeddings"], H, generator=gen) * 0.5
    encoder_weights(gen, w, p, cfg)
    w[p + "final_layer_norm.weight"] = 1.0 + torch.randn(H, generator=gen) * 0.1
    w[p + "final_layer_norm.bias"] = torch.randn(H, generator=gen) * 0.1
    out = cfg.get("projection_size", H)
    w[p + "head.weight"] = torch.randn(out, H, generator=gen) * 0.2
    w[p + "head.bias"] = torch.randn(out, generator=gen) * 0.1


def text_forward(w, cfg, ids):
    """SiglipTextTransformer without attention_mask: (last_hidden_state, pooler_output)."""
    p = "text_model."
    _, eps = defaults(cfg)
    x = w[p + "embeddings.token_embedding.weight"][ids] + w[p + "embeddings.position_embedding.weight"][:ids.shape[1]]
    x = ln(w, p + "final_layer_norm", encoder(w, p, cfg, x), eps)
    return x, lin(w, p + "head", x[:, -1, :])


def text_batch(gen, texts, S):
    """Texts of different lengths padded to S with the pad id 1 (padding="max_length", as SigLIP is used):
    the last position of a short text is padding, of a full one a real token."""
    ids = torch.ones(texts, S, dtype=torch.int64)
    for r in range(texts):
        n = S if r == 0 else max(1, S - 2 - r)
        ids[r, :n] = torch.randint(2, S_VOCAB, (n,), generator=gen)
    return ids


def make_case(root, name, case, gen):
    from export_reference import write_array, write_safetensors
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    cls = case["cls"]
    vcfg, tcfg = tower_config("vision", case), tower_config("text", case)
    head = case.get("use_head", True)
    if cls == "SiglipVisionModel":
        cfg = dict(vcfg, architectures=[cls])
    else:
        cfg = {"model_type": "siglip", "architectures": [cls], "initializer_factor": 1.0,
               "text_config": tcfg, "vision_config": vcfg}
        if case.get("labels"):
            cfg["id2label"] = {str(i): "class%d" % i for i in range(case["labels"])}
            cfg["label2id"] = {"class%d" % i: i for i in range(case["labels"])}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if case.get("processor"):
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(case["processor"], f, indent=1)
    w = {}
    vision_weights(gen, w, vcfg, head)
    if cls in ("SiglipModel", "SiglipTextModel"):
        text_weights(gen, w, tcfg)
    if cls == "SiglipModel":
        w["logit_scale"] = torch.tensor([1.3])
        w["logit_bias"] = torch.tensor([-2.5])
    if cls == "SiglipForImageClassification":
        w["classifier.weight"] = torch.randn(case["labels"], S_HIDDEN, generator=gen) * 0.2
        w["classifier.bias"] = torch.randn(case["labels"], generator=gen) * 0.1
    write_safetensors(os.path.join(folder, "model.safetensors"), w)

    inputs = {"SiglipModel": ["input_ids", "pixel_values"], "SiglipTextModel": ["input_ids"]}.get(cls, ["pixel_values"])
    outputs = None
    # Two batches; SiglipModel with different image and text counts, so a transposed logit would not fit.
    for bname, images, texts, S in (("b2", 2, 3, S_MAX_POS), ("b3", 3, 2, 7)):
        pixels = torch.randn(images, 3, S_IMAGE, S_IMAGE, generator=gen)
        ids = text_batch(gen, texts, S)
        if cls == "SiglipVisionModel":
            hidden, pooled = vision_forward(w, vcfg, pixels, head)
            outs = {"last_hidden_state": hidden}
            if pooled is not None:
                outs["pooler_output"] = pooled
        elif cls == "SiglipForImageClassification":
            hidden, _ = vision_forward(w, vcfg, pixels, head)
            outs = {"logits": lin(w, "classifier", hidden.mean(dim=1))}
        elif cls == "SiglipTextModel":
            hidden, pooled = text_forward(w, tcfg, ids)
            outs = {"last_hidden_state": hidden, "pooler_output": pooled}
        else:
            _, image = vision_forward(w, vcfg, pixels, True)
            _, text = text_forward(w, tcfg, ids)
            image = image / image.norm(p=2, dim=-1, keepdim=True)
            text = text / text.norm(p=2, dim=-1, keepdim=True)
            per_text = text @ image.t() * w["logit_scale"].exp() + w["logit_bias"]
            outs = {"logits_per_image": per_text.t(), "logits_per_text": per_text, "text_embeds": text,
                    "image_embeds": image}
        outputs = list(outs)
        d = os.path.join(folder, "reference", bname)
        os.makedirs(d, exist_ok=True)
        if "pixel_values" in inputs:
            write_array(os.path.join(d, "pixel_values.bin"), pixels.numpy())
        if "input_ids" in inputs:
            write_array(os.path.join(d, "input_ids.bin"), ids.numpy())
        for n, t in outs.items():
            write_array(os.path.join(d, n + ".bin"), t.float().contiguous().numpy())
    return "%s %s %s" % (name, ",".join(inputs), ",".join(outputs))


SIGLIP_PROCESSOR = {"image_processor_type": "SiglipImageProcessor", "do_resize": True,
                    "size": {"height": S_IMAGE, "width": S_IMAGE}, "resample": 3, "do_rescale": True,
                    "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                    "image_std": [0.5, 0.5, 0.5]}

SIGLIP_CASES = {
    "siglip-vision": dict(cls="SiglipVisionModel", processor=SIGLIP_PROCESSOR),
    # vision_use_head false: no attention-pooling head, last_hidden_state only.
    "siglip-vision-nohead": dict(cls="SiglipVisionModel", use_head=False, act="gelu", eps=1e-5),
    # A SiglipModel checkpoint resolved to its text tower (feature-extraction); a head wider than hidden.
    "siglip-text": dict(cls="SiglipTextModel", projection_size=24),
    "siglip-model": dict(cls="SiglipModel", processor=SIGLIP_PROCESSOR),
    "siglip-imgcls": dict(cls="SiglipForImageClassification", labels=3),
}


def make_siglip_cases(root):
    lines = []
    for i, (name, case) in enumerate(sorted(SIGLIP_CASES.items())):
        gen = torch.Generator().manual_seed(9000 + i)
        lines.append(make_case(root, name, case, gen))
    return lines
