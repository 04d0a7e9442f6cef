#!/usr/bin/env python3
"""Soak test for `vkcls serve` (not in CI): bench/load_test.py with 64 clients for 10 minutes,
10% malformed requests (each must get its 4xx), 5% clients that leave before their answer, and
the server's RSS every 10 s. Every good answer is checked against the single-request answer.
Any option of load_test.py may be given to change these.

    python3 bench/soak.py --vkcls build/tools/vkcls --model assets/models/sentiment-minilm-l4
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load_test  # noqa: E402

DEFAULTS = ["--clients", "64", "--seconds", "600", "--bad-fraction", "0.1", "--disconnect-fraction", "0.05",
            "--rss-every", "10"]

if __name__ == "__main__":
    sys.exit(load_test.main(DEFAULTS + sys.argv[1:]))
