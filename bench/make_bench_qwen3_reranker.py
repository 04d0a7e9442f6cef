"""A random-weight Qwen3-0.6B-sized reranker, the shape of tomaarsen/Qwen3-Reranker-0.6B-seq-cls
(Qwen3ForSequenceClassification, num_labels 1: hidden 1024, 28 layers, 16 query / 8 key-value
heads of 128, SwiGLU 3072, q/k RMSNorm, vocab 151669, tied embeddings), for speed measurements:
the shapes are what matters. bf16 on disk (as the hub ships it); --layers makes a shallower one.
    python3 bench/make_bench_qwen3_reranker.py OUT_DIR [--layers N]
"""
import argparse
import pathlib
import shutil

import torch
from transformers import Qwen3Config, Qwen3ForSequenceClassification

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=28)
a = ap.parse_args()
torch.manual_seed(0)
cfg = Qwen3Config(vocab_size=151669, hidden_size=1024, intermediate_size=3072, num_hidden_layers=a.layers,
                  num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                  rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, num_labels=1,
                  pad_token_id=151643, bos_token_id=151643, eos_token_id=151645)
model = Qwen3ForSequenceClassification(cfg).to(torch.bfloat16).eval()
out = pathlib.Path(a.out)
model.save_pretrained(out)
# a byte-level BPE tokenizer (the Qwen2 fixture's); the bench feeds token ids
tok = pathlib.Path(__file__).resolve().parent.parent / "tests/data/decoders/qwen3-seqcls"
for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
    shutil.copy(tok / f, out / f)
print(f"wrote {out} ({a.layers} layers)")
