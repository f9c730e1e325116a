#!/usr/bin/env python3
"""Oracle for SharpTune's chat template renderers: Hugging Face transformers' apply_chat_template (tokenize=False).

For every message list in MESSAGES (a JSON object name -> [{role, content}]) and add_generation_prompt False/True,
renders:
  qwen3        with the Qwen3 tokenizer's own chat_template (TOKENIZERS/qwen3)
  llama3, chatml, mistral, deepseek-r1   with the template strings in TEMPLATES (tests/fixtures/chat/templates.json),
               passed as chat_template= to a tokenizer whose BOS/EOS match (llama3 -> TOKENIZERS/llama3,
               chatml -> qwen3, mistral -> llama2); deepseek-r1's {{bos_token}} is replaced by its own BOS string
               before rendering, as none of the fetched tokenizers has it.
Writes OUT/expected_<template>.json: {name: {"plain": text|null, "generation": text|null, "error": message|null}},
where an error means the template raised (e.g. mistral with a system message).

With --jinja2 (no transformers needed), renders the same templates with plain jinja2 configured as transformers
configures it (sandboxed, trim_blocks, lstrip_blocks, raise_exception, tojson) and writes expected_jinja2_<template>.json
instead: a CPU-side check until the transformers fixtures are committed.

Usage: python3 tests/oracles/chat_templates.py --tokenizers .tools/tokenizers \
         --messages tests/fixtures/chat/messages.json --templates tests/fixtures/chat/templates.json --out tests/fixtures/chat
"""
import argparse
import json
import os



class Jinja2Tokenizer:
    """Renders like transformers' apply_chat_template(tokenize=False), with BOS/EOS from tokenizer_config.json."""

    def __init__(self, directory):
        with open(os.path.join(directory, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        token = lambda v: v["content"] if isinstance(v, dict) else v
        self.special = {"bos_token": token(config.get("bos_token")), "eos_token": token(config.get("eos_token"))}
        self.chat_template = config.get("chat_template")

    def apply_chat_template(self, messages, chat_template, tokenize, add_generation_prompt):
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
        env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False: json.dumps(x, ensure_ascii=ensure_ascii, indent=indent)
        env.globals["raise_exception"] = raise_exception
        return env.from_string(chat_template).render(messages=messages, add_generation_prompt=add_generation_prompt, **self.special)


def render(tokenizer, messages, template):
    result = {"plain": None, "generation": None, "error": None}
    try:
        for key, generation in (("plain", False), ("generation", True)):
            result[key] = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=generation)
    except Exception as e:  # the template raised (raise_exception) or rejected the messages
        result = {"plain": None, "generation": None, "error": f"{type(e).__name__}: {e}"}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizers", required=True)
    parser.add_argument("--messages", required=True)
    parser.add_argument("--templates", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--jinja2", action="store_true", help="render with plain jinja2 instead of transformers")
    args = parser.parse_args()
    if args.jinja2:
        version, prefix = "jinja2", "expected_jinja2_"
        load = lambda name: Jinja2Tokenizer(os.path.join(args.tokenizers, name))
    else:
        import transformers
        version, prefix = f"transformers {transformers.__version__}", "expected_"
        load = lambda name: transformers.AutoTokenizer.from_pretrained(os.path.join(args.tokenizers, name))

    with open(args.messages, encoding="utf-8") as f:
        sets = json.load(f)
    with open(args.templates, encoding="utf-8") as f:
        fixture = json.load(f)
    templates = fixture["templates"]
    qwen3 = load("qwen3")
    plan = {
        "qwen3": (qwen3, qwen3.chat_template),
        "llama3": (load("llama3"), templates["llama3"]),
        "chatml": (qwen3, templates["chatml"]),
        "mistral": (load("llama2"), templates["mistral"]),
        "deepseek-r1": (load("llama3"), templates["deepseek-r1"].replace("{{bos_token}}", "{{'" + fixture["special_tokens"]["deepseek-r1"]["bos_token"] + "'}}")),
    }
    os.makedirs(args.out, exist_ok=True)
    for name, (tokenizer, template) in plan.items():
        expected = {key: render(tokenizer, messages, template) for key, messages in sets.items()}
        path = os.path.join(args.out, f"{prefix}{name}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(expected, f, ensure_ascii=False, indent=1)
        os.replace(path + ".tmp", path)
        print(f"{name}: {len(expected)} conversations -> {path} ({version})")


if __name__ == "__main__":
    main()
