"""Independent float64 re-implementation of the RoPE encoders in this folder: ModernBERT and GTE / mGTE.

It reads only config.json and model.safetensors (no transformers modules) and is the computation the C++
engine has to reproduce; make_fixtures.py checks every stored reference against it.  Shapes in comments:
n = tokens, D = hidden size, H = heads, d = head dim, I = intermediate size.

RoPE precision (matters at 8k tokens): HF computes inv_freq and the angle pos * inv_freq in float32.  One
float32 ulp of an angle near 8191 rad is ~1e-3, and a 1-ulp difference in inv_freq moves the angle at
position 8191 by up to ~2e-4 rad; on these fixtures that moves token logits of an 8,192-token input by up
to 3e-3 (of ~15).  rope="fp32" (the default) therefore reproduces HF's float32 arithmetic step by step:
  inv_freq = 1 / theta ** e, with e = float32(2i) / float32(d) in float32, the power computed in float64 and
           rounded to float32, the reciprocal in float32 (torch uses a vectorised float32 pow instead: same
           bits for every inv_freq of these fixtures, ~1% of entries differ by 1 ulp for head_dim 256);
           every further scaling step (NTK) is a float32 operation with the scalar rounded to float32;
  angle    = float32(pos) * inv_freq, one float32 product;
then cos / sin and everything else in float64.  rope="exact" uses float64 throughout (for comparison).
"""

import json
import math
import os

import torch
from safetensors.torch import load_file

QUERY_BLOCK = 1024      # attention is computed for blocks of queries: memory O(block * n), never [n, n] at once


def load_folder(folder):
    """config.json as a dict, and every tensor of model.safetensors as float64."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    W = {k: v.to(torch.float64) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    return cfg, W


# ---------------------------------------------------------------- shared blocks

def linear(x, W, name):
    """y = x W^T (+ b): nn.Linear stores weight [out, in]; the bias is optional (absent tensor = no bias)."""
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if name + ".bias" in W else y


def layer_norm(x, W, name, eps):
    """LayerNorm over the last dim; the bias is optional (ModernBERT norm_bias=false has none)."""
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"]
    return y + W[name + ".bias"] if name + ".bias" in W else y


def activation(x, kind):
    if kind == "gelu":                                   # exact (erf) GELU
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if kind in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):   # tanh approximation
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if kind in ("silu", "swish"):
        return x * torch.sigmoid(x)
    if kind == "relu":
        return torch.relu(x)
    if kind == "tanh":
        return torch.tanh(x)
    raise ValueError("activation %r" % kind)


def theta_pow(theta, d, rope):
    """theta ** (arange(0, d, 2) / d) [d/2]: float64, or HF's float32 steps (see module doc)."""
    if rope != "fp32":
        return theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    e = torch.arange(0, d, 2, dtype=torch.float32) / d                       # float32 exponent
    th = float(torch.tensor(theta, dtype=torch.float32))                     # the scalar as float32
    return torch.tensor([math.pow(th, float(x)) for x in e], dtype=torch.float64).float()


def default_inv_freq(theta, d, rope="exact"):
    return 1.0 / theta_pow(theta, d, rope)                                    # [d/2]; float32 in fp32 mode


def rope_cos_sin(inv_freq, n, rope):
    """inv_freq [d/2] (float32 in fp32 mode).  Returns cos, sin: [n, d/2] float64 (see module doc)."""
    pos = torch.arange(n, dtype=torch.float64)
    if rope == "fp32":
        ang = (pos.float()[:, None] * inv_freq.float()[None, :]).double()   # one float32 rounding, as HF
    else:
        ang = pos[:, None] * inv_freq.double()[None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """x: [n, H, d].  "rotate_half" (GPT-NeoX) layout: dim i pairs with dim i + d/2, both using angle i:
    out[:, :, :d/2] = x1 cos - x2 sin,  out[:, :, d/2:] = x2 cos + x1 sin."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def attention(q, k, v, scale, window=None):
    """q, k, v: [n, H, d] -> [n, H*d].  Bidirectional; window w (ModernBERT local layers): query i sees key j
    only if |i - j| <= w.  Computed per block of queries over just the keys that block can see."""
    n, H, d = q.shape
    out = torch.empty(n, H, d, dtype=q.dtype)
    for a in range(0, n, QUERY_BLOCK):
        b = min(n, a + QUERY_BLOCK)
        ka, kb = (0, n) if window is None else (max(0, a - window), min(n, b + window))
        s = torch.einsum("qhd,khd->hqk", q[a:b], k[ka:kb]) * scale           # [H, b-a, kb-ka]
        if window is not None:
            i = torch.arange(a, b)[:, None]
            j = torch.arange(ka, kb)[None, :]
            s = s.masked_fill((i - j).abs() > window, float("-inf"))
        p = torch.softmax(s, dim=-1)
        out[a:b] = torch.einsum("hqk,khd->qhd", p, v[ka:kb])
    return out.reshape(n, H * d)


def prefix_of(W, suffix):
    """Weight-name prefix of a model ("" for *Model folders, "model." / "new." for heads)."""
    key = [k for k in W if k.endswith(suffix)][0]
    return key[: -len(suffix)]


# ---------------------------------------------------------------- ModernBERT

def modernbert_layer_types(cfg):
    """config.json spells this two ways: transformers 5 `layer_types`, or the hub's global_attn_every_n_layers
    (layer i is global iff i % n == 0; default 3)."""
    if cfg.get("layer_types"):
        return list(cfg["layer_types"])
    n = cfg.get("global_attn_every_n_layers", 3)
    return ["full_attention" if i % n == 0 else "sliding_attention" for i in range(cfg["num_hidden_layers"])]


def modernbert_thetas(cfg):
    """(global, local) rope theta: transformers 5 rope_parameters, else the hub's global_rope_theta /
    local_rope_theta (defaults 160000 / 10000)."""
    rp = cfg.get("rope_parameters") or {}
    g = (rp.get("full_attention") or {}).get("rope_theta", cfg.get("global_rope_theta", 160000.0))
    loc = (rp.get("sliding_attention") or {}).get("rope_theta", cfg.get("local_rope_theta", 10000.0))
    return float(g), float(loc)


def modernbert_forward(folder, ids, rope="fp32"):
    """Returns {hidden_states_1, last_hidden, pooled?, logits?} for one un-padded input (float64)."""
    cfg, W = load_folder(folder)
    p = prefix_of(W, "embeddings.tok_embeddings.weight")
    D, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg.get("norm_eps", 1e-5)
    d = D // H
    n = len(ids)
    ids = torch.tensor(ids)
    x = layer_norm(W[p + "embeddings.tok_embeddings.weight"][ids], W, p + "embeddings.norm", eps)    # [n, D]
    types = modernbert_layer_types(cfg)
    theta = dict(zip(("full_attention", "sliding_attention"), modernbert_thetas(cfg)))
    rot = {t: rope_cos_sin(default_inv_freq(theta[t], d, rope), n, rope) for t in set(types)}
    window = cfg.get("local_attention", 128) // 2          # local_attention is the full width: |i - j| <= w/2
    out = {}
    for li, lt in enumerate(types):
        b = p + "layers.%d." % li
        h = x if li == 0 else layer_norm(x, W, b + "attn_norm", eps)   # layer 0 has no attn_norm (Identity)
        qkv = linear(h, W, b + "attn.Wqkv").reshape(n, 3, H, d)         # [n, 3, H, d]: q | k | v blocks
        q, k, v = apply_rope(qkv[:, 0], *rot[lt]), apply_rope(qkv[:, 1], *rot[lt]), qkv[:, 2]
        a = attention(q, k, v, d ** -0.5, window if lt == "sliding_attention" else None)
        x = x + linear(a, W, b + "attn.Wo")
        h = layer_norm(x, W, b + "mlp_norm", eps)
        inp, gate = linear(h, W, b + "mlp.Wi").chunk(2, dim=-1)           # Wi: [2I, D]; FIRST half is activated
        x = x + linear(activation(inp, cfg.get("hidden_activation", "gelu")) * gate, W, b + "mlp.Wo")
        if li == 0:
            out["hidden_states_1"] = x
    x = layer_norm(x, W, p + "final_norm", eps)
    out["last_hidden"] = x
    arch = (cfg.get("architectures") or [""])[0]
    if arch.endswith("ForSequenceClassification") or arch.endswith("ForTokenClassification"):
        if arch.endswith("ForSequenceClassification"):
            x = x[0] if cfg.get("classifier_pooling", "cls") == "cls" else x.mean(0)
            out["pooled"] = x
        act = cfg.get("classifier_activation", "gelu")
        y = layer_norm(activation(linear(x, W, "head.dense"), act), W, "head.norm", eps)
        out["logits"] = linear(y, W, "classifier")       # classifier always has a bias (classifier_bias: head.dense only)
    return out


# ---------------------------------------------------------------- GTE / mGTE ("new")

def gte_inv_freq(cfg, rope="exact"):
    """RotaryEmbedding / NTKScalingRotaryEmbedding of Alibaba-NLP/new-impl.  With rope_scaling
    {"type": "ntk", "factor": F} (no mixed_b) the NTK frequencies are used for EVERY input length (the
    module builds its cache for max_position_embeddings * F positions at init, which takes the scaled branch):
        inv_freq_i = (theta * F) ** (-2i/d) / F ** (2/d)
    mixed_b = b:  inv_freq_i = theta ** (-2i/d) / exp(ln(F) / (d/2) ** b * (i + 1) ** b)."""
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    theta = float(cfg.get("rope_theta", 10000.0))
    sc = cfg.get("rope_scaling")
    if not sc:
        return default_inv_freq(theta, d, rope)
    kind = sc.get("type") or sc.get("rope_type")
    if kind != "ntk":
        raise ValueError("GTE rope_scaling type %r" % kind)
    F, b = float(sc["factor"]), sc.get("mixed_b")
    dt = torch.float32 if rope == "fp32" else torch.float64
    if b is None:     # theta * F is a Python (double) product; the division is float32 by float32(F ** (2/d))
        return default_inv_freq(theta * F, d, rope) / torch.tensor(F ** (2.0 / d), dtype=dt)
    a = torch.tensor(F, dtype=dt).log() / (d / 2) ** b
    return default_inv_freq(theta, d, rope) / (a * torch.arange(1, d // 2 + 1, dtype=dt) ** b).exp()


def gte_forward(folder, ids, type_ids=None, rope="fp32"):
    """Returns {hidden_states_1, last_hidden, pooled?, logits?}.  Post-LN layers; no final norm."""
    cfg, W = load_folder(folder)
    p = prefix_of(W, "embeddings.word_embeddings.weight")
    D, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg.get("layer_norm_eps", 1e-12)
    d = D // H
    n = len(ids)
    if cfg.get("position_embedding_type", "rope") != "rope" or cfg.get("layer_norm_type", "layer_norm") != "layer_norm":
        raise ValueError("only position_embedding_type rope + layer_norm_type layer_norm are implemented")
    if cfg.get("logn_attention_scale"):
        raise ValueError("logn_attention_scale is not implemented")
    x = W[p + "embeddings.word_embeddings.weight"][torch.tensor(ids)]                     # [n, D]
    if cfg.get("type_vocab_size", 0) > 0:                                                  # zeros when not given
        tt = torch.zeros(n, dtype=torch.long) if type_ids is None else torch.tensor(type_ids)
        x = x + W[p + "embeddings.token_type_embeddings.weight"][tt]
    x = layer_norm(x, W, p + "embeddings.LayerNorm", eps)
    cos, sin = rope_cos_sin(gte_inv_freq(cfg, rope), n, rope)
    I = cfg["intermediate_size"]
    out = {}
    for li in range(cfg["num_hidden_layers"]):
        b = p + "encoder.layer.%d." % li
        q, k, v = linear(x, W, b + "attention.qkv_proj").split(D, dim=-1)     # pack_qkv: [3D, D] = q | k | v
        q, k, v = (t.reshape(n, H, d) for t in (q, k, v))
        a = attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, d ** -0.5)
        x = layer_norm(x + linear(a, W, b + "attention.o_proj"), W, b + "attn_ln", eps)   # post-LN
        up, gate = linear(x, W, b + "mlp.up_gate_proj").split(I, dim=-1)   # [2I, D], no bias; SECOND half activated
        m = linear(activation(gate, cfg.get("hidden_act", "gelu")) * up, W, b + "mlp.down_proj")
        x = layer_norm(x + m, W, b + "mlp_ln", eps)
        if li == 0:
            out["hidden_states_1"] = x
    out["last_hidden"] = x
    arch = (cfg.get("architectures") or [""])[0]
    if arch.endswith("ForSequenceClassification"):
        out["pooled"] = torch.tanh(linear(x[0], W, p + "pooler.dense"))   # NewPooler: CLS row, dense, tanh
        out["logits"] = linear(out["pooled"], W, "classifier")
    elif arch.endswith("ForTokenClassification"):
        out["logits"] = linear(x, W, "classifier")
    return out


def forward(folder, ids, type_ids=None, rope="fp32"):
    mt = json.load(open(os.path.join(folder, "config.json")))["model_type"]
    if mt == "modernbert":
        return modernbert_forward(folder, ids, rope)
    if mt == "new":
        return gte_forward(folder, ids, type_ids, rope)
    raise ValueError(mt)
