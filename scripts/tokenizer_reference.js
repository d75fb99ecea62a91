#!/usr/bin/env node
// Reference tokenizer for the parity tests: Hugging Face's Rust tokenizers core through its Node
// binding (npm `tokenizers` 0.23.x, unpacked by scripts/setup.d/40-tokenizers.sh into .deps/npm).
//
// Usage: tokenizer_reference.js --tokenizer tokenizer.json --cases cases.json [--out results.json]
//                               [--patch patch.json --write-patched patched.json]
//   cases.json: [{"text": "...", "pair": "..." (optional), "add_special_tokens": true}, ...]
//   prints (or writes) [{"ids": [...], "tokens": [...], "type_ids": [...], "attention_mask": [...],
//                        "offsets": [[start, end], ...] (as the binding reports them)}
//                       | {"error": "..."}, ...] in the same order.
// The tokenizer file is loaded with Tokenizer.fromFile, so truncation/padding stored in it apply.
// --patch deep-merges a JSON patch into the tokenizer file first (objects merge, other values
// replace; "$delete" removes a key, {"$replace": v} replaces without merging, {"$append": [...]}
// extends a list, "$base:a.b.0.c" copies that value of the unpatched file) and --write-patched
// saves the result, so the C++ side loads the same file.
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

function resolveBase(patch, base) {
  if (typeof patch === 'string' && patch.startsWith('$base:')) {
    return patch.slice(6).split('.').reduce((v, k) => (v == null ? v : v[k]), base);
  }
  if (Array.isArray(patch)) return patch.map((v) => resolveBase(v, base));
  if (patch && typeof patch === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(patch)) out[k] = resolveBase(v, base);
    return out;
  }
  return patch;
}

function applyPatch(target, patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (value === '$delete') delete target[key];
    else if (value && typeof value === 'object' && !Array.isArray(value) && '$replace' in value) target[key] = value.$replace;
    else if (value && typeof value === 'object' && !Array.isArray(value) && '$append' in value)
      target[key] = (target[key] || []).concat(value.$append);
    else if (value && typeof value === 'object' && !Array.isArray(value) && target[key] && typeof target[key] === 'object' &&
             !Array.isArray(target[key]))
      applyPatch(target[key], value);
    else target[key] = value;
  }
  return target;
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
  let file = tokenizerPath;
  const patchPath = arg('--patch');
  if (patchPath) {
    const base = JSON.parse(fs.readFileSync(tokenizerPath, 'utf8'));
    const patch = resolveBase(JSON.parse(fs.readFileSync(patchPath, 'utf8')), JSON.parse(fs.readFileSync(tokenizerPath, 'utf8')));
    const patched = applyPatch(base, patch);
    file = arg('--write-patched');
    if (!file) throw new Error('--patch needs --write-patched');
    fs.writeFileSync(file, JSON.stringify(patched));
  }
  const tokenizer = Tokenizer.fromFile(file);
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
        offsets: enc.getOffsets(),
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
