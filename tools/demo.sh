#!/usr/bin/env bash
# The README's first command: install dependencies, build, and classify the sample
# texts with the default model that ships in assets/models, as a table.
#   tools/demo.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash tools/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)" --target vkcls
"$build/tools/vkcls" info | tail -n 1
"$build/tools/vkcls" classify --format table --input assets/samples.txt
