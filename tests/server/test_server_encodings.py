#!/usr/bin/env python3
"""vLLM's vector encodings, SageMaker's /invocations, bi-encoder scoring and the pair-truncation
fields (max_tokens_per_doc / _query, top_n), end to end on `vkcls serve`.

    python3 tests/server/test_server_encodings.py --vkcls build/tools/vkcls --models tests/data/models

encoding_format float / base64 / bytes / bytes_only x embed_dtype float32 / float16 / bfloat16 /
fp8_e4m3 / fp8_e5m2 x endianness native / little / big on /v1/embeddings and /pooling: every
vector decoded here (a reference decoder from the formats' definitions) equals the float answer
within the format's rounding, and the bytes metadata (vLLM's MetadataItem) says where each one
is. /invocations answers as the route its body names. The exact rounding is
tests/server/test_embed_encoding.cpp's; this checks the plumbing. Stdlib only.
"""
import argparse
import base64
import json
import os
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (Server, check, expect_error)
from test_server import Server, check, expect_error  # noqa: E402

DTYPES = ["float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"]
# (relative, absolute) error of one value rounded to the format: half an ulp, and half the
# smallest subnormal
TOL = {"float32": (1e-7, 0), "float16": (2**-11, 2**-25), "bfloat16": (2**-8, 2**-134),
       "fp8_e4m3": (2**-4, 2**-10), "fp8_e5m2": (2**-3, 2**-17)}


def minifloat(code, ebits, mbits, ieee):
    sign = -1.0 if code >> (ebits + mbits) else 1.0
    field, mant = code >> mbits & ((1 << ebits) - 1), code & ((1 << mbits) - 1)
    bias = (1 << (ebits - 1)) - 1
    top = field == (1 << ebits) - 1
    if (ieee and top) or (not ieee and top and mant == (1 << mbits) - 1):
        return float("nan") if mant or not ieee else sign * float("inf")
    if field == 0:
        return sign * mant * 2.0 ** (1 - bias - mbits)
    return sign * (1 + mant / (1 << mbits)) * 2.0 ** (field - bias)


def decode(raw, dtype, endianness):
    end = ">" if endianness == "big" else "<"
    if dtype == "float32":
        return list(struct.unpack(f"{end}{len(raw) // 4}f", raw))
    if dtype == "float16":
        return list(struct.unpack(f"{end}{len(raw) // 2}e", raw))
    if dtype == "bfloat16":  # the high half of a float32
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in struct.unpack(f"{end}{len(raw) // 2}H", raw)]
    ebits, mbits, ieee = (4, 3, False) if dtype == "fp8_e4m3" else (5, 2, True)
    return [minifloat(b, ebits, mbits, ieee) for b in raw]


def near(got, ref, dtype):
    rel, ab = TOL[dtype]
    return len(got) == len(ref) and all(abs(g - r) <= rel * abs(r) + ab for g, r in zip(got, ref))


def check_bytes(st, body, headers, ref_vectors, ref_usage, dtype, order, kind, shape, prefix, what):
    check(st == 200 and headers.get("Content-Type", "").startswith("application/octet-stream"),
          f"{what}: {st} {headers.get('Content-Type')} {repr(body)[:200]}")
    if st != 200:
        return
    width = {"float32": 4, "float16": 2, "bfloat16": 2}.get(dtype, 1)
    total = sum(len(v) for v in ref_vectors) * width
    check(len(body) == total, f"{what}: {len(body)} bytes != {total}")
    if kind == "bytes_only":  # no metadata: the vectors one after another, in input order
        check("metadata" not in headers, f"{what}: bytes_only has no metadata header")
        items, at = [], 0
        for v in ref_vectors:
            items.append({"start": at, "end": at + len(v) * width})
            at += len(v) * width
    else:
        meta = json.loads(headers.get("metadata", "null"))
        check(isinstance(meta, dict) and list(meta) == ["id", "created", "model", "data", "usage"], f"{what}: metadata {meta}")
        if not isinstance(meta, dict):
            return
        check(meta["id"].startswith(prefix) and isinstance(meta["created"], int), f"{what}: id {meta['id']}")
        check(meta["usage"] == {"prompt_tokens": ref_usage["prompt_tokens"], "total_tokens": ref_usage["total_tokens"]},
              f"{what}: usage {meta['usage']} != {ref_usage}")
        items = meta["data"]
        check(len(items) == len(ref_vectors), f"{what}: {len(items)} items")
        at = 0
        for i, it in enumerate(items):
            check(it == {"index": i, "embed_dtype": dtype, "endianness": order, "start": at, "end": it["end"],
                         "shape": shape(i)}, f"{what}: item {it}")
            at = it["end"]
        check(at == len(body), f"{what}: items cover {at} of {len(body)} bytes")
    for i, (it, v) in enumerate(zip(items, ref_vectors)):
        got = decode(body[it["start"]:it["end"]], dtype, order)
        check(near(got, v, dtype), f"{what}: vector {i} decoded != float answer")


def test_embeddings(srv):
    texts = ["hello world", "The movie was great!", "a b c d e f g"]
    st, ref, _ = srv.post("/v1/embeddings", {"input": texts})
    vecs = [d["embedding"] for d in ref["data"]]
    for dtype in DTYPES:
        for order in ["native", "little", "big"]:
            req = {"input": texts, "embed_dtype": dtype, "endianness": order}
            st, b64, _ = srv.post("/v1/embeddings", {**req, "encoding_format": "base64"})
            check(st == 200, f"base64 {dtype} {order}: {st} {b64}")
            for i, d in enumerate(b64.get("data", []) if st == 200 else []):
                check(near(decode(base64.b64decode(d["embedding"]), dtype, order), vecs[i], dtype),
                      f"base64 {dtype} {order}: vector {i}")
            for kind in ["bytes", "bytes_only"]:
                st, body, h = srv.post("/v1/embeddings", {**req, "encoding_format": kind})
                check_bytes(st, body, h, vecs, ref["usage"], dtype, order, kind, lambda i: [len(vecs[i])], "embd-",
                            f"/v1/embeddings {kind} {dtype} {order}")
    expect_error(srv.post("/v1/embeddings", {"input": texts, "encoding_format": "binary"}), 400, "encoding_format",
                 "bytes_only", "unknown encoding_format")
    expect_error(srv.post("/v1/embeddings", {"input": texts, "endianness": "middle"}), 400, "endianness",
                 what="unknown endianness")
    st, pooled, _ = srv.post("/pooling", {"input": texts, "task": "embed"})
    st, body, h = srv.post("/pooling", {"input": texts, "task": "embed", "encoding_format": "bytes",
                                        "embed_dtype": "float16"})
    check_bytes(st, body, h, [d["data"] for d in pooled["data"]], pooled["usage"], "float16", "native", "bytes",
                lambda i: [len(vecs[i])], "pool-", "/pooling embed bytes float16")


def test_pooling_tokens(srv):
    texts = ["Alice moved to Paris", "Bob"]
    st, ref, _ = srv.post("/pooling", {"input": texts, "task": "token_classify"})
    rows = [d["data"] for d in ref["data"]]
    flat = [[x for row in r for x in row] for r in rows]
    for kind in ["bytes", "bytes_only"]:
        st, body, h = srv.post("/pooling", {"input": texts, "task": "token_classify", "encoding_format": kind,
                                            "endianness": "big"})
        check_bytes(st, body, h, flat, ref["usage"], "float32", "big", kind, lambda i: [len(rows[i]), len(rows[i][0])],
                    "pool-", f"/pooling token_classify {kind}")
    expect_error(srv.post("/pooling", {"input": texts[0], "task": "token_classify", "aggregation": "simple",
                                       "encoding_format": "bytes"}), 400, "encoding_format", "entity spans",
                 "aggregation with bytes")


def same_answer(a, b, what):
    """Two responses equal but for their ids and creation times."""
    st_a, body_a, _ = a
    st_b, body_b, _ = b
    ok = check(st_a == 200 and st_b == 200, f"{what}: {st_a} {st_b} {body_a}")
    if ok:
        strip = lambda d: {k: v for k, v in d.items() if k not in ("id", "created")}  # noqa: E731
        check(strip(body_a) == strip(body_b), f"{what}: {body_a} != {body_b}")
        check(body_a["id"].split("-")[0] == body_b["id"].split("-")[0], f"{what}: id {body_a['id']} vs {body_b['id']}")


def test_invocations(servers):
    texts = ["I love it", "I hate it"]
    seq, cross, emb, tok = servers["seqcls"], servers["cross"], servers["embed"], servers["tok"]
    same_answer(seq.post("/invocations", {"input": texts}), seq.post("/classify", {"input": texts}),
                "/invocations input on a classifier is /classify")
    pair = {"text_1": "what is vulkan", "text_2": ["a graphics API", "a planet"]}
    same_answer(cross.post("/invocations", pair), cross.post("/score", pair), "/invocations text_1/text_2 is /score")
    rr = {"query": "what is vulkan", "documents": ["a graphics API", "a planet", "a volcano"], "top_n": 2}
    same_answer(cross.post("/invocations", rr), cross.post("/rerank", rr), "/invocations query/documents is /rerank")
    same_answer(emb.post("/invocations", {"input": texts, "encoding_format": "base64"}),
                emb.post("/v1/embeddings", {"input": texts, "encoding_format": "base64"}),
                "/invocations input on an embedder is /v1/embeddings")
    st, body, h = emb.post("/invocations", {"input": texts, "encoding_format": "bytes_only"})
    check(st == 200 and isinstance(body, bytes) and len(body) > 0, f"/invocations bytes_only: {st}")
    same_answer(tok.post("/invocations", {"input": texts}), tok.post("/pooling", {"input": texts}),
                "/invocations input on a token classifier is /pooling")
    # a score body on a model that does not score falls to the next kind vLLM tries
    expect_error(seq.post("/invocations", {"text_1": "a", "text_2": "b"}), 400, None, "ClassificationRequest",
                 "/invocations with no handler for the body")
    expect_error(seq.post("/invocations", {"prompt": "x"}), 400, None, "Cannot find suitable handler",
                 "/invocations with an unknown body")
    expect_error(seq.post("/invocations", {"input": ["x"] * 9}), 400, "input", what="/invocations keeps the limits")
    st, _, h = seq.get("/invocations")
    check(st == 405 and h.get("Allow") == "POST", f"GET /invocations: {st} {h.get('Allow')}")


def test_scoring_fields(servers):
    cross, emb = servers["cross"], servers["embed"]
    q = "what is vulkan"
    # max_tokens_per_doc: the document keeps its first k tokens, as if it had been sent so
    # (the fixture's vocabulary splits "sat": the, cat, s, ##at, ...)
    doc, prefix = "the cat sat on the mat", "the cat s"
    st, tok, _ = cross.post("/tokenize", {"prompt": doc, "add_special_tokens": False, "return_token_strs": True})
    st2, pre, _ = cross.post("/tokenize", {"prompt": prefix, "add_special_tokens": False, "return_token_strs": True})
    check(st == 200 and st2 == 200 and tok["tokens"][:3] == pre["tokens"] and len(tok["tokens"]) > 3,
          f"the prefix is the document's first 3 tokens: {tok} {pre}")
    st, cut, _ = cross.post("/rerank", {"query": q, "documents": [doc], "max_tokens_per_doc": 3})
    st2, short, _ = cross.post("/rerank", {"query": q, "documents": [prefix]})
    check(st == 200 and st2 == 200 and ts.close(cut["results"][0]["relevance_score"],
                                                short["results"][0]["relevance_score"], 1e-6)
          and cut["usage"] == short["usage"] and cut["results"][0]["document"]["text"] == doc,
          f"max_tokens_per_doc 3 == the 3-token document: {cut} {short}")
    words = doc.split()
    st, cutq, _ = cross.post("/score", {"text_1": " ".join(words), "text_2": "a graphics API", "max_tokens_per_query": 2})
    st2, shortq, _ = cross.post("/score", {"text_1": " ".join(words[:2]), "text_2": "a graphics API"})
    check(st == 200 and st2 == 200 and ts.close(cutq["data"][0]["score"], shortq["data"][0]["score"], 1e-6),
          f"max_tokens_per_query 2 == the 2-token query: {cutq} {shortq}")
    for bad in [0, -5]:
        expect_error(cross.post("/rerank", {"query": q, "documents": ["x"], "max_tokens_per_doc": bad}), 400,
                     "max_tokens_per_doc", "positive", f"max_tokens_per_doc {bad}")
    expect_error(cross.post("/rerank", {"query": q, "documents": ["x", "y"], "top_n": -1}), 400, "top_n",
                 what="top_n -1")
    # an embedding model scores by cosine similarity (vLLM's bi-encoder scoring)
    docs = ["a graphics API", "a planet", "a volcano"]
    st, e, _ = emb.post("/v1/embeddings", {"input": [q, *docs]})
    vecs = [d["embedding"] for d in e["data"]]

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5
    want = [cos(vecs[0], v) for v in vecs[1:]]
    st, sc, _ = emb.post("/score", {"text_1": q, "text_2": docs})
    check(st == 200 and len(sc["data"]) == 3 and all(ts.close(d["score"], w, 1e-5) for d, w in zip(sc["data"], want)), f"bi-encoder /score: {sc} {want}")
    qtok = e["usage"]["prompt_tokens"]
    check(st == 200 and sc["usage"]["prompt_tokens"] == qtok, f"bi-encoder usage counts each text once: {sc['usage']} {qtok}")
    st, rr, _ = emb.post("/rerank", {"query": q, "documents": docs, "top_n": 2})
    order = sorted(range(3), key=lambda i: -want[i])[:2]
    check(st == 200 and [r["index"] for r in rr["results"]] == order
          and all(ts.close(r["relevance_score"], want[r["index"]], 1e-5) for r in rr["results"]), f"bi-encoder /rerank: {rr}")
    st, nn, _ = emb.post("/score", {"text_1": [q, docs[0]], "text_2": [docs[1], docs[2]]})
    check(st == 200 and ts.close(nn["data"][1]["score"], cos(vecs[1], vecs[3]), 1e-5), f"bi-encoder N:N: {nn}")
    expect_error(emb.post("/score", {"text_1": q, "text_2": docs, "use_activation": True}), 400, "use_activation",
                 what="bi-encoder use_activation")
    expect_error(emb.post("/score", {"text_1": q, "text_2": ["ok", ""]}), 400, "text_2", "text_2[1]",
                 "bi-encoder error names the list and index")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vkcls", required=True)
    p.add_argument("--models", required=True)
    ts.ARGS = p.parse_args()
    t0 = time.time()
    servers = {}
    try:
        servers["seqcls"] = Server("bert-seqcls", "--max-inputs-per-request", "8")
        servers["cross"] = Server("bert-crossencoder")
        servers["embed"] = Server("bert-st-embedding")
        servers["tok"] = Server("bert-tokcls")
        for fn, arg in [(test_embeddings, servers["embed"]), (test_pooling_tokens, servers["tok"]),
                        (test_invocations, servers), (test_scoring_fields, servers)]:
            t = time.time()
            try:
                fn(arg)
            except Exception:
                check(False, f"{fn.__name__} raised:\n{traceback.format_exc()}")
            print(f"{fn.__name__}: {time.time() - t:.1f}s", file=sys.stderr)
        for name, s in servers.items():
            check(s.stop() == 0, f"{name} server exit code 0 on SIGTERM")
    finally:
        for s in servers.values():
            if s.proc.poll() is None:
                s.proc.kill()
    print(f"{ts.CHECKS[0]} checks, {len(ts.FAILURES)} failed, {time.time() - t0:.1f}s", file=sys.stderr)
    return 1 if ts.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
