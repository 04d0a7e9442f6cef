#!/usr/bin/env python3
"""Reference outputs of the Hugging Face pipelines for the CLI tests.

    python3 tests/cli/make_ner_reference.py     # writes tests/data/cli/*.json (~20 s, no network)

* ner_<fixture>_<strategy>.json: pipeline("token-classification", aggregation_strategy=strategy)
  for every strategy (none/simple/first/average/max) on the single-text inputs of the fixture's
  reference.json plus a few texts with multi-piece words; one ner_<fixture>_stride.json with
  stride=32 (aggregation simple) on a text longer than the model's 512 tokens.
* textcls_bert-seqcls.json: pipeline("text-classification", top_k=k) for k = 2 and None (all).
Each file: {"texts": [...], "params": {...}, "results": [one pipeline result per text]}.
Versions: transformers 5.23, torch 2.15 (see tests/data/models/VERSIONS.txt).
"""
import json
import os
import warnings

import torch
from transformers import pipeline

torch.manual_seed(0)
torch.set_num_threads(1)
warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "data", "models")
OUT = os.path.join(HERE, "..", "data", "cli")

EXTRA = [
    "Antidisestablishmentarianism overprinted interviewister governivity.",
    "Rachel Greenberg-Oslo visited Microsoftland, then Zürichberg!",
    "unbelievably overprinted antidisestablishment in Tokyo and Paris",
    "Nina,Victor;Grace:  Berlinesque   powerist",
]


def texts_of(fixture):
    ref = json.load(open(os.path.join(MODELS, fixture, "reference.json")))
    # single non-empty texts: the token-classification pipeline takes no pairs, and vkcls
    # reports an empty text as an error
    # reports an empty text as an error; up to 64 tokens keeps the files small (the long
    # inputs are covered by the stride file)
    return [i["text"] for i in ref["inputs"] if i["text_pair"] is None and i["text"] and i["num_tokens"] <= 64] + EXTRA


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float):
        return round(x, 7)
    return x


def save(name, texts, params, results):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"texts": texts, "params": params, "results": clean(results)}, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for fixture in ["bert-tokcls", "roberta-tokcls"]:
        folder = os.path.join(MODELS, fixture)
        texts = texts_of(fixture)
        for strategy in ["none", "simple", "first", "average", "max"]:
            pipe = pipeline("token-classification", model=folder, aggregation_strategy=strategy, device="cpu")
            save(f"ner_{fixture}_{strategy}.json", texts, {"aggregation_strategy": strategy},
                 [pipe(t) for t in texts])
        # a text longer than the model's 512 tokens, windows of 512 with 32 tokens of overlap
        ref = json.load(open(os.path.join(folder, "reference.json")))
        long_text = ref["inputs"][23]["text"] + " " + ref["inputs"][21]["text"]
        pipe = pipeline("token-classification", model=folder, aggregation_strategy="simple", stride=32, device="cpu")
        save(f"ner_{fixture}_stride.json", [long_text], {"aggregation_strategy": "simple", "stride": 32},
             [pipe(long_text)])
    folder = os.path.join(MODELS, "bert-seqcls")
    texts = texts_of("bert-seqcls")
    pipe = pipeline("text-classification", model=folder, device="cpu")
    save("textcls_bert-seqcls.json", texts, {"top_k": [2, None]},
         {"2": [pipe(t, top_k=2) for t in texts], "all": [pipe(t, top_k=None) for t in texts]})


if __name__ == "__main__":
    main()
