#!/usr/bin/env python3
"""Expected token ids of chat inputs (vkcls::ChatInput) for tests/engine/test_chat_input.cpp,
made by transformers: apply_chat_template(..., tokenize=False) for the text and
apply_chat_template(..., tokenize=True) for the ids (transformers tokenizes the rendered text
with add_special_tokens=False). With add_special_tokens=True the ids are
tokenizer(text, add_special_tokens=True) without a second BOS when the template wrote one (the
rule vkcls follows; the script checks the duplicate was really there).

Templates: the real ones in tests/templates/chat_templates/ and encoder_chat.jinja here.
Tokenizers: the decoder fixtures in tests/data/decoders/ and the BERT fixture in tests/data/models/.
Deterministic, no network:  python3 tests/engine/chat/make_chat_cases.py
"""
import json
import pathlib

import jinja2
import tokenizers
import transformers
from transformers import AutoTokenizer

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TEMPLATES = ROOT / "tests" / "templates" / "chat_templates"

CONV = [
    {"role": "system", "content": "You sort support tickets."},
    {"role": "user", "content": "My order never arrived. Où est-il? 🚚"},
    {"role": "assistant", "content": "  Sorry to hear that, let me check.  "},
    {"role": "user", "content": "Thanks!"},
]
NO_SYSTEM = CONV[1:]
OPEN_ASSISTANT = CONV[:3]

# (name, model folder, template file, conversation, options)
CASES = [
    ("qwen_chatml", "decoders/qwen3-seqcls", "Qwen-Qwen2.5-7B-Instruct.jinja", CONV, {}),
    ("qwen_chatml_default_system", "decoders/qwen3-seqcls", "Qwen-Qwen2.5-7B-Instruct.jinja",
     NO_SYSTEM, {"add_generation_prompt": True}),
    ("qwen_continue_final", "decoders/qwen3-seqcls", "Qwen-Qwen2.5-7B-Instruct.jinja",
     OPEN_ASSISTANT, {"continue_final_message": True}),
    ("qwen3_no_thinking_kwargs", "decoders/qwen3-seqcls", "Qwen-Qwen3-0.6B.jinja", CONV,
     {"add_generation_prompt": True, "chat_template_kwargs": {"enable_thinking": False}}),
    ("llama3_bos_in_template", "decoders/llama-seqcls", "meta-llama-Llama-3.1-8B-Instruct.jinja",
     CONV, {}),
    ("llama3_bos_not_doubled", "decoders/llama-seqcls", "meta-llama-Llama-3.1-8B-Instruct.jinja",
     CONV, {"add_special_tokens": True, "add_generation_prompt": True}),
    ("gemma_alternating", "decoders/gemma-seqcls", "google-gemma-7b-it.jinja", NO_SYSTEM,
     {"add_generation_prompt": True}),
    ("gemma_raises_on_system", "decoders/gemma-seqcls", "google-gemma-7b-it.jinja", CONV, {}),
    ("bert_encoder_template", "models/bert-seqcls", HERE / "encoder_chat.jinja", NO_SYSTEM,
     {"add_special_tokens": True}),
    ("bert_encoder_generation_prompt", "models/bert-seqcls", HERE / "encoder_chat.jinja",
     NO_SYSTEM, {"add_generation_prompt": True}),
]


def main():
    cases = []
    for name, folder, template_file, conv, opts in CASES:
        path = template_file if isinstance(template_file, pathlib.Path) else TEMPLATES / template_file
        template = path.read_text(encoding="utf-8")
        tok = AutoTokenizer.from_pretrained(ROOT / "tests" / "data" / folder)
        kwargs = dict(opts.get("chat_template_kwargs", {}))
        common = dict(chat_template=template,
                      add_generation_prompt=opts.get("add_generation_prompt", False),
                      continue_final_message=opts.get("continue_final_message", False), **kwargs)
        case = {"name": name, "model": folder, "template": str(path.relative_to(ROOT)),
                "messages": conv, **opts}
        try:
            text = tok.apply_chat_template(conv, tokenize=False, **common)
        except jinja2.TemplateError as e:
            case["error"] = str(e)
            cases.append(case)
            continue
        ids = tok.apply_chat_template(conv, tokenize=True, return_dict=True, **common)["input_ids"]
        assert ids == tok(text, add_special_tokens=False)["input_ids"], name
        if opts.get("add_special_tokens"):
            ids = tok(text, add_special_tokens=True)["input_ids"]
            if tok.bos_token_id is not None and text.startswith(tok.bos_token):
                assert ids[0] == ids[1] == tok.bos_token_id, name  # the duplicate vkcls drops
                ids = ids[1:]
        case["text"] = text
        case["ids"] = ids
        cases.append(case)
    out = {
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "jinja2": jinja2.__version__},
        "cases": cases,
    }
    (HERE / "chat_cases.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n",
                                         encoding="utf-8")


if __name__ == "__main__":
    main()
