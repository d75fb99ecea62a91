#!/usr/bin/env node
// Reference timing for bench/tokenizer_bench.sh: Hugging Face's Rust tokenizers core (npm
// `tokenizers`) batch-encoding the benchmark lines on one thread (TOKENIZERS_PARALLELISM=false,
// RAYON_NUM_THREADS=1), reported as tokens per second.
// Usage: tokenizer_reference_bench.js --lines lines.json --tokenizer tokenizer.json [--seconds S]
//        tokenizer_reference_bench.js --write-lines lines.json   (builds the shared input)
'use strict';
process.env.TOKENIZERS_PARALLELISM = 'false';
process.env.RAYON_NUM_THREADS = '1';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const arg = (n) => {
  const i = process.argv.indexOf(n);
  return i >= 0 ? process.argv[i + 1] : null;
};

// The benchmark input: natural English (license texts Debian ships) plus the multilingual
// parity corpus, one text per line. The C++ benchmark reads the same file.
function buildLines() {
  const lines = [];
  for (const f of ['GPL-3', 'Apache-2.0', 'GFDL-1.3', 'MPL-2.0']) {
    const p = path.join('/usr/share/common-licenses', f);
    if (!fs.existsSync(p)) continue;
    for (const l of fs.readFileSync(p, 'utf8').split('\n')) if (l.trim()) lines.push(l.trim());
  }
  const corpus = JSON.parse(fs.readFileSync(path.join(root, 'tests/data/tokenizer/corpus.json'), 'utf8'));
  for (const t of corpus.texts) if (t.length) lines.push(t);
  return lines;
}

async function main() {
  const out = arg('--write-lines');
  if (out) {
    fs.writeFileSync(out, JSON.stringify(buildLines()));
    return;
  }
  const lines = JSON.parse(fs.readFileSync(arg('--lines'), 'utf8'));
  const { Tokenizer } = require(path.join(root, '.deps', 'npm', 'tokenizers'));
  const tokenizer = Tokenizer.fromFile(arg('--tokenizer'));
  const seconds = Number(arg('--seconds') || 3);
  await tokenizer.encodeBatch(lines, { addSpecialTokens: true });  // warm-up (fills caches)
  let tokens = 0;
  let rounds = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    const encodings = await tokenizer.encodeBatch(lines, { addSpecialTokens: true });
    for (const e of encodings) tokens += e.getIds().length;
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(`${(tokens / elapsed / 1e6).toFixed(3)} M tokens/s (${rounds} rounds of ${lines.length} lines)`);
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
