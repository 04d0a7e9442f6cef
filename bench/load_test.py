#!/usr/bin/env python3
"""Load test for `vkcls serve` (Python stdlib only: threads + http.client, loopback).

    python3 bench/load_test.py --vkcls build/tools/vkcls --model tests/data/models/bert-seqcls \
        --clients 16 --seconds 20
    python3 bench/load_test.py --url http://127.0.0.1:8000 --pid 1234 --clients 64 --seconds 60

Starts the server (or uses --url), precomputes every text's answer with single-input calls, then
runs N clients for a bounded time, each on its own keep-alive connection, sending a mix of
routes the model supports (/classify, /pooling classify|embed, /v1/embeddings, /score, /rerank,
/tokenize) with 1..4 inputs of varied lengths. Every response is checked: status 200, the
echoed X-Request-Id and id, one item per input in order, and the same numbers as the single
call (batching must not change results). Reports requests/s, p50/p99 latency, failures,
mismatches, the server's RSS at start / middle / end and its batching metrics.
With --bad-fraction, that share of requests are malformed (broken JSON, wrong types, too many
inputs, a text over --max-input-bytes, a non-JSON Content-Type, an unknown route, zero
truncation), each of which must get its 4xx with vLLM's error shape; with --disconnect-fraction,
that share are sent on a fresh connection that is closed before the answer (the server must drop
the work and go on). --rss-every N samples the server's RSS every N seconds (bench/soak.py runs
all of it: 64 clients for 10 minutes).
Exit code 1 on any failed, lost or mismatched response.
"""
import socket
import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

WORDS = ("the movie was great and the station is near the old bridge where trains stop every hour "
         "alice moved to paris in spring dreadful acting but a lovely score").split()


def make_texts(n, rng):
    texts = []
    for i in range(n):
        length = rng.choice([1, 3, 8, 20, 60, 150])
        texts.append(f"t{i} " + " ".join(rng.choice(WORDS) for _ in range(length)))
    return texts


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Conn:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.c = None

    def post(self, path, body, rid=None, timeout=120):
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                h = {"Content-Type": "application/json"}
                if rid:
                    h["X-Request-Id"] = rid
                self.c.request("POST", path, body=json.dumps(body), headers=h)
                r = self.c.getresponse()
                data = r.read()
                return r.status, json.loads(data) if data else None, r.getheader("X-Request-Id")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: reconnect once
                self.c.close()
                self.c = None
                if attempt:
                    raise


def close(xs, ys, tol):
    return len(xs) == len(ys) and all(abs(a - b) <= tol * max(1.0, abs(a), abs(b)) for a, b in zip(xs, ys))


# Malformed requests and the statuses vkcls (as vLLM) must answer them with.
BAD_REQUESTS = [
    ("/classify", b'{"input": ', "application/json", {400}),
    ("/classify", json.dumps({"input": 42}).encode(), "application/json", {400}),
    ("/classify", json.dumps({"input": ["x"] * 3000}).encode(), "application/json", {400}),
    ("/classify", json.dumps({"input": "x", "truncate_prompt_tokens": 0}).encode(), "application/json", {400}),
    ("/classify", json.dumps({"input": "word " * 300000}).encode(), "application/json", {400}),
    ("/classify", json.dumps({"input": "x"}).encode(), "text/plain", {400}),
    ("/nope", json.dumps({"input": "x"}).encode(), "application/json", {404}),
    ("/v1/embeddings", json.dumps({"input": "x", "dimensions": -3}).encode(), "application/json", {400, 404}),
]


def send_bad(conn, crng):
    path, body, ctype, want = crng.choice(BAD_REQUESTS)
    c = http.client.HTTPConnection(conn.host, conn.port, timeout=120)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": ctype})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    if r.status not in want:
        return r.status, f"bad request to {path}: status {r.status}, expected {sorted(want)}"
    err = json.loads(data).get("error") if data else None
    if not isinstance(err, dict) or set(err) != {"message", "type", "param", "code"} or err["code"] != r.status:
        return r.status, f"bad request to {path}: error shape {data[:200]!r}"
    return r.status, None


def send_and_leave(host, port, texts, crng):
    """A batch of long inputs on a fresh connection, closed before its answer."""
    body = json.dumps({"input": [texts[crng.randrange(len(texts))] for _ in range(8)],
                       "truncate_prompt_tokens": -1}).encode()
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    s.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vkcls", help="vkcls binary: start `vkcls serve --model MODEL --port 0`")
    ap.add_argument("--model", help="model folder (with --vkcls)")
    ap.add_argument("--url", help="an already running server (with --pid for RSS)")
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--texts", type=int, default=48)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bad-fraction", type=float, default=0.0)
    ap.add_argument("--disconnect-fraction", type=float, default=0.0)
    ap.add_argument("--rss-every", type=float, default=0.0, help="seconds between RSS samples (0: start/middle/end)")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.clients > 1024 or args.seconds <= 0 or args.seconds > 3600:
        ap.error("--clients 1..1024, --seconds 0..3600")

    proc = None
    if args.vkcls:
        proc = subprocess.Popen([args.vkcls, "serve", "--model", args.model, "--port", "0", "--no-access-log",
                                 "--threads", str(max(64, args.clients + 8))],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        port = None
        for raw in proc.stderr:
            m = re.match(r"listening on [^:]+:(\d+)$", raw.decode().strip())
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("the server did not start")
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        host, pid = "127.0.0.1", proc.pid
    else:
        u = urllib.parse.urlparse(args.url)
        host, port, pid = u.hostname, u.port or 80, args.pid

    rng = random.Random(args.seed)
    texts = make_texts(args.texts, rng)
    probe = Conn(host, port)
    ok = lambda path, body: probe.post(path, body)[0] == 200
    routes = []
    expected = {}  # (route kind, text index) -> numbers
    if ok("/classify", {"input": "probe"}):
        routes += ["classify", "pool_classify"]
        for i, t in enumerate(texts):
            st, body, _ = probe.post("/classify", {"input": t, "truncate_prompt_tokens": -1})
            expected[("classify", i)] = body["data"][0]["probs"]
    if ok("/v1/embeddings", {"input": "probe"}):
        routes += ["embed", "pool_embed"]
        for i, t in enumerate(texts):
            st, body, _ = probe.post("/v1/embeddings", {"input": t, "truncate_prompt_tokens": -1})
            expected[("embed", i)] = body["data"][0]["embedding"]
    if ok("/score", {"queries": "probe", "documents": ["probe"]}):
        routes += ["score", "rerank"]
        for i, t in enumerate(texts):
            st, body, _ = probe.post("/score", {"queries": texts[0], "documents": [t], "truncate_prompt_tokens": -1})
            expected[("score", i)] = [body["data"][0]["score"]]
    routes.append("tokenize")
    for i, t in enumerate(texts):
        st, body, _ = probe.post("/tokenize", {"prompt": t})
        expected[("tokenize", i)] = body["tokens"]
    print(f"server {host}:{port} pid {pid}; routes {routes}; {len(texts)} texts precomputed", file=sys.stderr)

    lock = threading.Lock()
    latencies, failures, mismatches = [], [], []
    counts = {r: 0 for r in routes}
    rss = {"start": rss_kb(pid)}
    rss_series = []  # (seconds since start, RSS KiB)
    bad_counts = {"bad": 0, "disconnects": 0}
    stop_at = time.time() + args.seconds

    def check_items(kind, items, idx, key):
        for k, (item, i) in enumerate(zip(items, idx)):
            if item.get("index") != k:
                return f"{kind}: index {item.get('index')} != {k}"
            if not close(item[key] if isinstance(item[key], list) else [item[key]], expected[(kind, i)], args.tolerance):
                return f"{kind}: text {i} differs from its single call"
        return None

    def client(cid):
        crng = random.Random(args.seed * 1000 + cid)
        conn = Conn(host, port)
        n = 0
        while time.time() < stop_at:
            roll = crng.random()
            if roll < args.disconnect_fraction:
                try:
                    send_and_leave(host, port, texts, crng)
                    with lock:
                        bad_counts["disconnects"] += 1
                except OSError as e:
                    with lock:
                        failures.append(f"disconnect c{cid}: {e}")
                continue
            if roll < args.disconnect_fraction + args.bad_fraction:
                try:
                    st, err = send_bad(conn, crng)
                except Exception as e:  # noqa: BLE001
                    st, err = -1, f"bad request: {type(e).__name__}: {e}"
                with lock:
                    if err:
                        failures.append(f"c{cid}: {err}")
                    else:
                        bad_counts["bad"] += 1
                continue
            route = crng.choice(routes)
            idx = [crng.randrange(len(texts)) for _ in range(crng.randint(1, 4))]
            rid = f"c{cid}-{n}"
            n += 1
            sel = [texts[i] for i in idx]
            t0 = time.time()
            try:
                if route == "classify":
                    st, body, hrid = conn.post("/classify", {"input": sel, "truncate_prompt_tokens": -1}, rid)
                    err = None if st != 200 else (f"id {body['id']}" if body["id"] != "classify-" + rid else
                                                  check_items("classify", body["data"], idx, "probs"))
                elif route == "pool_classify":
                    st, body, hrid = conn.post("/pooling", {"input": sel, "task": "classify", "truncate_prompt_tokens": -1}, rid)
                    err = None if st != 200 else check_items("classify", body["data"], idx, "data")
                elif route == "embed":
                    st, body, hrid = conn.post("/v1/embeddings", {"input": sel, "truncate_prompt_tokens": -1}, rid)
                    err = None if st != 200 else check_items("embed", body["data"], idx, "embedding")
                elif route == "pool_embed":
                    st, body, hrid = conn.post("/pooling", {"input": sel, "task": "embed", "truncate_prompt_tokens": -1}, rid)
                    err = None if st != 200 else check_items("embed", body["data"], idx, "data")
                elif route == "score":
                    st, body, hrid = conn.post("/score", {"queries": texts[0], "documents": sel, "truncate_prompt_tokens": -1}, rid)
                    err = None if st != 200 else check_items("score", body["data"], idx, "score")
                elif route == "rerank":
                    st, body, hrid = conn.post("/rerank", {"query": texts[0], "documents": sel, "truncate_prompt_tokens": -1}, rid)
                    err = None
                    if st == 200:
                        res = body["results"]
                        if sorted(r["index"] for r in res) != list(range(len(sel))):
                            err = "rerank: lost documents"
                        for r in res:
                            if not close([r["relevance_score"]], expected[("score", idx[r["index"]])], args.tolerance):
                                err = "rerank: score differs"
                            if r["document"]["text"] != sel[r["index"]]:
                                err = "rerank: document text"
                else:
                    st, body, hrid = conn.post("/tokenize", {"prompt": sel[0]}, rid)
                    err = None if st != 200 else (None if body["tokens"] == expected[("tokenize", idx[0])] else "tokenize differs")
                if st == 200 and hrid != rid:
                    err = f"X-Request-Id {hrid} != {rid}"
            except Exception as e:  # noqa: BLE001 - count every kind of failure
                st, err = -1, f"{type(e).__name__}: {e}"
            dt = time.time() - t0
            with lock:
                if st != 200:
                    failures.append(f"{route} {rid}: status {st} {err or ''}")
                elif err:
                    mismatches.append(f"{rid}: {err}")
                else:
                    latencies.append(dt)
                    counts[route] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    t_start = time.time()
    for t in threads:
        t.start()
    if args.rss_every > 0:
        while time.time() < stop_at:
            rss_series.append((round(time.time() - t_start, 1), rss_kb(pid)))
            time.sleep(min(args.rss_every, max(0.0, stop_at - time.time())))
            if len(rss_series) == max(1, int(args.seconds / args.rss_every / 2)):
                rss["middle"] = rss_kb(pid)
    else:
        time.sleep(args.seconds / 2)
    rss.setdefault("middle", rss_kb(pid))
    for t in threads:
        t.join()
    elapsed = time.time() - t_start
    rss["end"] = rss_kb(pid)

    metrics = ""
    try:
        c = http.client.HTTPConnection(host, port, timeout=10)
        c.request("GET", "/metrics")
        metrics = c.getresponse().read().decode()
    except OSError:
        pass

    def metric(name):
        m = re.search(rf"^{name} (\S+)$", metrics, re.M)
        return float(m.group(1)) if m else float("nan")

    lat = sorted(latencies)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    report = {
        "clients": args.clients, "seconds": round(elapsed, 1), "ok": len(lat), "failed": len(failures),
        "mismatched": len(mismatches), "requests_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(pct(0.50), 1), "p99_ms": round(pct(0.99), 1), "max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()}, "by_route": counts,
        "engine_calls": metric("vkcls_batches_total"),
        "requests_per_engine_call": round(metric("vkcls_batch_requests_sum") / max(1, metric("vkcls_batch_requests_count")), 2),
        "prompt_tokens": metric("vkcls_prompt_tokens_total"),
        "bad_requests_answered_4xx": bad_counts["bad"], "disconnects": bad_counts["disconnects"],
    }
    if rss_series:
        report["rss_mib_series"] = [[t, round(kb / 1024, 1)] for t, kb in rss_series]
    print(json.dumps(report, indent=1))
    for f in (failures + mismatches)[:10]:
        print("  ", f, file=sys.stderr)
    if proc:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        print(f"server exit code after SIGTERM: {rc}", file=sys.stderr)
    return 1 if failures or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
