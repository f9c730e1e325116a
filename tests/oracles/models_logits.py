#!/usr/bin/env python3
"""Hugging Face transformers as the oracle for SharpTune's model engine.

Loads a model directory (made by transformers' save_pretrained, or by `sharptune init-model`) with
AutoModelForCausalLM (SDPA attention) on the GPU in the given dtype, runs each token-id sequence on its own
(batch 1, no padding) and writes a safetensors file with, per sequence i:
  logits.i     float32 [seq, vocab]  the forward pass's logits
  generated.i  int64   [n]           greedy generation of --generate new tokens (EOS stopping off)
and `seconds.load` (float64 [1]) with the from_pretrained time.

With --time-load only, it times loading (from_pretrained straight to the GPU, bf16 by default, synchronized)
and prints "load_seconds=<s>".

usage:
  python3 tests/oracles/models_logits.py --model DIR --ids "1,2,3;4,5" --dtype fp32 --generate 32 --out FILE
  python3 tests/oracles/models_logits.py --model DIR --time-load [--dtype bf16]
"""
import argparse
import time

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def load(model_dir, dtype, device):
    torch.cuda.synchronize() if device.startswith("cuda") else None
    start = time.perf_counter()
    kwargs = dict(attn_implementation="sdpa")
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, device_map=device, **kwargs)
    except TypeError:  # transformers 4.x names it torch_dtype
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype, device_map=device, **kwargs)
    except (ImportError, ValueError):  # device_map needs accelerate on some versions
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, **kwargs).to(device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return model.eval(), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--ids", help="token-id sequences: comma-separated ids, sequences separated by ';'")
    parser.add_argument("--dtype", choices=DTYPES, default="fp32")
    parser.add_argument("--generate", type=int, default=0, help="greedy new tokens per sequence (0 = none)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", help="safetensors file to write")
    parser.add_argument("--time-load", action="store_true")
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model, seconds = load(args.model, DTYPES[args.dtype], args.device)
    if args.time_load:
        print(f"load_seconds={seconds:.3f}", flush=True)
        return

    sequences = [[int(t) for t in part.split(",") if t.strip()] for part in args.ids.split(";") if part.strip()]
    out = {"seconds.load": torch.tensor([seconds], dtype=torch.float64)}
    model.generation_config.eos_token_id = None
    with torch.no_grad():
        for i, ids in enumerate(sequences):
            input_ids = torch.tensor([ids], dtype=torch.long, device=args.device)
            out[f"logits.{i}"] = model(input_ids=input_ids).logits[0].float().cpu().contiguous()
            if args.generate > 0:
                generated = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                           max_new_tokens=args.generate, do_sample=False,
                                           eos_token_id=None, pad_token_id=0, use_cache=True)
                out[f"generated.{i}"] = generated[0, len(ids):].cpu().contiguous()
    save_file(out, args.out)
    print(f"wrote {args.out} ({len(sequences)} sequences)", flush=True)


if __name__ == "__main__":
    main()
