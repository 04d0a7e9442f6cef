#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/fuzz_templates/ from the test fixtures: every
real chat template with a conversation as its context, and the unit cases.
Each file is the template, a NUL byte, then the JSON context (fuzz_templates.cpp).

Usage: python3 fuzz/make_templates_corpus.py   (from the repository root)
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus", "fuzz_templates")
FIX = os.path.join(ROOT, "tests", "templates")


def write(name, template, context):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(template.encode("utf-8") + b"\0" + json.dumps(context, ensure_ascii=False).encode("utf-8"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.unlink(os.path.join(OUT, old))
    convs = json.load(open(os.path.join(FIX, "conversations.json"), encoding="utf-8"))
    names = ["tool_call_round_trip", "multi_turn", "unicode", "reasoning_content", "documents", "content_parts"]
    for i, f in enumerate(sorted(os.listdir(os.path.join(FIX, "chat_templates")))):
        src = open(os.path.join(FIX, "chat_templates", f), encoding="utf-8").read()
        conv = dict(convs[names[i % len(names)]])
        conv.setdefault("tools", None)
        conv.update({"bos_token": "<s>", "eos_token": "</s>"})
        write("chat_" + f.replace(".jinja", ""), src, conv)
    for c in json.load(open(os.path.join(FIX, "unit_cases.json"), encoding="utf-8"))["cases"]:
        write("unit_" + c["name"], c["template"], c["context"])


if __name__ == "__main__":
    main()
