#!/usr/bin/env bash
# Writes the `sharptune train --config` file that the GPU benchmarks share: packed 2048-token rows, lr 1e-3 with 3
# warm-up steps, no intermediate checkpoints, CUDA; QLoRA r=16 on all seven projections (the trainer's defaults).
#
#   bench/train_config.sh FILE MODEL_DIR DATASET_DIR OUTPUT_DIR STEPS BATCH_SIZE GRAD_ACCUMULATION GPUS
set -euo pipefail
[ $# -eq 8 ] || { echo "usage: bench/train_config.sh FILE MODEL_DIR DATASET_DIR OUTPUT_DIR STEPS BATCH_SIZE GRAD_ACCUMULATION GPUS" >&2; exit 2; }
cat >"$1" <<YAML
model: $2
dataset: $3
output_dir: $4
max_steps: $5
batch_size: $6
gradient_accumulation: $7
gpus: $8
max_sequence_length: 2048
packing: true
learning_rate: 1.0e-3
warmup_steps: 3
save_steps: 0
device: cuda
YAML
