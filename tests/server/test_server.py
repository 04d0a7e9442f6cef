#!/usr/bin/env python3
"""End-to-end test of `vkcls serve`: real binary, real sockets on loopback, stdlib only.

    python3 tests/server/test_server.py --vkcls build/tools/vkcls --models tests/data/models

Starts servers on free ports (--port 0; the test reads "listening on HOST:PORT" from stderr)
for bert-seqcls, bert-crossencoder, bert-st-embedding and bert-tokcls, and checks every route,
response shapes field by field, the error cases (status, type, param), that answers equal
the `vkcls` CLI's for the same inputs, batching under concurrency, slow clients, auth, 429,
the access log and SIGTERM draining. Exit code 0 when all checks pass. Priorities and client
disconnects are tested deterministically in-process (tests/server/test_server_inprocess.cpp,
tests/engine/test_engine_fake.cpp), not here with sleeps.
"""
import argparse
import base64
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ARGS = None
FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def close(a, b, tol=1e-5):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def all_close(xs, ys, tol=1e-5):
    return len(xs) == len(ys) and all(close(x, y, tol) for x, y in zip(xs, ys))


class Server:
    def __init__(self, model, *extra, env=None):
        self.model = os.path.join(ARGS.models, model)
        cmd = [ARGS.vkcls, "serve", "--model", self.model, "--port", "0", *extra]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     env={**os.environ, **(env or {})})
        self.lines = []
        self.port = None
        ready = threading.Event()

        def reader():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                m = re.match(r"listening on [^:]+:(\d+)$", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.thread = threading.Thread(target=reader, daemon=True)
        self.thread.start()
        if not ready.wait(60) or self.port is None:
            raise RuntimeError(f"server for {model} did not start: {self.lines}")

    def request(self, method, path, body=None, headers=None, raw=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read()
        conn.close()
        if (r.getheader("Content-Type") or "").startswith("application/octet-stream"):
            return r.status, text, dict(r.getheaders())  # encoding_format bytes: raw
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text.decode("utf-8", "replace")
        return r.status, payload, dict(r.getheaders())

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.returncode


def cli(command, model, *args, stdin=None):
    out = subprocess.run([ARGS.vkcls, command, "--model", os.path.join(ARGS.models, model), "--quiet", *args],
                         input=stdin, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def expect_error(resp, status, param="__any__", contains=None, what=""):
    st, body, _ = resp
    ok = check(st == status, f"{what}: status {st} != {status} ({body})")
    if ok and status != 401:
        ok = check(isinstance(body, dict) and isinstance(body.get("error"), dict), f"{what}: error shape {body}")
        if ok:
            e = body["error"]
            check(set(e) == {"message", "type", "param", "code"}, f"{what}: error keys {sorted(e)}")
            check(e["code"] == status, f"{what}: code {e['code']}")
            check(isinstance(e["message"], str) and e["message"], f"{what}: message")
            check(isinstance(e["type"], str) and e["type"].endswith("Error"), f"{what}: type {e['type']}")
            if param != "__any__":
                check(e["param"] == param, f"{what}: param {e['param']!r} != {param!r} ({e['message']})")
            if contains:
                for c in contains if isinstance(contains, list) else [contains]:
                    check(c in e["message"], f"{what}: message {e['message']!r} lacks {c!r}")
    return body


def check_usage(usage, tokens, what):
    check(usage == {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0,
                    "prompt_tokens_details": None}, f"{what}: usage {usage} (tokens {tokens})")


def ntokens(srv, text):
    st, body, _ = srv.post("/tokenize", {"prompt": text})
    return body["count"]


# ---------------------------------------------------------------------------------------------

TEXTS = ["The movie was great!", "Dreadful.", "Where is the station?", "ok"]


def test_classify(srv):
    name = "seqcls"
    ref = cli("classify", "bert-seqcls", *TEXTS)
    st, body, headers = srv.post("/classify", {"model": name, "input": TEXTS}, headers={"X-Request-Id": "req-abc"})
    check(st == 200, f"/classify status {st} {body}")
    check(list(body) == ["id", "object", "created", "model", "data", "usage"], f"/classify keys {list(body)}")
    check(body["id"] == "classify-req-abc", f"/classify id {body['id']}")
    check(headers.get("X-Request-Id") == "req-abc", "X-Request-Id echoed")
    check(body["object"] == "list" and body["model"] == name, "/classify object/model")
    check(isinstance(body["created"], int) and abs(body["created"] - time.time()) < 3600, "/classify created")
    check(len(body["data"]) == len(TEXTS), "/classify data length")
    for i, (d, r) in enumerate(zip(body["data"], ref)):
        check(list(d) == ["index", "label", "probs", "num_classes"], f"/classify data keys {list(d)}")
        check(d["index"] == i and d["num_classes"] == 3 and len(d["probs"]) == 3, f"/classify data[{i}] fields")
        check(d["label"] == r["label"], f"/classify label {d['label']} != CLI {r['label']}")
        check(all_close(d["probs"], r["probs"], 1e-6), f"/classify probs {d['probs']} != CLI {r['probs']}")
        check(close(sum(d["probs"]), 1.0, 1e-5), "/classify probs sum to 1")
    check_usage(body["usage"], sum(ntokens(srv, t) for t in TEXTS), "/classify")

    # single string; request_id from the body
    st, body, headers = srv.post("/classify", {"input": TEXTS[0], "request_id": "body-id"})
    check(st == 200 and len(body["data"]) == 1 and body["id"] == "classify-body-id", f"/classify string input {body}")
    check(headers.get("X-Request-Id") == "body-id", "request_id echoed in X-Request-Id")
    check(all_close(body["data"][0]["probs"], ref[0]["probs"], 1e-6), "/classify single == batch")

    # token ids: same as the text they come from
    st, tok, _ = srv.post("/tokenize", {"prompt": TEXTS[0], "return_token_strs": True})
    check(st == 200 and list(tok) == ["count", "max_model_len", "tokens", "token_strs"], f"/tokenize {tok}")
    check(tok["count"] == len(tok["tokens"]) == len(tok["token_strs"]) and tok["max_model_len"] == 512, "/tokenize fields")
    check(tok["token_strs"][0] == "[CLS]" and tok["token_strs"][-1] == "[SEP]", "/tokenize token_strs")
    st, body, _ = srv.post("/classify", {"input": tok["tokens"]})
    check(st == 200 and all_close(body["data"][0]["probs"], ref[0]["probs"], 1e-5), f"/classify [int] ids {body}")
    check_usage(body["usage"], tok["count"], "/classify ids")
    st, body, _ = srv.post("/classify", {"input": [tok["tokens"], tok["tokens"][:3]]})
    check(st == 200 and len(body["data"]) == 2 and all_close(body["data"][0]["probs"], ref[0]["probs"], 1e-5),
          "/classify [[int]] ids")
    st, det, _ = srv.post("/detokenize", {"tokens": tok["tokens"]})
    check(st == 200 and list(det) == ["prompt"] and det["prompt"] == "[CLS] the movie was great! [SEP]", f"/detokenize {det}")

    # use_activation false: logits
    st, body, _ = srv.post("/classify", {"input": TEXTS[0], "use_activation": False})
    logits = body["data"][0]["probs"]
    m = max(logits)
    sm = [math.exp(x - m) for x in logits]
    sm = [x / sum(sm) for x in sm]
    check(all_close(sm, ref[0]["probs"], 1e-5) and not close(sum(logits), 1.0, 1e-3), "/classify use_activation false")

    # top_k (extension), priority accepted
    st, body, _ = srv.post("/classify", {"input": TEXTS[0], "top_k": 2, "priority": -5})
    tk = body["data"][0]["top_k"]
    check(st == 200 and len(tk) == 2 and tk[0]["label"] == ref[0]["label"] and tk[0]["score"] >= tk[1]["score"], f"top_k {tk}")

    # truncation
    long_text = " ".join(["movie"] * 600)
    expect_error(srv.post("/classify", {"input": ["ok", long_text]}), 400, "input", ["602", "512", "input[1]"], "too long")
    st, body, _ = srv.post("/classify", {"input": long_text, "truncate_prompt_tokens": -1})
    check(st == 200 and body["usage"]["prompt_tokens"] == 512, f"truncate -1 {st} {body.get('usage') if isinstance(body, dict) else body}")
    st, body, _ = srv.post("/classify", {"input": long_text, "truncate_prompt_tokens": 10, "truncation_side": "left"})
    check(st == 200 and body["usage"]["prompt_tokens"] == 10, "truncate 10 left")
    expect_error(srv.post("/classify", {"input": "x", "truncate_prompt_tokens": 1000}), 400, "truncate_prompt_tokens",
                 "512", "truncate above max")
    expect_error(srv.post("/classify", {"input": "x", "truncate_prompt_tokens": -3}), 400, "truncate_prompt_tokens",
                 what="truncate -3")
    expect_error(srv.post("/classify", {"input": "x", "truncation_side": "middle"}), 400, "truncation_side", what="side")

    # errors
    expect_error(srv.post("/classify", {"input": "x", "model": "other"}), 404, "model", "other", "unknown model")
    expect_error(srv.post("/classify", None, raw=b'{"input": ["a",'), 400, None, "JSON", "malformed JSON")
    expect_error(srv.post("/classify", None, raw=b'["a"]'), 400, None, what="JSON not an object")
    expect_error(srv.post("/classify", None, raw=b'{"input": "caf\xe9 \xff"}'), 400, None, "UTF-8", "invalid UTF-8")
    expect_error(srv.post("/classify", {"input": 3}), 400, "input", what="input int")
    expect_error(srv.post("/classify", {"input": ["a", 3]}), 400, "input", what="input mixed")
    expect_error(srv.post("/classify", {"input": [[1, 2], "a"]}), 400, "input", what="input ids mixed")
    expect_error(srv.post("/classify", {"input": []}), 400, "input", what="input empty list")
    expect_error(srv.post("/classify", {}), 400, "input", "required", "input missing")
    expect_error(srv.post("/classify", {"input": ""}), 400, "input", "empty", "empty text")
    expect_error(srv.post("/classify", {"input": [[1, 999999]]}), 400, "input", "vocabulary", "id out of vocab")
    expect_error(srv.post("/classify", {"input": "x", "truncate_prompt_tokens": "5"}), 400, "truncate_prompt_tokens",
                 "integer", "truncate wrong type")
    expect_error(srv.post("/classify", {"input": "x", "use_activation": "yes"}), 400, "use_activation", what="bool type")
    expect_error(srv.post("/classify", {"input": "x", "priority": 1.5}), 400, "priority", what="priority type")
    expect_error(srv.post("/classify", {"input": ["a"] * 9}), 400, "input", "8", "too many inputs")
    expect_error(srv.post("/classify", {"input": "a" * 70000}), 413, None, "65536", "payload too large")
    expect_error(srv.get("/nope"), 404, None, what="unknown route")
    # vLLM: a known route asked with another method is 405; the routes of tasks the model does
    # not serve are not registered (404)
    expect_error(srv.get("/classify"), 405, None, "Method Not Allowed", "GET on a POST route")
    check(srv.get("/classify")[2].get("Allow") == "POST", "405 names the method (Allow: POST)")
    expect_error(srv.post("/health", {}), 405, None, what="POST on a GET route")
    for route in ["/score", "/v1/score", "/rerank", "/v1/rerank", "/v2/rerank"]:
        expect_error(srv.post(route, {"queries": "a", "documents": ["b"]}), 404, None, "not score",
                     f"{route} on a classifier")
    st, _, _ = srv.post("/ping", {})
    check(st == 200, f"POST /ping (SageMaker's health check) {st}")
    # vLLM's pydantic limits on padding and cache_salt
    for good in [{"padding": "max_length"}, {"padding": "do_not_pad"}, {"cache_salt": "s" * 1024},
                 {"cache_salt": "ü" * 1024}]:
        st, body, _ = srv.post("/classify", {"input": "x", **good})
        check(st == 200, f"accepted {list(good.items())[0][0]}: {st} {body}")
    expect_error(srv.post("/classify", {"input": "x", "padding": "longest"}), 400, "padding", "longest", "padding")
    expect_error(srv.post("/classify", {"input": "x", "cache_salt": ""}), 400, "cache_salt", "1 to 1024", "empty salt")
    expect_error(srv.post("/classify", {"input": "x", "cache_salt": "s" * 1025}), 400, "cache_salt", "1025",
                 "long salt")
    # CORS as vLLM's default middleware: preflight answered, origin allowed on answers
    st, body, h = srv.request("OPTIONS", "/classify", headers={
        "Origin": "http://page.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    check(st == 200 and h.get("Access-Control-Allow-Origin") == "*" and "POST" in h.get("Access-Control-Allow-Methods", "")
          and h.get("Access-Control-Allow-Headers") == "content-type,authorization", f"CORS preflight {st} {h}")
    st, _, h = srv.post("/classify", {"input": "x"}, headers={"Origin": "http://page.example"})
    check(st == 200 and h.get("Access-Control-Allow-Origin") == "*", f"CORS on an answer {st} {h}")
    check("Access-Control-Allow-Origin" not in srv.post("/classify", {"input": "x"})[2], "no CORS header without Origin")
    expect_error(srv.post("/classify", {"input": "x", "normalize": True}), 400, "normalize", what="removed normalize")

    # /pooling
    st, body, _ = srv.post("/pooling", {"input": TEXTS[:2], "task": "classify"}, headers={"X-Request-Id": "p1"})
    check(st == 200 and list(body) == ["id", "object", "created", "model", "data", "usage"] and body["id"] == "pool-p1",
          f"/pooling keys {body}")
    for i, d in enumerate(body["data"]):
        check(list(d) == ["index", "object", "data"] and d["index"] == i and d["object"] == "pooling", f"/pooling item {d}")
        check(all_close(d["data"], ref[i]["probs"], 1e-6), "/pooling classify == CLI")
    st, emb, _ = srv.post("/pooling", {"input": TEXTS[0], "task": "embed"})
    st2, emb64, _ = srv.post("/pooling", {"input": TEXTS[0], "task": "embed", "encoding_format": "base64"})
    dec = list(struct.unpack(f"<{len(emb['data'][0]['data'])}f", base64.b64decode(emb64["data"][0]["data"])))
    check(st == 200 and st2 == 200 and all_close(dec, emb["data"][0]["data"], 1e-7), "/pooling base64 == float")
    check(close(sum(x * x for x in dec), 1.0, 1e-4), "/pooling embed normalized")
    expect_error(srv.post("/pooling", {"input": "x", "task": "token_classify"}), 400, "task", "token_classify",
                 "unsupported task")
    expect_error(srv.post("/pooling", {"input": "x", "task": "draw"}), 400, "task", what="unknown task")
    expect_error(srv.post("/pooling", {"input": "x", "task": "embed", "encoding_format": "hex"}), 400, "encoding_format",
                 what="encoding_format")

    # other routes
    st, body, _ = srv.get("/v1/models")
    check(st == 200 and body["object"] == "list" and body["data"][0]["id"] == name and body["data"][0]["object"] == "model"
          and body["data"][0]["max_model_len"] == 512, f"/v1/models {body}")
    st, body, _ = srv.get("/health")
    check(st == 200, "/health")
    st, body, _ = srv.get("/version")
    check(st == 200 and isinstance(body.get("version"), str), f"/version {body}")


def test_concurrency(srv):
    """Many clients at once: each gets its own answer; some engine calls carry several requests."""
    texts = [f"text number {i} " + "movie " * (i % 7) for i in range(24)]
    ref = {d["index"]: d for d in cli("classify", "bert-seqcls", *texts)}
    results = {}

    def one(i):
        results[i] = srv.post("/classify", {"input": texts[i]}, headers={"X-Request-Id": f"c{i}"})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (st, body, h) in results.items():
        check(st == 200 and body["id"] == f"classify-c{i}" and h.get("X-Request-Id") == f"c{i}", f"concurrent {i}: {st}")
        if st == 200:
            check(all_close(body["data"][0]["probs"], ref[i]["probs"], 1e-5), f"concurrent {i}: probs")
    st, metrics, _ = srv.get("/metrics")
    check(st == 200 and "vkcls_requests_total{route=\"/classify\",status=\"200\"}" in metrics, "/metrics requests")
    for name in ["vkcls_request_latency_seconds_bucket", "vkcls_queue_time_seconds_bucket", "vkcls_batch_requests_bucket",
                 "vkcls_batch_tokens_bucket", "vkcls_prompt_tokens_total", "vkcls_queue_depth"]:
        check(name in metrics, f"/metrics has {name}")
    batches = float(re.search(r"^vkcls_batches_total (\S+)$", metrics, re.M).group(1))
    reqs = float(re.search(r"^vkcls_batch_requests_count (\S+)$", metrics, re.M).group(1))
    total = float(re.search(r"^vkcls_batch_requests_sum (\S+)$", metrics, re.M).group(1))
    print(f"  batching: {int(total)} requests in {int(batches)} engine calls", file=sys.stderr)
    check(reqs == batches and total >= len(texts), "batch metrics consistent")


def test_slow_client(srv):
    """A client that sends half a request is closed after --read-timeout; others are served meanwhile."""
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"inp")
    t0 = time.time()
    st, body, _ = srv.post("/classify", {"input": "still served"})
    check(st == 200, "request served while a slow client holds a connection")
    s.settimeout(15)
    try:
        data = s.recv(4096)
        closed = True
    except (ConnectionResetError, socket.timeout):
        data, closed = b"", not isinstance(sys.exc_info()[1], socket.timeout)
    elapsed = time.time() - t0
    check(closed and elapsed < 10, f"slow client closed by the server after {elapsed:.1f}s (got {data[:60]!r})")
    s.close()


def test_huge_input(srv):
    """One 8 MB text (issue 14: tokenizing it held the server for seconds and 600 MB) is refused
    before it is tokenized, naming the limit (--max-input-bytes, 1 MiB by default)."""
    big = ("movie " * 1_340_000)[:8_000_000]
    expect_error(srv.post("/classify", {"input": big}), 400,
                 contains=["8000000 bytes", "1048576 bytes per input", "max_input_bytes"], what="8 MB input")
    expect_error(srv.post("/tokenize", {"prompt": big}), 400, contains="max_input_bytes", what="8 MB /tokenize")
    st, body, _ = srv.post("/classify", {"input": "the movie was fine"})
    check(st == 200, f"the server still answers: {st} {body}")


def test_port_in_use(srv):
    """A second `vkcls serve` on a port in use fails with exit code 2 and says why (issue 14:
    with SO_REUSEPORT it started and took half the connections)."""
    r = subprocess.run([ARGS.vkcls, "serve", "--model", srv.model, "--port", str(srv.port)],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 2, f"second server on port {srv.port}: exit code {r.returncode}")
    check(f"cannot bind 127.0.0.1:{srv.port}" in r.stderr, f"second server's message: {r.stderr[-300:]!r}")
    st, _, _ = srv.get("/health")
    check(st == 200, "the first server still answers")


def test_access_log(srv):
    logs = [json.loads(l) for l in srv.lines if l.startswith("{")]
    check(len(logs) > 10, "access log lines")
    for l in logs[:5]:
        check(set(l) >= {"time", "method", "path", "status", "latency_ms", "request_id"}, f"access log fields {l}")
    check(any(l["request_id"] == "req-abc" and l["path"] == "/classify" and l["status"] == 200 for l in logs),
          "access log has the request id")


def test_score(srv):
    q, docs = "Where is the station?", ["The station is near the old bridge.", "I like cats.", "Trains stop here."]
    ref = cli("score", "bert-crossencoder", stdin="".join(json.dumps({"text": q, "text_pair": d}) + "\n" for d in docs))
    st, body, _ = srv.post("/score", {"queries": q, "documents": docs}, headers={"X-Request-Id": "s1"})
    check(st == 200 and list(body) == ["id", "object", "created", "model", "data", "usage"] and body["id"] == "score-s1",
          f"/score keys {body}")
    check(body["model"] == "bert-crossencoder", "/score model name = folder basename")
    for i, d in enumerate(body["data"]):
        check(list(d) == ["index", "object", "score"] and d["index"] == i and d["object"] == "score", f"/score item {d}")
        check(close(d["score"], ref[i]["score"], 1e-5), f"/score {d['score']} != CLI {ref[i]['score']}")
    scores = [d["score"] for d in body["data"]]
    check(body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] == 0, "/score usage")
    for path, a, b in [("/v1/score", "text_1", "text_2"), ("/score", "data_1", "data_2"), ("/score", "queries", "items")]:
        st, body, _ = srv.post(path, {a: q, b: docs})
        check(st == 200 and all_close([d["score"] for d in body["data"]], scores, 1e-6), f"{path} {a}/{b}")
    st, body, _ = srv.post("/score", {"text_1": [q] * 3, "text_2": docs})  # N:N
    check(st == 200 and all_close([d["score"] for d in body["data"]], scores, 1e-6), "/score N:N")
    st, body, _ = srv.post("/score", {"text_1": q, "text_2": docs[0]})  # 1:1
    check(st == 200 and len(body["data"]) == 1 and close(body["data"][0]["score"], scores[0], 1e-6), "/score 1:1")
    expect_error(srv.post("/score", {"text_1": [q, q], "text_2": docs}), 400, "text_2", "1:N", "/score 2:3")
    expect_error(srv.post("/score", {"text_1": q, "text_2": []}), 400, "text_2", what="/score empty")
    expect_error(srv.post("/score", {"queries": q}), 400, "documents", what="/score missing documents")
    expect_error(srv.post("/score", {"queries": q, "documents": [1]}), 400, "documents", what="/score wrong type")
    expect_error(srv.post("/score", {}), 400, "queries", what="/score nothing")

    for path in ["/rerank", "/v1/rerank", "/v2/rerank"]:
        st, body, _ = srv.post(path, {"query": q, "documents": docs}, headers={"X-Request-Id": "r1"})
        check(st == 200 and list(body) == ["id", "model", "usage", "results"], f"{path} keys {body}")
        res = body["results"]
        check([r["index"] for r in res] == sorted(range(3), key=lambda i: -scores[i]), f"{path} order")
        for r in res:
            check(list(r) == ["index", "document", "relevance_score"] and r["document"] == {"text": docs[r["index"]]}
                  and close(r["relevance_score"], scores[r["index"]], 1e-6), f"{path} result {r}")
        check(body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0, f"{path} usage")
    st, body, _ = srv.post("/rerank", {"query": q, "documents": docs, "top_n": 2, "return_documents": False})
    check(st == 200 and len(body["results"]) == 2 and "document" not in body["results"][0], "/rerank top_n, no documents")
    expect_error(srv.post("/rerank", {"documents": docs}), 400, "query", what="/rerank no query")
    expect_error(srv.post("/rerank", {"query": q, "documents": []}), 400, "documents", what="/rerank no documents")
    expect_error(srv.post("/rerank", {"query": q, "documents": docs, "top_n": "2"}), 400, "top_n", what="/rerank top_n type")
    expect_error(srv.post("/rerank", {"query": q, "documents": ["x " * 600]}), 400, "documents", "512", "/rerank too long")


def test_embeddings(srv):
    texts = ["hello world", "The movie was great!"]
    ref = cli("embed", "bert-st-embedding", *texts)
    st, body, h = srv.post("/v1/embeddings", {"input": texts, "model": "bert-st-embedding"})
    check(st == 200 and list(body) == ["id", "object", "created", "model", "data", "usage"] and body["id"].startswith("embd-"),
          f"/v1/embeddings keys {body}")
    for i, d in enumerate(body["data"]):
        check(list(d) == ["index", "object", "embedding"] and d["index"] == i and d["object"] == "embedding", f"emb item {list(d)}")
        check(all_close(d["embedding"], ref[i]["embedding"], 1e-5), "/v1/embeddings == CLI")
    check_usage(body["usage"], sum(ntokens(srv, t) for t in texts), "/v1/embeddings")
    st, b64, _ = srv.post("/v1/embeddings", {"input": texts, "encoding_format": "base64"})
    for i, d in enumerate(b64["data"]):
        raw = base64.b64decode(d["embedding"])
        check(all_close(list(struct.unpack(f"<{len(raw) // 4}f", raw)), ref[i]["embedding"], 1e-5), "base64 embedding")
    # embed_dtype float16 / bfloat16 (vLLM's): 2 bytes a value, in the order endianness asks
    for dtype, order, tol in [("float16", "little", 1e-3), ("float16", "big", 1e-3), ("bfloat16", "native", 1e-2),
                              ("bfloat16", "big", 1e-2)]:
        st, half, _ = srv.post("/v1/embeddings", {"input": texts, "encoding_format": "base64", "embed_dtype": dtype,
                                                  "endianness": order})
        check(st == 200, f"embed_dtype {dtype}: {st} {half}")
        for i, d in enumerate(half.get("data", [])):
            raw = base64.b64decode(d["embedding"])
            end = ">" if order == "big" else "<"
            if dtype == "float16":
                got = list(struct.unpack(f"{end}{len(raw) // 2}e", raw))
            else:  # bfloat16: the high half of a float32
                got = [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                       for h in struct.unpack(f"{end}{len(raw) // 2}H", raw)]
            check(len(got) == len(ref[i]["embedding"]) and all_close(got, ref[i]["embedding"], tol),
                  f"base64 {dtype} {order} embedding")
    expect_error(srv.post("/v1/embeddings", {"input": texts, "encoding_format": "base64", "embed_dtype": "fp4"}),
                 400, "embed_dtype", "fp8_e5m2", "unknown embed_dtype")
    st, body, _ = srv.post("/v1/embeddings", {"input": texts[0], "dimensions": 8})
    e = body["data"][0]["embedding"]
    check(st == 200 and len(e) == 8 and close(sum(x * x for x in e), 1.0, 1e-4), "dimensions 8, normalized")
    st, tok, _ = srv.post("/tokenize", {"prompt": texts[0]})
    st, body, _ = srv.post("/v1/embeddings", {"input": [tok["tokens"]]})
    check(st == 200 and all_close(body["data"][0]["embedding"], ref[0]["embedding"], 1e-5), "/v1/embeddings token ids")
    st, body, _ = srv.post("/pooling", {"input": texts[0]})  # default task: embed
    check(st == 200 and all_close(body["data"][0]["data"], ref[0]["embedding"], 1e-5), "/pooling default task embed")
    expect_error(srv.post("/v1/embeddings", {"input": "x", "dimensions": 0}), 400, "dimensions", what="dimensions 0")
    expect_error(srv.post("/v1/embeddings", {"input": "x", "dimensions": 4096}), 400, "dimensions", what="dimensions big")
    expect_error(srv.post("/classify", {"input": "x"}), 404, None, "not classify", "classify on an embedder")


def test_token_classify(srv):
    text = "Alice moved to Paris"
    ntok = ntokens(srv, text)
    st, body, _ = srv.post("/pooling", {"input": [text], "task": "token_classify"})
    rows = body["data"][0]["data"]
    check(st == 200 and len(rows) == ntok and all(len(r) == 7 for r in rows), f"token_classify rows {len(rows)} != {ntok}")
    check(all(close(sum(r), 1.0, 1e-4) for r in rows), "token_classify rows are probabilities")
    ref = cli("token-classify", "bert-tokcls", text)[0]["entities"]
    st, body, _ = srv.post("/pooling", {"input": text, "task": "token_classify", "aggregation": "simple"})
    ents = body["data"][0]["data"] if st == 200 else None
    check(st == 200 and len(ents) == len(ref), f"aggregation simple {body}")
    if st == 200:
        for e, r in zip(ents, ref):
            check(list(e) == ["entity_group", "score", "word", "start", "end"] and e["entity_group"] == r["entity_group"]
                  and e["word"] == r["word"] and e["start"] == r["start"] and close(e["score"], r["score"], 1e-5),
                  f"entity {e} != CLI {r}")
    st, body, _ = srv.post("/pooling", {"input": text, "task": "token_classify", "aggregation": "none"})
    check(st == 200 and all(list(e) == ["entity", "score", "index", "word", "start", "end"] for e in body["data"][0]["data"]),
          "aggregation none shape")
    expect_error(srv.post("/pooling", {"input": text, "task": "token_classify", "aggregation": "mean"}), 400, "aggregation",
                 what="bad aggregation")


def test_pooler_config(srv):
    """vkcls serve --pooler-config '{"logit_bias": 2.0}': sigmoid(logit - 2) for text and token ids alike."""
    texts = ["Where is the station?", "I like cats."]
    st, raw, _ = srv.post("/classify", {"input": texts, "use_activation": False})
    st2, cal, _ = srv.post("/classify", {"input": texts})
    check(st == 200 and st2 == 200, f"/classify with --pooler-config {st} {st2}")
    for r, c in zip(raw["data"], cal["data"]):
        x = r["probs"][0]
        check(close(c["probs"][0], 1 / (1 + math.exp(-(x - 2.0))), 1e-6), f"calibrated {c['probs'][0]} for logit {x}")
    st, tok, _ = srv.post("/tokenize", {"prompt": texts[0]})
    st, ids, _ = srv.post("/classify", {"input": [tok["tokens"]]})
    check(st == 200 and close(ids["data"][0]["probs"][0], cal["data"][0]["probs"][0], 1e-6), "token ids calibrated too")
    st, sc, _ = srv.post("/score", {"queries": texts[0], "documents": ["near the bridge"]})
    st, sr, _ = srv.post("/score", {"queries": texts[0], "documents": ["near the bridge"], "use_activation": False})
    check(close(sc["data"][0]["score"], 1 / (1 + math.exp(-(sr["data"][0]["score"] - 2.0))), 1e-6), "/score calibrated")


def test_ops(srv):
    """--api-key, --max-queue (429), SIGTERM draining."""
    expect_error(srv.post("/classify", {"input": "x"}), 401, what="no api key")
    st, body, _ = srv.post("/classify", {"input": "x"}, headers={"Authorization": "Bearer wrong"})
    check(st == 401 and body == {"error": "Unauthorized"}, f"wrong api key {st} {body}")
    auth = {"Authorization": "Bearer sekret"}
    st, body, _ = srv.post("/classify", {"input": "x"}, headers=auth)
    check(st == 200, "api key accepted")
    check(srv.get("/health")[0] == 200 and srv.get("/metrics")[0] == 200, "/health and /metrics need no key")
    check(srv.get("/version")[0] == 200 and srv.get("/ping")[0] == 200, "/version and /ping need no key (vLLM)")
    # vLLM: the scheme in any case; the key itself exactly
    for header, want in [("bearer sekret", 200), ("BEARER sekret", 200), ("Bearer  sekret", 401),
                         ("Bearer sekre", 401), ("Basic sekret", 401), ("sekret", 401)]:
        st, _, _ = srv.post("/classify", {"input": "x"}, headers={"Authorization": header})
        check(st == want, f"Authorization {header!r}: {st} != {want}")

    statuses = []
    big = {"input": ["movie " * 50] * 4}

    def one():
        st, body, _ = srv.post("/classify", big, headers=auth, timeout=120)
        statuses.append(st)
        if st == 429:
            check(body["error"]["code"] == 429 and "max-queue" in body["error"]["message"], f"429 body {body}")

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(set(statuses) <= {200, 429} and 429 in statuses and 200 in statuses, f"max-queue 1 -> 429s: {statuses}")

    # SIGTERM while a request is in flight: it completes, the process exits 0
    big = {"input": ["movie " * 100] * 12}
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", srv.post("/classify", big, headers=auth, timeout=120)))
    t.start()
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    t.join()
    check(out["r"][0] == 200 and len(out["r"][1]["data"]) == 12, f"in-flight request finished after SIGTERM: {out['r'][0]}")
    try:
        rc = srv.proc.wait(20)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, f"exit code after SIGTERM {rc}")


CHAT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "chat")


def chat_model_folder(tmp):
    """bert-seqcls with tests/engine/chat/encoder_chat.jinja as its tokenizer_config.json chat_template."""
    src = os.path.join(ARGS.models, "bert-seqcls")
    dst = os.path.join(tmp, "bert-seqcls-chat")
    shutil.copytree(src, dst)
    with open(os.path.join(dst, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(CHAT_DIR, "encoder_chat.jinja"), encoding="utf-8") as f:
        config["chat_template"] = f.read()
    with open(os.path.join(dst, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return dst


def test_chat(srv):
    # the conversation and its rendering by transformers (tests/engine/chat/make_chat_cases.py)
    with open(os.path.join(CHAT_DIR, "chat_cases.json"), encoding="utf-8") as f:
        case = next(c for c in json.load(f)["cases"] if c["name"] == "bert_encoder_template")
    messages, text = case["messages"], case["text"]

    # messages + add_special_tokens == the rendered text as `input` (specials on by default)
    st, ref, _ = srv.post("/classify", {"input": text})
    st2, body, _ = srv.post("/classify", {"messages": messages, "add_special_tokens": True})
    check(st == 200 and st2 == 200, f"/classify messages status {st2} {body}")
    if st2 == 200:
        check(list(body) == ["id", "object", "created", "model", "data", "usage"] and len(body["data"]) == 1,
              f"/classify messages shape {body}")
        check(body["data"][0]["label"] == ref["data"][0]["label"], "messages label == rendered text's")
        check(all_close(body["data"][0]["probs"], ref["data"][0]["probs"], 1e-6),
              f"messages probs {body['data'][0]['probs']} != rendered text's {ref['data'][0]['probs']}")
        check(body["usage"] == ref["usage"], f"messages usage {body['usage']} != {ref['usage']}")
        check(ref["usage"]["prompt_tokens"] == len(case["ids"]), "rendered text's tokens == transformers' ids")
    # add_special_tokens defaults to false for chat: the rendered text's ids without [CLS]/[SEP]
    st, tok, _ = srv.post("/tokenize", {"prompt": text, "add_special_tokens": False})
    st, ids_ref, _ = srv.post("/classify", {"input": tok["tokens"]})
    st2, body, _ = srv.post("/classify", {"messages": messages})
    check(st2 == 200 and body["usage"]["prompt_tokens"] == tok["count"]
          and all_close(body["data"][0]["probs"], ids_ref["data"][0]["probs"], 1e-6),
          f"messages without specials == the text's ids {body}")
    # /pooling runs the same front end
    st, pool, _ = srv.post("/pooling", {"messages": messages, "task": "classify", "add_special_tokens": True})
    check(st == 200 and all_close(pool["data"][0]["data"], ref["data"][0]["probs"], 1e-6), f"/pooling messages {pool}")
    # chat_template_kwargs reach the template; a trusted request may bring its own template
    st, body, _ = srv.post("/classify", {"messages": messages, "add_special_tokens": True,
                                         "chat_template": "{{ greeting }} {{ messages[0]['content'] }}",
                                         "chat_template_kwargs": {"greeting": "hello"}})
    st2, ref2, _ = srv.post("/classify", {"input": "hello " + messages[0]["content"]})
    check(st == 200 and st2 == 200 and all_close(body["data"][0]["probs"], ref2["data"][0]["probs"], 1e-6)
          and body["usage"] == ref2["usage"], f"request chat_template + kwargs {body}")

    # the template's raise_exception is a 400 naming its message
    expect_error(srv.post("/classify", {"messages": [{"role": "system", "content": "be nice"}] + messages}), 400,
                 "messages", "This encoder takes no system message", "raise_exception")
    expect_error(srv.post("/classify", {"messages": messages, "chat_template": "{% if %}"}), 400, "messages",
                 ["chat_template", "line 1"], "request template syntax error")
    expect_error(srv.post("/classify", {"messages": messages, "add_generation_prompt": True,
                                        "continue_final_message": True}), 400, "continue_final_message",
                 "continue_final_message", "both generation prompt and continue")
    expect_error(srv.post("/classify", {"messages": messages, "input": "x"}), 400, "messages", "not both",
                 "input and messages")
    expect_error(srv.post("/classify", {"messages": []}), 400, "messages", "empty", "empty messages")
    expect_error(srv.post("/classify", {"messages": ["hi"]}), 400, "messages", "message object", "message not an object")
    expect_error(srv.post("/classify", {"messages": messages, "chat_template_kwargs": [1]}), 400,
                 "chat_template_kwargs", what="kwargs not an object")
    expect_error(srv.post("/v1/embeddings", {"messages": messages}), 400, "messages", what="embeddings with messages")


def test_chat_untrusted(srv):
    # bert-seqcls has no chat template; request templates need --trust-request-chat-template
    msgs = [{"role": "user", "content": "hi"}]
    expect_error(srv.post("/classify", {"messages": msgs}), 400, "messages",
                 "tokenizer.chat_template is not set", "no chat template")
    expect_error(srv.post("/classify", {"messages": msgs, "chat_template": "{{ messages[0].content }}"}), 400,
                 "chat_template", "--trust-request-chat-template", "untrusted request template")
    expect_error(srv.post("/classify", {"messages": msgs, "chat_template_kwargs": {"chat_template": "x"}}), 400,
                 "chat_template_kwargs", "--trust-request-chat-template", "untrusted template in kwargs")


def test_decoders(srvs):
    """A Qwen2 seq-cls decoder via /classify (vLLM's response shape) and the converted
    Qwen3-Reranker via /score and /rerank, against the transformers references."""
    srv, rr = srvs
    ref = json.load(open(os.path.join(srv.model, "reference.json")))
    inputs = [i for i in ref["inputs"] if i["text"] and i["text_pair"] is None and i["num_tokens"] <= 64][:4]
    status, body, _ = srv.post("/classify", {"model": "qwen2", "input": [i["text"] for i in inputs]})
    check(status == 200, f"decoder /classify status {status}: {body}")
    if status == 200:
        check(body["object"] == "list" and len(body["data"]) == len(inputs), "decoder /classify: one result per input")
        for d, w in zip(body["data"], inputs):
            check(d["label"] == w["label"] and d["num_classes"] == 2 and len(d["probs"]) == 2,
                  f"decoder /classify: label {d.get('label')} for {w['text'][:30]!r}, want {w['label']}")
    # the prefix cache, salted per request: /metrics counts lookups and hits in prompt tokens
    def hits():
        _, metrics, _ = srv.get("/metrics")
        m = re.search(r"^vkcls_prefix_cache_hits_total (\d+)$", metrics, re.M)
        check(m and "vkcls_kv_cache_pages " in metrics and "vkcls_kv_cache_pages_in_use 0" in metrics,
              "/metrics has the KV cache (pool, pages in use 0 when idle, hits)")
        return int(m.group(1)) if m else -1
    long_text = " ".join("token%d" % i for i in range(60))
    results = {}
    for salt in ["alice", "bob", "alice"]:
        before = hits()
        status, body, _ = srv.post("/classify", {"model": "qwen2", "input": long_text, "cache_salt": salt})
        check(status == 200, f"/classify with cache_salt {salt}: {status} {body}")
        if status == 200:
            results.setdefault(salt, []).append(body["data"][0]["probs"])
        results.setdefault(salt + " hits", []).append(hits() - before)
    check(results["alice hits"] == [0, results["alice hits"][1]] and results["alice hits"][1] > 0,
          f"the same salt finds its own pages the second time: {results['alice hits']}")
    check(results["bob hits"] == [0], f"another salt finds none: {results['bob hits']}")
    check(all(close(a, b, 1e-6) for a, b in zip(*results["alice"])), "a cached prefix changes no score")
    too_long = " ".join("token%d" % i for i in range(150))  # about 730 tokens: under max_model_len
    expect_error(srv.post("/classify", {"model": "qwen2", "input": too_long}), 400, "input",
                 "KV-cache pages of 16 tokens; the cache holds 32", "an input longer than the KV cache")
    ref = json.load(open(os.path.join(rr.model, "reference.json")))
    pairs = [i for i in ref["inputs"] if i["text"] and i["text_pair"] and i["num_tokens"] <= 64][:3]
    check(len(pairs) >= 2, "the reranker fixture has short pairs")
    for p in pairs:
        status, body, _ = rr.post("/score", {"text_1": p["text"], "text_2": p["text_pair"]})
        check(status == 200, f"converted reranker /score status {status}: {body}")
        if status == 200:
            got = body["data"][0]["score"]
            check(close(got, p["score"], 1e-4), f"/score {got} vs transformers {p['score']}")
        status, body, _ = rr.post("/rerank", {"query": p["text"], "documents": [p["text_pair"], "bread"]})
        check(status == 200, f"converted reranker /rerank status {status}: {body}")
        if status == 200:
            got = {r["index"]: r["relevance_score"] for r in body["results"]}
            check(close(got[0], p["score"], 1e-4), f"/rerank score {got[0]} vs transformers {p['score']}")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--vkcls", required=True)
    p.add_argument("--models", required=True)
    ARGS = p.parse_args()
    t0 = time.time()
    servers = {}
    tmp = tempfile.mkdtemp(prefix="vkcls_server_test_")
    try:
        servers["seqcls"] = Server("bert-seqcls", "--served-model-name", "seqcls", "--max-inputs-per-request", "8",
                                   "--max-payload-bytes", "65536", "--read-timeout", "2", "--threads", "32")
        servers["cross"] = Server("bert-crossencoder")
        servers["embed"] = Server("bert-st-embedding")
        servers["tok"] = Server("bert-tokcls")
        servers["ops"] = Server("bert-seqcls", "--max-queue", "1", env={"VKCLS_API_KEY": "sekret"})
        servers["calibrated"] = Server("bert-crossencoder", "--pooler-config", '{"logit_bias": 2.0}')
        servers["chat"] = Server(chat_model_folder(tmp), "--trust-request-chat-template")
        decoders = os.path.join("..", "decoders")
        rr = os.path.join(decoders, "qwen3-reranker-causallm")
        with open(os.path.join(ARGS.models, rr, "reference.json")) as f:
            overrides = json.dumps(json.load(f)["conversion"]["hf_overrides"])
        # a 512-token KV cache: a longer input is a 400 naming the pages (test_decoders)
        servers["decoders"] = (Server(os.path.join(decoders, "qwen2-seqcls"), "--served-model-name", "qwen2",
                                      "--kv-cache-memory", "256K"),
                               Server(rr, "--hf-overrides", overrides))
        tests = [(test_classify, "seqcls"), (test_concurrency, "seqcls"), (test_slow_client, "seqcls"),
                 (test_huge_input, "calibrated"), (test_port_in_use, "seqcls"),
                 (test_access_log, "seqcls"), (test_score, "cross"), (test_embeddings, "embed"),
                 (test_token_classify, "tok"), (test_pooler_config, "calibrated"), (test_chat, "chat"),
                 (test_chat_untrusted, "seqcls"), (test_ops, "ops"), (test_decoders, "decoders")]
        for fn, name in tests:
            t = time.time()
            try:
                fn(servers[name])
            except Exception:
                check(False, f"{fn.__name__} raised:\n{traceback.format_exc()}")
            print(f"{fn.__name__}: {time.time() - t:.1f}s", file=sys.stderr)
        for name in ["seqcls", "cross", "embed", "tok", "calibrated", "chat"]:
            check(servers[name].stop() == 0, f"{name} server exit code 0 on SIGTERM")
        for one in servers["decoders"]:
            check(one.stop() == 0, "decoder server exit code 0 on SIGTERM")
    finally:
        for s in servers.values():
            for one in s if isinstance(s, tuple) else (s,):
                if one.proc.poll() is None:
                    one.proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{CHECKS[0]} checks, {len(FAILURES)} failed, {time.time() - t0:.1f}s", file=sys.stderr)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
