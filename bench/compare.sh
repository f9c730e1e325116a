#!/usr/bin/env bash
# One job on the GPU host: HF transformers+PEFT LoRA vs `sharptune bench` with the same settings, as a markdown table.
# Usage (from the repo root, the SharpTune bundle at .gpu/run.sh, PyTorch at python3):
#   bench/compare.sh OUT.md [MODEL] [BATCH] [SEQ] [STEPS] [WARMUP]
# Defaults: llama3-8b, 2 x 2048, 3 measured steps after 1 warm-up, layer checkpointing, r=16 on all seven projections.
# HF runs bf16 LoRA (bitsandbytes is not on the host, so there is no HF QLoRA row); SharpTune runs lora and qlora with
# every layer checkpointed, the same with offload_mlp_layers (OFFLOAD_LORA / OFFLOAD_QLORA layers, default 24 and 32),
# with checkpoint_layers auto, and lora with the kernels off.
set -euo pipefail
out=${1:?usage: bench/compare.sh OUT.md [MODEL] [BATCH] [SEQ] [STEPS] [WARMUP]}
model=${2:-llama3-8b}; batch=${3:-2}; seq=${4:-2048}; steps=${5:-3}; warmup=${6:-1}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
read -r -a sharptune <<< "${SHARPTUNE:-.gpu/run.sh sharptune}"
common=(--model "$model" --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup")

echo "== HF PEFT LoRA (bf16)" >&2
python3 bench/hf_peft_bench.py "${common[@]}" --checkpointing layer --json "$work/hf.json" >&2 || echo '{}' > "$work/hf.json"
echo "== SharpTune LoRA (bf16)" >&2
"${sharptune[@]}" bench "${common[@]}" --mode lora --checkpointing layer --optimizer adamw --json "$work/st_lora.json" >&2 || echo '{}' > "$work/st_lora.json"
echo "== SharpTune QLoRA (NF4, 8-bit AdamW)" >&2
"${sharptune[@]}" bench "${common[@]}" --mode qlora --checkpointing layer --optimizer adamw_8bit --json "$work/st_qlora.json" >&2 || echo '{}' > "$work/st_qlora.json"
offload_lora=${OFFLOAD_LORA:-24}; offload_qlora=${OFFLOAD_QLORA:-32}
echo "== SharpTune LoRA and QLoRA, offload_mlp_layers $offload_lora / $offload_qlora" >&2
"${sharptune[@]}" bench "${common[@]}" --mode lora --checkpointing layer --optimizer adamw --offload-mlp-layers "$offload_lora" --json "$work/st_lora_off.json" >&2 || echo '{}' > "$work/st_lora_off.json"
"${sharptune[@]}" bench "${common[@]}" --mode qlora --checkpointing layer --optimizer adamw_8bit --offload-mlp-layers "$offload_qlora" --json "$work/st_qlora_off.json" >&2 || echo '{}' > "$work/st_qlora_off.json"
echo "== SharpTune LoRA and QLoRA, checkpoint_layers auto (activations kept where the GPU has room)" >&2
auto_warmup=$(( warmup > 0 ? warmup : 1 ))
"${sharptune[@]}" bench --model "$model" --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$auto_warmup" --mode lora --checkpointing layer --checkpoint-layers auto --optimizer adamw --json "$work/st_lora_auto.json" >&2 || echo '{}' > "$work/st_lora_auto.json"
"${sharptune[@]}" bench --model "$model" --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$auto_warmup" --mode qlora --checkpointing layer --checkpoint-layers auto --optimizer adamw_8bit --json "$work/st_qlora_auto.json" >&2 || echo '{}' > "$work/st_qlora_auto.json"
echo "== SharpTune LoRA, kernels off" >&2
"${sharptune[@]}" bench "${common[@]}" --mode lora --checkpointing layer --optimizer adamw --kernels off --json "$work/st_lora_nok.json" >&2 || echo '{}' > "$work/st_lora_nok.json"

python3 - "$work" "$out" "$model" "$batch" "$seq" "$steps" "$warmup" <<'PY'
import json, sys, datetime, os
work, out, model, batch, seq, steps, warmup = sys.argv[1:]
load = lambda n: json.load(open(os.path.join(work, n)))
hf, lora, qlora, nok = load("hf.json"), load("st_lora.json"), load("st_qlora.json"), load("st_lora_nok.json")
lora_auto, qlora_auto = load("st_lora_auto.json"), load("st_qlora_auto.json")
lora_off, qlora_off = load("st_lora_off.json"), load("st_qlora_off.json")
offload = lambda r: f", offload_mlp_layers {r.get('offload_mlp_layers', '?')}"
auto = lambda r: f" (chose {r['checkpoint_layers']} checkpointed layers)" if r.get("checkpoint_layers") is not None else ""
gib = lambda b: f"{b / 2**30:.2f}" if b else "n/a"
hf_tps = hf.get("tokens_per_second"); hf_mem = hf.get("gpu_used_bytes_end") or hf.get("torch_max_memory_reserved_bytes")
def row(name, r, mem_key):
    tps, mem = r.get("tokens_per_second"), r.get(mem_key)
    if tps is None:
        return f"| {name} | failed | | | | | |"
    ms = r.get("median_step_seconds", 0) * 1000
    mfu = r.get("mfu")
    ratio = f"{tps / hf_tps:.2f}x" if hf_tps else "n/a"
    mratio = f"{mem / hf_mem:.2f}" if mem and hf_mem else "n/a"
    return f"| {name} | {ms:.0f} | {tps:.0f} | {'' if mfu is None else f'{mfu*100:.1f} %'} | {gib(mem)} | {ratio} | {mratio} |"
gpu = lora.get("gpu_name") or hf.get("gpu_name") or "?"
lines = [
    f"### {model}, batch {batch} x {seq}, layer checkpointing, LoRA r=16 on all seven projections ({steps} steps after {warmup} warm-up)",
    "",
    f"GPU: {gpu}; date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; torch {hf.get('torch', '?')}, "
    f"transformers {hf.get('transformers', '?')}, peft {hf.get('peft', '?')}, SharpTune {lora.get('sharp_tune_version') or qlora.get('sharp_tune_version', '?')}",
    "",
    "| run | median step (ms) | tokens/s | MFU | peak GPU mem (GiB) | tokens/s vs HF | memory vs HF |",
    "|---|---|---|---|---|---|---|",
    row("HF transformers + PEFT LoRA (bf16, torch AdamW)", hf, "gpu_used_bytes_end"),
    row("SharpTune LoRA (bf16, AdamW)", lora, "peak_gpu_memory_bytes"),
    row("SharpTune LoRA, kernels off", nok, "peak_gpu_memory_bytes"),
    row("SharpTune QLoRA (NF4, 8-bit AdamW)", qlora, "peak_gpu_memory_bytes"),
    row("SharpTune LoRA" + offload(lora_off), lora_off, "peak_gpu_memory_bytes"),
    row("SharpTune QLoRA" + offload(qlora_off), qlora_off, "peak_gpu_memory_bytes"),
    row("SharpTune LoRA, checkpoint_layers auto" + auto(lora_auto), lora_auto, "peak_gpu_memory_bytes"),
    row("SharpTune QLoRA, checkpoint_layers auto" + auto(qlora_auto), qlora_auto, "peak_gpu_memory_bytes"),
    "",
    "MFU = 6 x dense params x tokens/s over the GPU's dense bf16 peak. SharpTune memory: NVML peak of the process; "
    "HF memory: device memory in use (nvidia-smi) at the end of its run (torch keeps its reserved peak cached).",
]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
PY
