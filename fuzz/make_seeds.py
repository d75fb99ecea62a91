#!/usr/bin/python3
"""Builds the seed corpus of every fuzz target under WORK/<target>/ from the repository's test
data, the models and tokenizers setup put in .deps/, Debian's ONNX node tests and the small
seeds committed under fuzz/seeds/<target>/. Inputs larger than the fuzzers' -max_len are shrunk
(tokenizer vocabularies cut down) rather than dropped, so every seed's structure survives.

usage: make_seeds.py ROOT WORK
"""
import glob
import io
import json
import os
import random
import shutil
import struct
import sys

root, work = sys.argv[1], sys.argv[2]
MAX_LEN = 65536


def out_dir(target):
    d = os.path.join(work, target)
    os.makedirs(d, exist_ok=True)
    return d


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_LEN:
        return
    with open(os.path.join(out_dir(target), name), "wb") as f:
        f.write(data)


def copy_files(target, pattern, prefix=""):
    for i, path in enumerate(sorted(glob.glob(os.path.join(root, pattern), recursive=True))):
        if os.path.isfile(path) and os.path.getsize(path) <= MAX_LEN:
            put(target, f"{prefix}{i:04d}_{os.path.basename(path)}", open(path, "rb").read())


# Committed seeds.
for d in glob.glob(os.path.join(root, "fuzz", "seeds", "*")):
    copy_files(os.path.basename(d), os.path.join("fuzz", "seeds", os.path.basename(d), "*"), "committed_")

# config.json
copy_files("config", "tests/data/configs/*.json")
copy_files("config", "tests/data/checkpoints/*/config.json", "ckpt_")
copy_files("config", ".deps/models/*/config.json", "deps_")

# README.md front matter: the committed seeds plus any README in the test data.
copy_files("model_card", "tests/data/**/README.md", "readme_")


# safetensors: 8 bytes of data size, then the header.
def safetensors_header(tensors, metadata=None):
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1, "F64": 8, "F8_E4M3": 1}
    for name, dtype, shape in tensors:
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    return offset, json.dumps(header).encode()


for i, (tensors, meta) in enumerate([
    ([("w", "F32", [2, 3])], None),
    ([("a", "BF16", [4]), ("b", "I64", [4])], {"format": "pt"}),
    ([("emb.weight", "F16", [10, 8]), ("ln.bias", "F32", [8]), ("mask", "BOOL", [0]), ("s", "U8", [])], {}),
    ([("x", "F8_E4M3", [3, 1, 2]), ("y", "F64", [1]), ("z", "I8", [5])], {"a": "b"}),
]):
    n, header = safetensors_header(tensors, meta)
    put("safetensors", f"seed{i}", struct.pack("<Q", n) + header)

# model.safetensors.index.json (the fuzzer's folder holds model-0000{1,2}-of-00002.safetensors).
shard1, shard2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
for i, index in enumerate([
    {"metadata": {"total_size": 32}, "weight_map": {"a.weight": shard1, "b.bias": shard2}},
    {"weight_map": {"a.weight": shard1}},
    {"metadata": {}, "weight_map": {}},
    {"weight_map": {"a.weight": shard1, "b.bias": shard1, "c": shard2}},
]):
    put("sharded_index", f"index{i}.json", json.dumps(index, indent=2))

# preprocessor_config.json
copy_files("image_config", "tests/data/image/configs/*.json")
copy_files("image_config", ".deps/models/*/preprocessor_config.json", "deps_")

# JPEG/PNG bytes in every mode the decoder handles.
try:
    from PIL import Image

    rnd = random.Random(0)
    base = Image.frombytes("RGB", (9, 7), bytes(rnd.randrange(256) for _ in range(9 * 7 * 3)))
    variants = [
        ("rgb.png", base, "PNG", {}),
        ("l.png", base.convert("L"), "PNG", {}),
        ("la.png", base.convert("LA"), "PNG", {}),
        ("rgba.png", base.convert("RGBA"), "PNG", {}),
        ("p.png", base.convert("P"), "PNG", {}),
        ("1.png", base.convert("1"), "PNG", {}),
        ("i16.png", base.convert("L").convert("I").convert("I;16"), "PNG", {}),
        ("interlaced.png", base, "PNG", {"interlace": 1}),
        ("rgb.jpg", base, "JPEG", {"quality": 90}),
        ("l.jpg", base.convert("L"), "JPEG", {}),
        ("cmyk.jpg", base.convert("CMYK"), "JPEG", {}),
        ("progressive.jpg", base, "JPEG", {"progressive": True}),
        ("subsampled.jpg", base.resize((17, 13)), "JPEG", {"subsampling": 2}),
    ]
    for name, img, fmt, kw in variants:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        put("image_decode", name, buf.getvalue())
except ImportError:
    print("make_seeds: PIL not available, image_decode starts from an empty corpus", file=sys.stderr)

# tokenizer.json: real files with their vocabularies cut to a few hundred entries.
tokenizer_files = sorted(set(
    glob.glob(os.path.join(root, ".deps/tokenizers/*/tokenizer.json")) +
    glob.glob(os.path.join(root, ".deps/models/*/tokenizer.json")) +
    glob.glob(os.path.join(root, ".deps/npm/**/tokenizer.json"), recursive=True)))


def shrink_tokenizer(tok, keep):
    model = tok.get("model") or {}
    vocab = model.get("vocab")
    if isinstance(vocab, dict):  # WordPiece, WordLevel, BPE
        specials = {t["content"] for t in (tok.get("added_tokens") or [])[:64]}
        items = sorted(vocab.items(), key=lambda kv: kv[1])
        kept = [k for k, v in items if k in specials or v < keep]
        model["vocab"] = {k: i for i, k in enumerate(kept)}
        remap = {v: model["vocab"][k] for k, v in items if k in model["vocab"]}
        merges = model.get("merges")
        if isinstance(merges, list):
            out = []
            for m in merges:
                a, b = m.split(" ", 1) if isinstance(m, str) else m
                if a in model["vocab"] and b in model["vocab"] and a + b in model["vocab"]:
                    out.append(m)
            model["merges"] = out[:keep]
        for t in tok.get("added_tokens") or []:
            t["id"] = remap.get(t.get("id"), t.get("id"))
        post = tok.get("post_processor") or {}
        for spec in (post.get("special_tokens") or {}).values():
            spec["ids"] = [remap.get(i, 0) for i in spec.get("ids", [])]
        for key in ("sep", "cls"):
            if isinstance(post.get(key), list) and len(post[key]) == 2:
                post[key][1] = remap.get(post[key][1], 0)
    elif isinstance(vocab, list):  # Unigram: [piece, score] pairs
        model["vocab"] = vocab[:keep]
        if isinstance(model.get("unk_id"), int) and model["unk_id"] >= keep:
            model["unk_id"] = 0
        for t in tok.get("added_tokens") or []:
            if t.get("id", 0) >= keep:
                t["id"] = keep - 1
    if len(tok.get("added_tokens") or []) > 64:
        tok["added_tokens"] = tok["added_tokens"][:64]
    # SentencePiece's precompiled normalization map alone is ~300 KB: past -max_len.
    def drop_precompiled(n):
        if isinstance(n, dict) and n.get("type") == "Precompiled":
            return {"type": "NFKC"}
        if isinstance(n, dict) and n.get("type") == "Sequence":
            n["normalizers"] = [drop_precompiled(x) for x in n.get("normalizers") or []]
        return n
    if len(json.dumps(tok.get("normalizer"))) > MAX_LEN // 2:
        tok["normalizer"] = drop_precompiled(tok["normalizer"])
    return tok


def put_tokenizer(name, tok):
    for keep in (300, 60):
        small = json.dumps(shrink_tokenizer(json.loads(json.dumps(tok)), keep), ensure_ascii=False)
        if len(small.encode()) <= MAX_LEN:
            put("tokenizer", name, small)
            return


def apply_patch(target, patch, base):
    # The patch language of scripts/tokenizer_reference.js (the parity tests' variants).
    for key, value in patch.items():
        is_obj = isinstance(value, dict)
        if value == "$delete":
            target.pop(key, None)
        elif is_obj and "$replace" in value:
            target[key] = value["$replace"]
        elif is_obj and "$append" in value:
            target[key] = (target.get(key) or []) + value["$append"]
        elif isinstance(value, str) and value.startswith("$base:"):
            v = base
            for part in value[len("$base:"):].split("."):
                v = v[int(part)] if isinstance(v, list) else v[part]
            target[key] = json.loads(json.dumps(v))
        elif is_obj and isinstance(target.get(key), dict):
            apply_patch(target[key], value, base)
        else:
            target[key] = value
    return target


loaded = {}
for i, path in enumerate(tokenizer_files):
    try:
        tok = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError):
        continue
    loaded[os.path.basename(os.path.dirname(path))] = path
    put_tokenizer(f"{i:03d}_" + os.path.relpath(path, root).replace("/", "__"), tok)

# The parity tests' variants: each a patch on one of the files above.
bases = {os.path.basename(os.path.dirname(p)): p for p in tokenizer_files}
bases.update({os.path.basename(os.path.dirname(os.path.dirname(p))).split("tokenizer-")[-1]: p
              for p in tokenizer_files if "/npm/" in p})
try:
    variants = json.load(open(os.path.join(root, "tests/data/tokenizer/variants.json")))
except (OSError, ValueError):
    variants = []
for v in variants:
    if v.get("base") not in bases:
        continue
    base = json.load(open(bases[v["base"]], encoding="utf-8"))
    try:
        patched = apply_patch(json.loads(json.dumps(base)), v.get("patch") or {}, base)
    except (KeyError, IndexError, ValueError, TypeError):
        continue
    put_tokenizer("variant_" + v["name"] + ".json", patched)

# ONNX ModelProto bytes: the small test models, Debian's ONNX node tests, and models whose
# initializers live in the fuzzer folder's weights.bin (byte i is i mod 251).
copy_files("onnx_model", ".deps/models/*/*.onnx", "deps_")
node_models = sorted(glob.glob("/usr/share/libonnx-testdata/data/node/*/model.onnx"))
rnd = random.Random(1)
for path in rnd.sample(node_models, min(200, len(node_models))):
    put("onnx_model", os.path.basename(os.path.dirname(path)) + ".onnx", open(path, "rb").read())
try:
    import onnx
    from onnx import TensorProto, helper

    def external_model(refs, ir_version=8):
        inits = []
        for name, dims, location, offset, length in refs:
            t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", location), ("offset", offset), ("length", length)):
                if v is not None:
                    e = t.external_data.add()
                    e.key, e.value = k, str(v)
            inits.append(t)
        nodes = [helper.make_node("Add", ["x", refs[0][0]], ["y"], name="add")]
        graph = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, refs[0][1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, refs[0][1])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = ir_version
        return model.SerializeToString()

    put("onnx_model", "external_one.onnx", external_model([("w", [2, 3], "weights.bin", 0, 24)]))
    put("onnx_model", "external_two.onnx",
        external_model([("w", [4], "weights.bin", 4096 - 16, 16), ("b", [1, 4], "sub/weights.bin", 64, None)], 10))
    put("onnx_model", "external_link.onnx", external_model([("w", [2], "link_in.bin", 8, 8)]))
    put("onnx_model", "external_outside.onnx", external_model([("w", [1], "link_out/hostname", 0, 4)]))
    put("onnx_model", "external_parent.onnx", external_model([("w", [1], "../weights.bin", None, None)]))
    inline = helper.make_graph(
        [helper.make_node("MatMul", ["x", "m"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor("m", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0]),
         helper.make_tensor("i", TensorProto.INT64, [3], [1, 2, 3]),
         helper.make_tensor("h", TensorProto.FLOAT16, [2], [1.0, 2.0]),
         helper.make_tensor("r", TensorProto.INT8, [4], b"\x01\x02\x03\x04", raw=True)])
    put("onnx_model", "inline_typed.onnx",
        helper.make_model(inline, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
except ImportError:
    print("make_seeds: python onnx not available, no external-data seeds", file=sys.stderr)

for target in sorted(os.listdir(work)):
    print(f"seeds: {target}: {len(os.listdir(os.path.join(work, target)))}")
