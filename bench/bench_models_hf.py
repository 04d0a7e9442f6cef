"""The same workload as bench_models on Hugging Face transformers: fp16 + SDPA on a
CUDA GPU when there is one (the comparison the project reports), else fp32 on the CPU.
Prints the same table and writes --json.
    python3 bench/bench_models_hf.py --model DIR [--lengths 32,128,512] [--batch 64] [--repeat 3]
"""
import argparse
import json
import resource
import statistics
import time

import torch
from transformers import AutoModelForSequenceClassification

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--lengths", default="32,128,512")
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--latency-runs", type=int, default=20)
ap.add_argument("--json")
a = ap.parse_args()

cuda = torch.cuda.is_available()
dev = "cuda" if cuda else "cpu"
dtype = torch.float16 if cuda else torch.float32
model = AutoModelForSequenceClassification.from_pretrained(a.model, dtype=dtype, attn_implementation="sdpa").to(dev).eval()
name = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
print(f"transformers on {name}, {dtype}")
print(f"{'seq_len':>8} {'batch':>6} {'seq/s':>12} {'tokens/s':>12} {'p50 ms':>10} {'p99 ms':>10}")
g = torch.Generator().manual_seed(1)
rows = []


def sync():
    if cuda:
        torch.cuda.synchronize()


with torch.inference_mode():
    for L in [int(x) for x in a.lengths.split(",")]:
        ids = torch.randint(1000, 21000, (a.batch, L), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        ids = ids.to(dev)
        model(input_ids=ids[:1])
        sync()
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            model(input_ids=ids)  # all sequences have length L: no padding needed
            sync()
            times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        lat = []
        for r in range(a.latency_runs):
            t0 = time.perf_counter()
            model(input_ids=ids[r % a.batch : r % a.batch + 1])
            sync()
            lat.append((time.perf_counter() - t0) * 1e3)
        lat.sort()
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"{L:>8} {a.batch:>6} {a.batch / t:>12.1f} {a.batch * L / t:>12.0f} {p50:>10.2f} {p99:>10.2f}")
        rows.append({"seq_len": L, "batch": a.batch, "seq_per_s": a.batch / t, "tokens_per_s": a.batch * L / t,
                     "p50_ms": p50, "p99_ms": p99})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
print(f"peak host RSS {peak:.0f} MiB" + (f", peak GPU memory {gpu_peak:.0f} MiB" if cuda else ""))
if a.json:
    json.dump({"engine": "transformers", "device": name, "dtype": str(dtype), "peak_rss_mib": peak,
               "peak_gpu_mib": gpu_peak, "rows": rows, "torch": torch.__version__}, open(a.json, "w"), indent=2)
