#!/usr/bin/env python3
"""Make reference models with Hugging Face transformers, for SharpTune's model-engine GPU tests.

Writes one directory per architecture variant under OUT/tiny/<name>/ (save_pretrained, safetensors, fp32 weights):
LlamaForCausalLM (llama3 rope scaling, untied; and tied with attention/MLP biases), MistralForCausalLM (sliding
window 8), Qwen2ForCausalLM (untied and tied), Qwen3ForCausalLM (tied with head_dim != hidden/heads; and untied
with attention bias). Every parameter is random (matrices N(0, 0.02), norm scales 1 + N(0, 0.1), biases N(0, 0.02))
so that norms and biases are really tested. OUT/tiny/manifest.json lists the models.

With --with-8b also writes OUT/llama3-8b/: a Llama-3-8B-shaped model (random bf16 weights drawn on the GPU, 5 GB
shards + model.safetensors.index.json, ~16 GB), for load-time comparisons.

usage: python3 tests/oracles/models_make_reference.py --out DIR [--with-8b] [--seed N]
"""
import argparse
import json
import os
import time

import torch
import transformers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

V5 = int(transformers.__version__.split(".")[0]) >= 5
TINY = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=2048, bos_token_id=1, eos_token_id=2)


def rope(theta, scaling=None):
    """Rotary settings in the form this transformers version takes."""
    if V5:
        params = {"rope_type": "default", "rope_theta": theta}
        if scaling:
            params.update(scaling)
        return {"rope_parameters": params}
    out = {"rope_theta": theta}
    if scaling:
        out["rope_scaling"] = scaling
    return out


LLAMA3_SCALING = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192}

VARIANTS = {
    "llama3_untied": (LlamaConfig, LlamaForCausalLM,
                      dict(tie_word_embeddings=False, rms_norm_eps=1e-5, **rope(500000.0, LLAMA3_SCALING))),
    "llama_tied_bias": (LlamaConfig, LlamaForCausalLM,
                        dict(tie_word_embeddings=True, attention_bias=True, mlp_bias=True, rms_norm_eps=1e-5,
                             **rope(10000.0))),
    "mistral_window8": (MistralConfig, MistralForCausalLM,
                        dict(tie_word_embeddings=False, sliding_window=8, rms_norm_eps=1e-5, **rope(1000000.0))),
    "qwen2_untied": (Qwen2Config, Qwen2ForCausalLM,
                     dict(tie_word_embeddings=False, use_sliding_window=False, rms_norm_eps=1e-6, **rope(1000000.0))),
    "qwen2_tied": (Qwen2Config, Qwen2ForCausalLM,
                   dict(tie_word_embeddings=True, use_sliding_window=False, rms_norm_eps=1e-6, **rope(1000000.0))),
    "qwen3_tied_headdim32": (Qwen3Config, Qwen3ForCausalLM,
                             dict(tie_word_embeddings=True, head_dim=32, use_sliding_window=False, rms_norm_eps=1e-6,
                                  **rope(1000000.0))),
    "qwen3_untied_bias": (Qwen3Config, Qwen3ForCausalLM,
                          dict(tie_word_embeddings=False, head_dim=16, attention_bias=True, use_sliding_window=False,
                               rms_norm_eps=1e-6, **rope(1000000.0))),
}


def randomize(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))


def make_tiny(out, seed):
    manifest = []
    for i, (name, (config_class, model_class, extra)) in enumerate(VARIANTS.items()):
        config = config_class(**TINY, **extra)
        torch.manual_seed(seed + i)
        model = model_class(config).to(torch.float32).eval()
        randomize(model, seed + i)
        if config.tie_word_embeddings:
            assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        path = os.path.join(out, "tiny", name)
        model.save_pretrained(path, safe_serialization=True)
        manifest.append({"name": name, "path": path, "architecture": model_class.__name__,
                         "tied": bool(config.tie_word_embeddings), "vocab_size": config.vocab_size})
        print(f"wrote {name} ({model_class.__name__}) to {path}", flush=True)
    with open(os.path.join(out, "tiny", "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)


def make_8b(out, seed):
    """Llama-3-8B shapes, random bf16 weights drawn on the GPU, saved in 5 GB shards with an index."""
    from safetensors.torch import save_file
    config = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
                         rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=128000, eos_token_id=128001,
                         **rope(500000.0, dict(LLAMA3_SCALING, factor=8.0)))
    path = os.path.join(out, "llama3-8b")
    os.makedirs(path, exist_ok=True)
    with torch.device("meta"):
        shapes = [(n, tuple(p.shape)) for n, p in LlamaForCausalLM(config).named_parameters()]
    config.torch_dtype = torch.bfloat16
    config.save_pretrained(path)
    gen = torch.Generator(device="cuda").manual_seed(seed)
    limit = 5 * 1024 ** 3
    shards, current, size = [], {}, 0
    for name, shape in shapes:
        nbytes = 2 * int(torch.tensor(shape).prod())
        if current and size + nbytes > limit:
            shards.append(current)
            current, size = {}, 0
        current[name] = shape
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    start = time.time()
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors = {}
        for name, shape in shard.items():
            if name.endswith("norm.weight"):
                t = torch.ones(shape, dtype=torch.bfloat16, device="cuda")
            else:
                t = torch.empty(shape, dtype=torch.bfloat16, device="cuda").normal_(0.0, 0.02, generator=gen)
            tensors[name] = t.cpu()
            weight_map[name] = file
            total += t.numel() * 2
        save_file(tensors, os.path.join(path, file), metadata={"format": "pt"})
        print(f"wrote {file} ({len(shard)} tensors, {time.time() - start:.0f} s)", flush=True)
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    print(f"wrote {path} ({total / 1e9:.1f} GB)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--with-8b", action="store_true", help="also write the ~16 GB Llama-3-8B-shaped checkpoint")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}", flush=True)
    make_tiny(args.out, args.seed)
    if args.with_8b:
        make_8b(args.out, args.seed)


if __name__ == "__main__":
    main()
