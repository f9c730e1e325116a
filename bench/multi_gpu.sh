#!/usr/bin/env bash
# Multi-GPU check and benchmark on a host with 2 GPUs (H100/H200), run from a GPU bundle (build/gpu-bundle.sh):
#
#   bench/multi_gpu.sh [BUNDLE_DIR] [OUT_DIR]          (defaults: .gpu and /tmp/sharptune-multi-gpu)
#
# 1. NCCL self-test: 2 processes broadcast and average bucketed gradients of CUDA tensors (float32, bf16) and
#    report the all-reduce bus bandwidth.
# 2. Failure handling: rank 1 is SIGKILLed mid-job; the job must end within seconds, naming rank 1.
# 3. Data-parallel equivalence: the same tiny model trained with global batch B on 1 GPU and on 2 GPUs
#    (B/2 each) must give the same loss curve (the selftest's own loop, independent of the trainer).
# 4. The real trainer, 1 GPU with global batch B against `train --gpus 2` with B/2 per GPU (same seed): loss
#    curves must agree within bf16 noise and tokens/s must scale by >= 1.8x. By default it makes its own setup
#    (a random Llama-3-8B-shaped model quantized to NF4, TRAIN_SHAPE to change it; the medical set packed to 2048
#    tokens; B = TRAIN_BATCH (default 16) sequences x TRAIN_ACCUMULATION (default 1) micro-batches; TRAIN_STEPS
#    steps, default 8). Or set TRAIN_CONFIG to a `train --config` file whose batch_size is B,
#    TRAIN_CONFIG_2GPU to the same with B/2 and another output_dir, TRAIN_OUT_1GPU / TRAIN_OUT_2GPU to those
#    output dirs. The trainer writes train_log.jsonl there ("step", "loss", "tokens_per_s").
#
# NVLink multicast stays off: NCCL_NVLS_ENABLE=0 (also set by the launcher in every rank).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="${1:-$here/.gpu}"
out="${2:-/tmp/sharptune-multi-gpu}"
mkdir -p "$out"
export NCCL_NVLS_ENABLE="${NCCL_NVLS_ENABLE:-0}" TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
st() { "$bundle/run.sh" sharptune "$@"; }
status=0
summary=()

echo "== 1. NCCL self-test on 2 GPUs"
if st launch --gpus 2 --selftest nccl 2>&1 | tee "$out/nccl-selftest.log"; then
  busbw="$(grep -o 'busbw [0-9.]* GB/s' "$out/nccl-selftest.log" | head -1)"
  summary+=("nccl selftest: ok, all-reduce 256 MiB fp32 ${busbw}")
else
  summary+=("nccl selftest: FAILED (see $out/nccl-selftest.log)"); status=1
fi

echo "== 2. a rank killed mid-job"
start=$(date +%s%N)
st launch --gpus 2 --selftest nccl --fail-rank 1 --fail-mode kill >"$out/kill.log" 2>&1
code=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$code" -ne 0 ] && grep -q 'error: rank 1 was killed by signal 9' "$out/kill.log"; then
  summary+=("kill rank 1: job ended with code $code, ${took} ms after launch (start-up included), error names rank 1")
else
  summary+=("kill rank 1: FAILED (code $code, see $out/kill.log)"); status=1
fi

echo "== 3. data-parallel equivalence (selftest loop): 1 GPU batch 16 vs 2 GPUs batch 8 each"
st launch --gpus 1 --selftest equivalence >"$out/equivalence-1.log" 2>&1 || status=1
st launch --gpus 2 --selftest equivalence >"$out/equivalence-2.log" 2>&1 || status=1
python3 "$here/bench/compare_loss_curves.py" --selftest "$out/equivalence-1.log" "$out/equivalence-2.log" --tolerance 0.02 \
  | tee "$out/equivalence.txt" && summary+=("equivalence (selftest): $(tail -1 "$out/equivalence.txt")") \
  || { summary+=("equivalence (selftest): FAILED (see $out/equivalence.txt)"); status=1; }

echo "== 4. the trainer: 1 GPU (global batch B) vs 2 GPUs (B/2 each)"
if [ -z "${TRAIN_CONFIG:-}" ]; then
  # Our own setup: a random-weight model of a real shape (TRAIN_SHAPE, default llama3-8b), quantized to NF4 once,
  # on the shipped medical set packed into 2048-token rows.
  work="$out/trainer"; rm -rf "$work"; mkdir -p "$work"
  tok="$here/.tools/tokenizers/llama3"
  st init-model --arch llama --shape "${TRAIN_SHAPE:-llama3-8b}" --tokenizer "$tok" --out "$work/hf" >"$work/init.log" 2>&1 || status=1
  st quantize --model "$work/hf" --out "$work/model" >"$work/quantize.log" 2>&1 || status=1
  st data format --source "$here/datasets/medical/train.jsonl" --template medical-cot --tokenizer "$tok" --out "$work/data" >"$work/data.log" 2>&1 || status=1
  for n in 1 2; do
    "$here/bench/train_config.sh" "$work/train-$n.yaml" "$work/model" "$work/data" "$work/out-$n" "${TRAIN_STEPS:-8}" $((${TRAIN_BATCH:-16} / n)) "${TRAIN_ACCUMULATION:-1}" "$n"
  done
  # TRAIN_OVERLAP=1: the 2-GPU run reduces each layer's gradients as its backward ends (overlap_gradient_reduce).
  [ "${TRAIN_OVERLAP:-0}" = 1 ] && echo "overlap_gradient_reduce: true" >>"$work/train-2.yaml"
  TRAIN_CONFIG="$work/train-1.yaml"; TRAIN_CONFIG_2GPU="$work/train-2.yaml"; TRAIN_OUT_1GPU="$work/out-1"; TRAIN_OUT_2GPU="$work/out-2"
fi
log="${LOG_NAME:-train_log.jsonl}"
st train --config "$TRAIN_CONFIG" 2>&1 | tee "$out/train-1gpu.log" | grep -v '^train \[' || status=1
st train --config "${TRAIN_CONFIG_2GPU:?set TRAIN_CONFIG_2GPU (per-device batch B/2)}" --gpus 2 2>&1 | tee "$out/train-2gpu.log" | grep -v 'train \[' || status=1
python3 "$here/bench/compare_loss_curves.py" "${TRAIN_OUT_1GPU:?output_dir of TRAIN_CONFIG}/$log" "${TRAIN_OUT_2GPU:?output_dir of TRAIN_CONFIG_2GPU}/$log" \
  --tolerance 0.03 --min-speedup 1.8 | tee "$out/train-compare.txt" && summary+=("trainer: $(tail -1 "$out/train-compare.txt")") \
  || { summary+=("trainer: FAILED (see $out/train-compare.txt)"); status=1; }

echo
echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $(nvidia-smi -L | wc -l))"
printf '%s\n' "${summary[@]}"
exit $status
