#!/usr/bin/env python3
"""Classify a sharded data set on a Ray cluster: Ray Data `map_batches` over a pool of actors,
each holding one vkcls.Engine (one actor per GPU, `num_gpus=1`; CPU actors where there are none).

    python3 examples/ray/classify_ray.py --input 'data/part-*.jsonl' --output results/
        [--model assets/models/sentiment-minilm-l4] [--address auto] [--actors N]

Input: shard files, JSONL ({"text", "id" optional} a line) or Parquet (a "text" column, "id"
optional), given as globs, files or folders. Output: one file per input shard,
results/<shard name>.jsonl, a line per input row in the shard's order:
    {"index": row in the shard (0-based), "id" (if given), "label", "probs"}   or
    {"index", "id", "error": "..."}   for a row that is not JSON, has no text, or that the
                                      engine refused (an empty text, ...)
so every row is accounted for, and the shards' files concatenated in name order are in a
deterministic order (shard, then row) whatever the number of actors or their timing.
Each file is written as <name>.jsonl.partial and renamed when complete; a rerun skips the
shards whose file is there (--overwrite runs them again), like `vkcls classify --shard`.

How: the shards are listed on the driver; a Ray task per shard reads it into rows
(shard, index, id, text, error); map_batches sends batches of rows to the actor pool, whose engines
classify them (the GIL is released while the engine works); groupby(shard).map_groups puts the
results of one shard together, sorts them by index and writes the shard's file.

Devices: an actor with a GPU takes the Vulkan device at the position of its Ray GPU id among
the non-CPU Vulkan devices (vkcls.devices() order; set --device-map if your driver orders
them differently from CUDA), else vkcls picks (lavapipe on a machine without a GPU).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from typing import Any, Dict, List

import numpy as np


def list_shards(inputs: List[str]) -> List[str]:
    """The shard files named by globs, files or folders (*.jsonl, *.parquet inside), sorted."""
    found = set()
    for item in inputs:
        if os.path.isdir(item):
            for ext in ("*.jsonl", "*.json", "*.parquet"):
                found.update(glob.glob(os.path.join(item, ext)))
        else:
            found.update(glob.glob(item) or ([item] if os.path.exists(item) else []))
    if not found:
        raise SystemExit(f"classify_ray: no input shard matches {inputs}")
    names = [shard_name(p) for p in found]
    if len(set(names)) != len(names):
        raise SystemExit("classify_ray: two input shards have the same name (their outputs would clash)")
    return sorted(found)


def shard_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def no_rows(path: str) -> bool:
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq
        return pq.ParquetFile(path).metadata.num_rows == 0
    return os.path.getsize(path) == 0


def read_shard(row: Dict[str, Any], text_column: str, id_column: str) -> List[Dict[str, Any]]:
    """One shard file -> its rows: {"shard", "index" (row in the file), "id" (JSON text), "text",
    "error" (why the row cannot be classified: not JSON, no text; else "")}."""
    path = row["path"]
    records = []  # (text, id, error)
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq
        table = pq.read_table(path)
        texts = table.column(text_column).to_pylist()
        ids = table.column(id_column).to_pylist() if id_column in table.column_names else [None] * len(texts)
        for text, rid in zip(texts, ids):
            records.append((text, rid, "" if isinstance(text, str) else f'column "{text_column}" is null'))
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    j = json.loads(line)
                except json.JSONDecodeError as e:
                    records.append((None, None, f"invalid JSON: {e}"))
                    continue
                if not isinstance(j, dict):
                    records.append((None, None, "expected a JSON object"))
                    continue
                text = j.get(text_column)
                records.append((text, j.get(id_column),
                                "" if isinstance(text, str) else f'field "{text_column}" is missing or not a string'))
    return [{"shard": shard_name(path), "index": i, "id": json.dumps(rid),
             "text": text if isinstance(text, str) else "", "error": error}
            for i, (text, rid, error) in enumerate(records)]


class Classifier:
    """An actor: one vkcls.Engine, loaded once, called with batches of rows."""

    def __init__(self, model: str, dtype: str, device_map: List[int]) -> None:
        import ray
        import vkcls
        device = -1
        gpus = ray.get_gpu_ids()
        if gpus:
            listed = [d.index for d in vkcls.devices() if d.type != "CPU"]
            order = device_map or listed
            device = order[int(gpus[0]) % len(order)]
        self.engine = vkcls.Engine(model, device=device, dtype=dtype)

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        import vkcls
        good = [k for k, e in enumerate(batch["error"]) if not e]
        results: List[Any] = [None] * len(batch["index"])
        if good:  # the GIL is released while the engine works
            for k, r in zip(good, self.engine.classify([str(batch["text"][k]) for k in good], errors="return")):
                results[k] = r
        lines = []
        for k, (index, rid) in enumerate(zip(batch["index"], batch["id"])):
            j: Dict[str, Any] = {"index": int(index)}
            if rid != "null":
                j["id"] = json.loads(rid)
            r = results[k]
            if r is None:
                j["error"] = str(batch["error"][k])
            elif isinstance(r, vkcls.InputError):
                j["error"] = r.message
            else:
                j["label"], j["probs"] = r.label, r.probs
            lines.append(json.dumps(j))
        return {"shard": batch["shard"], "index": batch["index"], "line": np.array(lines, dtype=object)}


def write_shard(group: Dict[str, np.ndarray], output: str) -> Dict[str, np.ndarray]:
    """All results of one shard -> output/<shard>.jsonl in row order, atomically."""
    order = np.argsort(group["index"], kind="stable")
    name = str(group["shard"][0])
    path = os.path.join(output, name + ".jsonl")
    with open(path + ".partial", "w", encoding="utf-8") as f:
        for k in order:
            f.write(group["line"][k] + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".partial", path)
    return {"shard": np.array([name], dtype=object), "rows": np.array([len(order)])}


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", nargs="+", required=True, help="shard files, globs or folders (.jsonl, .parquet)")
    ap.add_argument("--output", required=True, help="folder for <shard>.jsonl results")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--model", default=os.path.join(here, "..", "..", "assets", "models", "sentiment-minilm-l4"))
    ap.add_argument("--dtype", default="auto", choices=["auto", "f32", "f16"])
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--id-column", default="id")
    ap.add_argument("--address", default=None, help="a Ray cluster to join ('auto': the local one); "
                    "default: start a Ray instance in this process")
    ap.add_argument("--num-cpus", type=int, default=None, help="with no --address: CPUs of the local instance")
    ap.add_argument("--object-store-memory", type=int, default=None,
                    help="with no --address: bytes of the local object store")
    ap.add_argument("--actors", type=int, default=0, help="engines (default: one per GPU, else 1)")
    ap.add_argument("--actor-cpus", type=float, default=1.0, help="CPUs reserved per CPU actor")
    ap.add_argument("--actor-resources", type=json.loads, default=None,
                    help="custom Ray resources per actor as JSON, e.g. '{\"vkcls\": 1}' to place the "
                    "engines on the nodes started with --resources '{\"vkcls\": 1}'")
    ap.add_argument("--device-map", type=int, nargs="*", default=[],
                    help="Vulkan device index for Ray GPU id 0, 1, ... (default: vkcls.devices() order)")
    ap.add_argument("--batch-size", type=int, default=256, help="rows per map_batches call")
    ap.add_argument("--overwrite", action="store_true", help="run shards whose output is there again")
    args = ap.parse_args(argv)

    shards = list_shards(args.input)
    os.makedirs(args.output, exist_ok=True)
    todo = [p for p in shards
            if args.overwrite or not os.path.exists(os.path.join(args.output, shard_name(p) + ".jsonl"))]
    for p in shards:
        if p not in todo:
            print(f"classify_ray: shard {shard_name(p)} is done already; --overwrite runs it again",
                  file=sys.stderr)
    for p in [p for p in todo if no_rows(p)]:  # Ray Data has no block for it: written here
        open(os.path.join(args.output, shard_name(p) + ".jsonl"), "w").close()
        todo.remove(p)
    if not todo:
        return 0

    import ray
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray.init(address="local", num_cpus=args.num_cpus, object_store_memory=args.object_store_memory,
                 log_to_driver=False)  # "local": a new instance, even where a cluster runs
    gpus = int(ray.cluster_resources().get("GPU", 0))
    actors = args.actors or max(gpus, 1)
    resources = {"num_gpus": 1} if gpus else {"num_cpus": args.actor_cpus}
    if args.actor_resources:
        resources["resources"] = args.actor_resources

    rows = ray.data.from_items([{"path": os.path.abspath(p)} for p in todo],
                               override_num_blocks=len(todo)).flat_map(  # a read task per shard
        read_shard, fn_kwargs={"text_column": args.text_column, "id_column": args.id_column})
    results = rows.map_batches(Classifier, fn_constructor_kwargs={
        "model": os.path.abspath(args.model), "dtype": args.dtype, "device_map": args.device_map},
        batch_size=args.batch_size, concurrency=actors, **resources)
    written = results.groupby("shard", num_partitions=min(len(todo), 64)).map_groups(
        write_shard, fn_kwargs={"output": os.path.abspath(args.output)})
    total = 0
    for row in written.iter_rows():
        total += int(row["rows"])
        print(f"classify_ray: {row['shard']}: {row['rows']} rows", file=sys.stderr)
    print(f"classify_ray: {len(todo)} shards, {total} rows, {actors} actors "
          f"({'1 GPU' if gpus else f'{args.actor_cpus:g} CPU'} each)", file=sys.stderr)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
