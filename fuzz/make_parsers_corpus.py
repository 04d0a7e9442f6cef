#!/usr/bin/env python3
"""Seed corpora for the parser fuzzers (fuzz/parsers.cmake), from the test fixtures: the
tokenizer.json files of tests/data/tokenizer/ with their vocabularies cut to 300 entries (so a
seed is kilobytes, not megabytes) followed by a NUL and a text; the config.json files of the
model fixtures; and request bodies of every route vkcls serve has. Deterministic, standard
library only; run from anywhere:  python3 fuzz/make_parsers_corpus.py"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"
KEEP = 300
TEXTS = ["Hello, world! The quick brown fox.", "Café naïve 北京 🙂 don't", "  spaces\tand\nlines  ",
         "Zürich\0and a pair"]


def shrink(tok):
    m = tok.get("model", {})
    kind = m.get("type")
    if kind in ("WordPiece", "WordLevel") or (kind == "BPE" and isinstance(m.get("vocab"), dict)):
        vocab = {t: i for t, i in m["vocab"].items() if i < KEEP}
        for t in (m.get("unk_token"),):
            if t and t in m["vocab"]:
                vocab[t] = m["vocab"][t]
        m["vocab"] = vocab
        if kind == "BPE":
            merges = []
            for mg in m.get("merges", []):
                a, b = mg.split(" ", 1) if isinstance(mg, str) else mg
                if a in vocab and b in vocab and a + b in vocab:
                    merges.append(mg)
            m["merges"] = merges
    elif kind == "Unigram":
        m["vocab"] = m["vocab"][:KEEP]
        if m.get("unk_id") is not None and m["unk_id"] >= KEEP:
            m["unk_id"] = 0
    return tok


def write(folder, name, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main():
    out = HERE / "corpus" / "fuzz_tokenizer"
    for i, f in enumerate(sorted((DATA / "tokenizer").glob("*/tokenizer.json"))):
        tok = shrink(json.loads(f.read_text()))
        text = TEXTS[i % len(TEXTS)]
        write(out, f.parent.name, json.dumps(tok, ensure_ascii=False).encode() + b"\0" + text.encode())

    out = HERE / "corpus" / "fuzz_config"
    for f in sorted(list((DATA / "models").glob("*/config.json")) + list((DATA / "decoders").glob("*/config.json"))):
        write(out, f.parent.name, f.read_bytes())
    write(out, "overrides-classifier-from-token",
          json.dumps({"architectures": ["Qwen3ForSequenceClassification"], "classifier_from_token": ["no", "yes"],
                      "is_original_qwen3_reranker": True}).encode())
    write(out, "overrides-rope", json.dumps({"rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                                              "original_max_position_embeddings": 32}}).encode())

    out = HERE / "corpus" / "fuzz_protocol"
    bodies = {
        "classify": {"model": "m", "input": ["a text", "another"], "truncate_prompt_tokens": -1, "use_activation": True},
        "classify-ids": {"input": [[1, 2, 3], [4, 5]], "priority": 2, "request_id": "r-1"},
        "classify-messages": {"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True,
                              "chat_template_kwargs": {"enable_thinking": False}},
        "pooling": {"input": "x", "task": "token_classify", "aggregation": "simple", "encoding_format": "base64"},
        "embeddings": {"input": ["a", "b"], "dimensions": 8, "encoding_format": "float", "embed_dtype": "float32",
                       "endianness": "little"},
        "score": {"text_1": "query", "text_2": ["doc one", "doc two"], "instruction": "find it"},
        "score-queries": {"queries": ["q1", "q2"], "documents": ["d1", "d2"], "cache_salt": "salt"},
        "rerank": {"query": "q", "documents": ["a", "b", "c"], "top_n": 2, "return_documents": False,
                   "padding": "do_not_pad"},
        "tokenize": {"prompt": "hello", "add_special_tokens": True, "return_token_strs": True},
        "tokenize-messages": {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]},
        "detokenize": {"tokens": [1, 2, 3]},
    }
    for name, body in bodies.items():
        write(out, name, json.dumps(body).encode())


if __name__ == "__main__":
    main()
