#!/usr/bin/env python3
"""End-to-end references for chat inputs and score templates on the decoder fixtures, computed
by transformers (fp32, eager attention, one input at a time), for tests/engine/test_chat_end_to_end.cpp,
the server's test_chat_end_to_end and the CLI's ScoreTemplateTest.

  classify  a conversation rendered with a real chat template by
            tokenizer.apply_chat_template(tokenize=False), tokenized with add_special_tokens=False
            (what apply_chat_template(tokenize=True) does), classified by
            AutoModelForSequenceClassification: probs = softmax(logits) (the fixtures are
            single_label_classification).
  score     vLLM's score template path (CrossEncoderIOProcessor with --chat-template):
            messages = [{"role": "query", ...}, {"role": "document", ...}] rendered with the template
            (chat_template_kwargs as template variables), tokenized with add_special_tokens=True,
            scored by the *ForCausalLM at the last position the way the conversion says:
            from_2_way_softmax: sigmoid(logit[true] - logit[false]); no_post_processing:
            sigmoid(logit[token]).

Deterministic, no network:  python3 tests/engine/chat/make_end_to_end.py
"""
import json
import pathlib

import jinja2
import tokenizers
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DECODERS = ROOT / "tests" / "data" / "decoders"
CHAT_TEMPLATES = ROOT / "tests" / "templates" / "chat_templates"
SCORE_TEMPLATES = ROOT / "assets" / "templates"

CONV = [
    {"role": "system", "content": "You sort support tickets."},
    {"role": "user", "content": "My order never arrived. Où est-il? 🚚"},
    {"role": "assistant", "content": "Sorry to hear that, let me check."},
    {"role": "user", "content": "Thanks, that was quick!"},
]
SHORT = [{"role": "user", "content": "The movie was great!"}]

# (folder, template file, conversation, options)
CLASSIFY = [
    ("qwen2-seqcls", "Qwen-Qwen2.5-7B-Instruct.jinja", CONV, {}),
    ("qwen2-seqcls", "Qwen-Qwen2.5-7B-Instruct.jinja", SHORT, {"add_generation_prompt": True}),
    ("qwen3-seqcls", "Qwen-Qwen3-0.6B.jinja", CONV,
     {"add_generation_prompt": True, "chat_template_kwargs": {"enable_thinking": False}}),
    ("qwen3-seqcls", "Qwen-Qwen3-0.6B.jinja", SHORT, {}),
]

QUERY = "What is the capital of China?"
DOCS = ["The capital of China is Beijing.",
        "Gravity is a force that attracts two bodies towards each other.",
        "北京是中国的首都。"]
INSTRUCTION = "Given a question, find the passage that answers it"

# (folder, template, chat_template_kwargs); the request's `instruction` field is the kwarg of that name
SCORE = [
    ("qwen3-reranker-causallm", "qwen3_reranker.jinja", {}),
    ("qwen3-reranker-causallm", "qwen3_reranker.jinja", {"instruction": INSTRUCTION}),
    ("qwen2-mxbai-reranker-causallm", "mxbai_rerank_v2.jinja", {}),
    ("gemma-bge-reranker-causallm", "bge-reranker-v2-gemma.jinja", {}),
]


def classify_case(folder, template_file, conv, opts):
    path = CHAT_TEMPLATES / template_file
    tok = AutoTokenizer.from_pretrained(DECODERS / folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        DECODERS / folder, dtype=torch.float32, attn_implementation="eager").eval()
    kwargs = dict(opts.get("chat_template_kwargs", {}))
    text = tok.apply_chat_template(conv, tokenize=False, chat_template=path.read_text(encoding="utf-8"),
                                   add_generation_prompt=opts.get("add_generation_prompt", False), **kwargs)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    return {"model": "decoders/" + folder, "template": str(path.relative_to(ROOT)), "messages": conv,
            **opts, "text": text, "ids": ids, "logits": logits.tolist(),
            "probs": torch.softmax(logits, -1).tolist(), "label": model.config.id2label[int(logits.argmax())]}


def score_cases(folder, template_file, kwargs):
    path = SCORE_TEMPLATES / template_file
    ref = json.loads((DECODERS / folder / "reference.json").read_text())
    conversion = ref["conversion"]
    token_ids = conversion["classifier_token_ids"]
    tok = AutoTokenizer.from_pretrained(DECODERS / folder)
    model = AutoModelForCausalLM.from_pretrained(
        DECODERS / folder, dtype=torch.float32, attn_implementation="eager").eval()
    out = []
    for doc in DOCS:
        messages = [{"role": "query", "content": QUERY}, {"role": "document", "content": doc}]
        text = tok.apply_chat_template(messages, tokenize=False, chat_template=path.read_text(encoding="utf-8"),
                                       **kwargs)
        ids = tok(text, add_special_tokens=True)["input_ids"]
        if tok.bos_token_id is not None and len(ids) > 1 and ids[0] == ids[1] == tok.bos_token_id:
            ids = ids[1:]  # a BOS the template wrote is not added twice (transformers' chat rule)
        with torch.no_grad():
            last = model(torch.tensor([ids])).logits[0, -1]
        if conversion["method"] == "from_2_way_softmax":
            logit = last[token_ids[1]] - last[token_ids[0]]
        else:
            assert conversion["method"] == "no_post_processing" and len(token_ids) == 1
            logit = last[token_ids[0]]
        out.append({"model": "decoders/" + folder, "template": str(path.relative_to(ROOT)),
                    "hf_overrides": conversion["hf_overrides"], "query": QUERY, "document": doc,
                    "chat_template_kwargs": kwargs, "text": text, "ids": ids, "logit": float(logit),
                    "score": float(torch.sigmoid(logit))})
    return out


def main():
    classify = [classify_case(*c) for c in CLASSIFY]
    score = [s for c in SCORE for s in score_cases(*c)]
    # the instruction must reach the prompt, or the two Qwen3 groups would be the same test
    assert score[0]["text"] != score[len(DOCS)]["text"] and INSTRUCTION in score[len(DOCS)]["text"]
    out = {
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "torch": torch.__version__, "jinja2": jinja2.__version__},
        "classify": classify,
        "score": score,
    }
    (HERE / "end_to_end.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(classify)} classify, {len(score)} score cases")


if __name__ == "__main__":
    main()
