#!/usr/bin/env python3
"""Baseline for SharpTune's training benchmark: Hugging Face PEFT LoRA training steps on a Llama-3-8B-shaped model.

bitsandbytes is NOT installed on the GPU host, so this is a bf16 LoRA baseline (16-bit frozen base, not NF4):
r=16, alpha=16 on q,k,v,o,gate,up,down, batch 2 x 2048 tokens, AdamW (torch, fused off), bf16 weights, gradient
checkpointing on or off. Weights are random (no downloads): the step time and memory do not depend on their values.
Reports the median step time, tokens/s, and peak memory from torch.cuda.max_memory_allocated and from NVML
(the process's memory as nvidia-smi shows it, which includes the caching allocator's reserve and the CUDA context).

  python3 bench/hf_peft_baseline.py --steps 6 --checkpointing on --out bench-peft-on.json
  python3 bench/hf_peft_baseline.py --layers 4 ...   (a shallower model for a quick look)
"""
import argparse
import ctypes
import json
import os
import statistics
import threading
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM


class NvmlPeak:
    """Samples this process's GPU memory through NVML every 20 ms and keeps the peak (None without NVML)."""

    def __init__(self, index=0):
        self.peak = None
        self._stop = threading.Event()
        try:
            self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        except OSError:
            self.lib = None
            return
        self.lib.nvmlInit_v2()
        self.handle = ctypes.c_void_p()
        self.lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(self.handle))
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self):
        class Info(ctypes.Structure):
            _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong),
                        ("gpuInstanceId", ctypes.c_uint), ("computeInstanceId", ctypes.c_uint)]
        count = ctypes.c_uint(64)
        infos = (Info * 64)()
        if self.lib.nvmlDeviceGetComputeRunningProcesses_v3(self.handle, ctypes.byref(count), infos) != 0:
            return
        for i in range(count.value):
            if infos[i].pid == os.getpid():
                self.peak = max(self.peak, infos[i].usedGpuMemory)

    def _run(self):
        while not self._stop.wait(0.02):
            self._sample()

    def stop(self):
        if self.lib is not None:
            self._stop.set()
            self._thread.join()
            self._sample()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps (the first is warmup, not timed)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--accumulation", type=int, default=1, help="micro-batches per step (SharpTune's reference uses 4)")
    parser.add_argument("--checkpointing", choices=["on", "off"], default="on")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--out", help="write the results as JSON here too")
    args = parser.parse_args()

    torch.manual_seed(3407)
    config = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=args.layers,
                         num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192, rms_norm_eps=1e-5,
                         rope_theta=500000.0, tie_word_embeddings=False, torch_dtype="bfloat16")
    meter = NvmlPeak()
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.config.use_cache = False
    if args.checkpointing == "on":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
        model.enable_input_require_grads()
    lora = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=2e-4, weight_decay=0.01)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(args.steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.accumulation):
            ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), device="cuda")
            loss = model(input_ids=ids, labels=ids).loss / args.accumulation
            loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        print(f"step {step + 1}: {times[-1]:.3f} s, loss {loss.item() * args.accumulation:.4f}", flush=True)
    meter.stop()
    timed = times[1:] if len(times) > 1 else times
    median = statistics.median(timed)
    tokens = args.batch * args.seq * args.accumulation
    result = {
        "tool": "hf-peft",
        "base": "bf16 (bitsandbytes not installed: no NF4 baseline)",
        "layers": args.layers,
        "gradient_checkpointing": args.checkpointing,
        "batch": args.batch, "seq": args.seq, "accumulation": args.accumulation,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "median_step_s": round(median, 4),
        "tokens_per_s": round(tokens / median, 1),
        "peak_torch_max_memory_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "peak_nvml_process_gib": None if meter.peak is None else round(meter.peak / 2**30, 2),
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
