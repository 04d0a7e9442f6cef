#!/usr/bin/env bash
# vkcls vs transformers on the same random Qwen3-0.6B-sized reranker (Qwen3ForSequenceClassification,
# num_labels 1), same token ids, same machine, one run; prints both tables and the ratio.
#   bench/run_reranker_bench.sh BUILD_DIR [--layers N] [--lengths 128,512,2048] [--batch B] [--repeat R]
set -euo pipefail
build=${1:?usage: run_reranker_bench.sh BUILD_DIR [--layers N] [--lengths L,..] [--batch B] [--repeat R]}
shift
layers=28 lengths=128,512,2048 batch=4 repeat=3
while [ $# -gt 0 ]; do
  case $1 in
    --layers) layers=$2; shift 2 ;;
    --lengths) lengths=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
dir=$(dirname "$0")
model="$build/bench-models/qwen3-reranker-l$layers"
[ -f "$model/config.json" ] || python3 "$dir/make_bench_qwen3_reranker.py" "$model" --layers "$layers"
common=(--model "$model" --lengths "$lengths" --batch "$batch" --repeat "$repeat" --latency-runs "$repeat")
"$build/bench/bench_models" "${common[@]}" --json "$build/bench-reranker-vkcls.json"
python3 "$dir/bench_models_hf.py" "${common[@]}" --json "$build/bench-reranker-hf.json"
python3 - "$build/bench-reranker-vkcls.json" "$build/bench-reranker-hf.json" <<'PY'
import json, sys
v, h = (json.load(open(p)) for p in sys.argv[1:3])
print(f"\nvkcls ({v['device']}, {v['dtype']}) / transformers ({h['device']}, {h['dtype']}): throughput ratio")
for a, b in zip(v["rows"], h["rows"]):
    print(f"  seq_len {a['seq_len']:>4}: {a['tokens_per_s'] / b['tokens_per_s']:.2f}x tokens/s, "
          f"p50 latency {a['p50_ms']:.1f} vs {b['p50_ms']:.1f} ms")
print(f"  peak host RSS {v['peak_rss_mib']:.0f} vs {h['peak_rss_mib']:.0f} MiB")
PY
