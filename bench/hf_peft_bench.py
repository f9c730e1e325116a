#!/usr/bin/env python3
"""HF transformers + PEFT LoRA training-step benchmark with the same settings as `sharptune bench`.

Random-weight model of real shapes (built from a config, weights drawn on the GPU in bf16), LoRA r=16 alpha=16 on
q,k,v,o,gate,up,down, loss over all tokens, torch AdamW (fused) on the LoRA params, optional gradient checkpointing.
Reports median step time after warm-up, tokens/s and peak GPU memory (torch max_memory_reserved plus the CUDA
context, read as the process's NVML usage when pynvml is importable). Writes JSON to --json.
"""
import argparse, json, statistics, subprocess, time

import torch
import transformers
import peft

SHAPES = {
    "llama3-8b": dict(model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=8, vocab_size=128256, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
                      rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192)),
    "llama3.2-1b": dict(model_type="llama", hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, head_dim=64,
                        num_key_value_heads=8, vocab_size=128256, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
                        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192)),
    "llama3.2-3b": dict(model_type="llama", hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24, head_dim=128,
                        num_key_value_heads=8, vocab_size=128256, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
                        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192)),
    "qwen2.5-7b": dict(model_type="qwen2", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, vocab_size=152064, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False),
}


def gpu_used_bytes():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, check=True).stdout
        return int(out.strip().splitlines()[0]) * 1024 * 1024
    except Exception:
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="llama3-8b", choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--checkpointing", default="layer", choices=["none", "layer"])
    p.add_argument("--attn", default="sdpa")
    p.add_argument("--json", required=True)
    a = p.parse_args()

    torch.manual_seed(3407)
    shape = dict(SHAPES[a.model])
    config = transformers.AutoConfig.for_model(**shape, max_position_embeddings=131072)
    config._attn_implementation = a.attn
    torch.set_default_device("cuda")
    torch.set_default_dtype(torch.bfloat16)
    model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    torch.set_default_device(None)
    torch.set_default_dtype(torch.float32)
    if a.checkpointing == "layer":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    lora = peft.LoraConfig(r=a.rank, lora_alpha=a.rank, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                           target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = peft.get_peft_model(model, lora)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    trainable = sum(q.numel() for q in params)
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.01)
    gen = torch.Generator(device="cuda").manual_seed(3407)
    times, loss_value = [], float("nan")
    torch.cuda.synchronize()
    for step in range(a.warmup + a.steps):
        ids = torch.randint(0, shape["vocab_size"], (a.batch, a.seq), device="cuda", generator=gen)
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_value = out.loss.item()
        torch.cuda.synchronize()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    result = dict(
        model=a.model, mode="lora", batch=a.batch, sequence=a.seq, checkpointing=a.checkpointing, attn=a.attn,
        gpu_name=torch.cuda.get_device_name(0), trainable_parameters=trainable, step_seconds=times, median_step_seconds=median,
        tokens_per_second=a.batch * a.seq / median, torch_max_memory_allocated_bytes=torch.cuda.max_memory_allocated(),
        torch_max_memory_reserved_bytes=torch.cuda.max_memory_reserved(), gpu_used_bytes_end=gpu_used_bytes(), final_loss=loss_value,
        torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "step_seconds"}, indent=2))


if __name__ == "__main__":
    main()
