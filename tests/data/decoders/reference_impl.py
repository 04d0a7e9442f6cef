"""Independent float64 re-implementation of the decoder fixtures: GPT-2, Llama (all rope_scaling types, bias,
bidirectional), Qwen2, Qwen3, Gemma, Gemma 2, and the heads (sequence classification at the pooled row,
token classification, *ForCausalLM converted to a classifier the way vLLM does).

It reads only config.json and model.safetensors (no transformers modules) and is the computation the C++
engine has to reproduce; make_fixtures.py checks every stored reference against it.  n = tokens, D = hidden
size, H = query heads, K = key/value heads (GQA: query head h uses kv head h // (H / K)), d = head dim.

RoPE: as in ../rope_encoders/reference_impl.py, rope="fp32" (default) reproduces HF's float32 arithmetic for
inv_freq (float32 exponent 2i/d, the power in float64 rounded to float32, then every scaling step as a float32
operation with scalars rounded to float32) and the angle (one float32 product pos * inv_freq); rope="exact"
computes in float64 throughout.
"""

import json
import math
import os

import torch
from safetensors.torch import load_file

QUERY_BLOCK = 512


def load_folder(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    W = {k: v.to(torch.float64) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    return cfg, W


# ---------------------------------------------------------------- blocks

def linear(x, W, name):
    """nn.Linear: weight [out, in], y = x W^T (+ b if the tensor exists)."""
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if name + ".bias" in W else y


def conv1d(x, W, name):
    """GPT-2's Conv1D stores weight [in, out] (transposed vs nn.Linear): y = x W + b."""
    return x @ W[name + ".weight"] + W[name + ".bias"]


def layer_norm(x, W, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]


def rms_norm(x, W, name, eps, plus_one=False):
    """Llama / Qwen: x / rms(x) * w.  Gemma, Gemma 2: x / rms(x) * (1 + w) (weights stored zero-centred)."""
    w = W[name + ".weight"]
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * ((1.0 + w) if plus_one else w)


def act(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if kind in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if kind in ("silu", "swish"):
        return x * torch.sigmoid(x)
    raise ValueError(kind)


# ---------------------------------------------------------------- RoPE

def rope_params(cfg):
    """(rope_theta, scaling dict or None) from either spelling: the hub's rope_theta + rope_scaling, or
    transformers 5's rope_parameters {rope_type, rope_theta, ...}."""
    rp = cfg.get("rope_parameters")
    if rp:
        theta = rp.get("rope_theta", cfg.get("rope_theta", 10000.0))
        kind = rp.get("rope_type", rp.get("type", "default"))
        return float(theta), (None if kind == "default" else dict(rp, rope_type=kind))
    sc = cfg.get("rope_scaling")
    if sc:
        sc = dict(sc, rope_type=sc.get("rope_type", sc.get("type")))
        if sc["rope_type"] == "default":
            sc = None
    return float(cfg.get("rope_theta", 10000.0)), sc


def theta_pow(theta, d, fp32):
    """theta ** (arange(0, d, 2) / d): float64, or HF's float32 steps (float32 exponent, float64 power
    rounded to float32 - torch's own float32 pow agrees except for ~1% of entries, by 1 ulp)."""
    if not fp32:
        return theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    e = torch.arange(0, d, 2, dtype=torch.float32) / d
    th = float(torch.tensor(theta, dtype=torch.float32))
    return torch.tensor([math.pow(th, float(x)) for x in e], dtype=torch.float64).float()


def inv_freq_and_scale(cfg, d, n, rope="exact"):
    """inv_freq [d/2] and the cos/sin multiplier (yarn's attention_factor, else 1) for an input of n tokens.
    Formulas of transformers 5.23 modeling_rope_utils.py (see README.md); fp32 mode runs them in float32."""
    fp32 = rope == "fp32"
    dt = torch.float32 if fp32 else torch.float64
    S = (lambda v: torch.tensor(v, dtype=dt))                                # a scalar in the working precision
    theta, sc = rope_params(cfg)
    inv = 1.0 / theta_pow(theta, d, fp32)
    if sc is None:
        return inv, 1.0
    kind, f = sc["rope_type"], float(sc.get("factor", 1.0))
    if kind == "linear":
        return inv / S(f), 1.0
    if kind == "dynamic":
        # recomputed for the input's own length when it exceeds max_position_embeddings (HF: the
        # rotary module is stateful, see README; the reference resets it before every input)
        L = cfg["max_position_embeddings"]
        if n > L:
            base = theta * ((f * n / L) - (f - 1)) ** (d / (d - 2))            # Python (double) arithmetic
            return 1.0 / theta_pow(base, d, fp32), 1.0
        return inv, 1.0
    if kind == "llama3":
        lo, hi = float(sc["low_freq_factor"]), float(sc["high_freq_factor"])
        old = float(sc["original_max_position_embeddings"])
        wavelen = 2 * math.pi / inv
        out = torch.where(wavelen > old / lo, inv / S(f), inv)               # long wavelengths: / factor
        smooth = (old / wavelen - lo) / (hi - lo)
        medium = (wavelen >= old / hi) & (wavelen <= old / lo)                # in between: interpolate
        return torch.where(medium, (1 - smooth) * out / S(f) + smooth * out, out), 1.0
    if kind == "yarn":
        old = float(sc["original_max_position_embeddings"])
        bf, bs = float(sc.get("beta_fast") or 32), float(sc.get("beta_slow") or 1)
        af = sc.get("attention_factor")
        if af is None:
            mscale, mall = sc.get("mscale"), sc.get("mscale_all_dim")
            m = (lambda s, k=1.0: 1.0 if s <= 1 else 0.1 * k * math.log(s) + 1.0)
            af = m(f, mscale) / m(f, mall) if (mscale and mall) else m(f)

        def corr(rot):
            return (d * math.log(old / (rot * 2 * math.pi))) / (2 * math.log(theta))
        low, high = corr(bf), corr(bs)
        if sc.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, d - 1)
        if low == high:
            high += 0.001
        pos_freqs = theta_pow(theta, d, fp32)
        ramp = ((torch.arange(d // 2, dtype=dt) - low) / (high - low)).clamp(0, 1)
        extra = 1 - ramp                                                       # 1: keep, 0: interpolate
        return (1.0 / (S(f) * pos_freqs)) * (1 - extra) + (1.0 / pos_freqs) * extra, float(af)
    raise ValueError("rope_type %r" % kind)


def rope_cos_sin(cfg, d, n, rope):
    inv, scale = inv_freq_and_scale(cfg, d, n, rope)
    pos = torch.arange(n, dtype=torch.float64)
    ang = (pos.float()[:, None] * inv.float()[None, :]).double() if rope == "fp32" else pos[:, None] * inv.double()[None, :]
    # HF multiplies cos / sin by attention_scaling in float32 too
    c, s = torch.cos(ang), torch.sin(ang)
    if rope == "fp32" and scale != 1.0:
        return (c.float() * scale).double(), (s.float() * scale).double()
    return c * scale, s * scale


def apply_rope(x, cos, sin):
    """x: [n, heads, d]; rotate_half layout: dim i pairs with i + d/2."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def attention(q, k, v, scale, causal=True, window=None, softcap=None):
    """q: [n, H, d], k / v: [n, K, d] (GQA) -> [n, H*d].  causal: key j <= query i.  window w (Gemma 2 sliding
    layers): additionally j > i - w, i.e. the last w tokens including itself.  softcap c (Gemma 2):
    scores = c * tanh(scores / c), applied after scaling and before the mask."""
    n, H, d = q.shape
    K = k.shape[1]
    k = k.repeat_interleave(H // K, dim=1)
    v = v.repeat_interleave(H // K, dim=1)
    out = torch.empty(n, H, d, dtype=q.dtype)
    for a in range(0, n, QUERY_BLOCK):
        b = min(n, a + QUERY_BLOCK)
        kb = b if causal else n
        ka = max(0, a - window + 1) if window else 0
        s = torch.einsum("qhd,khd->hqk", q[a:b], k[ka:kb]) * scale
        if softcap:
            s = softcap * torch.tanh(s / softcap)
        i = torch.arange(a, b)[:, None]
        j = torch.arange(ka, kb)[None, :]
        bad = torch.zeros(b - a, kb - ka, dtype=torch.bool)
        if causal:
            bad |= j > i
        if window:
            bad |= j <= i - window
        p = torch.softmax(s.masked_fill(bad, float("-inf")), dim=-1)
        out[a:b] = torch.einsum("hqk,khd->qhd", p, v[ka:kb])
    return out.reshape(n, H * d)


# ---------------------------------------------------------------- families

def gpt2_backbone(cfg, W, ids, rope):
    """GPT-2: learned positions, pre-LN, Conv1D [in, out] weights, gelu_new, final ln_f."""
    p = "transformer."
    n, D, H = len(ids), cfg["n_embd"], cfg["n_head"]
    d, eps = D // H, cfg.get("layer_norm_epsilon", 1e-5)
    x = W[p + "wte.weight"][ids] + W[p + "wpe.weight"][torch.arange(n)]
    h1 = None
    for li in range(cfg["n_layer"]):
        b = p + "h.%d." % li
        q, k, v = conv1d(layer_norm(x, W, b + "ln_1", eps), W, b + "attn.c_attn").split(D, dim=-1)   # [n, 3D]
        a = attention(q.reshape(n, H, d), k.reshape(n, H, d), v.reshape(n, H, d), d ** -0.5)
        x = x + conv1d(a, W, b + "attn.c_proj")
        m = act(conv1d(layer_norm(x, W, b + "ln_2", eps), W, b + "mlp.c_fc"), cfg.get("activation_function", "gelu_new"))
        x = x + conv1d(m, W, b + "mlp.c_proj")
        h1 = x if li == 0 else h1
    return h1, layer_norm(x, W, p + "ln_f", eps)


def llama_like_backbone(cfg, W, ids, rope):
    """Llama / Qwen2 / Qwen3 / Gemma / Gemma 2 / bidirectional Llama (pre-RMSNorm, GQA, RoPE, gated MLP)."""
    mt = cfg["model_type"]
    gemma = mt in ("gemma", "gemma2")
    n, D, H = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    K = cfg.get("num_key_value_heads") or H
    d = cfg.get("head_dim") or D // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    x = W["model.embed_tokens.weight"][ids]                                   # [n, D]
    if gemma:
        x = x * torch.tensor(D ** 0.5, dtype=torch.float32).double()          # Gemma: * sqrt(D) (in weight dtype)
    if mt == "gemma2":
        scale = cfg["query_pre_attn_scalar"] ** -0.5
        layer_types = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % 2 else "full_attention"
                                                 for i in range(cfg["num_hidden_layers"])]
    else:
        scale, layer_types = d ** -0.5, ["full_attention"] * cfg["num_hidden_layers"]
    causal = not (mt == "llama_bidirec" or cfg.get("is_causal") is False)
    mlp_act = cfg.get("hidden_activation") if mt == "gemma2" else cfg.get("hidden_act", "silu")
    if mt == "gemma" and mlp_act == "gelu":
        mlp_act = "gelu_pytorch_tanh"        # transformers maps Gemma's legacy hidden_act "gelu" to the tanh form
    cos, sin = rope_cos_sin(cfg, d, n, rope)
    norm = (lambda t, name: rms_norm(t, W, name, eps, plus_one=gemma))
    h1 = None
    for li in range(cfg["num_hidden_layers"]):
        b = "model.layers.%d." % li
        h = norm(x, b + "input_layernorm")
        q = linear(h, W, b + "self_attn.q_proj").reshape(n, H, d)
        k = linear(h, W, b + "self_attn.k_proj").reshape(n, K, d)
        v = linear(h, W, b + "self_attn.v_proj").reshape(n, K, d)
        if mt == "qwen3":                                                     # per-head RMSNorm over d, before RoPE
            q, k = norm(q, b + "self_attn.q_norm"), norm(k, b + "self_attn.k_norm")
        a = attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, scale, causal,
                      cfg.get("sliding_window") if layer_types[li] == "sliding_attention" else None,
                      cfg.get("attn_logit_softcapping") if mt == "gemma2" else None)
        a = linear(a, W, b + "self_attn.o_proj")
        if mt == "gemma2":                                                    # post-attention norm, then residual
            x = x + norm(a, b + "post_attention_layernorm")
            h = norm(x, b + "pre_feedforward_layernorm")
        else:
            x = x + a
            h = norm(x, b + "post_attention_layernorm")
        m = linear(act(linear(h, W, b + "mlp.gate_proj"), mlp_act) * linear(h, W, b + "mlp.up_proj"), W, b + "mlp.down_proj")
        x = x + (norm(m, b + "post_feedforward_layernorm") if mt == "gemma2" else m)
        h1 = x if li == 0 else h1
    return h1, norm(x, "model.norm")


def pooled_index(ids, pad_token_id):
    """transformers' *ForSequenceClassification: the rightmost token whose id is not pad_token_id (0 if every
    token is pad: argmax of an all-zero vector); the last token if pad_token_id is None."""
    if pad_token_id is None:
        return len(ids) - 1
    keep = [i for i, t in enumerate(ids) if t != pad_token_id]
    return keep[-1] if keep else 0


def lm_head_rows(cfg, W, token_ids):
    """Rows of the output projection: lm_head.weight, or the input embedding when the weights are tied
    (tie_word_embeddings: no lm_head.weight tensor is saved).  Gemma's sqrt(D) scale is NOT applied here."""
    lm = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return lm[token_ids]


def causal_lm_logits(cfg, W, h):
    """What *ForCausalLM returns for one hidden row h [D]: lm_head(h), soft-capped for Gemma 2:
    c * tanh(z / c) with c = final_logit_softcapping."""
    z = lm_head_rows(cfg, W, torch.arange(cfg["vocab_size"])) @ h
    c = cfg.get("final_logit_softcapping") if cfg["model_type"] == "gemma2" else None
    return c * torch.tanh(z / c) if c else z


def forward(folder, ids, rope="fp32", conversion=None):
    """Returns {hidden_states_1, last_hidden, pooled_index?, logits?, lm_logits?} for one input (float64).
    conversion (a *ForCausalLM used as a classifier, as vLLM's --convert classify): {"method":
    "from_2_way_softmax" | "no_post_processing", "token_ids": [false, true] | [t, ...]}."""
    cfg, W = load_folder(folder)
    ids_t = torch.tensor(ids)
    if cfg["model_type"] == "gpt2":
        h1, last = gpt2_backbone(cfg, W, ids_t, rope)
    else:
        h1, last = llama_like_backbone(cfg, W, ids_t, rope)
    out = {"hidden_states_1": h1, "last_hidden": last}
    arch = cfg["architectures"][0]
    if arch.endswith("ForTokenClassification"):
        out["logits"] = linear(last, W, "score")                               # score has a bias here
    elif arch == "LlamaBidirectionalForSequenceClassification":
        pool = cfg.get("pooling", "avg")                                       # attention-mask pooling, no pad rule
        x = {"avg": last.mean(0), "cls": last[0], "last": last[-1]}[pool]
        out["logits"] = linear(x, W, "score") / cfg.get("temperature", 1.0)
    elif arch.endswith("ForSequenceClassification"):
        i = pooled_index(ids, cfg.get("pad_token_id"))
        out["pooled_index"] = i
        out["logits"] = linear(last[i], W, "score")                            # no bias
    elif arch.endswith("ForCausalLM") and conversion:
        z = lm_head_rows(cfg, W, conversion["token_ids"]) @ last[-1]          # vLLM LAST pooling: the final token
        out["lm_logits"] = z
        out["logits"] = (z[1:2] - z[0:1]) if conversion["method"] == "from_2_way_softmax" else z
    return out
