#!/usr/bin/python3
"""Independent numpy references for `modelkit run` answers (tests/integration/run_eval_test.cpp).

usage:
  run_reference.py tokenizer OUT_DIR        writes a 50-token WordPiece tokenizer.json
  run_reference.py clip-files OUT_DIR       writes, for the exporter's tiny CLIPModel (50 tokens, end of
      text 40): a word-level tokenizer.json, a CLIP preprocessor_config.json (32 pixels)
  run_reference.py clip-inputs OUT_DIR IMAGE LABEL...   writes a 32x32 PNG IMAGE, and as .npy the
      inputs the zero-shot pipeline makes of it and the labels: pixel_values (CLIP normalisation),
      input_ids and attention_mask (each label in "This is a photo of {}.", padded to the longest)
  run_reference.py check TASK RUN.json OUTPUTS_DIR [TOP_K]
      recomputes the answer of TASK from the raw outputs `modelkit run --save-outputs` wrote
      (OUTPUTS_DIR/*.npy) and the tokens in RUN.json, the way transformers' pipelines do, and
      compares it with RUN.json's answer. Exit 0 when they match, 1 with the differences.
"""
import json
import os
import sys

import numpy as np

TOL = 1e-5
WORDS = ["the", "cat", "sat", "on", "mat", "who", "where", "john", "paris", "lives", "in", "is", "a", "dog",
         "ran", "to", "park", "what", "did", "do", "big", "red", "house", "berlin", "mary", "works", "at",
         "bank", "today", "and", "?", ".", ",", "##s", "##ny", "##ed", "##ing", "new", "york", "city", "went",
         "home", "with", "her", "his"]


def write_tokenizer(out):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    assert len(vocab) == 50
    special = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for i, t in enumerate(vocab[:5])]
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) if t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f)


CLIP_WORDS = ["this", "is", "a", "photo", "of", "cat", "dog", "red", "car", "bird", "."]
CLIP_SOT, CLIP_EOT = 39, 40
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def clip_vocab():
    vocab = {"[UNK]": 0}
    for w in CLIP_WORDS:
        vocab[w] = len(vocab)
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = CLIP_SOT, CLIP_EOT
    return vocab


def write_clip_files(out):
    special = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}
               for t, i in (("<|startoftext|>", CLIP_SOT), ("<|endoftext|>", CLIP_EOT))]
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]}
                               for t, i in (("<|startoftext|>", CLIP_SOT), ("<|endoftext|>", CLIP_EOT))},
        },
        "decoder": None,
        "model": {"type": "WordLevel", "unk_token": "[UNK]", "vocab": clip_vocab()},
    }
    proc = {"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": 32},
            "resample": 3, "do_center_crop": True, "crop_size": {"height": 32, "width": 32}, "do_rescale": True,
            "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
            "do_convert_rgb": True}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(proc, f)


def write_clip_inputs(out, image_path, labels):
    from PIL import Image
    rng = np.random.default_rng(17)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(image_path)
    # 32x32 already: resize and centre crop leave it as it is; rescale, then normalise per channel.
    x = (pixels.astype(np.float64) / 255.0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    np.save(os.path.join(out, "pixel_values.npy"), x.transpose(2, 0, 1)[None].astype(np.float32))
    vocab = clip_vocab()
    rows = []
    for label in labels:
        words = ("This is a photo of %s." % label).lower().replace(".", " .").split()
        rows.append([CLIP_SOT] + [vocab.get(w, 0) for w in words] + [CLIP_EOT])
    n = max(len(r) for r in rows)
    ids = np.array([r + [CLIP_EOT] * (n - len(r)) for r in rows], dtype=np.int64)
    mask = np.array([[1] * len(r) + [0] * (n - len(r)) for r in rows], dtype=np.int64)
    np.save(os.path.join(out, "input_ids.npy"), ids)
    np.save(os.path.join(out, "attention_mask.npy"), mask)


def ref_zero_shot(run, outs, cfg, top_k):
    logits = outs["logits_per_image"][0].astype(np.float64)
    if "siglip" in cfg.get("model_type", ""):
        p = 1 / (1 + np.exp(-logits))
    else:
        p = softmax(logits)
    labels = run["candidate_labels"]
    order = sorted(range(len(labels)), key=lambda i: -p[i])  # stable: ties keep the given order
    return [{"label": labels[i], "id": i, "score": float(p[i])} for i in order]


def softmax(x):
    e = np.exp(x.astype(np.float64) - np.max(x, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def tokens_to_text(tokens):
    # BERT's convert_tokens_to_string
    return " ".join(tokens).replace(" ##", "").strip()


def id2label(cfg, i):
    return cfg.get("id2label", {}).get(str(i), "LABEL_%d" % i)


def ref_classification(run, outs, cfg, top_k):
    logits = outs["logits"][0]
    if cfg.get("problem_type") == "multi_label_classification" or logits.shape[-1] == 1:
        p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    else:
        p = softmax(logits)
    order = np.argsort(-p, kind="stable")[:top_k]
    return [{"label": id2label(cfg, int(i)), "score": float(p[i])} for i in order]


def ref_token_classification(run, outs, cfg, top_k):
    tokens = run["tokens"]
    scores = softmax(outs["logits"][0])
    # gather_pre_entities + aggregate(simple) + group_entities, written after transformers'.
    pre = []
    for i, t in enumerate(tokens):
        if t in ("[CLS]", "[SEP]", "[PAD]"):
            continue
        idx = int(scores[i].argmax())
        pre.append({"entity": id2label(cfg, idx), "score": float(scores[i][idx]), "word": t, "index": i})

    def tag(name):
        if name.startswith("B-"):
            return "B", name[2:]
        if name.startswith("I-"):
            return "I", name[2:]
        return "I", name

    groups, current = [], []
    for e in pre:
        if not current:
            current.append(e)
            continue
        bi, t = tag(e["entity"])
        _, last = tag(current[-1]["entity"])
        if t == last and bi != "B":
            current.append(e)
        else:
            groups.append(current)
            current = [e]
    if current:
        groups.append(current)
    out = []
    for g in groups:
        group_tag = tag(g[0]["entity"])[1]
        if group_tag == "O":
            continue
        out.append({"entity_group": group_tag, "score": float(np.mean([e["score"] for e in g])),
                    "word": tokens_to_text([e["word"] for e in g]), "start_token": g[0]["index"],
                    "end_token": g[-1]["index"]})
    return out


def ref_question_answering(run, outs, cfg, top_k, max_len=15):
    tokens = run["tokens"]
    n = len(tokens)
    seps = [i for i, t in enumerate(tokens) if t == "[SEP]"]
    context = np.zeros(n, dtype=bool)
    context[seps[0] + 1:seps[1]] = True
    p_mask = np.where(context, 0, 1)
    p_mask[0] = 0  # the CLS token stays, as the pipeline keeps it
    undesired = np.abs(p_mask - 1)  # 1 = may be part of an answer
    start = np.where(undesired == 0, -10000.0, outs["start_logits"][0].astype(np.float64))
    end = np.where(undesired == 0, -10000.0, outs["end_logits"][0].astype(np.float64))
    start = np.exp(start - start.max()); start /= start.sum()
    end = np.exp(end - end.max()); end /= end.sum()
    start[0] = end[0] = 0.0
    outer = np.matmul(start[:, None], end[None, :])
    candidates = np.tril(np.triu(outer), max_len - 1)
    flat = candidates.flatten()
    order = np.argsort(-flat, kind="stable")
    out = []
    for k in order:
        s, e = np.unravel_index(k, candidates.shape)
        if not (undesired[s] and undesired[e]) or flat[k] <= 0:
            continue
        out.append({"answer": tokens_to_text(tokens[s:e + 1]), "score": float(flat[k]), "start_token": int(s),
                    "end_token": int(e)})
        if len(out) == top_k:
            break
    return out


def ref_fill_mask(run, outs, cfg, top_k):
    tokens = run["tokens"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    out = []
    for i, t in enumerate(tokens):
        if t != "[MASK]":
            continue
        p = softmax(outs["logits"][0][i])
        order = np.argsort(-p, kind="stable")[:top_k]
        out.append([{"token": vocab[j], "token_id": int(j), "score": float(p[j])} for j in order])
    return out


def ref_feature_extraction(run, outs, cfg, top_k):
    if "sentence_embedding" in outs and run["answer"]["pooling"] == "sentence_embedding output":
        tok = outs["token_embeddings"][0].astype(np.float64)
        mean = tok.mean(axis=0)  # one unpadded text: every token counts
        mean /= max(np.linalg.norm(mean), 1e-12)
        np.testing.assert_allclose(outs["sentence_embedding"][0], mean, atol=TOL)
        return {"embedding": outs["sentence_embedding"][0].tolist()}
    hidden = outs["last_hidden_state"][0].astype(np.float64)
    if run["answer"]["pooling"].startswith("mean"):
        v = hidden.mean(axis=0)
        v /= max(np.linalg.norm(v), 1e-12)
    else:
        v = hidden[0]
    return {"embedding": v.tolist()}


def compare(a, b, path="answer"):
    errors = []
    if isinstance(a, dict):
        for k in b:
            if k not in a:
                errors.append("%s.%s missing" % (path, k))
            else:
                errors += compare(a[k], b[k], path + "." + k)
    elif isinstance(a, list):
        if len(a) != len(b):
            return ["%s: %d items, reference %d" % (path, len(a), len(b))]
        for i, (x, y) in enumerate(zip(a, b)):
            errors += compare(x, y, "%s[%d]" % (path, i))
    elif isinstance(b, float):
        if abs(a - b) > TOL:
            errors.append("%s: %r, reference %r" % (path, a, b))
    elif a != b:
        errors.append("%s: %r, reference %r" % (path, a, b))
    return errors


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "tokenizer":
        write_tokenizer(sys.argv[2])
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "clip-files":
        write_clip_files(sys.argv[2])
        return 0
    if len(sys.argv) >= 5 and sys.argv[1] == "clip-inputs":
        write_clip_inputs(sys.argv[2], sys.argv[3], sys.argv[4:])
        return 0
    if len(sys.argv) < 5 or sys.argv[1] != "check":
        print(__doc__, file=sys.stderr)
        return 2
    task, run_json, out_dir = sys.argv[2], sys.argv[3], sys.argv[4]
    top_k = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    with open(run_json) as f:
        run = json.load(f)
    outs = {n[:-4]: np.load(os.path.join(out_dir, n)) for n in os.listdir(out_dir) if n.endswith(".npy")}
    cfg = {}
    cfg_path = os.path.join(run["files_from"], "config.json")
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            cfg = json.load(f)
    ref = {"text-classification": ref_classification, "image-classification": ref_classification,
           "token-classification": ref_token_classification, "question-answering": ref_question_answering,
           "fill-mask": ref_fill_mask, "feature-extraction": ref_feature_extraction,
           "zero-shot-image-classification": ref_zero_shot}[task](run, outs, cfg, top_k)
    errors = compare(run["answer"], ref)
    if not ref:
        errors.append("the reference answer is empty: the case checks nothing")
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
