#!/usr/bin/env python3
"""vLLM's tests/entrypoints/pooling/ assertions, ported to `vkcls serve` as plain HTTP requests.

    python3 tests/server/test_vllm_pooling.py --vkcls build/tools/vkcls --models tests/data/models

Each check names the vLLM file (relative to tests/entrypoints/pooling/) and the test function it
comes from. vLLM's models are replaced by the fixtures: bert-seqcls (its Qwen2.5 apeach
classifier), bert-crossencoder (bge-reranker), bert-st-embedding (multilingual-e5-small and
bge-base), bert-tokcls (its token models: the internlm2 reward model's per-token /pooling and
the token_classify server). One server per fixture, started as vLLM starts its fixtures: with
DUMMY_CHAT_TEMPLATE as --chat-template where vLLM passes it, and --max-inputs-per-request 10
in place of VLLM_MAX_COMPLETION_PROMPTS (test_pooling_prompt_limit.py). Comparisons with
transformers are left to test_server.py and the golden tests; where vLLM compares a result with
the model's reference, this compares it with the same request on another route or spelling.
Where vkcls differs from vLLM on purpose the assertion is skipped with a comment naming the
README row ("Differences from vLLM"); test_server.py asserts vkcls's own behaviour there. vLLM's error wording (pydantic's
"literal_error", "Unsupported task: ...", "Please reduce the length ...") is not compared; the
status, type, param and the value named are. Not ported: the offline LLM-class tests, vision,
Cohere's /v2/embed, late interaction (ColBERT), MTEB correctness, IO-processor plugins and unit
tests of vLLM internals. Helpers: vllm_pooling_helpers.py. Exit code 0 when every check passes.
"""
import argparse
import base64
import json
import math
import os
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (Server, close, all_close, CHECKS, FAILURES)
from vllm_pooling_helpers import (  # noqa: E402
    DOCS, DUMMY_CHAT_TEMPLATE, MAX_INPUTS, MESSAGES, PER_FILE, QUERY, TEXTS_1, TEXTS_2, case, check,
    check_encodings, cos_close, flat, is_bad_request, ntok, reference_ids, render, usage_ok, validate)


# ---------------------------------------------------------------------------------------------


def run_classify(srv):
    F, name = "classify/test_online.py", "bert-seqcls"
    text, ids = reference_ids(name, 4)
    labels = set(json.load(open(os.path.join(srv.model, "config.json")))["id2label"].values())
    with case(F, "test_basic") as t:
        check(srv.get("/v1/models")[1]["data"][0]["id"] == name, f"{t}: /v1/models id")
        check(srv.post("/tokenize", {"model": name, "prompt": text})[1]["tokens"] == ids, f"{t}: /tokenize == HF ids")
    with case(F, "test_completion_request") as t:
        for inp in [text, ids]:
            st, out, _ = srv.post("/classify", {"model": name, "input": inp})
            check(st == 200 and validate(out, "classify") and out["model"] == name and len(out["data"]) == 1,
                  f"{t}: input {type(inp[0]).__name__}: {st} {out}")
    with case(F, "test_completion_request_batched") as t:
        for inp in [[text] * 10, [ids] * 10]:
            st, out, _ = srv.post("/classify", {"model": name, "input": inp})
            check(st == 200 and validate(out, "classify") and len(out["data"]) == 10
                  and all(d["index"] == i and len(d["probs"]) == d["num_classes"] and d["label"] in labels
                          for i, d in enumerate(out["data"])), f"{t}: 10 inputs: {st}")
    with case(F, "test_empty_input_error") as t:
        for inp in ["", []]:
            st, out, _ = srv.post("/classify", {"model": name, "input": inp})
            check(st == 400 and "error" in out, f"{t}: input {inp!r}: {st} {out}")
    with case(F, "test_truncate_prompt_tokens") as t:
        st, out, _ = srv.post("/classify", {"model": name, "input": "hello " * 600, "truncate_prompt_tokens": 5})
        check(st == 200 and len(out["data"]) == 1 and out["data"][0]["index"] == 0 and "probs" in out["data"][0]
              and usage_ok(out["usage"], 5), f"{t}: truncate 5: {st} {out.get('usage')}")
        st, out, _ = srv.post("/classify", {"model": name, "input": "test", "truncate_prompt_tokens": 513})
        check(st == 400 and "truncate_prompt_tokens" in out["error"]["message"], f"{t}: truncate 513: {st} {out}")
    with case(F, "test_add_special_tokens") as t:
        for special in [False, True]:
            st, out, _ = srv.post("/classify", {"model": name, "input": text, "add_special_tokens": special})
            check(st == 200 and validate(out, "classify"), f"{t}: add_special_tokens {special}: {st}")
    with case(F, "test_chat_request") as t:
        plain = ntok(srv, render(MESSAGES), False)
        for extra, tokens in [({}, plain), ({"add_generation_prompt": True}, plain),
                              ({"continue_final_message": True}, ntok(srv, render(MESSAGES, True), False)),
                              ({"add_special_tokens": True}, ntok(srv, render(MESSAGES), True))]:
            st, out, _ = srv.post("/classify", {"model": name, "messages": MESSAGES, **extra})
            check(st == 200 and validate(out, "classify") and out["model"] == name and len(out["data"]) == 1
                  and out["usage"]["prompt_tokens"] == tokens, f"{t}: {extra}: {st} usage {out.get('usage')} != {tokens}")
        st, out, _ = srv.post("/classify", {"model": name, "messages": MESSAGES, "continue_final_message": True,
                                            "add_generation_prompt": True})
        check("Cannot set both `continue_final_message` and `add_generation_prompt` to True."
              in out["error"]["message"], f"{t}: both: {out}")
    for fn, body in [("test_invocations_completion_request", {"model": name, "input": text}),
                     ("test_invocations_chat_request", {"model": name, "messages": MESSAGES})]:
        with case(F, fn) as t:
            st, a, _ = srv.post("/classify", body)
            st2, b, _ = srv.post("/invocations", body)
            check(st == 200 and st2 == 200 and isinstance(b, dict) and a.keys() == b.keys()
                  and all(x.keys() == y.keys() and ts.all_close(x["probs"], y["probs"], 0.01)
                          for x, y in zip(a["data"], b["data"])), f"{t}: /invocations == /classify: {st2} {b}")
    with case(F, "test_use_activation") as t:
        def probs(use):
            return srv.post("/classify", {"model": name, "input": text, "use_activation": use})[1]["data"][0]["probs"]
        default, w, wo = probs(None), probs(True), probs(False)
        sm = [math.exp(x - max(wo)) for x in wo]
        check(ts.all_close(default, w, 1e-2) and not ts.all_close(w, wo, 1e-2)
              and ts.all_close([x / sum(sm) for x in sm], w, 1e-2), f"{t}: {default} {w} {wo}")
    for fn, path, body in [("test_score", "/score", {"queries": "ping", "documents": "pong"}),
                           ("test_rerank", "/rerank", {"query": "ping", "documents": ["pong"]})]:
        with case(F, fn) as t:
            st, out, _ = srv.post(path, {"model": name, **body})
            # vLLM answers FastAPI's {"detail": "Not Found"}; vkcls its error shape (README "Differences from vLLM")
            check(st == 404, f"{t}: {path} on a 3-label classifier is not served: {st} {out}")
    with case(F, "test_pooling_classify") as t:
        st, out, _ = srv.post("/pooling", {"model": name, "input": text, "encoding_format": "float", "task": "classify"})
        check(st == 200 and validate(out, "pooling") and len(out["data"]) == 1 and len(out["data"][0]["data"]) == 3,
              f"{t}: {st} {out}")
    with case(F, "test_pooling_not_supported") as t:
        # "embed": vkcls pools any model's hidden states (test_server.py asserts it; README row to
        # add). vLLM's messages ("Unsupported task: ...", "Try switching ...") are not compared.
        for task in ["token_embed", "token_classify", "plugin"]:
            resp = srv.post("/pooling", {"model": name, "input": text, "encoding_format": "float", "task": task})
            check(is_bad_request(resp), f"{t}: task {task}: {resp[0]} {resp[1]}")
    F = "test_pooling_prompt_limit.py"
    with case(F, "TestPoolingPromptLimit") as t:
        for inp, want in [(["x"] * 11, 400), ([[ids[1]]] * 11, 400), (ids[:1] * 11, 200), (["x"] * 10, 200), ("hello world", 200)]:
            st, out, _ = srv.post("/pooling", {"input": inp, "task": "classify"})
            check(st == want and (want == 200 or out["error"]["param"] == "input"), f"{t}: input {str(inp)[:30]}: {st} {out}")
    with case(F, "TestClassifyPromptLimit") as t:
        for inp, want in [(["x"] * 11, 400), (["x"] * 10, 200)]:
            check(srv.post("/classify", {"input": inp})[0] == want, f"{t}: {len(inp)} inputs -> {want}")


def run_cross(srv):
    F, name = "scoring/test_cross_encoder_online.py", "bert-crossencoder"
    text, ids = reference_ids(name, 4)

    def score1(a, b, **kw):
        return srv.post("/score", {"text_1": a, "text_2": b, **kw})[1]["data"][0]["score"]
    ref = {(a, b): score1(a, b) for a in TEXTS_1 + [QUERY] for b in TEXTS_2 + DOCS}
    with case(F, "test_basic") as t:
        check(srv.get("/v1/models")[1]["data"][0]["id"] == name, f"{t}: /v1/models id")
        check(srv.post("/tokenize", {"model": name, "prompt": text})[1]["tokens"] == ids, f"{t}: /tokenize == HF ids")
    # the /score spellings and shapes; vLLM compares each with HF's CrossEncoder.predict, here with 1:1 requests
    shapes = [("test_score_api_queries_str_1_documents_str_1", "queries", "documents", TEXTS_1[0], TEXTS_2[0]),
              ("test_score_api_queries_str_1_documents_str_n", "queries", "documents", TEXTS_1[0], TEXTS_2),
              ("test_score_api_queries_str_n_documents_str_n", "queries", "documents", TEXTS_1, TEXTS_2),
              ("test_score_api_queries_vs_documents", "queries", "documents", TEXTS_1, TEXTS_2),
              ("test_score_api_queries_vs_items", "queries", "items", TEXTS_1, TEXTS_2),
              ("test_score_api_text_1_vs_text_2", "text_1", "text_2", TEXTS_1, TEXTS_2),
              ("test_score_api_data_1_vs_data_2", "data_1", "data_2", TEXTS_1, TEXTS_2)]
    G = "score/test_online_score.py"
    shapes += [(f"{G}::TestModel::test_text_1_str_text_2_list", "text_1", "text_2", QUERY, DOCS[:2]),
               (f"{G}::TestModel::test_text_1_list_text_2_list", "text_1", "text_2", TEXTS_1, TEXTS_2),
               (f"{G}::TestModel::test_text_1_str_text_2_str", "text_1", "text_2", QUERY, TEXTS_2[0])]
    for fn, k1, k2, a, b in shapes:
        file, fn = fn.split("::", 1) if "::" in fn else (F, fn)
        with case(file, fn) as t:
            st, out, _ = srv.post("/score", {"model": name, k1: a, k2: b})
            bs = b if isinstance(b, list) else [b]
            as_ = a if isinstance(a, list) else [a] * len(bs)
            check(st == 200 and validate(out, "score") and len(out["data"]) == len(bs)
                  and ts.all_close([d["score"] for d in out["data"]], [ref[p] for p in zip(as_, bs)], 0.01),
                  f"{t}: {k1}/{k2}: {st} {out}")

    def rerank(docs, **kw):
        return srv.post("/rerank", {"model": name, "query": QUERY, "documents": docs, **kw})
    with case(F, "test_rerank_api_texts") as t:
        st, out, _ = rerank(DOCS[:2])
        res = out["results"]
        # vLLM's >= 0.9 / <= 0.01 are bge-reranker's; the fixture's weights are random: the order instead
        check(st == 200 and validate(out, "rerank") and len(res) == 2 and sorted(r["index"] for r in res) == [0, 1]
              and res[0]["relevance_score"] >= res[1]["relevance_score"], f"{t}: {st} {out}")
    with case(F, "test_rerank_api_top_n") as t:
        st, out, _ = rerank(DOCS, top_n=2)
        best = sorted(range(3), key=lambda i: -ref[(QUERY, DOCS[i])])[:2]
        check(st == 200 and [r["index"] for r in out["results"]] == best, f"{t}: top 2 {best}: {out}")
    with case(F, "test_rerank_api_max_model_len") as t:
        st, out, _ = srv.post("/rerank", {"model": name, "query": QUERY * 100, "documents": DOCS[:2]})
        # vLLM's "Please reduce the length of the input" is not compared (README "Differences from vLLM": error messages)
        check(is_bad_request((st, out, None)) and "512" in out["error"]["message"], f"{t}: {st} {out}")
    for file, fn, k1, k2 in [(F, "test_score_api_max_model_len", "queries", "documents"),
                             (G, "TestModel::test_score_max_model_len", "text_1", "text_2")]:
        with case(file, fn) as t:
            # vLLM's server has --max-model-len 100 and repeats the query 20 times; the fixture's is 512
            body = {"model": name, k1: QUERY * 100, k2: DOCS[:2]}
            check(is_bad_request(srv.post("/score", body)), f"{t}: too long")
            resp = srv.post("/score", {**body, "truncate_prompt_tokens": 513})
            check(is_bad_request(resp) and "truncate_prompt_tokens" in resp[1]["error"]["message"], f"{t}: truncate 513 {resp[1]}")
    for file, fn, path, body, key, val in [
            (F, "test_invocations", "/rerank", {"query": QUERY, "documents": DOCS[:2]}, "results", "relevance_score"),
            (G, "TestModel::test_invocations", "/score", {"text_1": QUERY, "text_2": TEXTS_2[0]}, "data", "score")]:
        with case(file, fn) as t:
            st, a, _ = srv.post(path, {"model": name, **body})
            st2, b, _ = srv.post("/invocations", {"model": name, **body})
            check(st == 200 and st2 == 200 and isinstance(b, dict) and a.keys() == b.keys()
                  and all(x.keys() == y.keys() and ts.close(x[val], y[val], 0.01) for x, y in zip(a[key], b[key])),
                  f"{t}: /invocations == {path}: {st2} {b}")
    for file, fn, path, key, val in [(F, "test_use_activation", "/rerank", "results", "relevance_score"),
                                     (G, "TestModel::test_use_activation", "/score", "data", "score")]:
        with case(file, fn) as t:
            def get(use):
                body = {"query": QUERY, "documents": DOCS[:2]} if path == "/rerank" else {"text_1": QUERY, "text_2": TEXTS_2[0]}
                return [r[val] for r in srv.post(path, {"model": name, **body, "use_activation": use})[1][key]]
            default, w, wo = get(None), get(True), get(False)
            check(ts.all_close(default, w, 1e-2) and not ts.all_close(w, wo, 1e-2)
                  and ts.all_close([1 / (1 + math.exp(-x)) for x in wo], w, 1e-2), f"{t}: {default} {w} {wo}")
    with case(F, "test_pooling_classify") as t:
        st, out, _ = srv.post("/pooling", {"model": name, "input": text, "encoding_format": "float", "task": "classify"})
        check(st == 200 and validate(out, "pooling") and len(out["data"][0]["data"]) == 1, f"{t}: {st} {out}")
    # test_pooling_token_classify: vLLM applies the score head to every token of its BERT
    # cross-encoder; vkcls serves token_classify for *ForTokenClassification only (test_server.py
    # asserts the 400; README "Differences from vLLM")
    with case(F, "test_rerank_max_tokens_per_doc") as t:
        st, out, _ = rerank(["The capital of France is Paris. " * 50, DOCS[0]], max_tokens_per_doc=10)
        check(st == 200 and len(out["results"]) == 2 and out["usage"]["prompt_tokens"] > 0, f"{t}: {st} {out}")
    with case(F, "test_rerank_max_tokens_per_doc_reduces_tokens") as t:
        long_doc = "The capital of France is Paris. " * 4  # vLLM's 10 repeats, ~70 tokens: the pair fits in 99
        st, full, _ = rerank([long_doc], truncate_prompt_tokens=99)
        st2, cut, _ = rerank([long_doc], max_tokens_per_doc=10)
        check(st == 200 and st2 == 200 and cut["usage"]["prompt_tokens"] < full["usage"]["prompt_tokens"],
              f"{t}: usage {cut.get('usage')} < {full.get('usage')}")
    with case(F, "test_rerank_max_tokens_per_doc_validation") as t:
        for bad in [0, -5]:  # vLLM: "max_tokens_per_doc must be a positive integer"
            check(rerank(DOCS[1:2], max_tokens_per_doc=bad)[0] == 400, f"{t}: max_tokens_per_doc {bad} -> 400")
    with case(F, "test_score_max_tokens_per_doc_with_score_template") as t:
        st, out, _ = rerank(["The capital of France is Paris. " * 20], max_tokens_per_doc=15)
        check(st == 200 and len(out["results"]) == 1 and out["usage"]["prompt_tokens"] > 0, f"{t}: {st} {out}")
    with case(F, "test_pooling_not_supported") as t:
        for task in ["token_embed", "plugin"]:  # "embed": see run_classify (README "Differences from vLLM")
            resp = srv.post("/pooling", {"model": name, "input": text, "encoding_format": "float", "task": task})
            check(is_bad_request(resp), f"{t}: task {task}: {resp[0]} {resp[1]}")
    F = "scoring/test_protocol.py"
    with case(F, "TestRerankRequestValidation") as t:
        for top_n, n in [(None, 2), (0, 2), (1, 1), (2, 2)]:
            st, out, _ = rerank(DOCS[:2], **({} if top_n is None else {"top_n": top_n}))
            check(st == 200 and len(out["results"]) == n, f"{t}: top_n {top_n}: {n} results")
        check(is_bad_request(rerank(DOCS[:2], top_n=-1)), f"{t}: top_n -1 rejected")
    F = "test_pooling_prompt_limit.py"
    with case(F, "TestScoringPromptLimit") as t:
        for path, body, param, want in [
                ("/score", {"queries": ["q"], "documents": ["d"] * 11}, "documents", 400),
                ("/score", {"queries": ["q"], "documents": ["d"] * 10}, None, 200),
                ("/score", {"queries": ["q"], "items": ["d"] * 11}, "items", 400),
                ("/score", {"text_1": "q", "text_2": ["d"] * 11}, "text_2", 400),
                ("/rerank", {"query": "q", "documents": ["d"] * 11}, "documents", 400),
                ("/rerank", {"query": "q", "documents": ["d"] * 10}, None, 200),
                ("/rerank", {"query": "q", "documents": "single doc"}, None, 200)]:
            st, out, _ = srv.post(path, body)
            check(st == want and (want == 200 or out["error"]["param"] == param), f"{t}: {path} {str(body)[:50]}: {st} {out}")


def run_embed(srv):
    F, name = "embed/test_online.py", "bert-st-embedding"
    text, ids = reference_ids(name, 4)
    dim = json.load(open(os.path.join(srv.model, "config.json")))["hidden_size"]

    def embed(inp, **kw):
        return srv.post("/v1/embeddings", {"model": name, "input": inp, **kw})
    with case(F, "test_basic") as t:
        check(srv.get("/v1/models")[1]["data"][0]["id"] == name, f"{t}: /v1/models id")
        check(srv.post("/tokenize", {"model": name, "prompt": text})[1]["tokens"] == ids, f"{t}: /tokenize == HF ids")
    for fn, n in [("test_completion_request", 1), ("test_completion_request_batched", 10)]:
        with case(F, fn) as t:
            for inp in [text, ids]:
                st, out, _ = embed(inp if n == 1 else [inp] * n, encoding_format="float")
                check(st == 200 and validate(out, "embedding") and len(out["data"]) == n
                      and len(out["data"][0]["embedding"]) == dim and usage_ok(out["usage"], n * len(ids)),
                      f"{t}: input {type(inp[0]).__name__}: {st} {out.get('usage')}")
    with case(F, "test_truncate_prompt_tokens") as t:
        for inp in [[text], ids]:
            st, out, _ = embed(inp, truncate_prompt_tokens=10)
            check(st == 200 and len(out["data"]) == 1 and len(out["data"][0]["embedding"]) == dim
                  and usage_ok(out["usage"], 10), f"{t}: truncate 10: {st} {out.get('usage')}")
        check(is_bad_request(embed([text], truncate_prompt_tokens=513)), f"{t}: truncate 513 > max_model_len")
    # test_chat_request, test_invocations_chat_request: vkcls's /v1/embeddings takes `input` only
    # (README row "`messages` on an embedding model through `/invocations`"; a row for
    # /v1/embeddings itself is to add)
    with case(F, "test_invocations_completion_request") as t:
        body = {"model": name, "input": text, "encoding_format": "float"}
        st, a, _ = srv.post("/v1/embeddings", body)
        st2, b, _ = srv.post("/invocations", body)
        check(st == 200 and st2 == 200 and isinstance(b, dict) and a.keys() == b.keys()
              and all(x.keys() == y.keys() and cos_close([x["embedding"]], [y["embedding"]]) for x, y in zip(a["data"], b["data"])),
              f"{t}: /invocations == /v1/embeddings: {st2} {b}")
    with case(F, "test_base64_embedding") as t:
        texts = ["Hello my name is", "The best thing about vLLM is that it supports many different models"]
        floats = [d["embedding"] for d in embed(texts, encoding_format="float")[1]["data"]]
        got = [list(struct.unpack(f"<{dim}f", base64.b64decode(d["embedding"])))
               for d in embed(texts, encoding_format="base64")[1]["data"]]
        check(all(ts.all_close(a, b, 1e-6) for a, b in zip(floats, got)) and len(got) == 2, f"{t}: base64 float32 == float")
        check([d["embedding"] for d in embed(texts)[1]["data"]] == floats, f"{t}: the default is float")
    check_encodings(srv, F, "/v1/embeddings", "embedding", [text] * 3, [dim])
    with case(F, "test_use_activation") as t:
        def get(use):
            return embed(text, encoding_format="float", use_activation=use)[1]["data"][0]["embedding"]
        default, w, wo = get(None), get(True), get(False)
        norm = math.sqrt(sum(x * x for x in wo))
        check(ts.all_close(default, w, 1e-2) and not ts.all_close(w, wo, 1e-2)
              and ts.all_close([x / norm for x in wo], w, 1e-2), f"{t}: use_activation is normalize")
    with case(F, "test_pooling_embed") as t:
        st, out, _ = srv.post("/pooling", {"model": name, "input": text, "encoding_format": "float", "task": "embed"})
        check(st == 200 and validate(out, "pooling") and len(out["data"]) == 1 and len(out["data"][0]["data"]) == dim,
              f"{t}: {st}")
    with case(F, "test_pooling_token_embed") as t:
        # per-token embeddings are not built (README "Differences from vLLM": token_embed): the
        # documented 400 naming the field
        st, out, _ = srv.post("/pooling", {"model": name, "input": text, "encoding_format": "float", "task": "token_embed"})
        check(st == 400 and out["error"]["param"] == "task", f"{t}: token_embed is the documented 400: {st} {out}")
    with case(F, "test_pooling_not_supported") as t:
        for task in ["classify", "token_classify", "plugin"]:  # vLLM's "Unsupported task: ..." wording not compared
            resp = srv.post("/pooling", {"model": name, "input": "test", "encoding_format": "float", "task": task})
            check(is_bad_request(resp), f"{t}: task {task}: {resp[0]} {resp[1]}")
    with case("embed/test_online_dimensions.py", "test_matryoshka") as t:
        # the non-Matryoshka model's branch; vLLM refuses dimensions 16 on it, vkcls truncates and
        # renormalizes on any model (README "Differences from vLLM")
        st, out, _ = embed([text] * 3, encoding_format="float")
        check(st == 200 and len(out["data"]) == 3 and len(out["data"][0]["embedding"]) == dim and usage_ok(out["usage"]),
              f"{t}: dimensions None")
        check(is_bad_request(embed([text] * 3, dimensions=-1)), f"{t}: dimensions -1 rejected")
    # embed/test_online_long_text.py: vLLM's pooler-config enable_chunked_processing / max_embed_len
    # embed inputs longer than the model in chunks; vkcls has neither (README "Differences from vLLM")
    F = "basic/test_truncation.py"
    para = ("Immerse yourself in the enchanting chronicle of calculus, a mathematical domain that has radically "
            "transformed our comprehension of change and motion. ") * 20
    for fn, k, want in [("test_smaller_truncation_size", 10, 10), ("test_max_truncation_size", -1, 512)]:
        with case(F, fn) as t:
            st, out, _ = embed(para, truncate_prompt_tokens=k)
            check(st == 200 and out["usage"]["prompt_tokens"] == want, f"{t}: truncate {k}: {out.get('usage')}")
    with case(F, "test_bigger_truncation_size") as t:
        # vLLM's exact message ("truncate_prompt_tokens value is greater than max_model_len. Please
        # request a smaller truncation size.") is not compared (README "Differences from vLLM": error messages)
        resp = embed(para, truncate_prompt_tokens=513)
        check(is_bad_request(resp) and "truncate_prompt_tokens" in resp[1]["error"]["message"], f"{t}: {resp[1]}")
    with case("embed/test_usage_policy.py", "TestUsagePolicyDefault") as t:
        for inp in ["Hello world", ["Hello", "World"]]:
            check(usage_ok(embed(inp, encoding_format="float")[1]["usage"]), f"{t}: usage for {inp}")
    with case("test_cache_salt_validation.py", "test_pooling_rejects_empty_cache_salt") as t:
        st, out, _ = embed("hello", cache_salt="")
        check(st == 400 and out["error"]["param"] == "cache_salt", f"{t}: {st} {out}")
        check(embed("hello", cache_salt="tenant-a")[0] == 200, f"{t}: a real salt accepted")
    # the bi-encoder: vLLM scores pairs of an embedding model by cosine similarity, as vkcls does
    F, G = "scoring/test_bi_encoder_online.py", "score/test_online_score.py"
    with case(F, "test_score_api_queries_str_1_documents_str_1") as t:
        a, b = (d["embedding"] for d in embed([TEXTS_1[0], TEXTS_2[0]])[1]["data"])
        want = sum(x * y for x, y in zip(a, b))  # both normalized
        st, out, _ = srv.post("/score", {"model": name, "queries": TEXTS_1[0], "documents": TEXTS_2[0]})
        check(st == 200 and len(out["data"]) == 1 and ts.close(out["data"][0]["score"], want, 0.01), f"{t}: {st} {out}")
    with case(F, "test_rerank_api_texts") as t:
        st, out, _ = srv.post("/rerank", {"model": name, "query": QUERY, "documents": DOCS[:2]})
        check(st == 200 and len(out["results"]) == 2, f"{t}: {st} {out}")
    with case(G, "TestModel::test_use_activation") as t:
        st, out, _ = srv.post("/score", {"text_1": QUERY, "text_2": TEXTS_2[0], "use_activation": True})
        check(st == 400, f"{t}: use_activation is for cross-encoders only: {st} {out}")


def run_token(srv):
    # vLLM runs pooling/test_online.py (and reward/test_token_reward_online.py, the same tests) on
    # internlm2's per-token reward model: /pooling's default task there and here is per-token
    F, name = "pooling/test_online.py", "bert-tokcls"
    text, ids = reference_ids(name, 4)
    nl = len(json.load(open(os.path.join(srv.model, "config.json")))["id2label"])

    def pool(inp, **kw):
        return srv.post("/pooling", {"model": name, "input": inp, **kw})
    with case(F, "test_basic") as t:
        check(srv.get("/v1/models")[1]["data"][0]["id"] == name, f"{t}: /v1/models id")
        check(srv.post("/tokenize", {"model": name, "prompt": text})[1]["tokens"] == ids, f"{t}: /tokenize == HF ids")
    for fn, n in [("test_completion_request", 1), ("test_completion_request_batched", 10)]:
        with case(F, fn) as t:
            for inp in [text, ids]:
                st, out, _ = pool(inp if n == 1 else [inp] * n, encoding_format="float")
                check(st == 200 and validate(out, "pooling") and len(out["data"]) == n
                      and len(out["data"][0]["data"]) == len(ids) and usage_ok(out["usage"], n * len(ids)),
                      f"{t}: input {type(inp[0]).__name__}: {st} {out.get('usage')}")
    with case(F, "test_conversation_pooling") as t:
        st, chat, _ = srv.post("/pooling", {"model": name, "messages": MESSAGES, "encoding_format": "float"})
        st2, plain, _ = pool(render(MESSAGES), encoding_format="float", add_special_tokens=False)
        check(st == 200 and st2 == 200 and chat["created"] <= plain["created"]
              and all(chat[k] == plain[k] for k in ["object", "model", "usage"])
              and ts.all_close(flat(chat["data"][0]["data"]), flat(plain["data"][0]["data"]), 1e-5),
              f"{t}: messages == the rendered prompt: {st} {st2}")
    with case("reward/test_token_reward_online.py", "test_chat_request") as t:
        for extra, tokens in [({"add_generation_prompt": True}, ntok(srv, render(MESSAGES), False)),
                              ({"continue_final_message": True}, ntok(srv, render(MESSAGES, True), False)),
                              ({"add_special_tokens": True}, ntok(srv, render(MESSAGES), True))]:
            st, out, _ = srv.post("/pooling", {"model": name, "messages": MESSAGES, **extra})
            check(st == 200 and out["model"] == name and len(out["data"]) == 1 and out["usage"]["prompt_tokens"] == tokens,
                  f"{t}: {extra}: usage {out.get('usage')} != {tokens}")
        st, out, _ = srv.post("/pooling", {"model": name, "messages": MESSAGES, "continue_final_message": True,
                                           "add_generation_prompt": True})
        check("Cannot set both `continue_final_message` and `add_generation_prompt` to True."
              in out["error"]["message"], f"{t}: both: {out}")
    with case(F, "test_batch_base64_pooling") as t:
        texts = ["Hello my name is", "The best thing about vLLM is that it supports many different models"]
        floats = [flat(d["data"]) for d in pool(texts, encoding_format="float")[1]["data"]]
        got = [list(struct.unpack(f"<{len(b) // 4}f", b)) for b in
               (base64.b64decode(d["data"]) for d in pool(texts, encoding_format="base64")[1]["data"])]
        check(cos_close(floats, got), f"{t}: base64 == float")
        check(cos_close(floats, [flat(d["data"]) for d in pool(texts)[1]["data"]]), f"{t}: the default is float")
    check_encodings(srv, F, "/pooling", "data", [text] * 3, [len(ids), nl])
    for fn, body in [("test_invocations", {"input": text}), ("test_invocations_conversation", {"messages": MESSAGES})]:
        with case(F, fn) as t:
            body = {"model": name, **body, "encoding_format": "float"}
            st, a, _ = srv.post("/pooling", body)
            st2, b, _ = srv.post("/invocations", body)
            check(st == 200 and st2 == 200 and isinstance(b, dict) and a.keys() == b.keys()
                  and all(x.keys() == y.keys() and cos_close([flat(x["data"])], [flat(y["data"])])
                          for x, y in zip(a["data"], b["data"])), f"{t}: /invocations == /pooling: {st2} {b}")
    # token_classify/test_online.py: vLLM's seq-cls model switched to token_classify; here the token classifier
    F = "token_classify/test_online.py"
    with case(F, "test_pooling_token_classify") as t:
        st, out, _ = pool(text, encoding_format="float", task="token_classify")
        check(st == 200 and len(out["data"]) == 1 and len(out["data"][0]["data"]) == len(ids)
              and len(out["data"][0]["data"][0]) == nl, f"{t}: {st}")
    with case(F, "test_pooling_not_supported") as t:
        for task in ["classify", "token_embed", "plugin"]:  # "embed": see run_classify (README "Differences from vLLM")
            resp = pool(text, encoding_format="float", task=task)
            check(is_bad_request(resp), f"{t}: task {task}: {resp[0]} {resp[1]}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vkcls", required=True)
    p.add_argument("--models", required=True)
    ts.ARGS = p.parse_args()
    t0 = time.time()
    servers = {}
    limit = ["--max-inputs-per-request", str(MAX_INPUTS)]
    try:
        servers["seqcls"] = ts.Server("bert-seqcls", "--chat-template", DUMMY_CHAT_TEMPLATE, *limit)
        servers["cross"] = ts.Server("bert-crossencoder", *limit)
        servers["embed"] = ts.Server("bert-st-embedding", "--chat-template", DUMMY_CHAT_TEMPLATE, *limit)
        servers["tok"] = ts.Server("bert-tokcls", "--chat-template", DUMMY_CHAT_TEMPLATE, *limit)
        for fn, name in [(run_classify, "seqcls"), (run_cross, "cross"), (run_embed, "embed"), (run_token, "tok")]:
            t = time.time()
            try:
                fn(servers[name])
            except Exception:
                check(False, f"{fn.__name__}::setup: raised\n{traceback.format_exc()}")
            print(f"{fn.__name__}: {time.time() - t:.1f}s", file=sys.stderr)
    finally:
        for s in servers.values():
            s.stop()
    for f, n in sorted(PER_FILE.items()):
        print(f"  {f}: {n} checks", file=sys.stderr)
    print(f"{ts.CHECKS[0]} checks, {len(ts.FAILURES)} failed, {time.time() - t0:.1f}s", file=sys.stderr)
    return 1 if ts.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
