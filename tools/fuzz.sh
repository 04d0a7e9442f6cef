#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: clang, AddressSanitizer + UBSan) and runs each on a copy
# of its committed seed corpus for SECONDS (default 60). A crash, leak, timeout or out-of-memory
# fails the run; its input is kept in BUILD/artifacts/ (make it a test, then fix it).
#   tools/fuzz.sh [BUILD_DIR] [SECONDS]        (default build-fuzz, 60)
# Each run adds its seconds to BUILD/fuzz-seconds.txt (per target, cumulative). The random seed
# is VKCLS_FUZZ_SEED (default 1: CI explores the same inputs every time, so a finding there is
# reproducible and no CI run fails by chance); give another seed for new ground.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-60}
targets=(fuzz_tokenizer fuzz_config fuzz_protocol fuzz_safetensors fuzz_torch_pickle fuzz_templates)
if [ ! -f "$build/CMakeCache.txt" ]; then
  mkdir -p "$build"
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DVKCLS_FUZZ=ON -DVKCLS_BUILD_TESTS=OFF \
    -DVKCLS_BUILD_BENCH=OFF > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
mkdir -p "$build/artifacts"
failed=0
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp fuzz/corpus/"$t"/* "$work"/
  extra=()
  [ -f "fuzz/${t#fuzz_}.dict" ] && extra+=(-dict="fuzz/${t#fuzz_}.dict")
  start=$(date +%s)
  if "$build/fuzz/$t" "${extra[@]}" -max_total_time="$seconds" -seed="${VKCLS_FUZZ_SEED:-1}" -rss_limit_mb=2048 -timeout=20 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work" \
       > "$build/$t.log" 2>&1; then
    echo "fuzz: $t: $(grep -o 'Done [0-9]* runs' "$build/$t.log" | tail -1) in $((($(date +%s) - start))) s, no finding"
  else
    echo "fuzz: $t FAILED; the input is in $build/artifacts/, the log $build/$t.log:"
    grep -E "ERROR|SUMMARY|==[0-9]+==" "$build/$t.log" | head -20
    failed=1
  fi
  echo "$t $(($(date +%s) - start))" >> "$build/fuzz-seconds.txt"
  rm -rf "$work"
done
awk '{s[$1] += $2} END {for (t in s) printf "fuzz: %s has run %d s in all in %s\n", t, s[t], FILENAME}' \
  "$build/fuzz-seconds.txt"
exit $failed
