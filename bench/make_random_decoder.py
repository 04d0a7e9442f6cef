"""A random-weight Qwen3ForSequenceClassification (num_labels 1: a reranker / reward head) of any
size, written with numpy + safetensors only (no torch), for speed measurements on machines without
PyTorch: the shapes are what matters. The tokenizer is the qwen3 fixture's (benches feed ids).
    python3 bench/make_random_decoder.py OUT_DIR [--hidden 256] [--layers 4] [--heads 4]
        [--kv-heads 2] [--head-dim 64] [--intermediate 768] [--vocab 1000]
"""
import argparse
import json
import pathlib
import shutil

import numpy as np
from safetensors.numpy import save_file

ap = argparse.ArgumentParser()
ap.add_argument("out")
for name, default in [("hidden", 256), ("layers", 4), ("heads", 4), ("kv-heads", 2), ("head-dim", 64),
                      ("intermediate", 768), ("vocab", 1000)]:
    ap.add_argument("--" + name, type=int, default=default)
a = ap.parse_args()
D, L, H, K, d, I, V = a.hidden, a.layers, a.heads, a.kv_heads, a.head_dim, a.intermediate, a.vocab
rng = np.random.default_rng(0)


def w(*shape, scale=None):
    return (rng.standard_normal(shape) * (scale or shape[-1] ** -0.5)).astype(np.float32)


t = {"model.embed_tokens.weight": w(V, D, scale=0.5), "model.norm.weight": np.ones(D, np.float32),
     "score.weight": w(1, D)}
for i in range(L):
    p = f"model.layers.{i}."
    t[p + "input_layernorm.weight"] = np.ones(D, np.float32)
    t[p + "post_attention_layernorm.weight"] = np.ones(D, np.float32)
    t[p + "self_attn.q_proj.weight"] = w(H * d, D)
    t[p + "self_attn.k_proj.weight"] = w(K * d, D)
    t[p + "self_attn.v_proj.weight"] = w(K * d, D)
    t[p + "self_attn.o_proj.weight"] = w(D, H * d)
    t[p + "self_attn.q_norm.weight"] = np.ones(d, np.float32)
    t[p + "self_attn.k_norm.weight"] = np.ones(d, np.float32)
    t[p + "mlp.gate_proj.weight"] = w(I, D)
    t[p + "mlp.up_proj.weight"] = w(I, D)
    t[p + "mlp.down_proj.weight"] = w(D, I)
out = pathlib.Path(a.out)
out.mkdir(parents=True, exist_ok=True)
save_file(t, str(out / "model.safetensors"), metadata={"format": "pt"})
cfg = {"architectures": ["Qwen3ForSequenceClassification"], "model_type": "qwen3", "hidden_size": D,
       "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": K, "head_dim": d,
       "intermediate_size": I, "vocab_size": V, "hidden_act": "silu", "max_position_embeddings": 40960,
       "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "num_labels": 1,
       "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}, "pad_token_id": 996,
       "bos_token_id": 996, "eos_token_id": 996, "torch_dtype": "float32"}
(out / "config.json").write_text(json.dumps(cfg, indent=2))
tok = pathlib.Path(__file__).resolve().parent.parent / "tests/data/decoders/qwen3-seqcls"
for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
    shutil.copy(tok / f, out / f)
print(f"wrote {out}: hidden {D}, {L} layers, {H}/{K} heads of {d}, MLP {I}, vocab {V}")
