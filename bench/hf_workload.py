"""The workload of `vkcls bench` on Hugging Face transformers, for bench/compare.sh: for each
length, --requests batches of --batch random token ids of exactly that length (no special
tokens, no padding), after --warmup batches; fp16 + SDPA on a CUDA GPU when there is one, else
fp32 on the CPU with torch's default threads. Requests run one after another (transformers has
no request concurrency). Prints the JSON shape `vkcls bench --json` prints (rows with
tokens_per_s, sequences_per_s, latency_ms p50/p90/p99, peak_host_bytes).
    python3 bench/hf_workload.py --model DIR [--task classify] [--lengths 16,128] [--batch 8]
"""
import argparse
import json
import math
import resource
import time

import torch
import transformers

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--task", default="classify", choices=["classify", "score", "embed", "token_classify"])
ap.add_argument("--lengths", default="16,128")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--requests", type=int, default=10)
ap.add_argument("--warmup", type=int, default=1)
a = ap.parse_args()

cuda = torch.cuda.is_available()
dev = "cuda" if cuda else "cpu"
dtype = torch.float16 if cuda else torch.float32
auto = {"classify": transformers.AutoModelForSequenceClassification,
        "score": transformers.AutoModelForSequenceClassification,
        "token_classify": transformers.AutoModelForTokenClassification,
        "embed": transformers.AutoModel}[a.task]
model = auto.from_pretrained(a.model, dtype=dtype, attn_implementation="sdpa").to(dev).eval()
vocab = model.config.vocab_size


def sync():
    if cuda:
        torch.cuda.synchronize()


def percentile(v, p):  # nearest rank, as vkcls bench
    v = sorted(v)
    return v[min(max(math.ceil(p * len(v)), 1), len(v)) - 1]


def batch_ids(length, request):
    g = torch.Generator().manual_seed(1000003 * length + request)
    lo = min(1000, vocab // 2)
    return torch.randint(lo, vocab, (a.batch, length), generator=g).to(dev)


def run(ids):
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    if a.task == "embed":  # mean pooling, as sentence-transformers
        out = out.last_hidden_state.mean(dim=1)
    else:
        out = out.logits
    sync()
    return out


rows = []
with torch.inference_mode():
    for length in [int(x) for x in a.lengths.split(",")]:
        for i in range(a.warmup):
            run(batch_ids(length, a.requests + i))
        lat = []
        t0 = time.perf_counter()
        for i in range(a.requests):
            ids = batch_ids(length, i)
            s = time.perf_counter()
            run(ids)
            lat.append(time.perf_counter() - s)
        seconds = time.perf_counter() - t0
        tokens = a.requests * a.batch * length
        rows.append({"length": length, "requests": a.requests, "sequences": a.requests * a.batch,
                     "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds,
                     "sequences_per_s": a.requests * a.batch / seconds,
                     "requests_per_s": a.requests / seconds,
                     "latency_ms": {p: 1e3 * percentile(lat, q) for p, q in
                                    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]}})

print(json.dumps({
    "peer": "transformers", "transformers": transformers.__version__, "torch": torch.__version__,
    "device": torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)",
    "dtype": str(dtype).replace("torch.", ""), "task": a.task, "batch": a.batch, "requests": a.requests,
    "rows": rows, "peak_host_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}, indent=2))
