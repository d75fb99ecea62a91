#!/usr/bin/env node
// Reference tokenizer for the parity tests: Hugging Face's Rust tokenizers core through its Node
// binding (npm `tokenizers` 0.23.x, unpacked by scripts/setup.d/40-tokenizers.sh into .deps/npm).
//
// Usage: tokenizer_reference.js --tokenizer tokenizer.json --cases cases.json [--out results.json]
//   cases.json: [{"text": "...", "pair": "..." (optional), "add_special_tokens": true}, ...]
//   prints (or writes) [{"ids": [...], "tokens": [...], "type_ids": [...], "attention_mask": [...]}
//                       | {"error": "..."}, ...] in the same order.
// The tokenizer file is loaded with Tokenizer.fromFile, so truncation/padding stored in it apply.
'use strict';
const fs = require('fs');
const path = require('path');

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : null;
}

function loadBinding() {
  const root = path.resolve(__dirname, '..');
  const dir = process.env.MODELKIT_TOKENIZERS_NODE || path.join(root, '.deps', 'npm', 'tokenizers');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    throw new Error(`reference tokenizers package not found at '${dir}' (run scripts/setup.sh)`);
  }
  return require(dir);
}

async function main() {
  const tokenizerPath = arg('--tokenizer');
  const casesPath = arg('--cases');
  const outPath = arg('--out');
  if (!tokenizerPath || !casesPath) {
    console.error('usage: tokenizer_reference.js --tokenizer tokenizer.json --cases cases.json [--out out.json]');
    process.exit(2);
  }
  const { Tokenizer } = loadBinding();
  const tokenizer = Tokenizer.fromFile(tokenizerPath);
  const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  const results = [];
  for (const c of cases) {
    try {
      const enc = await tokenizer.encode(c.text, c.pair === undefined ? null : c.pair, {
        addSpecialTokens: c.add_special_tokens !== false,
      });
      results.push({
        ids: enc.getIds(),
        tokens: enc.getTokens(),
        type_ids: enc.getTypeIds(),
        attention_mask: enc.getAttentionMask(),
      });
    } catch (e) {
      results.push({ error: String(e && e.message ? e.message : e) });
    }
  }
  const json = JSON.stringify(results);
  if (outPath) fs.writeFileSync(outPath, json);
  else process.stdout.write(json + '\n');
}

main().catch((e) => {
  console.error(`tokenizer_reference: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
