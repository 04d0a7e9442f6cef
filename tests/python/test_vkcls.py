"""The Python package (python/vkcls) over libvkcls.so: every Engine method, the struct layouts
against the library's own sizes, errors as exceptions, progress and cancellation.
usage: test_vkcls.py [unittest args]; VKCLS_LIBRARY names the libvkcls.so to load, and
PYTHONPATH must reach python/ (ctest sets both)."""
import ctypes
import json
import sys
import threading
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))
import vkcls  # noqa: E402
from vkcls import _capi  # noqa: E402

DEFAULT = str(REPO / "assets/models/sentiment-minilm-l4")
MODELS = REPO / "tests/data/models"
DATA = REPO / "tests/data/cli"  # NER pipeline goldens


class LayoutTest(unittest.TestCase):
    def test_struct_sizes_match_the_library(self):
        # *_init writes struct_size = sizeof(the C struct): the ctypes mirror must agree
        for cls, init in ((_capi.Options, vkcls._lib.vkcls_options_init),
                          (_capi.Params, vkcls._lib.vkcls_params_init)):
            buf = (ctypes.c_char * (ctypes.sizeof(cls) + 64))()
            init(ctypes.cast(buf, ctypes.POINTER(cls)))
            self.assertEqual(ctypes.c_size_t.from_buffer(buf).value, ctypes.sizeof(cls), cls)

    def test_version_and_devices(self):
        self.assertEqual(vkcls.version(), vkcls.__version__)
        pyproject = (REPO / "pyproject.toml").read_text()
        self.assertIn(f'version = "{vkcls.version()}"', pyproject)  # the package's = the library's
        self.assertRegex(vkcls.version(), r"^\d+\.\d+\.\d+$")
        devs = vkcls.devices()
        self.assertGreaterEqual(len(devs), 1)
        self.assertEqual(sum(d.chosen for d in devs), 1)
        self.assertTrue(devs[0].name)


class EngineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = vkcls.Engine(DEFAULT, dtype="f32", max_batch_tokens=512)

    @classmethod
    def tearDownClass(cls):
        cls.engine.close()

    def test_classify(self):
        r = self.engine.classify(["I absolutely love this phone, the battery lasts all day.",
                                  "The package arrived broken and support never answered."],
                                 top_k=2)
        self.assertEqual([x.label for x in r], ["positive", "negative"])
        self.assertAlmostEqual(sum(r[0].probs), 1.0, places=5)
        self.assertEqual(r[0].top_k[0].label, "positive")
        self.assertEqual(self.engine.info["labels"], ["negative", "positive"])

    def test_ids_and_pairs(self):
        t = self.engine.tokenize("what a lovely day")
        self.assertEqual(t.tokens[0], "[CLS]")
        self.assertEqual(t.offsets[1], (0, 4))
        a = self.engine.classify(["what a lovely day"])[0]
        b = self.engine.classify_ids([t.ids])[0]
        self.assertEqual(a.probs, b.probs)
        p = self.engine.classify(["what a lovely day"], text_pairs=["and night"])[0]
        self.assertGreater(p.prompt_tokens, a.prompt_tokens)

    def test_input_errors_raise_or_return(self):
        with self.assertRaises(vkcls.Error) as cm:
            self.engine.classify(["fine", ""])
        self.assertIn("input 1", str(cm.exception))
        self.assertEqual(cm.exception.status, "invalid_input")
        r = self.engine.classify(["fine", b"bad \xff utf-8"], errors="return")
        self.assertEqual(r[0].label in ("positive", "negative"), True)
        self.assertIsInstance(r[1], vkcls.InputError)
        self.assertIn("UTF-8", r[1].message)

    def test_request_errors(self):
        with self.assertRaises(vkcls.Error) as cm:
            self.engine.classify(["x"], truncate_prompt_tokens=1000)
        self.assertEqual(cm.exception.param, "truncate_prompt_tokens")
        with self.assertRaises(vkcls.Error) as cm:
            self.engine.token_classify(["x"])
        self.assertEqual(cm.exception.status, "unsupported")
        with self.assertRaises(vkcls.Error) as cm:
            vkcls.Engine("/nonexistent/model")
        self.assertEqual(cm.exception.status, "not_found")
        self.assertIn("/nonexistent/model", str(cm.exception))
        with self.assertRaises(TypeError):
            self.engine.classify("one string")

    def test_decoder_kv_cache_options(self):
        # a causal decoder with a 4 KiB KV cache: what fits runs, a longer input is its own error
        model = str(REPO / "tests/data/decoders/qwen3-seqcls")
        with self.assertRaises(vkcls.Error) as cm:
            vkcls.Engine(model, dtype="f32", kv_cache_memory=100)
        self.assertIn("kv_cache_memory: 100 bytes hold no KV page", str(cm.exception))
        e = vkcls.Engine(model, dtype="f32", kv_cache_memory=64 * 1024, prefix_cache=False)
        try:
            ids = list(range(10, 40))
            a, b = e.classify_ids([ids, ids])
            self.assertEqual(a.probs, b.probs)
            r = e.classify_ids([ids, list(range(10, 10 + 600))], errors="return")
            self.assertEqual(r[0].probs, a.probs)
            self.assertIsInstance(r[1], vkcls.InputError)
            self.assertIn("600 tokens need 38 KV-cache pages", r[1].message)
        finally:
            e.close()

    def test_progress_and_cancel(self):
        texts = [f"text {i}: " + " a rather good film" * 60 for i in range(20)]
        token = vkcls.CancelToken()
        calls = []

        def progress(done, total):
            calls.append((done, total, threading.get_ident()))
            token.cancel()

        with self.assertRaises(vkcls.Error) as cm:
            self.engine.classify(texts, progress=progress, cancel=token)
        self.assertEqual(cm.exception.status, "cancelled")
        self.assertLessEqual(len(calls), 2)
        self.assertEqual(calls[0][1], 20)
        self.assertNotEqual(calls[0][2], threading.get_ident())
        # an uncancelled call reports progress to the end
        seen = []
        self.engine.classify(texts[:6], progress=lambda d, t: seen.append(d))
        self.assertEqual(seen[-1], 6)


class OtherTasksTest(unittest.TestCase):
    def test_token_classify(self):
        with vkcls.Engine(str(MODELS / "bert-tokcls"), dtype="f32") as e:
            r = e.token_classify(["John lives in Berlin"], aggregation="none", ignore_labels=[])
            self.assertEqual(len(r[0].labels), 7)
            self.assertEqual(len(r[0].entities), len(r[0].tokens) - 2)
            self.assertTrue(r[0].tokens[0].special)
            with self.assertRaises(vkcls.Error):
                e.token_classify(["x"], aggregation="bogus")

    def test_every_aggregation_matches_pipeline(self):
        # the Hugging Face NER pipeline's output (tests/cli/make_ner_reference.py), as the
        # CLI test checks it: "none" gives entity + index, the others entity_group
        for fixture in ["bert-tokcls", "roberta-tokcls"]:
            with vkcls.Engine(str(MODELS / fixture), dtype="f32") as e:
                for strategy in ["none", "simple", "first", "average", "max", "stride"]:
                    ref = json.loads((DATA / f"ner_{fixture}_{strategy}.json").read_text())
                    params = ref["params"]
                    got = e.token_classify(ref["texts"], aggregation=params["aggregation_strategy"],
                                           stride=params.get("stride", 0))
                    self.assertEqual(len(got), len(ref["results"]))
                    for i, (g, want) in enumerate(zip(got, ref["results"])):
                        msg = f"{fixture} {strategy} text {i} ({ref['texts'][i]!r})"
                        self.assertEqual(len(g.entities), len(want), msg)
                        for ge, w in zip(g.entities, want):
                            self.assertEqual(ge.entity, w.get("entity", w.get("entity_group")), msg)
                            self.assertAlmostEqual(ge.score, w["score"], delta=1e-4, msg=msg)
                            self.assertEqual((ge.word, ge.start, ge.end),
                                             (w["word"], w["start"], w["end"]), msg)
                            if "index" in w:
                                self.assertEqual(ge.index, w["index"], msg)

    def test_score_and_rerank(self):
        with vkcls.Engine(str(MODELS / "bert-crossencoder"), dtype="f32") as e:
            docs = ["the river is wide", "the station is behind the church", "trains run hourly"]
            s = e.score("where is the station", docs)
            r = e.rerank("where is the station", docs, top_n=2)
            self.assertEqual(len(r), 2)
            self.assertEqual(r[0].score, max(x.score for x in s))
            self.assertEqual(s[r[0].index].score, r[0].score)

    def test_embed(self):
        with vkcls.Engine(str(MODELS / "bert-st-embedding"), dtype="f32") as e:
            v = e.embed(["a sentence", "another"])
            self.assertEqual(len(v[0].embedding), e.info["hidden_size"])
            self.assertAlmostEqual(float(sum(x * x for x in v[0].embedding)), 1.0, places=4)
            self.assertEqual(len(e.embed(["a"], dimensions=8, normalize=False)[0].embedding), 8)


if __name__ == "__main__":
    unittest.main()
