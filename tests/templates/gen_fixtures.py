#!/usr/bin/env python3
"""Generates the golden fixtures of tests/templates from jinja2, through transformers.

Everything the C++ renderer is compared with comes out of transformers' own code
paths (transformers 5.23.0, jinja2 3.1.6 when these were made):

  unit_cases.json     constructs, filters, tests, methods, whitespace control, errors:
                      transformers' _compile_jinja_template(src).render(**context)
  chat_cases.json     every template of chat_templates/ x the conversations of
                      conversations.json (and per-family kwargs), rendered by
                      AutoTokenizer.from_pretrained(dir).apply_chat_template(..., tokenize=False)
                      where dir holds the template and the family's special tokens
  score_cases.json    assets/templates/*.jinja (vLLM's score templates) on
                      [{"role": "query", ...}, {"role": "document", ...}]
  model_dirs/*/       model folders (chat_template.jinja, additional_chat_templates/,
                      tokenizer_config.json string / list forms, AddedToken objects,
                      special_tokens_map.json), and model_dir_cases.json rendered from them

An output is {"output": text}; a failure is {"error": {"kind": ..., ...}} with kind
"raise" (raise_exception: the message), "render" (an exception raised while the
template ran: its Python type), "chat" (transformers refused the request: the
message) or "syntax" (the template does not parse).

strftime_now reads a fixed clock (FIXED_TIME, noon UTC, so the date is the same in
any time zone within 11 hours) by replacing the `datetime` transformers'
strftime_now calls; the C++ tests set TemplateOptions::clock to the same instant.

Usage: python3 tests/templates/gen_fixtures.py   (from the repository root)
"""
import copy
import datetime as _datetime
import json
import os
import shutil
import sys
import tempfile
import traceback

import jinja2
import transformers
import transformers.utils.chat_template_utils as ctu
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXED_TIME = 1721995200  # 2024-07-26 12:00:00 UTC


class _FixedDatetime(_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return _datetime.datetime.fromtimestamp(FIXED_TIME, tz)


ctu.datetime = _FixedDatetime  # strftime_now() reads this module's datetime


def classify(e):
    """The error record of an exception raised by apply_chat_template / render."""
    if isinstance(e, jinja2.exceptions.TemplateSyntaxError) or isinstance(e, SyntaxError):
        return {"kind": "syntax", "type": type(e).__name__}
    if type(e) is jinja2.exceptions.TemplateError:  # raise_exception(message)
        return {"kind": "raise", "message": str(e)}
    in_template = any(f.filename == "<template>" for f in traceback.extract_tb(e.__traceback__))
    if in_template or isinstance(e, jinja2.exceptions.TemplateError):
        return {"kind": "render", "type": type(e).__name__}
    return {"kind": "chat", "type": type(e).__name__, "message": str(e)}


def outcome(fn):
    try:
        return {"output": fn()}
    except Exception as e:  # noqa: BLE001 - every failure is a fixture
        return {"error": classify(e)}


# ---- model folders ---------------------------------------------------------------------------

def write_tokenizer_json(path, tokens):
    vocab = {"<unk>": 0}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(os.path.join(path, "tokenizer.json"))


def make_model_dir(path, config, template_files=None, special_tokens_map=None):
    os.makedirs(path, exist_ok=True)
    tokens = []
    for v in list(config.values()) + list((special_tokens_map or {}).values()):
        if isinstance(v, str) and v.startswith("<") and len(v) < 40:
            tokens.append(v)
        elif isinstance(v, dict) and "content" in v:
            tokens.append(v["content"])
    write_tokenizer_json(path, tokens)
    with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    for rel, text in (template_files or {}).items():
        p = os.path.join(path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    if special_tokens_map is not None:
        with open(os.path.join(path, "special_tokens_map.json"), "w", encoding="utf-8") as f:
            json.dump(special_tokens_map, f, indent=2)
            f.write("\n")


def apply(tokenizer, request):
    kwargs = dict(request.get("chat_template_kwargs", {}))
    cfm = request.get("continue_final_message", False)
    return tokenizer.apply_chat_template(
        copy.deepcopy(request["messages"]),
        tools=copy.deepcopy(request.get("tools")),
        documents=copy.deepcopy(request.get("documents")),
        chat_template=request.get("chat_template"),
        add_generation_prompt=request.get("add_generation_prompt", False),
        continue_final_message=cfm,
        tokenize=False,
        **kwargs,
    )


def main():
    sys.path.insert(0, HERE)
    import fixture_data as data  # the conversations, families and unit cases

    versions = {"transformers": transformers.__version__, "jinja2": jinja2.__version__,
                "python": sys.version.split()[0], "fixed_time": FIXED_TIME}

    # Unit cases: the template environment transformers renders with.
    unit = []
    for name, src, ctx in data.UNIT_CASES:
        case = {"name": name, "template": src, "context": ctx}
        try:
            compiled = ctu._compile_jinja_template(src)
        except Exception as e:  # noqa: BLE001
            case["expected"] = {"error": classify(e)}
            unit.append(case)
            continue
        case["expected"] = outcome(lambda: compiled.render(**copy.deepcopy(ctx)))
        unit.append(case)
    dump("unit_cases.json", {"versions": versions, "cases": unit})

    # Chat cases: every family's template over the conversation corpus.
    with open(os.path.join(HERE, "conversations.json"), "w", encoding="utf-8") as f:
        json.dump(data.CONVERSATIONS, f, indent=1, ensure_ascii=False)
        f.write("\n")
    chat = []
    tmp = tempfile.mkdtemp()
    try:
        for fam in data.FAMILIES:
            with open(os.path.join(HERE, "chat_templates", fam["template"] + ".jinja"), encoding="utf-8") as f:
                source = f.read()
            d = os.path.join(tmp, fam["template"])
            make_model_dir(d, dict(fam["tokens"]), {"chat_template.jinja": source})
            tok = AutoTokenizer.from_pretrained(d)
            special = tok.special_tokens_map
            for conv_name, conv in data.CONVERSATIONS.items():
                request = dict(conv)
                kwargs = dict(fam.get("kwargs", {}))
                kwargs.update(request.get("chat_template_kwargs", {}))
                if kwargs:
                    request["chat_template_kwargs"] = kwargs
                chat.append({"family": fam["family"], "template": fam["template"],
                             "conversation": conv_name, "special_tokens": special,
                             "chat_template_kwargs": request.get("chat_template_kwargs", {}),
                             "expected": outcome(lambda: apply(tok, request))})
            for extra in fam.get("extra", []):
                chat.append({"family": fam["family"], "template": fam["template"],
                             "conversation": extra["conversation"], "special_tokens": special,
                             "chat_template_kwargs": extra.get("chat_template_kwargs", {}),
                             "expected": outcome(lambda: apply(tok, dict(data.CONVERSATIONS[extra["conversation"]],
                                                                          chat_template_kwargs=extra.get("chat_template_kwargs", {}))))})
    finally:
        shutil.rmtree(tmp)
    dump("chat_cases.json", {"versions": versions, "cases": chat})

    # Score templates (vLLM examples/pooling/score/template), through apply_chat_template.
    score = []
    d = tempfile.mkdtemp()
    try:
        make_model_dir(d, {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
        tok = AutoTokenizer.from_pretrained(d)
        for tname in data.SCORE_TEMPLATES:
            with open(os.path.join(ROOT, "assets", "templates", tname), encoding="utf-8") as f:
                source = f.read()
            for q, doc, kwargs in data.SCORE_PAIRS:
                request = {"messages": [{"role": "query", "content": q}, {"role": "document", "content": doc}],
                           "chat_template": source, "chat_template_kwargs": kwargs}
                score.append({"template": tname, "query": q, "document": doc, "chat_template_kwargs": kwargs,
                              "special_tokens": tok.special_tokens_map,
                              "expected": outcome(lambda: apply(tok, request))})
    finally:
        shutil.rmtree(d)
    dump("score_cases.json", {"versions": versions, "cases": score})

    # Model folders: how transformers finds templates and special tokens.
    dirs_root = os.path.join(HERE, "model_dirs")
    shutil.rmtree(dirs_root, ignore_errors=True)
    folder_cases = []
    for spec in data.model_dir_specs(os.path.join(HERE, "chat_templates")):
        path = os.path.join(dirs_root, spec["name"])
        make_model_dir(path, spec["config"], spec.get("files"), spec.get("special_tokens_map"))
        try:
            tok = AutoTokenizer.from_pretrained(path)
            special = tok.special_tokens_map
        except Exception as e:  # noqa: BLE001
            tok, special = None, {"load_error": str(e)}
        for request in spec["requests"]:
            folder_cases.append({"dir": spec["name"], "request": request, "special_tokens": special,
                                 "expected": outcome(lambda: apply(tok, request))})
    dump("model_dir_cases.json", {"versions": versions, "cases": folder_cases})
    print(f"{len(unit)} unit, {len(chat)} chat, {len(score)} score, {len(folder_cases)} folder cases")


def dump(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
