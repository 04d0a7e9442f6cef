#!/usr/bin/env python3
"""End-to-end tests of the vkcls model commands: the real binary, run as a user runs it.

    python3 tests/cli/test_cli.py VKCLS_BINARY [unittest args, e.g. NerTest]

References: tests/data/models/<fixture>/reference.json (labels, scores) and
tests/data/cli/*.json (the Hugging Face pipelines, made by make_ner_reference.py).
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
MODELS = os.path.join(DATA, "models")
BIN = None  # set from argv
STREAM_LINES = int(os.environ.get("VKCLS_STREAM_LINES", "10000"))

COMMON = ["model", "device", "dtype", "max-batch-tokens", "max-line-bytes", "max-input-bytes", "pooler-config", "hf-overrides", "revision", "download",
          "truncate", "truncation-side", "no-special-tokens",
          "raw-logits", "input", "input-format", "text-column", "pair-column", "id-column", "batch-size",
          "output", "format", "quiet", "strict", "help"]
OWN = {"classify": ["top-k", "chat-template", "chat-template-kwargs", "shard", "overwrite"],
       "token-classify": ["aggregation", "ignore-labels", "raw", "stride", "chat-template", "chat-template-kwargs"],
       "ner": ["aggregation", "ignore-labels", "raw", "stride", "chat-template", "chat-template-kwargs"],
       "score": ["query", "top-n", "chat-template", "chat-template-kwargs", "instruction"],
       "rerank": ["query", "top-n", "chat-template", "chat-template-kwargs", "instruction"], "embed": ["normalize", "no-normalize", "dimensions"]}


def model(name):
    return os.path.join(MODELS, name)


def run(args, stdin=None, env=None, check_rc=None):
    p = subprocess.run([BIN] + args, input=stdin.encode() if isinstance(stdin, str) else stdin,
                       capture_output=True, env=env, timeout=600)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError(f"vkcls {' '.join(args)}: exit {p.returncode}, expected {check_rc}\nstderr: {err[-2000:]}")
    return p.returncode, out, err


def jsonl(out):
    return [json.loads(line) for line in out.splitlines()]


def reference(fixture):
    return json.load(open(os.path.join(MODELS, fixture, "reference.json")))


def single_texts(fixture, max_tokens=64):
    return [i for i in reference(fixture)["inputs"] if i["text_pair"] is None and i["text"] and i["num_tokens"] <= max_tokens]



def safetensors_f32(path, name):
    """One float32 tensor of a .safetensors file, as a flat list (stdlib only)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        begin, end = header[name]["data_offsets"]
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


class DecoderTest(unittest.TestCase):
    """Decoder LLM folders on the command line with no extra flags (and a converted reranker with
    vLLM's --hf-overrides), against the transformers references in tests/data/decoders."""
    DECODERS = None

    @classmethod
    def setUpClass(cls):
        cls.DECODERS = os.path.join(MODELS, "..", "decoders")

    def folder(self, name):
        return os.path.join(self.DECODERS, name)

    def test_qwen2_classify_matches_transformers(self):
        with open(os.path.join(self.folder("qwen2-seqcls"), "reference.json")) as f:
            ref = json.load(f)
        inputs = [i for i in ref["inputs"] if i["text"] and i["text_pair"] is None and i["num_tokens"] <= 64]
        self.assertGreater(len(inputs), 3)
        stdin = "".join(json.dumps({"text": i["text"]}) + "\n" for i in inputs)
        _, out, _ = run(["classify", "--model", self.folder("qwen2-seqcls"), "--dtype", "f32", "--quiet"], stdin=stdin,
                        check_rc=0)
        tensors = os.path.join(self.folder("qwen2-seqcls"), "reference.safetensors")
        for g, w in zip(jsonl(out), inputs, strict=True):
            self.assertEqual(sorted(g), ["index", "label", "num_classes", "probs"])
            self.assertEqual(g["label"], w["label"])
            self.assertEqual(g["num_classes"], 2)
            for a, b in zip(g["probs"], safetensors_f32(tensors, "probs.%d" % w["index"]), strict=True):
                self.assertAlmostEqual(a, b, delta=1e-4)

    def test_kv_cache_options_info_and_summary(self):
        model = self.folder("qwen2-seqcls")
        _, out, _ = run(["info", "--json", "--model", model, "--kv-cache-memory", "1M"], check_rc=0)
        kv = json.loads(out)["kv_cache"]
        self.assertEqual(kv["page_tokens"], 16)
        self.assertGreater(kv["pages"], 0)
        self.assertLessEqual(kv["bytes"], 1 << 20)
        self.assertTrue(kv["prefix_cache"])
        _, out, _ = run(["info", "--model", model, "--no-prefix-cache"], check_rc=0)
        self.assertRegex(out, r"kv cache +\d+ pages of 16 tokens .*prefix cache off")
        for bad in ("12Q", "-1", "lots"):
            rc, _, err = run(["classify", "--model", model, "--kv-cache-memory", bad, "x"])
            self.assertEqual(rc, 2, bad)
            self.assertIn("--kv-cache-memory: '%s' is not a byte count" % bad, err)
        rc, _, err = run(["classify", "--model", model, "--kv-cache-memory", "100", "x"])
        self.assertEqual(rc, 2)
        self.assertIn("kv_cache_memory: 100 bytes hold no KV page", err)
        # the same long prompt twice: the second finds the first's pages; the summary says so
        text = " ".join("word%d" % i for i in range(80))
        stdin = json.dumps({"text": text}) + "\n" + json.dumps({"text": text}) + "\n"
        _, out, err = run(["classify", "--model", model, "--dtype", "f32", "--max-batch-tokens", "16"],
                          stdin=stdin, check_rc=0)
        a, b = jsonl(out)
        for x, y in zip(a["probs"], b["probs"], strict=True):
            self.assertAlmostEqual(x, y, delta=1e-6)
        self.assertRegex(err, r"prefix cache: [1-9]\d* of \d+ prompt tokens cached")
        _, _, err = run(["classify", "--model", model, "--no-prefix-cache"], stdin=stdin, check_rc=0)
        self.assertNotIn("prefix cache", err)
        # a cache of two pages: a longer line is that line's error, naming tokens and pages
        per_page = kv["bytes"] // kv["pages"]
        stdin = json.dumps({"text": "short"}) + "\n" + json.dumps({"text": text}) + "\n"
        rc, out, err = run(["classify", "--model", model, "--kv-cache-memory", str(2 * per_page)], stdin=stdin)
        self.assertEqual(rc, 1, err)
        self.assertEqual([r["index"] for r in jsonl(out)], [0])
        self.assertRegex(err, r"line 2: .*\d+ tokens need \d+ KV-cache pages of 16 tokens; the cache holds 2")

    def test_info_says_what_runs(self):
        _, out, _ = run(["info", "--json", "--model", self.folder("qwen2-seqcls")], check_rc=0)
        info = json.loads(out)
        self.assertEqual(info["architecture"], "Qwen2ForSequenceClassification")
        self.assertEqual(info["pooling"]["sequence"], "LAST")
        self.assertEqual((info["activation"], info["labels"]), ("softmax", ["LABEL_0", "LABEL_1"]))
        self.assertIn("classify", info["tasks"])
        self.assertGreater(info["weight_bytes"], 0)
        _, out, _ = run(["info", "--model", self.folder("qwen2-seqcls")], check_rc=0)
        self.assertIn("Qwen2ForSequenceClassification", out)
        rc, _, err = run(["info", "--model", self.folder("qwen3-reranker-causallm")])
        self.assertEqual(rc, 2)
        self.assertIn("classifier_from_token", err)

    def test_converted_qwen3_reranker_scores(self):
        with open(os.path.join(self.folder("qwen3-reranker-causallm"), "reference.json")) as f:
            ref = json.load(f)
        overrides = json.dumps(ref["conversion"]["hf_overrides"])
        inputs = [i for i in ref["inputs"] if i["text"] and i["text_pair"] and i["num_tokens"] <= 64]
        self.assertGreater(len(inputs), 2)
        stdin = "".join(json.dumps({"text": i["text"], "text_pair": i["text_pair"]}) + "\n" for i in inputs)
        _, out, _ = run(["score", "--model", self.folder("qwen3-reranker-causallm"), "--hf-overrides", overrides,
                         "--dtype", "f32", "--quiet"], stdin=stdin, check_rc=0)
        for g, w in zip(jsonl(out), inputs, strict=True):
            self.assertAlmostEqual(g["score"], w["score"], delta=1e-4)
        # without the conversion the CausalLM has no classifier: a model error (exit 2) naming it
        rc, _, err = run(["score", "--model", self.folder("qwen3-reranker-causallm"), "--quiet", "q", "d"])
        self.assertNotEqual(rc, 0)
        self.assertIn("classifier_from_token", err)

    def test_score_template_with_instruction(self):
        """vkcls score --chat-template (vLLM's qwen3_reranker.jinja) --instruction, against
        transformers on the rendered prompt (tests/engine/chat/end_to_end.json)."""
        root = os.path.join(HERE, "..", "..")
        with open(os.path.join(root, "tests", "engine", "chat", "end_to_end.json"), encoding="utf-8") as f:
            cases = [c for c in json.load(f)["score"] if c["model"] == "decoders/qwen3-reranker-causallm"]
        with_instruction = [c for c in cases if "instruction" in c["chat_template_kwargs"]]
        self.assertEqual(len(with_instruction), 3)
        base = ["score", "--model", self.folder("qwen3-reranker-causallm"), "--dtype", "f32", "--quiet",
                "--hf-overrides", json.dumps(cases[0]["hf_overrides"]),
                "--chat-template", os.path.join(root, cases[0]["template"])]
        stdin = "".join(json.dumps({"text": c["query"], "text_pair": c["document"]}, ensure_ascii=False) + "\n"
                        for c in with_instruction)
        _, out, _ = run(base + ["--instruction", with_instruction[0]["chat_template_kwargs"]["instruction"]],
                        stdin=stdin, check_rc=0)
        for g, w in zip(jsonl(out), with_instruction, strict=True):
            self.assertAlmostEqual(g["score"], w["score"], delta=2e-4)
        # the same through --chat-template-kwargs, as a rerank (QUERY DOC...) sorted by score
        kwargs = json.dumps(with_instruction[0]["chat_template_kwargs"])
        _, out, _ = run(base + ["--chat-template-kwargs", kwargs, with_instruction[0]["query"]]
                        + [c["document"] for c in with_instruction], check_rc=0)
        results = jsonl(out)[0]["results"]
        for r in results:
            self.assertAlmostEqual(r["relevance_score"], with_instruction[r["index"]]["score"], delta=2e-4)
        self.assertEqual([r["index"] for r in results],
                         sorted(range(3), key=lambda i: -with_instruction[i]["score"]))
        # an inline template (vLLM reads --chat-template as the template when it is not a file)
        _, out, _ = run(base[:-1] + ["{{ messages[0].content }}|{{ messages[1].content }}", "q", "d"], check_rc=0)
        self.assertEqual(len(jsonl(out)[0]["results"]), 1)
        rc, _, err = run(base[:-1] + ["no/such/template.jinja", "q", "d"])
        self.assertEqual(rc, 2)
        self.assertIn("--chat-template", err)


class BenchTest(unittest.TestCase):
    """`vkcls bench`: the report's shape and its arithmetic (figures are not asserted)."""
    DEFAULT = os.path.join(HERE, "..", "..", "assets", "models", "sentiment-minilm-l4")

    def check_report(self, rep, lengths, batch, requests):
        self.assertEqual([r["length"] for r in rep["rows"]], lengths)
        for r in rep["rows"]:
            self.assertEqual(r["requests"], requests)
            self.assertEqual(r["sequences"], requests * batch)
            self.assertEqual(r["tokens"], requests * batch * r["length"])
            self.assertGreater(r["seconds"], 0)
            self.assertAlmostEqual(r["tokens_per_s"], r["tokens"] / r["seconds"], delta=1e-6 * r["tokens_per_s"])
            lat = r["latency_ms"]
            self.assertTrue(0 < lat["p50"] <= lat["p90"] <= lat["p99"], lat)
            # no request can take longer than the whole measured run
            self.assertLessEqual(lat["p99"], 1e3 * r["seconds"] * 1.001)

    def test_help_and_in_process_json(self):
        _, out, _ = run(["bench", "--help"], check_rc=0)
        for opt in ["--lengths", "--batch", "--requests", "--concurrency", "--url", "--json", "--task"]:
            self.assertIn(opt, out)
        _, out, err = run(["bench", "--model", self.DEFAULT, "--json", "--lengths", "8,24", "--batch", "3",
                           "--requests", "4", "--concurrency", "2"], check_rc=0)
        rep = json.loads(out)
        self.check_report(rep, [8, 24], 3, 4)
        self.assertEqual(rep["task"], "classify")
        self.assertEqual(rep["concurrency"], 2)
        self.assertTrue(rep["device"] and rep["driver"], rep)
        self.assertGreater(rep["peak_host_bytes"], 0)
        self.assertGreater(rep["device_bytes"]["weights"], 0)
        self.assertGreater(rep["device_bytes"]["activations_reserved"], 0)
        # the table form names the same columns
        _, out, _ = run(["bench", "--model", self.DEFAULT, "--lengths", "8", "--requests", "1"], check_rc=0)
        for col in ["tokens/s", "seqs/s", "p50 ms", "p99 ms", "peak host memory"]:
            self.assertIn(col, out)

    def test_other_tasks_and_bad_options(self):
        _, out, _ = run(["bench", "--model", model("bert-st-embedding"), "--task", "embed", "--json", "--lengths", "5",
                         "--requests", "2"], check_rc=0)
        self.check_report(json.loads(out), [5], 8, 2)
        _, out, _ = run(["bench", "--model", model("bert-crossencoder"), "--task", "score", "--json", "--lengths", "6",
                         "--requests", "2", "--batch", "2"], check_rc=0)
        self.check_report(json.loads(out), [6], 2, 2)
        for bad, name in [(["--lengths", "0"], "--lengths"), (["--lengths", "513"], "512"),
                          (["--lengths", "8,x"], "--lengths"), (["--batch", "0"], "--batch"),
                          (["--task", "generate"], "--task")]:
            rc, _, err = run(["bench", "--model", model("bert-seqcls")] + bad)
            self.assertEqual(rc, 2, f"{bad}: {err}")
            self.assertIn(name, err)
        # a task the model does not serve: a clear error, exit 2
        rc, _, err = run(["bench", "--model", model("bert-seqcls"), "--task", "token_classify", "--lengths", "4"])
        self.assertEqual(rc, 2, err)
        self.assertIn("token_classify", err)

    def test_against_a_server(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # a fixture with a 1,000-token vocabulary: the ids sent must be ids the server's model has
        srv = subprocess.Popen([BIN, "serve", "--model", model("bert-seqcls"), "--port", str(port), "--no-access-log"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 120
            while True:  # until the server answers (or has exited)
                self.assertIsNone(srv.poll(), "the server exited")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    self.assertLess(time.time(), deadline, "the server did not start")
                    time.sleep(0.1)
            _, out, _ = run(["bench", "--url", f"http://127.0.0.1:{port}", "--json", "--lengths", "8", "--requests",
                             "3", "--batch", "2", "--concurrency", "3"], check_rc=0)
            rep = json.loads(out)
            self.check_report(rep, [8], 2, 3)
            self.assertEqual(rep["model"], "bert-seqcls")
            self.assertIn("client_peak_host_bytes", rep)
        finally:
            srv.terminate()
            srv.wait(30)
        rc, _, err = run(["bench", "--url", f"http://127.0.0.1:{port}", "--lengths", "8"])
        self.assertEqual(rc, 2)
        self.assertIn("no vkcls server answers", err)


class HelpTest(unittest.TestCase):
    def test_every_option_listed(self):
        for cmd, own in OWN.items():
            rc, out, _ = run([cmd, "--help"], check_rc=0)
            for name in COMMON + own:
                self.assertIn(f"--{name}", out, f"vkcls {cmd} --help lacks --{name}")
            self.assertIn("(default: 256)", out)  # defaults are shown

    def test_top_level_lists_commands(self):
        _, out, _ = run(["--help"], check_rc=0)
        for cmd in OWN:
            self.assertIn(cmd, out)

    def test_usage_errors_exit_2(self):
        _, _, err = run(["classify", "--model", model("bert-seqcls"), "--bogus"], check_rc=2)
        self.assertIn("--bogus", err)
        _, _, err = run(["classify", "--model", model("bert-seqcls"), "--batch-size", "0", "x"], check_rc=2)
        self.assertIn("--batch-size", err)
        _, _, err = run(["classify", "--model", "/nonexistent", "x"], check_rc=2)
        self.assertIn("/nonexistent", err)
        _, _, err = run(["score", "--model", model("bert-seqcls"), "q", "d"], check_rc=2)
        self.assertIn("cannot score", err)
        _, _, err = run(["ner", "--model", model("bert-tokcls"), "--aggregation", "best", "x"], check_rc=2)
        self.assertIn("aggregation", err)

    def test_default_model(self):
        env = dict(os.environ, VKCLS_DEFAULT_MODEL=model("bert-seqcls"))
        _, out, _ = run(["classify", "--quiet", "The movie was great!"], env=env, check_rc=0)
        self.assertEqual(jsonl(out)[0]["label"], "neutral")
        env = dict(os.environ, VKCLS_DEFAULT_MODEL="")
        if not any(os.path.isdir(os.path.join(d, "assets", "models")) for d in self._parents(BIN)):
            _, _, err = run(["classify", "x"], env=env, check_rc=2)
            self.assertIn("--model DIR", err)

    @staticmethod
    def _parents(path):
        p = os.path.dirname(os.path.realpath(path))
        while True:
            yield p
            if p == os.path.dirname(p):
                return
            p = os.path.dirname(p)


class ClassifyTest(unittest.TestCase):
    def test_labels_ids_and_order(self):
        inputs = reference("bert-seqcls")["inputs"]
        lines = [json.dumps({"text": i["text"], "text_pair": i["text_pair"], "id": f"r{i['index']}"})
                 for i in inputs if i["text"]]
        _, out, err = run(["classify", "--model", model("bert-seqcls"), "--dtype", "f32", "--batch-size", "5"],
                          stdin="\n".join(lines) + "\n", check_rc=0)
        got = jsonl(out)
        want = [i for i in inputs if i["text"]]
        self.assertEqual(len(got), len(want))
        for k, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(g["index"], k)
            self.assertEqual(g["id"], f"r{w['index']}")
            self.assertEqual(g["label"], w["label"])
            self.assertEqual(g["num_classes"], 3)
            self.assertAlmostEqual(sum(g["probs"]), 1.0, places=5)
        self.assertIn(f"{len(want)} inputs, 0 failed", err)  # the summary line

    def test_top_k_matches_text_classification_pipeline(self):
        ref = json.load(open(os.path.join(DATA, "cli", "textcls_bert-seqcls.json")))
        for k, key in [("2", "2"), ("-1", "all")]:
            _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--dtype", "f32", "--top-k", k, "--quiet"]
                            + ref["texts"], check_rc=0)
            for g, w in zip(jsonl(out), ref["results"][key], strict=True):
                self.assertEqual([x["label"] for x in g["top_k"]], [x["label"] for x in w])
                for a, b in zip(g["top_k"], w):
                    self.assertAlmostEqual(a["score"], b["score"], delta=1e-4)

    def test_raw_logits_and_table(self):
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--raw-logits", "--quiet", "movie"], check_rc=0)
        self.assertGreater(abs(sum(jsonl(out)[0]["probs"]) - 1.0), 1e-3)
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--format", "table", "--quiet",
                         "The movie was great!", "x" * 80], check_rc=0)
        rows = out.splitlines()
        self.assertTrue(rows[0].startswith("index"))
        self.assertIn("neutral", rows[1])
        self.assertIn("…", rows[2])  # long text cut
        self.assertEqual(len(rows[1].rstrip().split()[0]), 1)

    def test_csv_tsv_lines(self):
        with tempfile.TemporaryDirectory() as d:
            csv = os.path.join(d, "in.csv")
            with open(csv, "w") as f:
                f.write('id,review\n7,"The movie, it was ""great""!"\n8,"two\nlines"\n9,plain\n')
            _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--input", csv, "--text-column", "review",
                             "--quiet"], check_rc=0)
            got = jsonl(out)
            self.assertEqual([g["id"] for g in got], ["7", "8", "9"])
            self.assertEqual([g["index"] for g in got], [0, 1, 2])
            _, _, err = run(["classify", "--model", model("bert-seqcls"), "--input", csv, "--quiet"], check_rc=2)
            self.assertIn("--text-column", err)
            tsv = os.path.join(d, "in.tsv")
            with open(tsv, "w") as f:
                f.write("text\tx\nhello there\t1\nsecond one\t2\n")
            _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--input", tsv, "--quiet"], check_rc=0)
            self.assertEqual(len(jsonl(out)), 2)
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--quiet"], stdin="one\ntwo\r\nthree\n",
                        check_rc=0)
        self.assertEqual([g["index"] for g in jsonl(out)], [0, 1, 2])


class BadInputTest(unittest.TestCase):
    LONG = " ".join(["word"] * 700)

    def bad_jsonl(self):
        good = lambda t: json.dumps({"text": t}).encode()
        return b"\n".join([
            good("first good"),                 # line 1
            b'{"text": "unterminated',          # line 2: invalid JSON
            good("second good"),                # line 3
            b'{"text": "caf\xc3\x28"}',         # line 4: invalid UTF-8
            b'{"txt": "no text field"}',        # line 5: missing field
            b"",                                # line 6: empty line
            good(self.LONG),                    # line 7: too long, no --truncate
            b'{"text": 42}',                    # line 8: wrong type
            good("third good"),                 # line 9
        ]) + b"\n"

    def test_each_bad_line_reported_and_skipped(self):
        rc, out, err = run(["classify", "--model", model("bert-seqcls")], stdin=self.bad_jsonl())
        self.assertEqual(rc, 1, err)
        got = jsonl(out)
        self.assertEqual([g["index"] for g in got], [0, 2, 8])
        for line, reason in [(2, "invalid JSON"), (4, "invalid UTF-8"), (5, "\"text\" is missing"), (6, "empty line"),
                             (7, "maximum length"), (8, "must be a string")]:
            self.assertRegex(err, rf"line {line}: .*{reason}", err)
        self.assertIn("9 inputs, 6 failed", err)

    def test_max_input_bytes(self):
        # a text over --max-input-bytes is that input's error, the others are classified
        rc, out, err = run(["classify", "--model", model("bert-seqcls"), "--max-input-bytes", "10",
                            "the movie was great", "a movie"])
        self.assertEqual(rc, 1, err)
        self.assertEqual([g["index"] for g in jsonl(out)], [1])
        self.assertRegex(err, r"input 1: input: 19 bytes is more than the limit of 10 bytes")
        rc, _, err = run(["classify", "--model", model("bert-seqcls"), "--max-input-bytes", "-1", "x"])
        self.assertEqual(rc, 2)
        self.assertIn("--max-input-bytes", err)

    def test_line_endings_bom_and_directories(self):
        # CR-only and CRLF line ends split lines like LF; a UTF-8 BOM before a CSV header is dropped
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--quiet"], stdin=b"good\rbad\r\nfine\n",
                        check_rc=0)
        self.assertEqual([g["index"] for g in jsonl(out)], [0, 1, 2])
        with tempfile.TemporaryDirectory() as d:
            csv = os.path.join(d, "in.csv")
            with open(csv, "wb") as f:
                f.write(b"\xef\xbb\xbftext,id\r\ngreat film,a\r\nawful,b\r\n")
            _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--quiet", "--input", csv], check_rc=0)
            self.assertEqual([g["id"] for g in jsonl(out)], ["a", "b"])
            rc, _, err = run(["classify", "--model", model("bert-seqcls"), "--input", d])
            self.assertEqual(rc, 2, err)
            self.assertIn("is a directory", err)

    def test_empty_tokenizer_vocab_is_a_model_error(self):
        # exit 2 (the model folder is broken), not 1 with every input failing on its own
        with tempfile.TemporaryDirectory() as d:
            folder = os.path.join(d, "empty-vocab")
            shutil.copytree(model("bert-seqcls"), folder)
            path = os.path.join(folder, "tokenizer.json")
            with open(path) as f:
                tok = json.load(f)
            tok["model"]["vocab"] = {}
            tok["added_tokens"] = []
            tok["post_processor"] = None
            with open(path, "w") as f:
                json.dump(tok, f)
            rc, out, err = run(["classify", "--model", folder, "hello"])
            self.assertEqual(rc, 2, err)
            self.assertEqual(out, "")
            self.assertIn("the vocabulary is empty", err)

    def test_overlong_line_skipped_with_flat_memory(self):
        # a 40 MB line over --max-line-bytes (default 8 MiB) is reported and skipped, without being
        # held in memory: the child's peak RSS stays far below the line's size times the tokenizer's
        huge = b"word " * 8_000_000
        probe = ("import resource, subprocess, sys\n"
                 "p = subprocess.run(sys.argv[1:], stdin=sys.stdin.buffer, capture_output=True)\n"
                 "sys.stderr.write(p.stderr.decode())\n"
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n")
        p = subprocess.run([sys.executable, "-c", probe, BIN, "classify", "--model", model("bert-seqcls")],
                           input=b"first\n" + huge + b"\nlast\n", capture_output=True, timeout=600)
        rss_kib, rc = map(int, p.stdout.split())
        err = p.stderr.decode()
        self.assertEqual(rc, 1, err)
        self.assertIn("line 2: the line is longer than the limit of 8388608 bytes (--max-line-bytes)", err)
        self.assertIn("3 inputs, 1 failed", err)
        self.assertLess(rss_kib, 600 * 1024, f"peak RSS {rss_kib} KiB")
        rc, _, err = run(["classify", "--model", model("bert-seqcls"), "--max-line-bytes", "8"],
                         stdin=b"short\nmuch too long\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("line 2: the line is longer than the limit of 8 bytes", err)

    def test_truncate_fixes_long_line(self):
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--truncate", "-1", "--quiet", self.LONG],
                        check_rc=0)
        self.assertEqual(len(jsonl(out)), 1)

    def test_bad_lines_in_every_command(self):
        bad = b'{"text": "ok"}\n{bad\n\n'
        for cmd, fixture in [("embed", "bert-st-embedding"), ("ner", "bert-tokcls")]:
            rc, out, err = run([cmd, "--model", model(fixture), "--input-format", "jsonl"], stdin=bad)
            self.assertEqual(rc, 1, err)
            self.assertEqual(len(jsonl(out)), 1)
            self.assertIn("line 2: invalid JSON", err)
            self.assertIn("line 3: empty line", err)

    def test_plain_lines(self):
        rc, out, err = run(["classify", "--model", model("bert-seqcls"), "--input-format", "lines"],
                           stdin=b"good one\n\nbad \xff utf8\nlast\n")
        self.assertEqual(rc, 1)
        self.assertEqual([g["index"] for g in jsonl(out)], [0, 3])
        self.assertIn("line 2: empty line", err)
        self.assertIn("line 3: invalid UTF-8", err)

    def test_strict_stops_at_first(self):
        rc, out, err = run(["classify", "--model", model("bert-seqcls"), "--strict", "--batch-size", "100"],
                           stdin=self.bad_jsonl())
        self.assertEqual(rc, 1)
        self.assertEqual([g["index"] for g in jsonl(out)], [0])
        self.assertIn("line 2: invalid JSON", err)
        self.assertNotIn("line 4", err)
        rc, out, err = run(["classify", "--model", model("bert-seqcls"), "--strict", self.LONG, "fine"])
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("input 1:", err)


def read_safetensors(path):
    """{name: flat list of values} of a safetensors file's F32 and I32 tensors (8-byte header
    length, the JSON header, the data): the standard library only, as Debian's python3 has no
    safetensors or numpy."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        code = {"F32": "f", "I32": "i"}[t["dtype"]]
        begin, end = t["data_offsets"]
        out[name] = list(struct.unpack(f"<{(end - begin) // 4}{code}", blob[8 + n + begin:8 + n + end]))
    return out


class NerTest(unittest.TestCase):
    def compare(self, got, want, msg):
        self.assertEqual(len(got), len(want), f"{msg}: {got} vs {want}")
        for g, w in zip(got, want):
            self.assertEqual(set(g), set(w), msg)
            for k in w:
                if k == "score":
                    self.assertAlmostEqual(g[k], w[k], delta=1e-4, msg=msg)
                else:
                    self.assertEqual(g[k], w[k], f"{msg}: {k}: {g} vs {w}")

    def test_every_aggregation_matches_pipeline(self):
        for fixture in ["bert-tokcls", "roberta-tokcls"]:
            for strategy in ["none", "simple", "first", "average", "max"]:
                ref = json.load(open(os.path.join(DATA, "cli", f"ner_{fixture}_{strategy}.json")))
                stdin = "".join(json.dumps({"text": t}) + "\n" for t in ref["texts"])
                _, out, _ = run(["ner", "--model", model(fixture), "--dtype", "f32", "--aggregation", strategy,
                                 "--quiet"], stdin=stdin, check_rc=0)
                got = jsonl(out)
                self.assertEqual(len(got), len(ref["results"]))
                for i, (g, w) in enumerate(zip(got, ref["results"])):
                    self.assertEqual(g["index"], i)
                    self.compare(g["entities"], w, f"{fixture} {strategy} text {i} ({ref['texts'][i]!r})")

    def test_stride_matches_pipeline(self):
        for fixture in ["bert-tokcls", "roberta-tokcls"]:
            ref = json.load(open(os.path.join(DATA, "cli", f"ner_{fixture}_stride.json")))
            _, out, _ = run(["token-classify", "--model", model(fixture), "--dtype", "f32", "--stride", "32",
                             "--quiet"] + ref["texts"], check_rc=0)
            self.compare(jsonl(out)[0]["entities"], ref["results"][0], f"{fixture} stride")
            # without --stride the same text is too long
            rc, _, err = run(["ner", "--model", model(fixture)] + ref["texts"])
            self.assertEqual(rc, 1)
            self.assertIn("maximum length", err)

    def test_raw_and_ignore_labels(self):
        ref = reference("bert-tokcls")
        text = ref["inputs"][4]["text"]
        _, out, _ = run(["ner", "--model", model("bert-tokcls"), "--raw", "--quiet", text], check_rc=0)
        data = jsonl(out)[0]["data"]
        self.assertEqual(len(data), ref["inputs"][4]["num_tokens"])
        self.assertEqual([max(range(7), key=row.__getitem__) for row in data], ref["inputs"][4]["argmax"])
        _, out, _ = run(["ner", "--model", model("bert-tokcls"), "--aggregation", "none", "--ignore-labels", "",
                         "--quiet", text], check_rc=0)
        self.assertEqual(len(jsonl(out)[0]["entities"]), ref["inputs"][4]["num_tokens"] - 2)  # all but specials
        _, out, _ = run(["ner", "--model", model("bert-tokcls"), "--format", "table", "--quiet", text], check_rc=0)
        self.assertTrue(out.startswith("index"))


class ScoreEmbedTest(unittest.TestCase):
    def test_pairs_match_reference(self):
        inputs = [i for i in reference("bert-crossencoder")["inputs"] if i["text"] and i["text_pair"] and i["num_tokens"] <= 512]
        stdin = "".join(json.dumps({"text": i["text"], "text_pair": i["text_pair"]}) + "\n" for i in inputs)
        _, out, _ = run(["score", "--model", model("bert-crossencoder"), "--dtype", "f32", "--quiet"], stdin=stdin,
                        check_rc=0)
        for g, w in zip(jsonl(out), inputs, strict=True):
            self.assertAlmostEqual(g["score"], w["score"], delta=1e-4)

    def test_rerank_sorted_top_n(self):
        docs = ["a cat", "the dog sat on the mat", "Paris", "what is it"]
        _, out, _ = run(["rerank", "--model", model("bert-crossencoder"), "--quiet", "what is it"] + docs, check_rc=0)
        res = jsonl(out)[0]["results"]
        self.assertEqual(sorted(r["index"] for r in res), [0, 1, 2, 3])
        scores = [r["relevance_score"] for r in res]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertEqual(res[0]["document"]["text"], docs[res[0]["index"]])
        stdin = json.dumps({"id": 5, "query": "what is it", "documents": docs}) + "\n"
        _, out, _ = run(["score", "--model", model("bert-crossencoder"), "--top-n", "2", "--quiet"], stdin=stdin,
                        check_rc=0)
        got = jsonl(out)[0]
        self.assertEqual(got["id"], 5)
        self.assertEqual(got["results"], res[:2])
        _, out, _ = run(["score", "--model", model("bert-crossencoder"), "--query", "what is it", "--quiet"] + docs,
                        check_rc=0)
        by_doc = {r["index"]: r["relevance_score"] for r in res}
        for g in jsonl(out):
            self.assertAlmostEqual(g["score"], by_doc[g["index"]], delta=1e-6)
        rc, out, err = run(["score", "--model", model("bert-crossencoder")], stdin='{"text": "no pair"}\n')
        self.assertEqual(rc, 1)
        self.assertIn("line 1: field \"text_pair\" is missing", err)

    def test_embed_matches_sentence_transformers(self):
        ref = reference("bert-st-embedding")
        tensors = read_safetensors(os.path.join(MODELS, "bert-st-embedding", "reference.safetensors"))
        inputs = [i for i in ref["inputs"] if i["text"] and i["num_tokens"] <= 128]
        stdin = "".join(json.dumps({"text": i["text"], "text_pair": i["text_pair"]}) + "\n" for i in inputs)
        _, out, _ = run(["embed", "--model", model("bert-st-embedding"), "--dtype", "f32", "--quiet"], stdin=stdin,
                        check_rc=0)
        for g, w in zip(jsonl(out), inputs, strict=True):
            want = tensors[f"st_embedding.{w['index']}"]
            self.assertEqual(len(g["embedding"]), len(want))
            self.assertLess(max(abs(a - b) for a, b in zip(g["embedding"], want)), 1e-4)
        _, out, _ = run(["embed", "--model", model("bert-st-embedding"), "--dimensions", "8", "--quiet", "hi there"],
                        check_rc=0)
        e = jsonl(out)[0]["embedding"]
        self.assertEqual(len(e), 8)
        self.assertAlmostEqual(sum(x * x for x in e), 1.0, places=5)
        _, out, _ = run(["embed", "--model", model("bert-st-embedding"), "--no-normalize", "--quiet", "hi there"],
                        check_rc=0)
        self.assertGreater(abs(sum(x * x for x in jsonl(out)[0]["embedding"]) - 1.0), 1e-3)


class ChatTest(unittest.TestCase):
    """JSONL {"messages": [...]} lines rendered with --chat-template (or the model's template)."""
    CHAT = os.path.join(HERE, "..", "engine", "chat")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vkcls_cli_chat_")
        with open(os.path.join(self.CHAT, "chat_cases.json"), encoding="utf-8") as f:
            self.case = next(c for c in json.load(f)["cases"] if c["name"] == "bert_encoder_template")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def template(self, name, source):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return path

    def test_classify_messages_equal_the_rendered_text(self):
        msgs, text = self.case["messages"], self.case["text"]
        lines = [{"messages": msgs, "add_special_tokens": True, "id": "chat"}, {"text": text, "id": "text"},
                 {"messages": [{"role": "system", "content": "x"}] + msgs, "id": "raises"},
                 {"messages": msgs, "add_generation_prompt": True, "continue_final_message": True}]
        rc, out, err = run(["classify", "--model", model("bert-seqcls"), "--dtype", "f32", "--chat-template",
                            os.path.join(self.CHAT, "encoder_chat.jinja")],
                           stdin="".join(json.dumps(l) + "\n" for l in lines))
        self.assertEqual(rc, 1, err)  # some lines failed
        got = jsonl(out)
        self.assertEqual([g["id"] for g in got], ["chat", "text"])
        self.assertEqual(got[0]["label"], got[1]["label"])
        for a, b in zip(got[0]["probs"], got[1]["probs"]):
            self.assertAlmostEqual(a, b, places=6)
        self.assertIn("This encoder takes no system message", err)
        self.assertIn("continue_final_message", err)

    def test_kwargs_and_ner(self):
        tpl = self.template("first.jinja", "{{ prefix }}{{ messages[0]['content'] }}")
        content = "Angela Merkel visited Paris"
        lines = [{"messages": [{"role": "user", "content": content}], "add_special_tokens": True},
                 {"messages": [{"role": "user", "content": content}], "add_special_tokens": True,
                  "chat_template_kwargs": {"prefix": ""}}]
        for cmd, fixture, key in [("classify", "bert-seqcls", "probs"), ("ner", "bert-tokcls", "entities")]:
            _, chat, _ = run([cmd, "--model", model(fixture), "--dtype", "f32", "--quiet", "--chat-template", tpl,
                              "--chat-template-kwargs", '{"prefix": "Hello: "}'],
                             stdin="".join(json.dumps(l) + "\n" for l in lines), check_rc=0)
            _, plain, _ = run([cmd, "--model", model(fixture), "--dtype", "f32", "--quiet", "Hello: " + content, content],
                              check_rc=0)
            chat, plain = jsonl(chat), jsonl(plain)
            for c, p in zip(chat, plain):
                if key == "probs":
                    for a, b in zip(c[key], p[key]):
                        self.assertAlmostEqual(a, b, places=6)
                else:  # entity words and offsets index the rendered text
                    self.assertEqual([(e["word"], e["start"], e["end"]) for e in c[key]],
                                     [(e["word"], e["start"], e["end"]) for e in p[key]])

    def test_errors(self):
        line = json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n"
        # no template anywhere: the line fails, naming the cause
        rc, _, err = run(["classify", "--model", model("bert-seqcls")], stdin=line)
        self.assertEqual(rc, 1)
        self.assertIn("chat_template is not set", err)
        _, _, err = run(["classify", "--model", model("bert-seqcls"), "--chat-template",
                         self.template("bad.jinja", "{% for m in messages %}")], stdin=line, check_rc=2)
        self.assertIn("line 1", err)
        _, _, err = run(["classify", "--model", model("bert-seqcls"), "--chat-template", "/nonexistent.jinja"],
                        stdin=line, check_rc=2)
        self.assertIn("--chat-template", err)
        _, _, err = run(["classify", "--model", model("bert-seqcls"), "--chat-template-kwargs", "[1]"],
                        stdin=line, check_rc=2)
        self.assertIn("--chat-template-kwargs", err)
        rc, _, err = run(["embed", "--model", model("bert-st-embedding")], stdin=line)
        self.assertEqual(rc, 1)
        self.assertIn("messages", err)


class PoolerConfigTest(unittest.TestCase):
    """--pooler-config as vLLM's PoolerConfig: calibration by hand, pooling, errors."""

    def test_logit_bias_shifts_the_sigmoid(self):
        import math
        texts = ["where is the station", "trains stop here"]
        rc, out, _ = run(["classify", "--model", model("bert-crossencoder"), "--quiet", "--raw-logits", *texts], check_rc=0)
        logits = [r["probs"][0] for r in jsonl(out)]
        for cfg in ['{"logit_bias": 2.0}', '{"logit_mean": 2.0}']:
            rc, out, _ = run(["classify", "--model", model("bert-crossencoder"), "--quiet", "--pooler-config", cfg, *texts],
                             check_rc=0)
            for r, x in zip(jsonl(out), logits):
                self.assertAlmostEqual(r["probs"][0], 1 / (1 + math.exp(-(x - 2.0))), places=6)
        rc, out, _ = run(["classify", "--model", model("bert-crossencoder"), "--quiet", "--pooler-config",
                          '{"logit_bias": -1.0, "logit_scale": 2.0}', *texts], check_rc=0)
        for r, x in zip(jsonl(out), logits):
            self.assertAlmostEqual(r["probs"][0], 1 / (1 + math.exp(-(x + 1.0) * 2.0)), places=6)

    def test_pooling_type_and_errors(self):
        base = ["embed", "--model", model("bert-base"), "--quiet", "--no-normalize", "the movie"]
        _, cls, _ = run(base, check_rc=0)
        _, mean, _ = run(base + ["--pooler-config", '{"pooling_type": "MEAN"}'], check_rc=0)
        ref = reference("bert-base")
        self.assertNotEqual(jsonl(cls)[0]["embedding"], jsonl(mean)[0]["embedding"])
        rc, _, err = run(["classify", "--model", model("bert-seqcls"), "--pooler-config", '{"logit_sigma": 0}', "x"])
        self.assertEqual(rc, 2)
        self.assertIn("logit_sigma cannot be 0", err)
        rc, _, err = run(["classify", "--model", model("bert-seqcls"), "--pooler-config", '{"pooling": "MEAN"}', "x"])
        self.assertEqual(rc, 2)
        self.assertIn("pooler_config.pooling", err)
        rc, _, err = run(["classify", "--model", model("bert-seqcls"), "--hf-overrides", '{"model_type": "nope"}', "x"])
        self.assertEqual(rc, 2)
        self.assertIn("nope", err)


class HubCacheTest(unittest.TestCase):
    """--model ORG/NAME from a Hugging Face cache laid out as huggingface_hub writes it."""

    def test_hub_id_from_the_cache(self):
        import shutil
        with tempfile.TemporaryDirectory() as cache:
            repo = os.path.join(cache, "models--acme--tiny-sentiment")
            sha = "0123456789abcdef0123456789abcdef01234567"
            snap = os.path.join(repo, "snapshots", sha)
            os.makedirs(snap)
            os.makedirs(os.path.join(repo, "blobs"))
            os.makedirs(os.path.join(repo, "refs"))
            src = model("bert-seqcls")
            for i, f in enumerate(sorted(os.listdir(src))):
                if f.startswith("reference"):
                    continue
                blob = os.path.join(repo, "blobs", f"etag{i}")
                shutil.copy(os.path.join(src, f), blob)
                os.symlink(os.path.relpath(blob, snap), os.path.join(snap, f))
            with open(os.path.join(repo, "refs", "main"), "w") as fh:
                fh.write(sha)
            env = {**os.environ, "HF_HUB_CACHE": cache}
            _, direct, _ = run(["classify", "--model", src, "--quiet", "the movie was great"], check_rc=0)
            _, via, _ = run(["classify", "--model", "acme/tiny-sentiment", "--quiet", "the movie was great"], env=env,
                            check_rc=0)
            self.assertEqual(jsonl(direct), jsonl(via))
            _, via_sha, _ = run(["classify", "--model", "acme/tiny-sentiment", "--revision", sha, "--quiet", "x y"],
                                env=env, check_rc=0)
            self.assertEqual(len(jsonl(via_sha)), 1)
            rc, _, err = run(["classify", "--model", "acme/other-model", "x"], env=env)
            self.assertEqual(rc, 2)
            self.assertIn("models--acme--other-model", err)  # names the paths it tried
            rc, _, err = run(["classify", "--model", "acme/tiny-sentiment", "--revision", "v9", "x"], env=env)
            self.assertEqual(rc, 2)
            self.assertIn("v9", err)


class ShardTest(unittest.TestCase):
    """--shard I/N: part I takes the inputs of index I mod N; with --output PATH it writes
    PATH's shard name atomically (PATH.partial while it runs), and a rerun skips a done part."""
    N = 4

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.input = os.path.join(self.dir, "in.jsonl")
        lines = [json.dumps({"text": f"review {i}: the movie was {'great' if i % 3 else 'dull'}", "id": f"r{i}"})
                 for i in range(150)]
        lines[37] = "{not json"  # bad lines: reported by their own part only
        lines[90] = ""
        with open(self.input, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.out = os.path.join(self.dir, "out.jsonl")

    def tearDown(self):
        self.tmp.cleanup()

    def classify(self, *extra, check_rc=None, model_dir=None):
        return run(["classify", "--model", model_dir or model("bert-seqcls"), "--dtype", "f32", "--batch-size", "16",
                    "--input", self.input, *extra], check_rc=check_rc)

    def part(self, i, n=N):
        return os.path.join(self.dir, f"out.shard-{i:05d}-of-{n:05d}.jsonl")

    def test_parts_cover_every_input_once_and_merge_to_the_whole(self):
        _, whole, _ = self.classify("--quiet", check_rc=1)
        whole = whole.splitlines()
        self.assertEqual(len(whole), 148)
        reported = []
        for i in range(self.N):
            rc, out, err = self.classify("--shard", f"{i}/{self.N}", "--output", self.out)
            self.assertEqual(out, "")
            self.assertEqual(rc, 1 if i in (37 % self.N, 90 % self.N) else 0, err)
            reported += [line for line in err.splitlines() if "(skipped)" in line]
        self.assertEqual(sorted(os.listdir(self.dir)), ["in.jsonl"] + [f"out.shard-{i:05d}-of-00004.jsonl"
                                                                       for i in range(self.N)])
        self.assertEqual(len(reported), 2)  # each bad line once, by its own part
        self.assertTrue(any("line 38:" in r for r in reported) and any("line 91:" in r for r in reported))
        merged = []
        for i in range(self.N):
            with open(self.part(i)) as f:
                rows = f.read().splitlines()
            indices = [json.loads(r)["index"] for r in rows]
            self.assertTrue(all(k % self.N == i for k in indices), (i, indices))
            self.assertEqual(indices, sorted(indices))
            merged += rows
        merged.sort(key=lambda r: json.loads(r)["index"])
        self.assertEqual(len(merged), len({json.loads(r)["index"] for r in merged}))  # none twice
        for a, b in zip(merged, whole, strict=True):  # line for line, ids carried
            ja, jb = json.loads(a), json.loads(b)
            self.assertEqual((ja["index"], ja["id"], ja["label"]), (jb["index"], jb["id"], jb["label"]))
            for x, y in zip(ja["probs"], jb["probs"], strict=True):
                self.assertAlmostEqual(x, y, delta=1e-5)

    def test_stdout_and_plain_lines(self):
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--shard", "1/3", "--quiet"],
                        stdin="".join(f"sentence {i}\n" for i in range(10)), check_rc=0)
        self.assertEqual([j["index"] for j in jsonl(out)], [1, 4, 7])
        _, out, _ = run(["classify", "--model", model("bert-seqcls"), "--shard", "0/1", "--quiet", "a", "b"],
                        check_rc=0)
        self.assertEqual([j["index"] for j in jsonl(out)], [0, 1])

    def test_rerun_skips_a_done_part_and_overwrite_runs_it(self):
        self.classify("--shard", "3/4", "--output", self.out, "--quiet", check_rc=0)
        with open(self.part(3)) as f:
            done = f.read()
        # a done part is skipped before the model loads: a model that is not there does not matter
        rc, out, err = self.classify("--shard", "3/4", "--output", self.out, model_dir="/nonexistent")
        self.assertEqual((rc, out), (0, ""), err)
        self.assertIn("shard 3/4 is done already", err)
        self.assertIn("out.shard-00003-of-00004.jsonl", err)
        with open(self.part(3), "w") as f:
            f.write("stale\n")
        _, _, err = self.classify("--shard", "3/4", "--output", self.out, "--overwrite", check_rc=0)
        self.assertNotIn("done already", err)
        with open(self.part(3)) as f:
            self.assertEqual(f.read(), done)

    def test_a_partial_file_is_not_a_done_part(self):
        with open(self.part(0) + ".partial", "w") as f:  # what a killed run leaves
            f.write('{"index": 0, "label": "half')
        _, _, err = self.classify("--shard", "0/4", "--output", self.out, check_rc=0)
        self.assertNotIn("done already", err)
        self.assertFalse(os.path.exists(self.part(0) + ".partial"))
        with open(self.part(0)) as f:
            self.assertEqual([json.loads(r)["index"] for r in f], list(range(0, 150, 4)))

    def test_a_part_that_stops_short_leaves_nothing(self):
        # --strict stops at line 38 (index 37, part 1): no finished part, no .partial
        rc, _, err = self.classify("--shard", "1/4", "--output", self.out, "--strict")
        self.assertEqual(rc, 1, err)
        self.assertEqual(sorted(os.listdir(self.dir)), ["in.jsonl"])

    def test_the_same_part_twice_at_once_fails(self):
        with open(self.part(0) + ".partial", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # another process writing part 0
            rc, _, err = self.classify("--shard", "0/4", "--output", self.out)
            self.assertEqual(rc, 2)
            self.assertIn("another process", err)
            self.assertTrue(os.path.exists(self.part(0) + ".partial"))  # not removed from under it
        self.assertFalse(os.path.exists(self.part(0)))

    def test_names(self):
        for out, want in [("res/out", "res/out.shard-00003-of-00008"), ("a.b/c.jsonl", "a.b/c.shard-00003-of-00008.jsonl"),
                          ("x.tsv", "x.shard-00003-of-00008.tsv")]:
            os.makedirs(os.path.join(self.dir, os.path.dirname(out)), exist_ok=True)
            self.classify("--shard", "3/8", "--output", os.path.join(self.dir, out), "--quiet", check_rc=0)
            self.assertTrue(os.path.isfile(os.path.join(self.dir, want)), want)

    def test_bad_values_exit_2(self):
        for value, says in [("4/4", "below the count 4"), ("9/4", "below the count 4"), ("0/0", "1 to 1000000"),
                            ("1/1000001", "1 to 1000000"), ("-1/4", "0 <= I < N"), ("1", "0 <= I < N"),
                            ("a/b", "0 <= I < N"), ("1/4/2", "0 <= I < N")]:
            rc, out, err = self.classify("--shard", value, "--output", self.out)
            self.assertEqual((rc, out), (2, ""), (value, err))
            self.assertIn("--shard", err)
            self.assertIn(says, err)
        rc, _, err = self.classify("--overwrite")
        self.assertEqual(rc, 2)
        self.assertIn("--overwrite applies only with --shard", err)
        self.assertEqual(sorted(os.listdir(self.dir)), ["in.jsonl"])


class StreamTest(unittest.TestCase):
    def test_many_lines_in_order(self):
        n = STREAM_LINES
        stdin = "".join(f"line number {i} the movie\n" for i in range(n))
        with tempfile.TemporaryDirectory() as d:
            out_path = os.path.join(d, "out.jsonl")
            t = time.time()
            _, out, err = run(["classify", "--model", model("bert-seqcls"), "--batch-size", "256", "--quiet",
                               "--output", out_path], stdin=stdin, check_rc=0)
            self.assertEqual(out, "")
            self.assertEqual(err, "")  # --quiet
            with open(out_path) as f:
                count = 0
                for i, line in enumerate(f):
                    self.assertEqual(json.loads(line)["index"], i)
                    count += 1
            self.assertEqual(count, n)
            print(f"\n{n} lines in {time.time() - t:.1f} s", file=sys.stderr)

    def test_sigint_leaves_whole_lines(self):
        with tempfile.TemporaryDirectory() as d:
            out_path = os.path.join(d, "out.jsonl")
            p = subprocess.Popen([BIN, "classify", "--model", model("bert-seqcls"), "--batch-size", "16",
                                  "--output", out_path], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            p.stdin.write("".join(f"sentence {i}\n" for i in range(200000)).encode()[:65536])
            p.stdin.flush()
            deadline = time.time() + 120
            while time.time() < deadline and (not os.path.exists(out_path) or os.path.getsize(out_path) < 2000):
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass
            rc = p.wait(timeout=120)
            err = p.stderr.read().decode()
            self.assertEqual(rc, 130, err)
            self.assertIn("interrupted", err)
            data = open(out_path).read()
            self.assertTrue(data.endswith("\n"))
            for i, line in enumerate(data.splitlines()):
                self.assertEqual(json.loads(line)["index"], i)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
