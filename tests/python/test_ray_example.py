"""examples/ray/classify_ray.py on a local Ray cluster (a head node and 2 worker nodes, one
engine actor on each worker; lavapipe, the default model): a few thousand rows in JSONL and
Parquet shards, every row classified exactly once, the merged output in a deterministic order
and equal to one Engine's results, reruns skipped, and --overwrite on a Ray instance of the
example's own with 1 actor and another batch size giving the same bytes.

usage: VKCLS_LIBRARY=.../libvkcls.so PYTHON_WITH_RAY test_ray_example.py
Exit 77 (skipped) when ray or pyarrow cannot be imported (tools/install-test-tools.sh puts them
in <build>/pytools, which ctest uses)."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ray" / "classify_ray.py"
MODEL = REPO / "assets" / "models" / "sentiment-minilm-l4"
ROWS = int(os.environ.get("VKCLS_RAY_ROWS", "1000"))  # per shard; 3 shards with rows
STORE = 80 << 20  # object store bytes per node (Ray's minimum is 75 MiB)

try:
    import pyarrow
    import pyarrow.parquet
    import ray  # noqa: F401
except ImportError as e:
    print(f"skipped: {e} (tools/install-test-tools.sh installs ray[data])", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, str(REPO / "python"))
import vkcls  # noqa: E402

WORDS = ["great", "awful", "fine", "broken", "lovely", "slow", "perfect", "boring"]


def text(shard, i):
    return f"shard {shard} row {i}: the product is {WORDS[(i * 7 + shard) % len(WORDS)]} and " \
           f"{WORDS[(i * 3) % len(WORDS)]}"


class RayExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = Path(cls.tmp.name)
        cls.data, cls.out = d / "data", d / "results"
        cls.data.mkdir()
        cls.expected = {}  # shard -> [(id, text)]
        for s in range(2):  # JSONL shards, one with an empty text (an error row)
            rows = [(f"j{s}-{i}", text(s, i)) for i in range(ROWS)]
            if s == 1:
                rows[17] = ("j1-17", "")  # the engine refuses it
                rows[18] = (None, None)  # not JSON: refused before the engine
            with open(cls.data / f"part-{s:05d}.jsonl", "w") as f:
                for rid, t in rows:
                    f.write(json.dumps({"id": rid, "text": t}) + "\n" if t is not None else "{not json\n")
            cls.expected[f"part-{s:05d}"] = rows
        rows = [(f"p-{i}", text(2, i)) for i in range(ROWS)]  # a Parquet shard
        pyarrow.parquet.write_table(pyarrow.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows]}),
                                    cls.data / "part-00002.parquet", row_group_size=ROWS // 3)
        cls.expected["part-00002"] = rows
        (cls.data / "part-00003.jsonl").write_text("")  # an empty shard
        cls.expected["part-00003"] = []
        cls.out.mkdir()
        (cls.out / "part-00000.jsonl.partial").write_text('{"index": 0, "lab')  # a killed run's
        # the cluster: processes on this machine, each node with its own raylet and object store;
        # the workers carry the custom resource that the example's actors ask for
        from ray.cluster_utils import Cluster
        cls.cluster = Cluster(initialize_head=True,
                              head_node_args={"num_cpus": 2, "object_store_memory": STORE})
        for _ in range(2):
            cls.cluster.add_node(num_cpus=2, object_store_memory=STORE, resources={"vkcls": 1})
        cls.cluster.wait_for_nodes()
        engine = vkcls.Engine(str(MODEL))
        cls.reference = {}
        for shard, rows in cls.expected.items():
            cls.reference[shard] = engine.classify([t or "" for _, t in rows], errors="return") if rows else []
        engine.close()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.shutdown()
        cls.tmp.cleanup()

    def run_example(self, *extra, inputs=None):
        t = time.time()
        inputs = inputs or [str(self.data)]
        p = subprocess.run([sys.executable, str(EXAMPLE), "--input", *inputs, "--output", str(self.out),
                            "--model", str(MODEL), *extra], capture_output=True, text=True, timeout=600)
        print(f"\nclassify_ray {' '.join(extra)}: {time.time() - t:.1f} s", file=sys.stderr)
        self.assertEqual(p.returncode, 0, p.stderr[-4000:])
        return p.stderr

    def read_results(self):
        return {f.name: f.read_bytes() for f in sorted(self.out.iterdir())}

    def test_classify_rerun_overwrite(self):
        on_cluster = ["--address", self.cluster.address, "--actor-resources", '{"vkcls": 1}']
        err = self.run_example(*on_cluster, "--actors", "2", "--batch-size", "128")
        self.assertIn("2 actors", err)
        files = self.read_results()
        self.assertEqual(sorted(files), [f"{s}.jsonl" for s in sorted(self.expected)])  # no .partial left
        merged = []
        for shard, rows in self.expected.items():
            lines = [json.loads(x) for x in files[shard + ".jsonl"].decode().splitlines()]
            # every row exactly once, in the shard's order, with its id
            self.assertEqual([(j["index"], j.get("id")) for j in lines], [(i, r[0]) for i, r in enumerate(rows)])
            for j, want, (_, t) in zip(lines, self.reference[shard], rows, strict=True):
                if isinstance(want, vkcls.InputError):
                    if t is None:
                        self.assertTrue(j["error"].startswith("invalid JSON: "), j)
                    else:
                        self.assertEqual(j["error"], want.message, j)
                    continue
                self.assertEqual(j["label"], want.label, j)
                for a, b in zip(j["probs"], want.probs, strict=True):
                    self.assertAlmostEqual(a, b, delta=1e-4)
            merged += [(shard, j["index"]) for j in lines]
        self.assertEqual(len(merged), 3 * ROWS)
        self.assertEqual(sum("error" in json.loads(x) for f in files.values() for x in f.splitlines()), 2)
        # a rerun finds every shard done and starts no Ray at all
        err = self.run_example(*on_cluster, "--actors", "2")
        self.assertEqual(err.count("is done already"), 4, err)
        self.assertEqual(self.read_results(), files)
        # --overwrite (of a JSONL and the Parquet shard: time) on the example's own Ray instance with
        # one actor and other batches: the same bytes (the order depends on no timing, actor, batch)
        (self.out / "part-00001.jsonl").write_text("stale\n")
        self.run_example("--num-cpus", "2", "--object-store-memory", str(STORE), "--actors", "1",
                         "--batch-size", "300", "--overwrite",
                         inputs=[str(self.data / "part-00001.jsonl"), str(self.data / "*.parquet")])
        self.assertEqual(self.read_results(), files)


if __name__ == "__main__":
    unittest.main(verbosity=2)
