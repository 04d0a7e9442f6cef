"""A random-weight BERT-base-sized sequence classifier (hidden 768, 12 layers, 12 heads,
FFN 3072, vocab 30522, 2 labels) for speed measurements: the shapes are what matters.
    python3 bench/make_bench_model.py OUT_DIR [--layers N]
"""
import argparse
import pathlib
import shutil

import torch
from transformers import BertConfig, BertForSequenceClassification

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=12)
a = ap.parse_args()
torch.manual_seed(0)
cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=a.layers, num_attention_heads=12,
                 intermediate_size=3072, num_labels=2, id2label={0: "negative", 1: "positive"},
                 label2id={"negative": 0, "positive": 1})
model = BertForSequenceClassification(cfg).eval()
out = pathlib.Path(a.out)
model.save_pretrained(out)
# bert-base-uncased's WordPiece vocabulary (all-MiniLM-L6-v2 ships the same 30522 tokens)
tok = pathlib.Path(__file__).resolve().parent.parent / "tests/data/tokenizer/all-minilm-l6-v2/tokenizer.json"
shutil.copy(tok, out / "tokenizer.json")
print(f"wrote {out} ({a.layers} layers)")
