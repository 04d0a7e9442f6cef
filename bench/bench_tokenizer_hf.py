#!/usr/bin/env python3
"""Python `tokenizers` throughput on the same corpus as bench_tokenizer.

  python3 bench/bench_tokenizer_hf.py TOKENIZER_JSON CORPUS [--min-mb 8] [--rounds 3]

Reports encode() one line at a time (1 thread) and encode_batch() (Rayon,
all cores): MB/s and tokens/s.
"""
import argparse
import json
import os
import time

from tokenizers import Tokenizer


def load(path, min_mb):
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("{"):
                try:
                    t = json.loads(line).get("text")
                except json.JSONDecodeError:
                    t = None
                if isinstance(t, str):
                    lines.append(t)
            else:
                lines.append(line)
    out, total = [], 0
    while total < min_mb * 1e6:
        for t in lines:
            out.append(t)
            total += len(t.encode("utf-8", "surrogatepass"))
    return out, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenizer")
    ap.add_argument("corpus")
    ap.add_argument("--min-mb", type=float, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tok = Tokenizer.from_file(a.tokenizer)
    lines, nbytes = load(a.corpus, a.min_mb)
    print(f"tokenizer {a.tokenizer}, corpus {len(lines)} lines, {nbytes / 1e6:.2f} MB, "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'all cores')}")
    for name, fn in (("encode (1 thread)", lambda: sum(len(tok.encode(t).ids) for t in lines)),
                     ("encode_batch", lambda: sum(len(e.ids) for e in tok.encode_batch(lines)))):
        best, ntok = 1e30, 0
        for _ in range(a.rounds):
            t0 = time.perf_counter()
            ntok = fn()
            best = min(best, time.perf_counter() - t0)
        print(f"{name:18s}: {nbytes / 1e6 / best:8.2f} MB/s  {ntok / best:12.0f} tokens/s  "
              f"({ntok} tokens, best of {a.rounds}: {best:.3f} s)")


if __name__ == "__main__":
    main()
