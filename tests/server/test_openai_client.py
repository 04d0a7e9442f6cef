#!/usr/bin/env python3
"""The official `openai` Python client against `vkcls serve` /v1/embeddings (and /v1/models).

Exit 77 (skipped) when the `openai` package is not importable. The client asks for
base64 by default and decodes it as little-endian float32, so this checks that path too.
"""
import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading

try:
    import openai
except ImportError:
    print("openai is not installed: skipped", file=sys.stderr)
    sys.exit(77)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vkcls", required=True)
    p.add_argument("--models", required=True)
    args = p.parse_args()
    model_dir = os.path.join(args.models, "bert-st-embedding")
    proc = subprocess.Popen([args.vkcls, "serve", model_dir, "--port", "0", "--api-key", "k", "--no-access-log"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    port = None
    for raw in proc.stderr:
        m = re.match(r"listening on [^:]+:(\d+)$", raw.decode().strip())
        if m:
            port = int(m.group(1))
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    failures = []
    try:
        texts = ["hello world", "The movie was great!"]
        ref = [json.loads(l)["embedding"] for l in subprocess.run(
            [args.vkcls, "embed", "--model", model_dir, "--quiet", *texts], capture_output=True, text=True,
            check=True).stdout.splitlines()]
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
        models = client.models.list()
        if [m.id for m in models.data] != ["bert-st-embedding"]:
            failures.append(f"models.list: {models}")
        for fmt in [openai.NOT_GIVEN, "float"]:
            r = client.embeddings.create(model="bert-st-embedding", input=texts, encoding_format=fmt)
            if len(r.data) != 2 or r.usage.prompt_tokens <= 0:
                failures.append(f"embeddings.create({fmt}): {r}")
            for d, e in zip(r.data, ref):
                if len(d.embedding) != len(e) or any(abs(a - b) > 1e-5 for a, b in zip(d.embedding, e)):
                    failures.append(f"embedding {d.index} ({fmt}) differs from the CLI")
        r = client.embeddings.create(model="bert-st-embedding", input="hello world", dimensions=8)
        if len(r.data[0].embedding) != 8 or abs(math.fsum(x * x for x in r.data[0].embedding) - 1) > 1e-4:
            failures.append("dimensions=8")
        try:
            client.embeddings.create(model="nope", input="x")
            failures.append("unknown model accepted")
        except openai.NotFoundError as e:
            if e.status_code != 404:
                failures.append(f"unknown model: {e}")
        try:
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="bad").embeddings.create(model="x", input="x")
            failures.append("bad key accepted")
        except openai.AuthenticationError:
            pass
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
    if rc != 0:
        failures.append(f"exit code {rc}")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    print(f"openai client: {len(failures)} failures", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
