#!/usr/bin/env python3
"""Oracle for SharpTune's HfTokenizer: token ids and decoded text from Hugging Face `tokenizers` and `transformers`.

For each tokenizer directory DIR/<name> (tokenizer.json + tokenizer_config.json, as build/fetch-tokenizers.sh makes
them) and each line {"id", "text"} of the corpus, writes one line to OUT/expected_<name>.jsonl:
  ids                   tokenizers.Tokenizer.from_file(...).encode(text, add_special_tokens=False).ids
  ids_special           transformers.AutoTokenizer.from_pretrained(DIR/<name>)(text)["input_ids"] (BOS/EOS rules)
  tokenizers_ids_special  tokenizers ... encode(text, add_special_tokens=True).ids (post-processor only)
  decoded               tokenizers decode(ids_special, skip_special_tokens=True)
  decoded_special       tokenizers decode(ids_special, skip_special_tokens=False)

Usage: python3 tests/oracles/tokenizer_ids.py --tokenizers .tools/tokenizers \
         --corpus tests/fixtures/tokenizer/corpus.jsonl --out tests/fixtures/tokenizer [--names llama3 qwen3 llama2]
"""
import argparse
import json
import os

import tokenizers
import transformers


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizers", required=True, help="directory holding <name>/tokenizer.json")
    parser.add_argument("--corpus", required=True, help="JSONL with {id, text} per line")
    parser.add_argument("--out", required=True, help="directory for expected_<name>.jsonl")
    parser.add_argument("--names", nargs="+", default=["llama3", "qwen3", "llama2"])
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f if line.strip()]
    os.makedirs(args.out, exist_ok=True)
    for name in args.names:
        directory = os.path.join(args.tokenizers, name)
        fast = tokenizers.Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
        auto = transformers.AutoTokenizer.from_pretrained(directory)
        path = os.path.join(args.out, f"expected_{name}.jsonl")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            for row in corpus:
                text = row["text"]
                ids_special = auto(text)["input_ids"]
                out.write(json.dumps({
                    "id": row["id"],
                    "ids": fast.encode(text, add_special_tokens=False).ids,
                    "ids_special": ids_special,
                    "tokenizers_ids_special": fast.encode(text, add_special_tokens=True).ids,
                    "decoded": fast.decode(ids_special, skip_special_tokens=True),
                    "decoded_special": fast.decode(ids_special, skip_special_tokens=False),
                }, ensure_ascii=False) + "\n")
        os.replace(path + ".tmp", path)
        print(f"{name}: {len(corpus)} rows -> {path} (tokenizers {tokenizers.__version__}, transformers {transformers.__version__})")


if __name__ == "__main__":
    main()
