#!/usr/bin/env python3
"""PEFT oracle for SharpTune's LoRA adapters (HF transformers + peft, no SharpTune code).

  load-ours:  load a base model directory and an adapter directory written by SharpTune with
              peft.PeftModel.from_pretrained, run the token ids, write the logits.
  make-peft:  wrap the base with peft.get_peft_model(LoraConfig(...)), give every lora_B random non-zero
              values (PEFT initializes B to zero), save the adapter with save_pretrained, write its logits.

Ids are a JSON file [[...], [...]] (equal-length rows). Logits are written as safetensors {"logits": float32}.
"""
import argparse
import json

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM


def logits_of(model, ids_path, device):
    with open(ids_path) as f:
        ids = torch.tensor(json.load(f), dtype=torch.long, device=device)
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits.float().cpu().contiguous()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["load-ours", "make-peft"])
    parser.add_argument("--model", required=True, help="HF model directory (base weights)")
    parser.add_argument("--adapter", required=True, help="adapter directory to read (load-ours) or write (make-peft)")
    parser.add_argument("--ids", required=True, help="JSON file of token id rows")
    parser.add_argument("--out", required=True, help="safetensors file for the logits")
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16)
    parser.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    parser.add_argument("--rslora", action="store_true")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    base = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).to(args.device)
    if args.mode == "load-ours":
        model = PeftModel.from_pretrained(base, args.adapter).to(args.device)
    else:
        config = LoraConfig(r=args.r, lora_alpha=args.alpha, lora_dropout=0.0, target_modules=args.targets.split(","),
                            use_rslora=args.rslora, task_type="CAUSAL_LM")
        model = get_peft_model(base, config)
        generator = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
        model.save_pretrained(args.adapter)
    save_file({"logits": logits_of(model, args.ids, args.device)}, args.out)
    print(json.dumps({"mode": args.mode, "peft_modules": sum(1 for n, _ in model.named_modules() if n.endswith("lora_A"))}))


if __name__ == "__main__":
    main()
