#!/usr/bin/env bash
# all-MiniLM-L6-v2 sentence embeddings: `vkcls embed` (the CLI a user runs, tokenization
# included) vs sentence-transformers' encode on the same 1,000 sentences, same machine, one
# run each after a warm-up. Prints wall and CPU seconds (user + sys) and the ratio.
#   bench/run_embed_bench.sh BUILD_DIR [MODEL_DIR]   (default model: BUILD_DIR/test-models/all-minilm-l6-v2,
#                                                     fetched by tools/fetch-test-models.sh)
set -euo pipefail
build=${1:?usage: run_embed_bench.sh BUILD_DIR [MODEL_DIR]}
model=${2:-$build/test-models/all-minilm-l6-v2}
dir=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$model/model.safetensors" ] || bash "$dir/tools/fetch-test-models.sh" "$build/test-models"
corpus="$build/bench-embed-corpus.txt"
# 1,000 sentences from the repository's own data: held-out tweets, the MiniLM test texts and
# the tokenizer corpus's plain lines, one per line
python3 - "$dir" "$corpus" <<'PY'
import json, pathlib, sys
root, out = pathlib.Path(sys.argv[1]), sys.argv[2]
texts = [json.loads(l)["text"] for l in open(root / "tests/data/default_model/heldout.jsonl")]
texts += json.load(open(root / "tests/data/minilm/texts.json"))
for l in open(root / "tests/data/tokenizer/corpus.jsonl"):
    t = json.loads(l)
    t = t["text"] if isinstance(t, dict) else t
    if isinstance(t, str) and 20 <= len(t) <= 300 and "\n" not in t and t.isprintable():
        texts.append(t)
texts = [t.replace("\n", " ").strip() for t in texts if t.strip()][:1000]
assert len(texts) == 1000, len(texts)
pathlib.Path(out).write_text("\n".join(texts) + "\n")
PY
vkcls="$build/tools/vkcls"
# runs a command (its stdout discarded), prints "wall_seconds cpu_seconds"
timed() {
  /usr/bin/time -f "%e %U %S" -o "$build/bench-embed-time.txt" "$@" >/dev/null
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$build/bench-embed-time.txt"
}
"$vkcls" embed --model "$model" --quiet "warm-up" >/dev/null  # pipelines into the driver's cache
read -r v1_wall v1_cpu < <(timed "$vkcls" embed --model "$model" --quiet "one sentence")
read -r v_wall v_cpu < <(timed "$vkcls" embed --model "$model" --quiet --input "$corpus" --input-format lines --output "$build/bench-embed-vkcls.jsonl")
python3 - "$model" "$corpus" "$build/bench-embed-st.json" <<'PY'
import json, resource, sys, time
import torch
from sentence_transformers import SentenceTransformer
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
texts = open(sys.argv[2]).read().splitlines()
t0, c0 = time.perf_counter(), cpu()
m = SentenceTransformer(sys.argv[1], device="cpu")
load_wall, load_cpu = time.perf_counter() - t0, cpu() - c0
m.encode(texts[:32])  # warm-up
t0, c0 = time.perf_counter(), cpu()
m.encode(texts)
json.dump({"threads": torch.get_num_threads(), "load_wall": load_wall, "load_cpu": load_cpu,
           "wall": time.perf_counter() - t0, "cpu": cpu() - c0}, open(sys.argv[3], "w"))
PY
python3 - "$build/bench-embed-st.json" "$v_wall" "$v_cpu" "$v1_wall" "$v1_cpu" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
vw, vc, v1w, v1c = map(float, sys.argv[2:6])
print(f"1,000 sentences, all-MiniLM-L6-v2, fp32")
print(f"  vkcls embed (process, incl. start-up): {vw:7.2f} s wall {vc:7.2f} s CPU; start-up alone (1 sentence): {v1w:.2f} s wall {v1c:.2f} s CPU")
print(f"  vkcls embed without start-up:          {vw - v1w:7.2f} s wall {vc - v1c:7.2f} s CPU")
print(f"  sentence-transformers encode ({st['threads']} threads): {st['wall']:7.2f} s wall {st['cpu']:7.2f} s CPU; model load {st['load_wall']:.2f} s")
print(f"  ratio vkcls / sentence-transformers (without start-up / load): {(vw - v1w) / st['wall']:.2f}x wall, {(vc - v1c) / st['cpu']:.2f}x CPU")
PY
