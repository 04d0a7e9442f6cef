"""A random-weight ModernBERT-base-sized sequence classifier (hidden 768, 22 layers, 12 heads,
intermediate 1152, vocab 50368, local attention 128, every third layer global, 8192 positions)
for speed and memory measurements: the shapes are what matters.
    python3 bench/make_bench_modernbert.py OUT_DIR [--layers N]
The activation memory of one batch does not depend on the layer count (every layer reuses the
same buffers), so `bench_long` on a 1-layer model (layer 0 is global) shows the same growth with
sequence length as the 22-layer one, in minutes instead of hours on a CPU driver.
"""
import argparse
import json
import pathlib
import shutil

import torch
from transformers import ModernBertConfig, ModernBertForSequenceClassification

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=22)
a = ap.parse_args()
torch.manual_seed(0)
cfg = ModernBertConfig(vocab_size=50368, hidden_size=768, num_hidden_layers=a.layers, num_attention_heads=12,
                       intermediate_size=1152, max_position_embeddings=8192, local_attention=128,
                       num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
model = ModernBertForSequenceClassification(cfg).eval()
out = pathlib.Path(a.out)
model.save_pretrained(out)
# a byte-level BPE tokenizer.json of the fixtures (bench_long feeds token ids; the file only has to load)
tok = pathlib.Path(__file__).resolve().parent.parent / "tests/data/rope_encoders/modernbert-seqcls-cls/tokenizer.json"
shutil.copy(tok, out / "tokenizer.json")
print(f"wrote {out} ({a.layers} layers): {json.load(open(out / 'config.json')).get('layer_types')}")
