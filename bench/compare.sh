#!/usr/bin/env bash
# The same workload on vkcls (`vkcls bench`) and on transformers (bench/hf_workload.py), on the
# same machine in the same run, alternating, --repeat times; prints each side's medians and the
# ratios vkcls / transformers (tokens/s; p50 and p99 latency), and writes both sides' runs to
# BUILD_DIR/compare-<task>.json.
#   bench/compare.sh BUILD_DIR --model DIR [--task classify] [--lengths 16,128] [--batch 8]
#                    [--requests 10] [--repeat 3] [--python PY]
# PY: a python3 with torch and transformers (default: python3).
set -euo pipefail
build=${1:?usage: compare.sh BUILD_DIR --model DIR [--task T] [--lengths L,..] [--batch B] [--requests R] [--repeat N] [--python PY]}
shift
model="" task=classify lengths=16,128 batch=8 requests=10 repeat=3 py=python3
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --task) task=$2; shift 2 ;;
    --lengths) lengths=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --python) py=$2; shift 2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] || { echo "compare.sh: --model DIR is required" >&2; exit 2; }
dir=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
workload=(--lengths "$lengths" --batch "$batch" --requests "$requests")
for i in $(seq 1 "$repeat"); do
  "$build/tools/vkcls" bench --model "$model" --task "$task" "${workload[@]}" --json > "$work/vkcls-$i.json"
  "$py" "$dir/hf_workload.py" --model "$model" --task "$task" "${workload[@]}" > "$work/hf-$i.json"
done
python3 - "$work" "$repeat" "$build/compare-$task.json" <<'PY'
import json, statistics, sys
work, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = {side: [json.load(open(f"{work}/{side}-{i}.json")) for i in range(1, n + 1)] for side in ("vkcls", "hf")}
json.dump(runs, open(out, "w"), indent=1)
def med(side, k, key, sub=None):
    vals = [r["rows"][k][key] if sub is None else r["rows"][k][key][sub] for r in runs[side]]
    return statistics.median(vals)
v, h = runs["vkcls"][0], runs["hf"][0]
print(f"vkcls on {v['device']} ({v['dtype']}) vs transformers {h['transformers']} on {h['device']} ({h['dtype']})")
print(f"task {v['task']}, batch {v['batch']}, {v['requests']} requests per length; medians of {n} alternating runs")
print(f"{'length':>7} {'vkcls tok/s':>12} {'hf tok/s':>10} {'ratio':>7} {'vkcls p50':>10} {'hf p50':>8} {'vkcls p99':>10} {'hf p99':>8}")
for k, row in enumerate(v["rows"]):
    vt, ht = med("vkcls", k, "tokens_per_s"), med("hf", k, "tokens_per_s")
    print(f"{row['length']:>7} {vt:>12.1f} {ht:>10.1f} {vt / ht:>6.2f}x "
          f"{med('vkcls', k, 'latency_ms', 'p50'):>10.1f} {med('hf', k, 'latency_ms', 'p50'):>8.1f} "
          f"{med('vkcls', k, 'latency_ms', 'p99'):>10.1f} {med('hf', k, 'latency_ms', 'p99'):>8.1f}")
pv = statistics.median(r["peak_host_bytes"] for r in runs["vkcls"]) / 2**20
ph = statistics.median(r["peak_host_bytes"] for r in runs["hf"]) / 2**20
print(f"peak host memory: vkcls {pv:.0f} MiB, transformers {ph:.0f} MiB; all runs in {out}")
PY
