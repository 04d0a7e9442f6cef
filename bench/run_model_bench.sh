#!/usr/bin/env bash
# vkcls vs transformers on the same random BERT-base-sized classifier, same inputs,
# same machine, one run; prints both tables and the throughput ratio.
#   bench/run_model_bench.sh BUILD_DIR [--layers N] [--lengths 32,128,512] [--batch 64]
set -euo pipefail
build=${1:?usage: run_model_bench.sh BUILD_DIR [--layers N] [--lengths L,..] [--batch B]}
shift
layers=12 lengths=32,128,512 batch=64
while [ $# -gt 0 ]; do
  case $1 in
    --layers) layers=$2; shift 2 ;;
    --lengths) lengths=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
dir=$(dirname "$0")
model="$build/bench-models/bert-base-l$layers"
[ -f "$model/model.safetensors" ] || python3 "$dir/make_bench_model.py" "$model" --layers "$layers"
"$build/bench/bench_models" --model "$model" --lengths "$lengths" --batch "$batch" --json "$build/bench-vkcls.json"
python3 "$dir/bench_models_hf.py" --model "$model" --lengths "$lengths" --batch "$batch" --json "$build/bench-hf.json"
python3 - "$build/bench-vkcls.json" "$build/bench-hf.json" <<'PY'
import json, sys
v, h = (json.load(open(p)) for p in sys.argv[1:3])
print(f"\nvkcls ({v['device']}, {v['dtype']}) / transformers ({h['device']}, {h['dtype']}): throughput ratio")
for a, b in zip(v["rows"], h["rows"]):
    print(f"  seq_len {a['seq_len']:>4}: {a['tokens_per_s'] / b['tokens_per_s']:.2f}x tokens/s, "
          f"p50 latency {a['p50_ms']:.1f} vs {b['p50_ms']:.1f} ms")
PY
