#!/usr/bin/env python3
"""`vkcls serve` with chat and score templates, end to end, against transformers (the references of
tests/engine/chat/end_to_end.json, made by tests/engine/chat/make_end_to_end.py):

  - /classify with `messages` on the Qwen2 / Qwen3 seq-cls fixtures, served with --chat-template
    (the Qwen2.5 / Qwen3 templates): probabilities and usage as transformers on the rendered text;
  - /score and /rerank on converted LLM rerankers served with --hf-overrides and a vLLM score
    template (--chat-template assets/templates/...): scores as transformers' CausalLM on the rendered
    prompt, `instruction` as a request field and inside chat_template_kwargs, and the errors.

    python3 tests/server/test_server_templates.py --vkcls build/tools/vkcls --models tests/data/models
"""
import argparse
import json
import os
import sys
import time
import traceback

import test_server as ts
from test_server import Server, check, close, expect_error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def refs():
    with open(os.path.join(ROOT, "tests", "engine", "chat", "end_to_end.json"), encoding="utf-8") as f:
        return json.load(f)


def serve(case):
    """A server for the reference's model folder with its template (path relative to tests/data/models)."""
    extra = ["--chat-template", os.path.join(ROOT, case["template"])]
    if "hf_overrides" in case:
        extra += ["--hf-overrides", json.dumps(case["hf_overrides"])]
    return Server(os.path.join("..", case["model"]), "--dtype", "f32", *extra)


def test_classify_messages(srv, cases):
    for c in cases:
        body = {"messages": c["messages"], "add_generation_prompt": c.get("add_generation_prompt", False)}
        if "chat_template_kwargs" in c:
            body["chat_template_kwargs"] = c["chat_template_kwargs"]
        status, out, _ = srv.post("/classify", body)
        what = f"{c['model']} /classify messages ({len(c['messages'])} turns)"
        if not check(status == 200, f"{what}: status {status} {out}"):
            continue
        d = out["data"][0]
        check(d["label"] == c["label"], f"{what}: label {d['label']} != {c['label']}")
        check(all(close(a, b, 1e-4) for a, b in zip(d["probs"], c["probs"])) and len(d["probs"]) == len(c["probs"]),
              f"{what}: probs {d['probs']} vs transformers {c['probs']}")
        check(out["usage"]["prompt_tokens"] == len(c["ids"]), f"{what}: usage {out['usage']} vs {len(c['ids'])} ids")


def request_vars(case, as_field):
    kwargs = dict(case["chat_template_kwargs"])
    extra = {}
    if as_field and "instruction" in kwargs:
        extra["instruction"] = kwargs.pop("instruction")
    if kwargs:
        extra["chat_template_kwargs"] = kwargs
    return extra


def test_score_templates(srv, cases):
    """One server per model; `cases` are its references (the same query, several documents)."""
    by_vars = {}
    for c in cases:
        by_vars.setdefault(json.dumps(c["chat_template_kwargs"]), []).append(c)
    for group in by_vars.values():
        query, docs = group[0]["query"], [c["document"] for c in group]
        for as_field in (False, True):
            extra = request_vars(group[0], as_field)
            what = f"{group[0]['model']} {group[0]['template']} {extra}"
            status, out, _ = srv.post("/score", {"queries": query, "documents": docs, **extra})
            if check(status == 200, f"{what} /score: status {status} {out}"):
                got = [d["score"] for d in out["data"]]
                want = [c["score"] for c in group]
                check(all(close(a, b, 2e-4) for a, b in zip(got, want)), f"{what} /score: {got} vs transformers {want}")
                check(out["usage"]["prompt_tokens"] == sum(len(c["ids"]) for c in group), f"{what} /score usage")
            status, out, _ = srv.post("/rerank", {"query": query, "documents": docs, **extra})
            if check(status == 200, f"{what} /rerank: status {status} {out}"):
                got = {r["index"]: r["relevance_score"] for r in out["results"]}
                check(all(close(got[i], c["score"], 2e-4) for i, c in enumerate(group)),
                      f"{what} /rerank: {got} vs transformers {[c['score'] for c in group]}")
    # request-level mistakes name the field
    expect_error(srv.post("/score", {"queries": "q", "documents": ["d"], "chat_template_kwargs": [1]}), 400,
                 "chat_template_kwargs", what="chat_template_kwargs not an object")
    expect_error(srv.post("/rerank", {"query": "q", "documents": ["d"], "instruction": 3}), 400, "instruction",
                 what="instruction not a string")
    expect_error(srv.post("/score", {"queries": "q", "documents": ["d"],
                                     "chat_template_kwargs": {"chat_template": "{{ 1 }}"}}), 400,
                 "chat_template_kwargs", contains="--trust-request-chat-template", what="untrusted template in kwargs")


def test_no_score_template(srv, case):
    """The same reranker without --chat-template: the variables have nowhere to go (400)."""
    expect_error(srv.post("/score", {"queries": "q", "documents": ["d"], "instruction": "x"}), 400, "instruction",
                 contains="--chat-template", what="instruction without a score template")
    status, out, _ = srv.post("/score", {"queries": case["query"], "documents": [case["document"]]})
    check(status == 200, f"plain /score without a template: {status} {out}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vkcls", required=True)
    p.add_argument("--models", required=True)
    ts.ARGS = p.parse_args()
    t0 = time.time()
    r = refs()
    # (test, how to start its server, its references); one server at a time
    plan = [(test_classify_messages, lambda c=c: serve(c), [c]) for c in r["classify"]]
    models = list(dict.fromkeys(c["model"] for c in r["score"]))
    for m in models:
        cases = [c for c in r["score"] if c["model"] == m]
        plan.append((test_score_templates, lambda c=cases[0]: serve(c), cases))
    first = r["score"][0]
    plan.append((test_no_score_template,
                 lambda: Server(os.path.join("..", first["model"]), "--dtype", "f32", "--hf-overrides",
                                json.dumps(first["hf_overrides"])), first))
    for fn, start, arg in plan:
        t = time.time()
        srv = None
        try:
            srv = start()
            fn(srv, arg)
            check(srv.stop() == 0, f"{srv.model}: exit code 0 on SIGTERM")
        except Exception:
            check(False, f"{fn.__name__} raised:\n{traceback.format_exc()}")
        finally:
            if srv and srv.proc.poll() is None:
                srv.proc.kill()
        print(f"{fn.__name__} {os.path.basename(srv.model) if srv else '?'}: {time.time() - t:.1f}s", file=sys.stderr)
    print(f"{ts.CHECKS[0]} checks, {len(ts.FAILURES)} failed, {time.time() - t0:.1f}s", file=sys.stderr)
    return 1 if ts.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
