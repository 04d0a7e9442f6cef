#!/usr/bin/env python3
"""Generate the golden reference fixtures for decoder LLMs used as classifiers, rerankers and reward models:
GPT-2, Llama (rope_scaling variants, biases, tied embeddings, bidirectional), Qwen2, Qwen3, Gemma, Gemma 2,
and *ForCausalLM checkpoints converted to classifiers the way vLLM's --convert classify does.

Everything under tests/data/decoders/ except README.md and the .py files is written by this script,
deterministically (fixed seeds, single-threaded torch, byte-level BPE tokenizers trained on the seeded text of
tests/data/models/make_fixtures.py).  Every folder is then re-checked: reloaded with AutoTokenizer /
AutoModel* (eager and sdpa), tokenizer.json against the HF tokenizer, and reference_impl.py (float64, from
config.json + safetensors only).  No network access is needed.

Usage:  python3 tests/data/decoders/make_fixtures.py [--only NAME ...] [--skip-verify]
"""

import argparse
import copy
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


enc = _load_module("encoder_fixtures", os.path.join(HERE, "..", "models", "make_fixtures.py"))
ref_impl = _load_module("decoder_reference_impl", os.path.join(HERE, "reference_impl.py"))

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer,
    Gemma2Config, Gemma2ForCausalLM, Gemma2ForSequenceClassification, GemmaConfig, GemmaForCausalLM,
    GemmaForSequenceClassification, GPT2Config, GPT2ForSequenceClassification, LlamaConfig,
    LlamaForSequenceClassification, Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification, Qwen3Config,
    Qwen3ForCausalLM, Qwen3ForSequenceClassification, Qwen3ForTokenClassification,
)

VOCAB = 1000
HIDDEN_MAX_TOKENS = 32       # hidden_states_1 / last_hidden / position_ids / lm_logits_last only up to here
GAP_ACCEPT, GAP_TARGET = enc.GAP_ACCEPT, enc.GAP_TARGET
INIT = 0.2

# --------------------------------------------------------------------------
# 1. Tokenizers (byte-level BPE in the style of each family)
# --------------------------------------------------------------------------

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

TOK_FAMILIES = {
    # GPT-2: plain byte-level regex, no specials added; <|endoftext|> is the LAST id (bos = eos = unk = pad here)
    "gpt2": dict(first=[], last=["<|endoftext|>"], split=None, nfc=False, bos=None, pad="<|endoftext|>",
                 hf_class="GPT2Tokenizer", specials={"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                                     "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}),
    # Llama 3: Split(regex) + ByteLevel, BOS prepended by the TemplateProcessing post-processor
    "llama3": dict(first=[], last=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                   "<|end_header_id|>", "<|eot_id|>", "<|finetune_right_pad_id|>"],
                   split=LLAMA3_SPLIT, nfc=False, bos="<|begin_of_text|>", pad="<|finetune_right_pad_id|>",
                   hf_class="PreTrainedTokenizerFast",
                   specials={"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
                             "pad_token": "<|finetune_right_pad_id|>"}),
    # Qwen2 / Qwen3: NFC + Split(regex, single digits) + ByteLevel, nothing added; <extra_0> is the PRM step tag
    "qwen": dict(first=[], last=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"], split=QWEN2_SPLIT,
                 nfc=True, bos=None, pad="<|endoftext|>", hf_class="Qwen2Tokenizer",
                 specials={"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}),
    # Gemma: <pad>=0 <eos>=1 <bos>=2 <unk>=3 first, BOS prepended (real Gemma is SentencePiece BPE with byte
    # fallback; a byte-level BPE stands in, the tokenizer is tested separately)
    "gemma": dict(first=["<pad>", "<eos>", "<bos>", "<unk>"], last=["<start_of_turn>", "<end_of_turn>"], split=None,
                  nfc=False, bos="<bos>", pad="<pad>", hf_class="PreTrainedTokenizerFast",
                  specials={"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"}),
}
CLASSIFIER_WORDS = ["yes", "no", "Yes", "No"]     # must be single tokens (rerankers' classifier_from_token)


def train_tokenizer(family, corpus):
    f = TOK_FAMILIES[family]
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    if f["nfc"]:
        tok.normalizer = normalizers.NFC()
    if f["split"]:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(f["split"]), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - len(f["last"]), min_frequency=2, special_tokens=f["first"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # each classifier word also as a line of its own: the first word of a line has no leading space, so the
    # space-less token "yes" (what convert_tokens_to_ids("yes") looks up) is learned
    extra = [w for w in CLASSIFIER_WORDS for _ in range(3000)]
    tok.train_from_iterator(corpus + extra, trainer)
    tok.add_special_tokens(f["last"])
    byte_level = processors.ByteLevel(trim_offsets=False)
    if f["bos"]:
        bos = (f["bos"], tok.token_to_id(f["bos"]))
        tok.post_processor = processors.Sequence([byte_level, processors.TemplateProcessing(
            single="%s:0 $A:0" % f["bos"], pair="%s:0 $A:0 %s:1 $B:1" % (f["bos"], f["bos"]), special_tokens=[bos])])
    else:
        tok.post_processor = byte_level
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    for w in CLASSIFIER_WORDS + ["0", "1"]:
        assert tok.token_to_id(w) is not None and len(tok.encode(w, add_special_tokens=False).ids) == 1, (family, w)
    return tok


def save_tokenizer(folder, family, tok):
    f = TOK_FAMILIES[family]
    tok.save(os.path.join(folder, "tokenizer.json"))
    cfg = {"tokenizer_class": f["hf_class"], "model_max_length": 1024, "clean_up_tokenization_spaces": False,
           "add_bos_token": bool(f["bos"]), "add_eos_token": False, "padding_side": "right",
           "model_input_names": ["input_ids", "attention_mask"]}
    enc.write_json(os.path.join(folder, "tokenizer_config.json"), dict(cfg, **f["specials"]))
    enc.write_json(os.path.join(folder, "special_tokens_map.json"), f["specials"])


# --------------------------------------------------------------------------
# 2. Inputs
# --------------------------------------------------------------------------

def n_tok(tok, text):
    return len(tok.encode(text).ids)


def text_of_length(tok, target, gen):
    """Generated text whose encoding (specials included) has exactly `target` tokens (see
    ../rope_encoders/make_fixtures.py: counts are additive over space-separated words)."""
    words, cur, full = [], n_tok(tok, ""), False
    while not full:
        for w in gen.sentence().split(" "):
            c = len(tok.encode((" " if words else "") + w, add_special_tokens=False).ids)
            if cur + c > target:
                full = True
                break
            words.append(w)
            cur += c
    cur = n_tok(tok, " ".join(words))
    while cur < target:
        for f in ("the", "a", "and", "of", "to", "in", "it", "is", ",", "."):
            if n_tok(tok, " ".join(words + [f])) <= target:
                words.append(f)
                break
        else:
            raise RuntimeError("cannot reach %d tokens" % target)
        cur = n_tok(tok, " ".join(words))
    assert cur == target, (target, cur)
    return " ".join(words)


def general_inputs(family, tok, seed, max_len=1024):
    """Single texts: hand-written edge cases, texts that END in the pad token (transformers then pools an
    earlier position), the pad token alone, exact lengths up to max_len (several times Gemma 2's window 8)."""
    gen = enc.TextGen(seed)
    pad = TOK_FAMILIES[family]["pad"]
    texts = ["The movie was great!", "Alice moved to Paris in 2019 and works at Google.",
             "Caf\u00e9 au lait in Z\u00fcrich \u2014 na\u00efve? \U0001F642", "\u6211\u7231\u5317\u4eac and Tokyo",
             "  leading and   trailing   spaces\t\n", "WOW!!! Really???", "the " * 20 + "end",
             "Call 555-0199 or visit room 42b at 10:30.",
             "This one ends in the pad token." + pad, "Two pad tokens at the end" + pad + pad,
             "A pad token" + pad + " in the middle.", pad]
    if TOK_FAMILIES[family]["bos"]:
        texts.insert(0, "")                                      # BOS only
    items = [dict(text=t, text_pair=None, prompt=t) for t in texts]
    for n in (1, 2, 7, 8, 9, 16, 17, 100, 300, max_len):
        if n == 1 and TOK_FAMILIES[family]["bos"]:
            continue                                             # "" is the 1-token input
        t = text_of_length(tok, n, gen)
        items.append(dict(text=t, text_pair=None, prompt=t))
    return items


def pair_inputs(tok, seed, fmt=None):
    """Query / document pairs.  vLLM's rule for LLM rerankers without a score template (use_pad_token false):
    prompt = query + document, no separator, tokenized as ONE text (add_special_tokens: BOS where the
    tokenizer adds one).  fmt: a formatting function instead (nemotron's "question:{q} \\n \\n passage:{p}")."""
    gen = enc.TextGen(seed)
    pairs = [("What is the capital of France?", "Paris is the capital and largest city of France."),
             ("Where is the station?", "The station is near the old bridge."),
             ("how to bake bread", "Mix flour, water and yeast, then bake for forty minutes."),
             ("Is this empty?", ""), ("", "A document without a query."),
             ("Who wrote the letter?", gen.paragraph(2)), (gen.sentence(), gen.paragraph(4)),
             (gen.sentence(), text_of_length(tok, 500, gen))]
    items = []
    for q, d in pairs:
        p = fmt(q, d) if fmt else q + d
        if n_tok(tok, p) == 0:
            continue
        items.append(dict(text=q, text_pair=d, prompt=p))
    return items


QWEN3_RERANKER_PROMPT = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
                         "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
                         "<|im_start|>user\n<Instruct>: Given a web search query, retrieve relevant passages that "
                         "answer the query\n<Query>: {q}\n<Document>: {d}<|im_end|>\n<|im_start|>assistant\n"
                         "<think>\n\n</think>\n\n")


def prm_inputs(seed):
    """Process-reward inputs: steps separated by the step tag <extra_0> (Qwen2.5-Math-PRM's)."""
    gen = enc.TextGen(seed)
    items = [dict(text=t, text_pair=None, prompt=t) for t in [
        "Add 2 and 3.<extra_0>Multiply by 4.<extra_0>So the answer is 20.<extra_0>",
        "<extra_0>", "No steps here.", "One step only.<extra_0>",
        "<extra_0>".join(gen.sentence() for _ in range(6)) + "<extra_0>",
        "<extra_0>".join(gen.paragraph(2) for _ in range(5)) + "<extra_0>"]]
    return items


def encode_items(hf_tok, raw_tok, items):
    out = []
    for it in items:
        raw = raw_tok.encode(it["prompt"])
        e = hf_tok([it["prompt"]])
        assert e["input_ids"][0] == raw.ids, (it["prompt"][:80], e["input_ids"][0][:20], raw.ids[:20])
        assert len(raw.ids) > 0
        out.append(raw.ids)
    return out


# --------------------------------------------------------------------------
# 3. Model specs
# --------------------------------------------------------------------------

NER = enc.NER
LLAMA = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=10000.0,
             hidden_act="silu", attention_bias=False, mlp_bias=False, tie_word_embeddings=False)
QWEN2 = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=1000000.0,
             hidden_act="silu", tie_word_embeddings=False, use_sliding_window=False)
QWEN3 = dict(QWEN2, head_dim=32, tie_word_embeddings=True)            # 4 heads x 32 = 128 != hidden 64
GEMMA = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, head_dim=256, max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=10000.0,
             hidden_act="gelu", tie_word_embeddings=True)
GEMMA2 = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=32, max_position_embeddings=1024, rms_norm_eps=1e-6, rope_theta=10000.0,
              hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=24, sliding_window=8,
              layer_types=["sliding_attention", "full_attention"],
              attn_logit_softcapping=5.0, final_logit_softcapping=3.0, tie_word_embeddings=True)
GPT2 = dict(vocab_size=VOCAB, n_positions=1024, n_embd=64, n_layer=2, n_head=4, n_inner=96, activation_function="gelu_new",
            layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, summary_first_dropout=0.0)
SENTIMENT = ["negative", "neutral", "positive"]

LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
SPECS = [
    dict(name="gpt2-seqcls", cls=GPT2ForSequenceClassification, cfg=GPT2Config, kw=GPT2, tok="gpt2", seed=2101,
         head="seqcls", labels=SENTIMENT),                                             # problem_type unset
    dict(name="llama-seqcls", cls=LlamaForSequenceClassification, cfg=LlamaConfig, kw=LLAMA, tok="llama3",
         seed=2201, head="seqcls", labels=["negative", "positive"], problem_type="single_label_classification"),
    dict(name="llama-seqcls-bias", cls=LlamaForSequenceClassification, cfg=LlamaConfig,
         kw=dict(LLAMA, attention_bias=True, mlp_bias=True), tok="llama3", seed=2202, head="seqcls",
         labels=["toxic", "insult", "threat", "obscene"], problem_type="multi_label_classification"),
    dict(name="llama-rope-llama3", cls=LlamaForSequenceClassification, cfg=LlamaConfig,
         kw=dict(LLAMA, rope_theta=500000.0, rope_scaling=LLAMA3_ROPE), tok="llama3", seed=2203, head="seqcls",
         labels=["negative", "positive"]),
    dict(name="llama-rope-linear", cls=LlamaForSequenceClassification, cfg=LlamaConfig,
         kw=dict(LLAMA, rope_scaling={"type": "linear", "factor": 2.0}), tok="llama3", seed=2204, head="seqcls",
         labels=["negative", "positive"]),
    dict(name="llama-rope-dynamic", cls=LlamaForSequenceClassification, cfg=LlamaConfig,
         kw=dict(LLAMA, max_position_embeddings=128, rope_scaling={"type": "dynamic", "factor": 2.0}), tok="llama3",
         seed=2205, head="seqcls", labels=["negative", "positive"]),
    dict(name="llama-rope-yarn", cls=LlamaForSequenceClassification, cfg=LlamaConfig,
         kw=dict(LLAMA, rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 256}),
         tok="llama3", seed=2206, head="seqcls", labels=["negative", "positive"], config_format="transformers5"),
    dict(name="llama-reward", cls=LlamaForSequenceClassification, cfg=LlamaConfig,
         kw=dict(LLAMA, tie_word_embeddings=True, rope_theta=500000.0, rope_scaling=LLAMA3_ROPE), tok="llama3",
         seed=2207, head="seqcls", labels=["LABEL_0"]),             # Skywork-Reward-V2-Llama-3.2-1B style
    dict(name="llama-bidirectional-rerank", cls="bidirectional", cfg="bidirectional",
         kw=dict(LLAMA, tie_word_embeddings=True, rope_theta=500000.0, rope_scaling=LLAMA3_ROPE,
                 pooling="avg", temperature=1.0), tok="llama3", seed=2208, head="bidir", labels=["LABEL_0"],
         inputs="nemotron"),
    dict(name="qwen2-seqcls", cls=Qwen2ForSequenceClassification, cfg=Qwen2Config, kw=QWEN2, tok="qwen", seed=2301,
         head="seqcls", labels=["LABEL_0", "LABEL_1"], problem_type="single_label_classification"),
    dict(name="qwen3-seqcls", cls=Qwen3ForSequenceClassification, cfg=Qwen3Config, kw=QWEN3, tok="qwen", seed=2401,
         head="seqcls", labels=SENTIMENT, problem_type="single_label_classification"),
    dict(name="qwen3-tokcls", cls=Qwen3ForTokenClassification, cfg=Qwen3Config, kw=QWEN3, tok="qwen", seed=2402,
         head="tokcls", labels=NER),
    dict(name="qwen3-prm", cls=Qwen3ForTokenClassification, cfg=Qwen3Config, kw=QWEN3, tok="qwen", seed=2403,
         head="tokcls", labels=["bad", "neutral", "good"], inputs="prm", step=dict(tag="<extra_0>", returned=[0, 2])),
    dict(name="gemma-seqcls", cls=GemmaForSequenceClassification, cfg=GemmaConfig, kw=GEMMA, tok="gemma", seed=2501,
         head="seqcls", labels=SENTIMENT),
    dict(name="gemma2-seqcls", cls=Gemma2ForSequenceClassification, cfg=Gemma2Config, kw=GEMMA2, tok="gemma",
         seed=2601, head="seqcls", labels=SENTIMENT, causal_lm=Gemma2ForCausalLM),
    # *ForCausalLM checkpoints that vLLM converts into classifiers (hf_overrides as vLLM's tests pass them)
    dict(name="qwen3-reranker-causallm", cls=Qwen3ForCausalLM, cfg=Qwen3Config, kw=QWEN3, tok="qwen", seed=2701,
         head="causal", inputs="pairs+qwen3template",
         conversion=dict(method="from_2_way_softmax", tokens=["no", "yes"], hf_overrides={
             "architectures": ["Qwen3ForSequenceClassification"], "classifier_from_token": ["no", "yes"],
             "is_original_qwen3_reranker": True})),
    dict(name="qwen2-mxbai-reranker-causallm", cls=Qwen2ForCausalLM, cfg=Qwen2Config, kw=QWEN2, tok="qwen",
         seed=2702, head="causal", inputs="pairs",
         conversion=dict(method="from_2_way_softmax", tokens=["0", "1"], hf_overrides={
             "architectures": ["Qwen2ForSequenceClassification"], "classifier_from_token": ["0", "1"],
             "method": "from_2_way_softmax"})),
    dict(name="gemma-bge-reranker-causallm", cls=GemmaForCausalLM, cfg=GemmaConfig, kw=GEMMA, tok="gemma",
         seed=2703, head="causal", inputs="pairs",
         conversion=dict(method="no_post_processing", tokens=["Yes"], hf_overrides={
             "architectures": ["GemmaForSequenceClassification"], "classifier_from_token": ["Yes"],
             "method": "no_post_processing"})),
]


def bidirectional_module():
    return _load_module("llama_bidirectional_model", os.path.join(HERE, "llama_bidirectional_model.py"))


def make_config(spec, tok):
    f = TOK_FAMILIES[spec["tok"]]
    ids = {k: tok.token_to_id(v) for k, v in (("bos", f["bos"] or f["specials"].get("bos_token") or f["pad"]),
                                               ("eos", f["specials"]["eos_token"]), ("pad", f["pad"]))}
    # a deep copy: transformers 5 edits a rope_scaling dict passed to a config in place (adds rope_theta /
    # rope_type), which would leak into the specs and from there into config.json
    kw = dict(copy.deepcopy(spec["kw"]), initializer_range=INIT, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
              pad_token_id=ids["pad"])
    if spec.get("labels"):
        kw["id2label"] = {i: l for i, l in enumerate(spec["labels"])}
        kw["label2id"] = {l: i for i, l in enumerate(spec["labels"])}
    if spec.get("problem_type"):
        kw["problem_type"] = spec["problem_type"]
    cfg_cls = bidirectional_module().LlamaBidirectionalConfig if spec["cfg"] == "bidirectional" else spec["cfg"]
    config = cfg_cls(**kw)
    config._attn_implementation = "eager"
    return config


def model_class(spec):
    return bidirectional_module().LlamaBidirectionalForSequenceClassification if spec["cls"] == "bidirectional" else spec["cls"]


def random_init(model, seed):
    """Linear / Embedding weights N(0, 0.2), biases N(0, 0.1); LayerNorm gains U[0.5, 1.5], biases N(0, 0.2);
    RMSNorm gains U[0.5, 1.5] - stored as w - 1 in U[-0.5, 0.5] for Gemma / Gemma 2, whose norm multiplies by
    (1 + w).  GPT-2's Conv1D weights like Linear ones."""
    g = torch.Generator().manual_seed(seed)
    norms = {}
    for mn, mod in model.named_modules():
        if "Norm" in type(mod).__name__:
            for pn, _ in mod.named_parameters(recurse=False):
                norms[mn + "." + pn] = type(mod).__name__
    with torch.no_grad():
        for name, p in model.named_parameters():
            kind = norms.get(name)
            if kind and name.endswith(".weight"):
                p.copy_(torch.rand(p.shape, generator=g) + (-0.5 if kind.startswith("Gemma") else 0.5))
            elif kind:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * INIT)


# --------------------------------------------------------------------------
# 4. Running the HF model
# --------------------------------------------------------------------------

def reset_rope_state(model):
    """transformers' dynamic RoPE is stateful: after a long input the rotary module keeps the grown inv_freq
    for every later input longer than max_position_embeddings.  Reset it, so that each reference is the
    result of running that input first (its own length decides the scaling)."""
    re = getattr(model.base_model, "rotary_emb", None)
    if re is not None and "dynamic" in str(getattr(re, "rope_type", "")):
        re.register_buffer("inv_freq", re.original_inv_freq.clone(), persistent=False)
        re.max_seq_len_cached = re.original_max_seq_len


def layers_of(model):
    b = model.base_model
    return b.h if hasattr(b, "h") else b.layers


def run_one(model, ids):
    cap, hooks = {}, []

    def first(o):
        return (o[0] if isinstance(o, (tuple, list)) else o).detach().clone()
    hooks.append(layers_of(model)[0].register_forward_hook(lambda m, a, o: cap.__setitem__("hidden_states_1", first(o)[0])))
    hooks.append(model.base_model.register_forward_hook(lambda m, a, o: cap.__setitem__("last_hidden", o[0][0].detach().clone())))
    reset_rope_state(model)
    try:
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]))
    finally:
        for h in hooks:
            h.remove()
    cap["logits"] = out.logits[0]
    return cap


def hf_pooled_index(ids, pad_id):
    """What transformers' *ForSequenceClassification pools: (arange(n) * (ids != pad)).argmax()."""
    t = torch.tensor(ids)
    return int((torch.arange(len(ids)) * (t != pad_id).int()).argmax())


# --------------------------------------------------------------------------
# 5. Head tuning (only the last Linear / the classifier rows of the lm_head change)
# --------------------------------------------------------------------------

def tune(W, b, F, act, seed, head, sub=None):
    """Margin-tune logits = F W^T (+ b): rescale, centre, then Adam on a hinge loss until every decision margin
    (prob_gaps) is >= GAP_TARGET.  b None (*ForSequenceClassification's score has no bias): a centring term
    keeps the classes balanced instead.  sub = (F_step, columns): STEP pooling decisions of a process reward
    model (softmax over the returned columns only) must be separated too.  Returns the new (W, b)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        W = W.detach().clone()
        W *= (3.0 if head == "tokcls" else 2.0) / (F @ W.T).std(0).clamp_min(1e-6).mean()
        if b is not None:
            b = -(F @ W.T).mean(0) + torch.randn(W.shape[0], generator=g) * (0.3 if W.shape[0] > 1 else 0.0)
    W0 = W.clone()
    params = [W.requires_grad_(True)] + ([b.requires_grad_(True)] if b is not None else [])
    opt = torch.optim.Adam(params, lr=0.01)
    with torch.enable_grad():
        _optimise(W, b, F, act, sub, W0, opt)
    return W.detach(), (b.detach() if b is not None else None)


def _optimise(W, b, F, act, sub, W0, opt):
    for _ in range(4000):
        Z = F @ W.T + (b if b is not None else 0)
        gaps = enc.prob_gaps(Z, act)
        if sub is not None:
            gaps = torch.cat([gaps, enc.prob_gaps((sub[0] @ W.T + b)[:, sub[1]], act)])
        if gaps.min().item() >= GAP_TARGET and (b is not None or Z.mean(0).abs().max().item() < 0.5):
            break
        loss = torch.relu(GAP_TARGET * 1.5 - gaps).sum() + 1e-3 * ((W - W0) ** 2).sum()
        if b is None:
            loss = loss + 0.05 * (Z.mean(0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()


def tune_head(model, spec, F, act, seed, tok, sub=None):
    with torch.no_grad():
        if spec["head"] != "causal":
            lin = model.score
            W, b = tune(lin.weight, lin.bias, F, act, seed, spec["head"], sub)
            lin.weight.copy_(W)
            if b is not None:
                lin.bias.copy_(b)
            return
        ids, rows = classifier_rows(model, spec, tok)
        if len(rows) == 2:                      # from_2_way_softmax: tune w_true - w_false, split the change
            W, _ = tune((rows[0] - rows[1])[None], None, F, act, seed, "seqcls")
            delta = (W[0] - (rows[0] - rows[1])) / 2
            rows[0].add_(delta)
            rows[1].sub_(delta)
        else:                                   # no_post_processing: tune the token's row itself
            W, _ = tune(rows[0][None], None, F, act, seed, "seqcls")
            rows[0].copy_(W[0])


def features(spec, config, refs, encs):
    """Rows of the head's input, one per decision."""
    if spec["head"] == "tokcls":
        return torch.cat([r["last_hidden"] for r in refs], 0)
    if spec["head"] == "seqcls":
        return torch.stack([r["last_hidden"][hf_pooled_index(ids, config.pad_token_id)] for r, ids in zip(refs, encs)])
    if spec["head"] == "bidir":
        return torch.stack([r["last_hidden"].mean(0) for r in refs])
    return torch.stack([r["last_hidden"][-1] for r in refs])       # causal: the last token


def classifier_rows(model, spec, tok):
    """The lm_head rows a converted *ForCausalLM scores with (tied: the input embedding rows)."""
    ids = [tok.token_to_id(t) for t in spec["conversion"]["tokens"]]
    lm = model.get_output_embeddings().weight
    if spec["conversion"]["method"] == "from_2_way_softmax":
        return ids, (lm[ids[1]], lm[ids[0]])                         # (true, false)
    return ids, tuple(lm[i] for i in ids)


def decisions(spec, config, refs, encs, token_ids):
    """logits used for the decision of each input (rows of the prob_gaps matrix)."""
    if spec["head"] == "causal":
        z = torch.stack([r["logits"][-1, token_ids] for r in refs])
        return z[:, 1:2] - z[:, 0:1] if spec["conversion"]["method"] == "from_2_way_softmax" else z
    if spec["head"] == "tokcls":
        return torch.cat([r["logits"] for r in refs], 0)
    return torch.stack([r["logits"] for r in refs])


def activation_for(spec, config):
    if spec["head"] == "causal":
        return "sigmoid"            # num_labels 1 after conversion (from_2_way_softmax: 1; no_post_processing: len(tokens) = 1)
    return enc.activation_of(config, "seqcls" if spec["head"] != "tokcls" else "tokcls")


def step_outputs(spec, tok, refs, encs):
    """vLLM STEP pooling of a token classifier: the rows at tokens == step_tag_id, the returned_token_ids
    columns of the raw logits, then the activation (softmax over the selected columns)."""
    tag, cols = tok.token_to_id(spec["step"]["tag"]), spec["step"]["returned"]
    out = []
    for r, ids in zip(refs, encs):
        pos = [i for i, t in enumerate(ids) if t == tag]
        out.append({"positions": pos, "logits": r["logits"][pos][:, cols]})
    return out


def build_model(spec, tok, encs):
    """Create, initialise and tune one model; returns (model, config, act, refs).  Tuning is repeated until
    the decisions of the real forward pass (not the tuning estimate) pass: a converted reranker's tied
    classifier rows are also input embeddings of "yes" / "no" tokens, so tuning can move its own features."""
    torch.manual_seed(spec["seed"])
    config = make_config(spec, tok)
    model = model_class(spec)(config).eval()
    random_init(model, spec["seed"])
    if spec["head"] == "causal" and config.tie_word_embeddings:
        model.tie_weights()
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    act = activation_for(spec, config)
    token_ids = classifier_rows(model, spec, tok)[0] if spec["head"] == "causal" else None
    for attempt in range(20):
        refs = [run_one(model, ids) for ids in encs]
        if attempt > 0:
            Z = decisions(spec, config, refs, encs, token_ids)
            gaps = enc.prob_gaps(Z, act)
            if spec.get("step"):
                steps = step_outputs(spec, tok, refs, encs)
                gaps = torch.cat([gaps] + [enc.prob_gaps(s["logits"], act) for s in steps if len(s["positions"])])
            wins = set(enc.apply_activation(Z, act).argmax(-1).tolist())
            ok = (len({bool(z > 0) for z in Z[:, 0].tolist()}) == 2 if Z.shape[1] == 1
                  else len(wins) >= (Z.shape[1] if act == "softmax" else 2))
            if gaps.min().item() >= GAP_ACCEPT and ok:
                return model, config, act, refs
            print("   retune %s (attempt %d): min gap %.4f, classes %s" % (spec["name"], attempt, gaps.min(), sorted(wins)))
        sub = None
        if spec.get("step"):
            tag = tok.token_to_id(spec["step"]["tag"])
            sub = (torch.cat([r["last_hidden"][torch.tensor(ids) == tag] for r, ids in zip(refs, encs)]),
                   spec["step"]["returned"])
        tune_head(model, spec, features(spec, config, refs, encs), act, spec["seed"] * 100 + attempt, tok, sub)
    raise RuntimeError("could not tune " + spec["name"])


# --------------------------------------------------------------------------
# 6. Saving folders and references
# --------------------------------------------------------------------------

BIDIR_AUTO_MAP = {"AutoConfig": "llama_bidirectional_model.LlamaBidirectionalConfig",
                  "AutoModel": "llama_bidirectional_model.LlamaBidirectionalModel",
                  "AutoModelForSequenceClassification": "llama_bidirectional_model.LlamaBidirectionalForSequenceClassification"}


def hub_style_config(spec, cfg):
    """transformers 5 writes rope_parameters {rope_type, rope_theta, ...}; checkpoints in the wild carry
    rope_theta + rope_scaling (one folder, llama-rope-yarn, keeps the transformers 5 spelling)."""
    kw = spec["kw"]
    if spec.get("config_format") != "transformers5" and "rope_theta" in kw:
        cfg.pop("rope_parameters", None)
        cfg["rope_theta"] = kw["rope_theta"]
        if kw.get("rope_scaling"):
            cfg["rope_scaling"] = copy.deepcopy(kw["rope_scaling"])
    if spec["name"].startswith("gemma-"):
        # as BAAI/bge-reranker-v2-gemma: the legacy hidden_act "gelu" (transformers' GemmaConfig rewrites it to
        # gelu_pytorch_tanh, and so does the saved config - written back here) next to hidden_activation
        cfg["hidden_act"] = "gelu"
        cfg["hidden_activation"] = "gelu_pytorch_tanh"
    if spec["cls"] == "bidirectional":
        cfg["auto_map"] = dict(BIDIR_AUTO_MAP)
    cfg["torch_dtype"] = cfg.get("dtype", "float32")
    return dict(sorted(cfg.items()))


def save_folder(spec, model, folder, tok):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    extra = {}
    if spec["cls"] == "bidirectional":
        # transformers 5 refuses to save a config holding `temperature` (it takes it for a generation
        # parameter); nemotron's config.json carries it, so it is written back afterwards
        extra["temperature"] = model.config.__dict__.pop("temperature")
    model.save_pretrained(folder)
    model.config.__dict__.update(extra)
    cpath = os.path.join(folder, "config.json")
    enc.write_json(cpath, hub_style_config(spec, dict(json.load(open(cpath)), **extra)))
    save_tokenizer(folder, spec["tok"], tok)
    if spec["cls"] == "bidirectional":
        shutil.copy(os.path.join(HERE, "llama_bidirectional_model.py"), folder)


def inputs_of(spec, tok):
    kind = spec.get("inputs", "general")
    if kind == "general":
        return general_inputs(spec["tok"], tok, spec["seed"] + 1)
    if kind == "prm":
        return prm_inputs(spec["seed"] + 1) + general_inputs(spec["tok"], tok, spec["seed"] + 1, max_len=300)[:6]
    if kind == "nemotron":
        return pair_inputs(tok, spec["seed"] + 1, fmt=lambda q, d: "question:%s \n \n passage:%s" % (q, d))
    items = pair_inputs(tok, spec["seed"] + 1)
    if kind == "pairs+qwen3template":
        q, d = "What is the capital of China?", "The capital of China is Beijing."
        t = QWEN3_RERANKER_PROMPT.format(q=q, d=d)
        items.append(dict(text=t, text_pair=None, prompt=t))
    return items


def pooling_of(spec):
    return {"seqcls": "LAST_NON_PAD", "tokcls": "STEP" if spec.get("step") else "ALL", "bidir": "MEAN",
            "causal": "LAST"}[spec["head"]]


def tensor_doc(spec, config):
    d = {"input_ids.{i}": "int32 [n] token ids of the prompt (HF tokenizer == tokenizer.json)",
         "position_ids.{i}": "int32 [n] arange(n); only for n <= %d" % HIDDEN_MAX_TOKENS,
         "hidden_states_1.{i}": "float32 [n, hidden] output of decoder layer 0; only for n <= %d" % HIDDEN_MAX_TOKENS,
         "last_hidden.{i}": "float32 [n, hidden] output of the base model AFTER its final norm (what the head "
                            "reads); only for n <= %d" % HIDDEN_MAX_TOKENS}
    if spec["head"] == "seqcls":
        d["logits.{i}"] = "float32 [num_labels] score(last_hidden[pooled_index]) (inputs[i].pooled_index)"
        d["probs.{i}"] = "float32 [num_labels] activation(logits)"
    elif spec["head"] == "bidir":
        d["logits.{i}"] = "float32 [1] score(mean(last_hidden)) / temperature"
        d["probs.{i}"] = "float32 [1] sigmoid(logits)"
    elif spec["head"] == "tokcls":
        d["logits.{i}"] = "float32 [n, num_labels] score(last_hidden) per token"
        d["probs.{i}"] = "float32 [n, num_labels] softmax per token"
        if spec.get("step"):
            d["step_positions.{i}"] = "int32 [s] token positions whose id is step_tag_id"
            d["step_logits.{i}"] = "float32 [s, len(returned_token_ids)] logits[step_positions][:, returned_token_ids]"
            d["step_probs.{i}"] = "float32 [s, len(returned_token_ids)] softmax over the selected columns"
    else:
        d["lm_logits.{i}"] = ("float32 [T] CausalLM logits at the LAST position for classifier_from_token, in that "
                              "order (from_2_way_softmax: [false, true])")
        d["logits.{i}"] = "float32 [1] the converted classifier's logit (see conversion.score)"
        d["probs.{i}"] = "float32 [1] sigmoid(logits): the score vLLM returns"
        d["lm_logits_last.{i}"] = "float32 [vocab] all CausalLM logits at the last position; only for n <= %d" % HIDDEN_MAX_TOKENS
    if spec.get("causal_lm"):
        d["causal_lm_logits_last.{i}"] = ("float32 [vocab] Gemma2ForCausalLM (same backbone, lm_head tied to "
                                          "embed_tokens) logits at the last position: final_logit_softcapping applied; "
                                          "only for n <= %d" % HIDDEN_MAX_TOKENS)
    d["rope_inv_freq"] = "float32 [head_dim/2] HF's inv_freq buffer (dynamic: the value for max_position_embeddings)"
    return d


def compute_references(spec, model, config, act, tok, items, encs, refs, folder):
    T, entries, gaps = {}, [], []
    if hasattr(model.base_model, "rotary_emb"):
        T["rope_inv_freq"] = model.base_model.rotary_emb.original_inv_freq.float().clone()
    conv = spec.get("conversion")
    token_ids = [tok.token_to_id(t) for t in conv["tokens"]] if conv else None
    causal_lm = None
    if spec.get("causal_lm"):
        causal_lm = spec["causal_lm"](config).eval()
        missing = causal_lm.load_state_dict({k: v for k, v in model.state_dict().items() if k.startswith("model.")},
                                            strict=False)
        causal_lm.tie_weights()
        assert missing.missing_keys in ([], ["lm_head.weight"]), missing
    for i, (it, ids, r) in enumerate(zip(items, encs, refs)):
        n = len(ids)
        T["input_ids.%d" % i] = torch.tensor(ids, dtype=torch.int32)
        if n <= HIDDEN_MAX_TOKENS:
            T["position_ids.%d" % i] = torch.arange(n, dtype=torch.int32)
            T["hidden_states_1.%d" % i] = r["hidden_states_1"].float()
            T["last_hidden.%d" % i] = r["last_hidden"].float()
        e = {"index": i, "text": it["text"], "text_pair": it["text_pair"], "prompt": it["prompt"], "num_tokens": n,
             "last_index": n - 1}
        if spec["head"] == "seqcls":
            e["pooled_index"] = hf_pooled_index(ids, config.pad_token_id)
            e["ends_with_pad"] = ids[-1] == config.pad_token_id
            logits = r["logits"].float()
        elif spec["head"] == "bidir":
            logits = r["logits"].float()
        elif spec["head"] == "tokcls":
            logits = r["logits"].float()
        else:
            z = r["logits"][-1].float()
            T["lm_logits.%d" % i] = z[token_ids].clone()
            if n <= HIDDEN_MAX_TOKENS:
                T["lm_logits_last.%d" % i] = z.clone()
            logits = (z[token_ids[1:2]] - z[token_ids[0:1]]) if conv["method"] == "from_2_way_softmax" else z[token_ids].clone()
            e["pooled_index"] = n - 1
        probs = enc.apply_activation(logits, act)
        T["logits.%d" % i], T["probs.%d" % i] = logits.clone(), probs
        if spec["head"] == "tokcls":
            am = probs.argmax(-1).tolist()
            g = enc.prob_gaps(logits, act)
            e.update(argmax=am, min_prob_gap=round(g.min().item(), 6))
            if n <= HIDDEN_MAX_TOKENS:
                e["label"] = [config.id2label[k] for k in am]
            gaps.extend(g.tolist())
            if spec.get("step"):
                st = step_outputs(spec, tok, [r], [ids])[0]
                T["step_positions.%d" % i] = torch.tensor(st["positions"], dtype=torch.int32)
                T["step_logits.%d" % i] = st["logits"].float().clone()
                T["step_probs.%d" % i] = torch.softmax(st["logits"].float(), -1)
                e["num_steps"] = len(st["positions"])
                if len(st["positions"]):
                    sg = enc.prob_gaps(st["logits"].float(), act)
                    e["step_min_prob_gap"] = round(sg.min().item(), 6)
                    gaps.extend(sg.tolist())
        else:
            am = int(probs.argmax())
            g = enc.prob_gaps(logits.reshape(1, -1), act)[0].item()
            labels = config.id2label if spec["head"] != "causal" else {0: "score"}
            e.update(argmax=am, label=labels[am], prob_gap=round(g, 6))
            if logits.numel() == 1:
                e["score"] = float(probs[0])
            gaps.append(g)
        if causal_lm is not None and n <= HIDDEN_MAX_TOKENS:
            with torch.no_grad():
                T["causal_lm_logits_last.%d" % i] = causal_lm(input_ids=torch.tensor([ids])).logits[0, -1].float().clone()
        entries.append(e)
    save_file({k: v.contiguous() for k, v in T.items()}, os.path.join(folder, "reference.safetensors"),
              metadata={"format": "pt"})
    meta = {
        "folder": spec["name"], "architecture": json.load(open(os.path.join(folder, "config.json")))["architectures"][0],
        "model_type": config.model_type,
        "head": spec["head"], "pooling": pooling_of(spec), "activation": act,
        "problem_type": getattr(config, "problem_type", None) if spec["head"] != "causal" else None,
        "num_labels": config.num_labels if spec["head"] != "causal" else 1,
        "id2label": {str(k): v for k, v in config.id2label.items()} if spec["head"] != "causal" else None,
        "pad_token_id": config.pad_token_id, "bos_token_id": config.bos_token_id,
        "tie_word_embeddings": bool(config.tie_word_embeddings),
        "weights_dtype": "float32",
        "reference_compute": "fp32, eager attention, one input at a time, no padding, no attention_mask passed",
        "tokenizer": spec["tok"], "bos_added": bool(TOK_FAMILIES[spec["tok"]]["bos"]),
        "position_ids": "arange(n)" + (" (GPT-2: learned wpe rows)" if spec["tok"] == "gpt2" else " (RoPE)"),
        "tensors": tensor_doc(spec, config),
        "min_prob_gap": round(min(gaps), 6) if gaps else None,
        "max_prob_gap": round(max(gaps), 6) if gaps else None,
        "inputs": entries,
    }
    if spec["head"] == "seqcls":
        meta["pooling_rule"] = ("transformers: logits at the rightmost token whose id != pad_token_id "
                                "((arange(n) * (ids != pad)).argmax(): 0 when every token is pad). vLLM's LAST pooling "
                                "takes token n-1 regardless: the two differ only for inputs that end in the pad token")
    if spec["head"] == "bidir":
        meta["pooling_rule"] = "config.pooling 'avg': mean of last_hidden over all (non-pad) tokens; logits / config.temperature"
        meta["attention"] = "bidirectional (no causal mask) in every layer"
        meta["prompt_rule"] = "question:{query} \\n \\n passage:{document} as ONE text (model card), BOS added"
        meta["reference_impl"] = "llama_bidirectional_model.py in the folder (see README.md)"
    if spec.get("step"):
        meta["pooler_config"] = {"pooling_type": "STEP", "step_tag_id": tok.token_to_id(spec["step"]["tag"]),
                                 "step_tag": spec["step"]["tag"], "returned_token_ids": spec["step"]["returned"]}
    if conv:
        lm_name = "model.embed_tokens.weight (tied)" if config.tie_word_embeddings else "lm_head.weight"
        meta["conversion"] = {
            "hf_overrides": conv["hf_overrides"], "method": conv["method"],
            "classifier_from_token": conv["tokens"], "classifier_token_ids": token_ids,
            "score_weight": ("%s[true] - %s[false] (one row, num_labels 1)" % (lm_name, lm_name)
                             if conv["method"] == "from_2_way_softmax" else "%s[tokens] (num_labels = len(tokens))" % lm_name),
            "pooling": "LAST (token n-1, pad or not)", "use_pad_token": False,
            "score": ("sigmoid(lm_logit[true] - lm_logit[false])" if conv["method"] == "from_2_way_softmax"
                      else "sigmoid(lm_logit[token])"),
        }
        meta["prompt_rule"] = ("vLLM without a score template: prompt = query + document (no separator), tokenized as "
                               "one text with add_special_tokens%s" % (" (BOS prepended)" if TOK_FAMILIES[spec["tok"]]["bos"] else ""))
    if spec["name"] == "llama-rope-dynamic":
        meta["rope_note"] = ("dynamic NTK: inputs longer than max_position_embeddings %d use base * ((factor * n / %d) - "
                             "(factor - 1)) ** (d / (d - 2)) for their own length n; HF's rotary module is stateful, "
                             "the references reset it before every input" % (config.max_position_embeddings,
                                                                             config.max_position_embeddings))
    if causal_lm is not None:
        meta["final_logit_softcapping"] = config.final_logit_softcapping
    enc.write_json(os.path.join(folder, "reference.json"), meta)
    return meta


# --------------------------------------------------------------------------
# 7. Verification
# --------------------------------------------------------------------------

def aligned_(model):
    """Copy weights out of the mmapped (not 64-byte aligned) safetensors buffer, where the fp32 kernels round
    differently (~5e-7), so that eager reloads are bit-exact."""
    with torch.no_grad():
        for p in list(model.parameters()) + list(model.buffers()):
            p.data = p.data.clone()
    return model


def load_for_check(spec, folder, impl):
    auto = {"seqcls": AutoModelForSequenceClassification, "bidir": AutoModelForSequenceClassification,
            "tokcls": AutoModelForTokenClassification, "causal": AutoModelForCausalLM}[spec["head"]]
    m = auto.from_pretrained(folder, dtype=torch.float32, attn_implementation=impl,
                             trust_remote_code=spec["cls"] == "bidirectional").eval()
    return aligned_(m)


def verify_folder(spec, folder):
    # the bidirectional folder's config.json needs its remote code even to pick the tokenizer
    hf_tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=spec["cls"] == "bidirectional")
    raw = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    meta = json.load(open(os.path.join(folder, "reference.json")))
    items = [{"text": e["text"], "text_pair": e["text_pair"], "prompt": e["prompt"]} for e in meta["inputs"]]
    encs = encode_items(hf_tok, raw, items)
    ref = load_file(os.path.join(folder, "reference.safetensors"))
    for i, ids in enumerate(encs):
        assert ref["input_ids.%d" % i].tolist() == ids
    conv = meta.get("conversion")
    res = {}
    for impl in ("eager", "sdpa"):
        try:
            m = load_for_check(spec, folder, impl)
        except ValueError as ex:                   # Gemma 2: sdpa has no soft-capping, transformers refuses it
            res[impl] = "refused: " + str(ex).split(".")[0]
            continue
        worst = 0.0
        for i, ids in enumerate(encs):
            reset_rope_state(m)
            with torch.no_grad():
                lg = m(input_ids=torch.tensor([ids])).logits[0]
            if conv:
                z = lg[-1, conv["classifier_token_ids"]]
                got = z[1:2] - z[0:1] if conv["method"] == "from_2_way_softmax" else z
            else:
                got = lg
            want = ref["logits.%d" % i]
            assert torch.equal(got.argmax(-1), want.argmax(-1)) or want.numel() == 1, (spec["name"], impl, i)
            worst = max(worst, (got - want).abs().max().item())
        res[impl] = worst
    assert res["eager"] < 1e-5, (spec["name"], res)
    assert isinstance(res["sdpa"], str) or res["sdpa"] < 1e-4, (spec["name"], res)
    res.update(independent_check(folder, meta, encs, ref))
    return res


def independent_check(folder, meta, encs, ref):
    """reference_impl.py (float64) against every stored tensor ('fp32' = HF's RoPE angle rounding emulated,
    'exact' = float64 angles).  Error = max |a - b| / max(1, max |b|) per tensor."""
    conv = meta.get("conversion")
    conversion = {"method": conv["method"], "token_ids": conv["classifier_token_ids"]} if conv else None
    cfg, W = ref_impl.load_folder(folder)
    out = {}
    if "rope_inv_freq" in ref:
        d = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        mine = ref_impl.inv_freq_and_scale(cfg, d, 1, "fp32")[0].float()
        out["inv_freq_ulp_mismatches"] = int((mine != ref["rope_inv_freq"]).sum())
    for rope in ("fp32", "exact"):
        worst, where = 0.0, None
        for i, ids in enumerate(encs):
            r = ref_impl.forward(folder, ids, rope, conversion)
            if "pooled_index" in r:
                assert r["pooled_index"] == meta["inputs"][i]["pooled_index"], (folder, i)
            pairs = {"hidden_states_1": r["hidden_states_1"], "last_hidden": r["last_hidden"], "logits": r["logits"]}
            act = meta["activation"]
            pairs["probs"] = torch.softmax(r["logits"], -1) if act == "softmax" else torch.sigmoid(r["logits"])
            if conv:
                pairs["lm_logits"] = r["lm_logits"]
            if "step_positions.%d" % i in ref:
                pos = ref["step_positions.%d" % i].long()
                cols = meta["pooler_config"]["returned_token_ids"]
                pairs["step_logits"] = r["logits"][pos][:, cols]
                pairs["step_probs"] = torch.softmax(pairs["step_logits"], -1)
            if "causal_lm_logits_last.%d" % i in ref:
                pairs["causal_lm_logits_last"] = ref_impl.causal_lm_logits(cfg, W, r["last_hidden"][-1])
            if "lm_logits_last.%d" % i in ref:
                pairs["lm_logits_last"] = ref_impl.causal_lm_logits(cfg, W, r["last_hidden"][-1])
            for name, a in pairs.items():
                key = "%s.%d" % (name, i)
                if key not in ref:
                    continue
                b = ref[key].to(torch.float64)
                assert a.shape == b.shape, (folder, key, a.shape, b.shape)
                if b.numel() == 0:                   # an input without step tags
                    continue
                err = (a - b).abs().max().item() / max(1.0, b.abs().max().item())
                if err > worst:
                    worst, where = err, key
        out["independent_" + rope] = worst
        out["independent_%s_at" % rope] = where
    assert out["independent_fp32"] < 1e-4, (folder, out)
    return out


# --------------------------------------------------------------------------
# 8. WEIGHT_NAMES.md, VERSIONS.txt, manifest.json, main
# --------------------------------------------------------------------------

ARCH_NOTES = {
    "gpt2": [
        "prefix `transformer.`; `score.weight` [num_labels, n_embd], no bias. Conv1D weights are stored [in, out] "
        "(y = x W + b), NOT nn.Linear's [out, in]: `attn.c_attn` [D, 3D] (q | k | v), `attn.c_proj` [D, D], "
        "`mlp.c_fc` [D, n_inner], `mlp.c_proj` [n_inner, D] (n_inner: 96 here, 4D when null).",
        "x = wte[ids] + wpe[arange(n)]; pre-LN: x += c_proj(attn(c_attn(ln_1(x)))); x += mlp.c_proj(gelu_new(c_fc(ln_2(x)))); "
        "last_hidden = ln_f(x). Causal attention, scores / sqrt(head_dim).",
    ],
    "llama": [
        "prefix `model.`; seqcls `score.weight` (no bias). q_proj [H*d, D], k_proj / v_proj [K*d, D] (GQA), "
        "o_proj [D, H*d]; gate_proj / up_proj [I, D], down_proj [D, I]; biases only with attention_bias "
        "(q, k, v, o) / mlp_bias (gate, up, down).",
        "x = embed_tokens[ids]; x += o_proj(attn(rope(q), rope(k), v)) of input_layernorm(x); "
        "x += down(silu(gate(h)) * up(h)) with h = post_attention_layernorm(x); last_hidden = norm(x). "
        "RMSNorm: x / sqrt(mean(x^2) + eps) * w. Causal. RoPE rotate_half layout; rope_scaling see README.",
        "tie_word_embeddings only matters for *ForCausalLM (no lm_head.weight saved: the lm_head is embed_tokens).",
    ],
    "llama_bidirec": [
        "Llama weights and layer; NO causal mask; logits = score(mean over tokens of last_hidden) / temperature "
        "(config.pooling avg; cls / last also defined). Remote code: llama_bidirectional_model.py in the folder.",
    ],
    "qwen2": ["Llama layer with q_proj / k_proj / v_proj biases (always) and no o_proj bias."],
    "qwen3": ["Llama layer (no biases) plus q_norm / k_norm: RMSNorm over head_dim (weight [d]) of every head of q and k, "
              "before RoPE. head_dim is a config key (here 32 with 4 heads: H*d = 128 != hidden 64)."],
    "gemma": [
        "Llama-like, but: x = embed_tokens[ids] * sqrt(hidden) (the factor rounded to the weight dtype); every RMSNorm "
        "multiplies by (1 + w) (weights stored zero-centred); MLP act = gelu tanh approximation (config hidden_act "
        "\"gelu\" is mapped to gelu_pytorch_tanh by transformers); head_dim 256 from config (H*d = 512 != hidden 64).",
    ],
    "gemma2": [
        "Gemma, plus: 4 norms per layer: x += post_attention_layernorm(attn(input_layernorm(x))); "
        "x += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x))).",
        "scores * query_pre_attn_scalar^-0.5 (not head_dim), then attn_logit_softcapping: c * tanh(s / c), then the "
        "mask; layer_types alternate sliding_attention (key j in (i - sliding_window, i]) / full_attention.",
        "final_logit_softcapping applies to *ForCausalLM logits only (not to *ForSequenceClassification).",
    ],
}


def saved_keys(folder):
    from safetensors import safe_open
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        return {k: (f.get_slice(k).get_dtype(), list(f.get_slice(k).get_shape())) for k in f.keys()}


def write_weight_names(out_dir, specs):
    lines = ["# Weight names of the decoder fixtures", "",
             "Generated by make_fixtures.py from the saved safetensors files (transformers %s). Only layer 0 is "
             "listed. `shape` is the safetensors shape (nn.Linear: `[out_features, in_features]`, y = x W^T + b; "
             "GPT-2's Conv1D: `[in, out]`, y = x W + b)." % transformers.__version__, ""]
    seen = set()
    for spec in specs:
        folder = os.path.join(out_dir, spec["name"])
        cfg = json.load(open(os.path.join(folder, "config.json")))
        mt = cfg["model_type"]
        if mt not in seen:
            seen.add(mt)
            lines += ["## %s" % mt, ""] + ["- " + n for n in ARCH_NOTES[mt]] + [""]
        keys = saved_keys(folder)
        lines += ["### `%s` (folder `%s`)" % (cfg["architectures"][0], spec["name"]), "",
                  "| name | dtype | shape |", "|---|---|---|"]
        for k in sorted(keys):
            if any((".%d." % li) in k for li in range(1, 10)):
                continue
            lines.append("| `%s` | %s | %s |" % (k, *keys[k]))
        lines.append("")
    with open(os.path.join(out_dir, "WEIGHT_NAMES.md"), "w") as f:
        f.write("\n".join(lines))


def dir_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", nargs="*", help="only these folders (debugging; the .md files are not rewritten)")
    ap.add_argument("--skip-verify", action="store_true")
    args = ap.parse_args()
    out_dir = args.out
    torch.manual_seed(0)
    specs = [s for s in SPECS if not args.only or s["name"] in args.only]
    corpus = enc.training_corpus()
    toks, hf_toks = {}, {}
    for family in sorted({s["tok"] for s in specs}):
        toks[family] = train_tokenizer(family, corpus)
        d = tempfile.mkdtemp()
        save_tokenizer(d, family, toks[family])
        hf_toks[family] = AutoTokenizer.from_pretrained(d)
        shutil.rmtree(d)
    metas = {}
    for spec in specs:
        tok = toks[spec["tok"]]
        items = inputs_of(spec, tok)
        encs = encode_items(hf_toks[spec["tok"]], tok, items)
        model, config, act, refs = build_model(spec, tok, encs)
        folder = os.path.join(out_dir, spec["name"])
        save_folder(spec, model, folder, tok)
        metas[spec["name"]] = compute_references(spec, model, config, act, tok, items, encs, refs, folder)
        print("built %-30s %7.1f KB  min gap %s" % (spec["name"], dir_size(folder) / 1024, metas[spec["name"]]["min_prob_gap"]))

    print("\n%-30s %7s %-13s %-7s %-8s %8s %8s %9s %9s %9s" % ("folder", "KB", "type", "head", "act", "min gap",
                                                              "eager", "sdpa", "f64/fp32", "f64/exact"))
    results = {}
    for spec in specs:
        folder = os.path.join(out_dir, spec["name"])
        v = {} if args.skip_verify else verify_folder(spec, folder)
        results[spec["name"]] = v
        m = metas[spec["name"]]
        sd = v.get("sdpa", float("nan"))
        print("%-30s %7.1f %-13s %-7s %-8s %8s %8.1e %9s %9.1e %9.1e  (%s)" % (
            spec["name"], dir_size(folder) / 1024, m["model_type"], spec["head"], m["activation"], m["min_prob_gap"],
            v.get("eager", float("nan")), "refused" if isinstance(sd, str) else "%.1e" % sd,
            v.get("independent_fp32", float("nan")), v.get("independent_exact", float("nan")),
            v.get("independent_exact_at")))
        if v:
            print("    inv_freq ulp mismatches vs HF buffer: %s; worst fp32 at %s" % (
                v.get("inv_freq_ulp_mismatches"), v.get("independent_fp32_at")))
    for root, _, files in os.walk(out_dir):
        for f in files:
            os.chmod(os.path.join(root, f), 0o755 if f == "make_fixtures.py" else 0o644)
    if not args.only:
        enc.write_json(os.path.join(out_dir, "manifest.json"), [{
            "folder": s["name"], "model_type": metas[s["name"]]["model_type"],
            "architecture": metas[s["name"]]["architecture"], "head": s["head"], "pooling": metas[s["name"]]["pooling"],
            "activation": metas[s["name"]]["activation"], "num_labels": metas[s["name"]]["num_labels"],
            "tokenizer": s["tok"], "converted": bool(s.get("conversion")),
            "remote_code": s["cls"] == "bidirectional"} for s in specs])
        write_weight_names(out_dir, specs)
        v = enc.versions()
        with open(os.path.join(out_dir, "VERSIONS.txt"), "w") as f:
            for k in ("python", "torch", "transformers", "tokenizers", "safetensors", "sentence_transformers", "numpy"):
                f.write("%s %s\n" % (k, v[k]))
            f.write("platform %s\n" % platform.platform())
    print("\ntotal size of %s: %.2f MB" % (out_dir, dir_size(out_dir) / 1e6))


if __name__ == "__main__":
    main()
