#!/usr/bin/env node
// Generates src/tokenizer/reference_unicode_tables.inc: the character data the Rust tokenizers
// core uses, read off the reference itself (npm `tokenizers` 0.23.2) so the C++ engine agrees with
// it character by character. The core mixes Unicode versions: Oniguruma (regexes) and Rust's std
// are Unicode 16.0, the unicode_categories crate (BertNormalizer, BertPreTokenizer, Punctuation)
// Unicode 8.0, unicode-normalization-alignments (StripAccents) Unicode 9.0; Debian's ICU is 15.0.
// Tables (ranges of non-ASCII code points):
//   kNewerChars     category (+0x80 when \w) of characters ICU 72 leaves unassigned (Oniguruma)
//   kPunctuation8   unicode_categories is_punctuation
//   kOther8         unicode_categories is_other (Cc, Cf, Co)
//   kNonspacing8    unicode_categories is_mark_nonspacing
//   kCombining9     unicode-normalization-alignments is_combining_mark
//   kNumeric16      Rust char::is_numeric
//   kLowercase16    Rust char::to_lowercase where it differs from ICU's simple mapping
// Usage: node scripts/tokenizer_gen_unicode_table.js > src/tokenizer/reference_unicode_tables.inc
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');
const tk = require(path.join(__dirname, '..', '.deps', 'npm', 'tokenizers'));
const { Tokenizer } = tk;

// ICU's view (the C++ engine's data): category and simple lowercase of every code point.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'icu-dump-'));
fs.writeFileSync(path.join(tmp, 'u.cpp'), `#include <unicode/uchar.h>
#include <cstdio>
int main() { for (UChar32 c = 0; c <= 0x10FFFF; ++c) std::printf("%d %X\\n", u_charType(c), u_tolower(c)); }`);
execFileSync('g++', ['-O1', '-o', path.join(tmp, 'u'), path.join(tmp, 'u.cpp'), '-licuuc']);
const icu = execFileSync(path.join(tmp, 'u'), { maxBuffer: 1 << 28 }).toString().split('\n');
fs.rmSync(tmp, { recursive: true });
const icuCategory = (c) => Number(icu[c].split(' ')[0]);
const icuLower = (c) => parseInt(icu[c].split(' ')[1], 16);

// Candidates: non-ASCII code points node's Unicode data (17.0, a superset) calls assigned.
const cps = [];
for (let c = 0x80; c <= 0x10ffff; c++) {
  if (c >= 0xd800 && c <= 0xdfff) continue;
  if (!/\p{Cn}/u.test(String.fromCodePoint(c))) cps.push(c);
}

function splitter(re) {
  return Tokenizer.fromString(JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: re }, behavior: 'Removed', invert: true },
    post_processor: null, decoder: null, model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  })).getPreTokenizer();
}
// Code points that come out as single-character pieces of pre-tokenizing "a c a c ..." joined by 'a'.
function isolated(pre) {
  const set = new Set();
  const text = cps.map((c) => String.fromCodePoint(c)).join('a');
  for (const [piece] of pre.preTokenizeString('a' + text + 'a')) {
    const chars = [...piece];
    if (chars.length === 1 && piece !== 'a') set.add(piece.codePointAt(0));
  }
  return set;
}
function removedBy(normalizer) {
  const set = new Set();
  for (const c of cps) if (normalizer.normalizeString('x' + String.fromCodePoint(c)) === 'x') set.add(c);
  return set;
}

const categories = { Lu: 1, Ll: 2, Lt: 3, Lm: 4, Lo: 5, Mn: 6, Me: 7, Mc: 8, Nd: 9, Nl: 10, No: 11, Zs: 12, Zl: 13,
  Zp: 14, Cc: 15, Cf: 16, Co: 17, Pd: 19, Ps: 20, Pe: 21, Pc: 22, Po: 23, Sm: 24, Sc: 25, Sk: 26, So: 27, Pi: 28, Pf: 29 };
const onigCategory = new Map();
const text = cps.map((c) => String.fromCodePoint(c)).join('');
for (const [name, value] of Object.entries(categories))
  for (const [piece] of splitter(`\\p{${name}}+`).preTokenizeString(text))
    for (const ch of piece) onigCategory.set(ch.codePointAt(0), value);
const onigWord = new Set();
for (const [piece] of splitter('\\w+').preTokenizeString(text)) for (const ch of piece) onigWord.add(ch.codePointAt(0));

function ranges(name, values) {  // values: Map code point -> small int (1 for sets)
  const rows = [];
  for (const c of [...values.keys()].sort((a, b) => a - b)) {
    const v = values.get(c);
    const last = rows[rows.length - 1];
    if (last && last[1] === c - 1 && last[2] === v) last[1] = c;
    else rows.push([c, c, v]);
  }
  return [`constexpr CharRange ${name}[] = {`, ...rows.map(([a, b, v]) => `    {0x${a.toString(16)}, 0x${b.toString(16)}, ${v}},`), '};'];
}
const asMap = (set) => new Map([...set].map((c) => [c, 1]));

const newer = new Map();
for (const [c, v] of onigCategory) if (icuCategory(c) === 0) newer.set(c, v | (onigWord.has(c) ? 0x80 : 0));

const punct = isolated(tk.bertPreTokenizer());  // whitespace is removed, punctuation isolated
const numeric = isolated(tk.digitsPreTokenizer(true));
const other = removedBy(tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false }));
other.delete(0xfffd);
const nonspacing = removedBy(tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false }));
const combining = removedBy(tk.stripAccentsNormalizer());

// Lowercase: single-character results that differ from ICU's simple mapping.
const lowerDiff = new Map();
const lower = tk.lowercase();
for (const c of cps) {
  const out = [...lower.normalizeString(String.fromCodePoint(c))];
  if (c === 0x130) continue;  // the one multi-character mapping, handled in code
  if (out.length === 1 && out[0].codePointAt(0) !== icuLower(c)) lowerDiff.set(c, out[0].codePointAt(0));
}

const out = [
  '// Generated by scripts/tokenizer_gen_unicode_table.js from the reference (npm tokenizers 0.23.2).',
  '// {first, last, value}: see the script for what each table holds. Do not edit.',
  ...ranges('kNewerChars', newer),
  ...ranges('kPunctuation8', asMap(punct)),
  ...ranges('kOther8', asMap(other)),
  ...ranges('kNonspacing8', asMap(nonspacing)),
  ...ranges('kCombining9', asMap(combining)),
  ...ranges('kNumeric16', asMap(numeric)),
  `constexpr CharRange kLowercase16[] = {`,
  ...[...lowerDiff].sort((a, b) => a[0] - b[0]).map(([c, l]) => `    {0x${c.toString(16)}, 0x${c.toString(16)}, 0x${l.toString(16)}},`),
  '};',
];
process.stdout.write(out.join('\n') + '\n');
