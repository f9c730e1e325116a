#!/usr/bin/env bash
# The fused CUDA kernels against the reference path inside real training: the same run (same seed, data, model)
# with SHARPTUNE_KERNELS=on and =off; the loss curves must agree within bf16 noise over STEPS steps (default 50).
# Run from the repo root on a GPU host with the bundle (build/gpu-bundle.sh):
#
#   bench/kernel_curves.sh MODEL_DIR DATASET_DIR OUT_DIR [STEPS]
#
# MODEL_DIR: a HF model directory (e.g. `sharptune init-model --shape llama3.2-1b`); DATASET_DIR: a tokenized dataset
# (`sharptune data format`). With two GPUs visible the two runs go to GPU 0 and GPU 1 at the same time.
set -uo pipefail
model=${1:?usage: bench/kernel_curves.sh MODEL_DIR DATASET_DIR OUT_DIR [STEPS]}; data=${2:?}; out=${3:?}; steps=${4:-50}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$out"
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
run() { # name kernels gpu
  "$here/bench/train_config.sh" "$out/$1.yaml" "$model" "$data" "$out/$1" "$steps" 4 1 1
  SHARPTUNE_KERNELS=$2 CUDA_VISIBLE_DEVICES=$3 "$here/.gpu/run.sh" sharptune train --config "$out/$1.yaml" >"$out/$1.log" 2>&1
}
if [ "$gpus" -ge 2 ]; then
  run fused on 0 & p1=$!; run reference off 1 & p2=$!
  wait $p1; s1=$?; wait $p2; s2=$?
else
  run fused on 0; s1=$?; run reference off 0; s2=$?
fi
[ $s1 -eq 0 ] && [ $s2 -eq 0 ] || { echo "FAIL: a run failed (see $out/fused.log, $out/reference.log)"; tail -3 "$out/fused.log" "$out/reference.log"; exit 1; }
python3 "$here/bench/compare_loss_curves.py" "$out/reference/train_log.jsonl" "$out/fused/train_log.jsonl" --labels reference fused --tolerance 0.02
