#!/usr/bin/env python3
"""Generate the golden reference fixtures for the RoPE encoders: ModernBERT and GTE / mGTE ("new").

Everything under tests/data/rope_encoders/ except README.md and the two .py files is written by this
script, deterministically (fixed seeds, single-threaded torch, our own tokenizer training data):

  * three tokenizers (ModernBERT-style byte-level BPE with [CLS]/[SEP], XLM-R-style byte-level BPE, and
    BERT WordPiece) trained on the seeded text of tests/data/models/make_fixtures.py;
  * inputs_<tokenizer>.json: 1 to 8,192 tokens, around the local-attention window, pairs, edge cases;
  * tiny random-weight models saved as ordinary Hugging Face folders;
  * reference.safetensors + reference.json per folder (fp32, eager attention, one input at a time);
  * WEIGHT_NAMES.md, VERSIONS.txt, manifest.json.

Each folder is then re-checked: reloaded with AutoTokenizer / AutoModel* (eager and sdpa), tokenizer.json
against the HF tokenizer, and reference_impl.py (float64, config.json + safetensors only).

GTE needs Alibaba's modeling code (the `Alibaba-NLP/new-impl` repository: modeling.py + configuration.py),
which is not committed here and is not downloaded by this script: pass the folder holding those two files
with --gte-impl DIR (see README.md for where the copy used came from).  Without it the GTE folders are
left as they are.

Usage:  python3 tests/data/rope_encoders/make_fixtures.py --gte-impl /path/to/new-impl [--only NAME ...]
"""

import argparse
import copy
import hashlib
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


# the encoder fixture script: seeded text generator, WordPiece / RoBERTa BPE trainers, activation rules
enc = _load_module("encoder_fixtures", os.path.join(HERE, "..", "models", "make_fixtures.py"))
ref_impl = _load_module("rope_reference_impl", os.path.join(HERE, "reference_impl.py"))

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer,
    ModernBertConfig, ModernBertForSequenceClassification, ModernBertForTokenClassification, ModernBertModel,
)

VOCAB = 1000
MAX_LEN = 8192
HIDDEN_MAX_TOKENS = 160      # last_hidden.{i} / position_ids.{i} / tokcls probs only up to this length (size)
LAYER1_MAX_TOKENS = 64       # hidden_states_1.{i} only up to this length
NER = enc.NER
GAP_ACCEPT, GAP_TARGET = enc.GAP_ACCEPT, enc.GAP_TARGET

# --------------------------------------------------------------------------
# 1. Tokenizers
# --------------------------------------------------------------------------

MB_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def train_modernbert_bpe(corpus):
    """Byte-level BPE as answerdotai/ModernBERT ships it: no prefix space, `[CLS] A [SEP]` and
    `[CLS] A [SEP] B [SEP]` (type ids 0/1 in tokenizer.json, but the HF tokenizer returns no token_type_ids:
    the model has no token type embeddings)."""
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, special_tokens=MB_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    assert [tok.token_to_id(t) for t in MB_SPECIALS] == [0, 1, 2, 3, 4] and tok.get_vocab_size() == VOCAB
    return tok


TOKENIZERS = {
    # kind: (trainer, tokenizer_config.json, special_tokens_map.json)
    "modernbert_bpe": (train_modernbert_bpe,
                       {"tokenizer_class": "PreTrainedTokenizerFast", "model_input_names": ["input_ids", "attention_mask"],
                        "clean_up_tokenization_spaces": True, "model_max_length": MAX_LEN},
                       {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                        "mask_token": "[MASK]"}),
    # XLM-R specials / RobertaProcessing, as Alibaba-NLP/gte-multilingual-* (whose real tokenizer is XLM-R's
    # Unigram; the tokenizer is tested separately, so a BPE stands in, as in tests/data/models)
    "xlmr_bpe": (enc.train_bytelevel_bpe,
                 {"tokenizer_class": "PreTrainedTokenizerFast", "model_input_names": ["input_ids", "attention_mask"],
                  "clean_up_tokenization_spaces": True, "model_max_length": MAX_LEN},
                 {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                  "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}),
    # BERT WordPiece with token types, as Alibaba-NLP/gte-base-en-v1.5 / gte-large-en-v1.5
    "wordpiece": (enc.train_wordpiece,
                  {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": None,
                   "tokenize_chinese_chars": True, "clean_up_tokenization_spaces": False, "model_max_length": MAX_LEN},
                  {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                   "mask_token": "[MASK]"}),
}


def save_tokenizer(folder, kind, tok):
    _, cfg, specials = TOKENIZERS[kind]
    tok.save(os.path.join(folder, "tokenizer.json"))
    enc.write_json(os.path.join(folder, "tokenizer_config.json"), dict(cfg, **specials))
    enc.write_json(os.path.join(folder, "special_tokens_map.json"), specials)


# --------------------------------------------------------------------------
# 2. Inputs
# --------------------------------------------------------------------------

def n_tokens(tok, text, pair=None):
    return len(tok.encode(text, pair).ids)


def text_of_length(tok, target, gen, pair_first=None):
    """A generated text (or the second segment of a pair) whose encoding has exactly `target` tokens,
    specials included.  Both pre-tokenizers split at spaces, so the count is additive over words: generated
    sentences are added word by word while they fit, one-token filler words close the gap, and the result
    is checked with the real tokenizer."""
    def total(words):
        text = " ".join(words)
        return n_tokens(tok, text) if pair_first is None else n_tokens(tok, pair_first, text)

    words, cur, full = [], total([]), False
    while not full:
        for w in gen.sentence().split(" "):
            c = len(tok.encode((" " if words else "") + w, add_special_tokens=False).ids)
            if cur + c > target:
                full = True
                break
            words.append(w)
            cur += c
    cur = total(words)
    while cur < target:
        for f in ("the", "a", "and", "of", "to", "in", "it", "is", ",", "."):
            if total(words + [f]) <= target:
                words.append(f)
                break
        else:
            raise RuntimeError("cannot reach %d tokens" % target)
        cur = total(words)
    assert cur == target, (target, cur)
    return " ".join(words)


def make_inputs(tok, seed):
    """The input list of one tokenizer: [{text, text_pair, ids}] where ids is set (and text None) for
    inputs given as ids only (a lone [CLS]: no text produces a single token)."""
    gen = enc.TextGen(seed)
    cls_id = tok.encode("").ids[0]
    items = [dict(text=None, text_pair=None, ids=[cls_id]),                                      # 1 token
             dict(text="", text_pair=None),                                                     # specials only
             dict(text="The movie was great!", text_pair=None),
             dict(text="Where is the station?", text_pair="The station is near the old bridge."),
             dict(text="Caf\u00e9 au lait in Z\u00fcrich \u2014 na\u00efve? \U0001F642", text_pair=None),
             dict(text="\u6211\u7231\u5317\u4eac and Tokyo", text_pair=None),
             dict(text="  leading and   trailing   spaces\t\n", text_pair=None),
             dict(text="Is this empty?", text_pair=""),
             dict(text="What is the capital of France?", text_pair="Paris is the capital and largest city of France.")]
    # exact lengths: 3, around the ModernBERT local window (local_attention 16: |i-j| <= 8, so from 10 tokens
    # on the first and last token stop seeing each other; 15/16/17 = local_attention -1/0/+1), and long ones
    for n in (3, 7, 8, 9, 10, 15, 16, 17, 18, 100, 513, 2048, MAX_LEN):
        items.append(dict(text=text_of_length(tok, n, gen), text_pair=None))
    first = gen.paragraph(3)
    items.append(dict(text=first, text_pair=text_of_length(tok, 300, gen, pair_first=first)))    # 300-token pair
    return items


def encode_inputs(hf_tok, raw_tok, items):
    """ids / type ids of every input: the HF tokenizer (batched call, see tests/data/models/README.md) must
    give exactly tokenizer.json's ids."""
    out = []
    for it in items:
        if it["text"] is None:
            out.append(dict(ids=list(it["ids"]), type_ids=[0] * len(it["ids"])))
            continue
        e = hf_tok([it["text"]]) if it["text_pair"] is None else hf_tok([it["text"]], [it["text_pair"]])
        raw = raw_tok.encode(it["text"], it["text_pair"])
        assert e["input_ids"][0] == raw.ids, it
        out.append(dict(ids=raw.ids, type_ids=raw.type_ids))
    return out


# --------------------------------------------------------------------------
# 3. Model specs
# --------------------------------------------------------------------------

INIT = 0.2
MB_COMMON = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
                 hidden_activation="gelu", max_position_embeddings=MAX_LEN, local_attention=16, norm_eps=1e-5,
                 pad_token_id=3, cls_token_id=1, sep_token_id=2, bos_token_id=1, eos_token_id=2,
                 initializer_range=INIT, embedding_dropout=0.0, attention_dropout=0.0, mlp_dropout=0.0,
                 classifier_dropout=0.0)
MB_VARIANTS = {
    # as answerdotai/ModernBERT-base: no biases anywhere, a global layer every 3rd layer (0), GELU head
    "nobias": dict(norm_bias=False, attention_bias=False, mlp_bias=False, classifier_bias=False,
                   global_attn_every_n_layers=3, global_rope_theta=160000.0, local_rope_theta=10000.0,
                   classifier_activation="gelu"),
    # every bias on, global layers 0 and 2, other thetas, a SiLU head
    "bias": dict(norm_bias=True, attention_bias=True, mlp_bias=True, classifier_bias=True,
                 global_attn_every_n_layers=2, global_rope_theta=80000.0, local_rope_theta=5000.0,
                 classifier_activation="silu"),
}
GTE_COMMON = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
                  hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.0,
                  max_position_embeddings=MAX_LEN, initializer_range=INIT, layer_norm_type="layer_norm",
                  layer_norm_eps=1e-12, position_embedding_type="rope", classifier_dropout=0.0, pack_qkv=True,
                  unpad_inputs=False, use_memory_efficient_attention=False, logn_attention_scale=False,
                  logn_attention_clip1=False)
GTE_VARIANTS = {
    # as Alibaba-NLP/gte-multilingual-*: XLM-R vocabulary (pad 1), one token type, NTK-scaled RoPE
    "multilingual": dict(type_vocab_size=1, pad_token_id=1, rope_theta=160000.0,
                         rope_scaling={"type": "ntk", "factor": 2.0}),
    # as Alibaba-NLP/gte-base-en-v1.5: BERT vocabulary (pad 0), two token types, plain RoPE
    "en": dict(type_vocab_size=2, pad_token_id=0, rope_theta=500000.0, rope_scaling=None),
}
GTE_AUTO_MAP = {  # exactly what the hub repos carry (trust_remote_code fetches Alibaba-NLP/new-impl)
    "AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
    "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel",
    "AutoModelForMaskedLM": "Alibaba-NLP/new-impl--modeling.NewForMaskedLM",
    "AutoModelForMultipleChoice": "Alibaba-NLP/new-impl--modeling.NewForMultipleChoice",
    "AutoModelForQuestionAnswering": "Alibaba-NLP/new-impl--modeling.NewForQuestionAnswering",
    "AutoModelForSequenceClassification": "Alibaba-NLP/new-impl--modeling.NewForSequenceClassification",
    "AutoModelForTokenClassification": "Alibaba-NLP/new-impl--modeling.NewForTokenClassification",
}

SPECS = [
    dict(name="modernbert-base", family="modernbert", head="base", variant="nobias", tok="modernbert_bpe", seed=1101),
    dict(name="modernbert-seqcls-cls", family="modernbert", head="seqcls", variant="nobias", tok="modernbert_bpe",
         seed=1102, pooling="cls", labels=["negative", "neutral", "positive"],
         problem_type="single_label_classification"),
    dict(name="modernbert-seqcls-mean", family="modernbert", head="seqcls", variant="bias", tok="modernbert_bpe",
         seed=1103, pooling="mean", labels=["LABEL_0"]),                         # a reranker: 1 label -> sigmoid
    dict(name="modernbert-tokcls", family="modernbert", head="tokcls", variant="bias", tok="modernbert_bpe",
         seed=1104, labels=NER, config_format="transformers5"),
    dict(name="gte-multilingual-base", family="gte", head="base", variant="multilingual", tok="xlmr_bpe", seed=1201,
         st=True),
    dict(name="gte-multilingual-reranker", family="gte", head="seqcls", variant="multilingual", tok="xlmr_bpe",
         seed=1202, labels=["LABEL_0"]),
    dict(name="gte-multilingual-tokcls", family="gte", head="tokcls", variant="multilingual", tok="xlmr_bpe",
         seed=1203, labels=NER),
    dict(name="gte-en-seqcls", family="gte", head="seqcls", variant="en", tok="wordpiece", seed=1204,
         labels=["sports", "politics", "technology"], problem_type="single_label_classification"),
]
HEADS = ["base", "seqcls", "tokcls"]
MB_CLASSES = (ModernBertModel, ModernBertForSequenceClassification, ModernBertForTokenClassification)
GTE_CLASSES = ("NewModel", "NewForSequenceClassification", "NewForTokenClassification")


class GteImpl:
    """Alibaba's modeling.py / configuration.py imported as a package from a temporary copy (the relative
    `from .configuration import NewConfig` needs one), plus two shims for transformers 5, which removed
    `get_extended_attention_mask` and `warn_if_padding_and_no_attention_mask` from PreTrainedModel (bodies:
    transformers 4.x, encoder branch)."""

    def __init__(self, src):
        self.src = os.path.abspath(src)
        self.files = {f: open(os.path.join(self.src, f), "rb").read() for f in ("modeling.py", "configuration.py")}
        self.tmp = tempfile.mkdtemp()
        pkg = os.path.join(self.tmp, "gte_new_impl")
        os.makedirs(pkg)
        for f, b in self.files.items():
            open(os.path.join(pkg, f), "wb").write(b)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        sys.path.insert(0, self.tmp)
        install_transformers5_shims()
        import gte_new_impl.configuration as c
        import gte_new_impl.modeling as m
        self.config_cls, self.modeling = c.NewConfig, m

    def sha256(self):
        return {f: hashlib.sha256(b).hexdigest() for f, b in self.files.items()}

    def cls(self, head):
        return getattr(self.modeling, GTE_CLASSES[HEADS.index(head)])


def install_transformers5_shims():
    from transformers import PreTrainedModel

    def get_extended_attention_mask(self, attention_mask, input_shape, device=None, dtype=None):
        dtype = self.dtype if dtype is None else dtype
        ext = attention_mask[:, None, :, :] if attention_mask.dim() == 3 else attention_mask[:, None, None, :]
        return (1.0 - ext.to(dtype)) * torch.finfo(dtype).min
    if not hasattr(PreTrainedModel, "get_extended_attention_mask"):
        PreTrainedModel.get_extended_attention_mask = get_extended_attention_mask
    if not hasattr(PreTrainedModel, "warn_if_padding_and_no_attention_mask"):
        PreTrainedModel.warn_if_padding_and_no_attention_mask = lambda self, *a, **k: None


def repair_gte_buffers(model):
    """transformers 5 builds remote-code models on the meta device and only re-initialises what
    _init_weights knows; new-impl's non-persistent buffers (embeddings.position_ids, rotary inv_freq /
    cos_cached / sin_cached) come back as uninitialised memory.  Rebuild them as the constructor does."""
    emb = model.base_model.embeddings
    emb.register_buffer("position_ids", torch.arange(model.config.max_position_embeddings), persistent=False)
    emb._init_rope(model.config)


def make_config(spec, gte):
    kw = {}
    if spec["head"] != "base":
        kw["id2label"] = {i: l for i, l in enumerate(spec["labels"])}
        kw["label2id"] = {l: i for i, l in enumerate(spec["labels"])}
        if spec.get("problem_type"):
            kw["problem_type"] = spec["problem_type"]
    # deep copies: transformers 5 edits a rope_scaling dict passed to a config in place (adds rope_theta /
    # rope_type), which would leak into the specs and from there into config.json
    if spec["family"] == "modernbert":
        kw.update(copy.deepcopy(MB_COMMON), **copy.deepcopy(MB_VARIANTS[spec["variant"]]))
        if spec.get("pooling"):
            kw["classifier_pooling"] = spec["pooling"]
        config = ModernBertConfig(**kw)
    else:
        kw.update(copy.deepcopy(GTE_COMMON), **copy.deepcopy(GTE_VARIANTS[spec["variant"]]))
        config = gte.config_cls(**kw)
    config._attn_implementation = "eager"
    return config


def model_class(spec, gte):
    return MB_CLASSES[HEADS.index(spec["head"])] if spec["family"] == "modernbert" else gte.cls(spec["head"])


def random_init(model, seed):
    """As tests/data/models: Linear / Embedding weights N(0, 0.2); LayerNorm gains U[0.5, 1.5] and biases
    N(0, 0.2); Linear biases N(0, 0.1) - so that a missing bias or gain changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    ln = {mn + "." + pn for mn, mod in model.named_modules() if isinstance(mod, torch.nn.LayerNorm)
          for pn, _ in mod.named_parameters(recurse=False)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ln and name.endswith(".weight"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name in ln:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * INIT)


# --------------------------------------------------------------------------
# 4. Running the HF model
# --------------------------------------------------------------------------

def run_one(model, spec, e):
    """fp32 eager forward of one un-padded input with hooks on layer 0, the base model and the pooled row."""
    cap, hooks = {}, []
    base = model.base_model
    layers = base.layers if spec["family"] == "modernbert" else base.encoder.layer

    def out0(o):
        return (o[0] if isinstance(o, (tuple, list)) else o).detach().clone()
    hooks.append(layers[0].register_forward_hook(lambda m, a, o: cap.__setitem__("hidden_states_1", out0(o))))
    hooks.append(base.register_forward_hook(lambda m, a, o: cap.__setitem__("last_hidden", o[0].detach().clone())))
    if spec["head"] == "seqcls" and spec["family"] == "modernbert":
        hooks.append(model.head.register_forward_pre_hook(lambda m, a: cap.__setitem__("pooled", a[0].detach().clone())))
    if spec["head"] == "seqcls" and spec["family"] == "gte":
        hooks.append(base.pooler.register_forward_hook(lambda m, a, o: cap.__setitem__("pooled", o.detach().clone())))
    if spec["head"] != "base":
        hooks.append(model.classifier.register_forward_pre_hook(
            lambda m, a: cap.__setitem__("features", a[0].detach().reshape(-1, a[0].shape[-1]).clone())))
    inputs = {"input_ids": torch.tensor([e["ids"]])}
    if spec["family"] == "gte" and spec["variant"] == "en":
        inputs["token_type_ids"] = torch.tensor([e["type_ids"]])
    try:
        with torch.no_grad():
            out = model(**inputs)
    finally:
        for h in hooks:
            h.remove()
    r = {k: v[0] if k in ("hidden_states_1", "last_hidden", "pooled") else v for k, v in cap.items()}
    if spec["head"] != "base":
        r["logits"] = out.logits[0]
    return r


def tune_linear(lin, F, act, seed, head):
    """Margin-tune the head's last Linear on its input rows F (one row per decision), as
    tests/data/models/make_fixtures.py: rescale + centre, then Adam on a hinge loss until every decision
    margin (prob_gaps) is >= GAP_TARGET.  Only this layer changes."""
    g = torch.Generator().manual_seed(seed)
    C = lin.out_features
    with torch.no_grad():
        W = lin.weight.detach().clone()
        Z = F @ W.T
        W *= (2.0 if head == "seqcls" else 3.0) / Z.std(0).clamp_min(1e-6).mean()
        Z = F @ W.T
        b = -Z.mean(0) + torch.randn(C, generator=g) * (0.3 if C > 1 else 0.0)
    W0 = W.clone()
    W.requires_grad_(True)
    b.requires_grad_(True)
    opt = torch.optim.Adam([W, b], lr=0.01)
    for _ in range(4000):
        gaps = enc.prob_gaps(F @ W.T + b, act)
        if gaps.min().item() >= GAP_TARGET:
            break
        loss = torch.relu(GAP_TARGET * 1.5 - gaps).sum() + 1e-3 * ((W - W0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        lin.weight.copy_(W)
        lin.bias.copy_(b)


def build_model(spec, gte, encs):
    torch.manual_seed(spec["seed"])
    config = make_config(spec, gte)
    model = model_class(spec, gte)(config).eval()
    if spec["family"] == "gte":
        repair_gte_buffers(model)       # not needed here (built off meta), keeps both paths identical
    random_init(model, spec["seed"])
    act = enc.activation_of(config, spec["head"])
    if spec["head"] == "base":
        return model, config, act, [run_one(model, spec, e) for e in encs]
    for attempt in range(20):
        F = torch.cat([run_one(model, spec, e)["features"] for e in encs], 0)
        tune_linear(model.classifier, F, act, spec["seed"] * 100 + attempt, spec["head"])
        refs = [run_one(model, spec, e) for e in encs]
        gaps = torch.cat([enc.prob_gaps(r["logits"].reshape(-1, config.num_labels), act) for r in refs])
        wins = {int(k) for r in refs for k in enc.apply_activation(r["logits"].reshape(-1, config.num_labels), act).argmax(-1)}
        ok_div = (len({bool(r["logits"].item() > 0) for r in refs}) == 2 if config.num_labels == 1
                  else len(wins) == config.num_labels)
        if gaps.min().item() >= GAP_ACCEPT and ok_div:
            return model, config, act, refs
        print("   retune %s (attempt %d): min gap %.4f, classes %s" % (spec["name"], attempt, gaps.min(), sorted(wins)))
    raise RuntimeError("could not tune " + spec["name"])


# --------------------------------------------------------------------------
# 5. Saving
# --------------------------------------------------------------------------

def hub_style_config(spec, cfg):
    """config.json as the hub repos spell it.  ModernBERT: transformers 5 writes layer_types and
    rope_parameters; checkpoints in the wild carry global_attn_every_n_layers / global_rope_theta /
    local_rope_theta instead (one folder keeps the transformers 5 form, so the C++ reads both).  GTE:
    transformers 5 rewrites rope_scaling into rope_parameters; the hub configs carry rope_theta +
    rope_scaling, and auto_map pointing at Alibaba-NLP/new-impl."""
    if spec["family"] == "modernbert":
        v = MB_VARIANTS[spec["variant"]]
        if spec.get("config_format") != "transformers5":
            cfg.pop("layer_types", None)
            cfg.pop("rope_parameters", None)
            cfg["global_rope_theta"] = v["global_rope_theta"]
            cfg["local_rope_theta"] = v["local_rope_theta"]
        cfg["global_attn_every_n_layers"] = v["global_attn_every_n_layers"]
    else:
        v = GTE_VARIANTS[spec["variant"]]
        cfg.pop("rope_parameters", None)
        cfg["rope_theta"] = v["rope_theta"]
        cfg["rope_scaling"] = copy.deepcopy(v["rope_scaling"])
        cfg["auto_map"] = dict(GTE_AUTO_MAP)
    cfg["torch_dtype"] = cfg.get("dtype", "float32")
    return dict(sorted(cfg.items()))


def save_folder(spec, model, folder, toks):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    model.save_pretrained(folder)
    cpath = os.path.join(folder, "config.json")
    enc.write_json(cpath, hub_style_config(spec, json.load(open(cpath))))
    save_tokenizer(folder, spec["tok"], toks[spec["tok"]])
    if spec.get("st"):   # sentence-transformers layout of gte-multilingual-base: CLS pooling + Normalize
        enc.write_json(os.path.join(folder, "modules.json"), [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
        enc.write_json(os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": MAX_LEN, "do_lower_case": False})
        os.makedirs(os.path.join(folder, "1_Pooling"))
        enc.write_json(os.path.join(folder, "1_Pooling", "config.json"), {
            "word_embedding_dimension": model.config.hidden_size, "pooling_mode_cls_token": True,
            "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False, "include_prompt": True})


def tensor_doc(spec):
    d = {"input_ids.{i}": "int32 [n] token ids (HF tokenizer == tokenizer.json; ids-only inputs: as given)",
         "position_ids.{i}": "int32 [n] RoPE positions HF used: arange(n); only for n <= %d" % HIDDEN_MAX_TOKENS,
         "hidden_states_1.{i}": "float32 [n, hidden] output of layer 0; only for n <= %d" % LAYER1_MAX_TOKENS,
         "last_hidden.{i}": "float32 [n, hidden] output of the base model (%s); only for n <= %d"
                            % ("after final_norm" if spec["family"] == "modernbert" else "last layer, post-LN",
                               HIDDEN_MAX_TOKENS)}
    if spec["family"] == "gte":
        d["token_type_ids.{i}"] = "int32 [n] type ids from tokenizer.json (what the model embeds; all 0 for type_vocab_size 1)"
        d["rope_inv_freq"] = "float32 [head_dim/2] inv_freq buffer of HF's rotary module (NTK-scaled when configured)"
    else:
        d["rope_inv_freq_global"] = "float32 [head_dim/2] inv_freq of the full_attention layers (global_rope_theta)"
        d["rope_inv_freq_local"] = "float32 [head_dim/2] inv_freq of the sliding_attention layers (local_rope_theta)"
    if spec["head"] == "base":
        d["embedding_cls.{i}"] = "float32 [hidden] last_hidden[0], every input (not normalized)"
        d["embedding_mean.{i}"] = "float32 [hidden] mean of last_hidden over all n tokens, every input (not normalized)"
        if spec.get("st"):
            d["st_embedding.{i}"] = "float32 [hidden] L2-normalize(embedding_cls): the sentence-transformers output"
    elif spec["head"] == "seqcls":
        d["pooled.{i}"] = ("float32 [hidden] the pooled row the head receives (%s)" %
                           ("CLS row or mean of last_hidden, before head.dense" if spec["family"] == "modernbert"
                            else "NewPooler output tanh(pooler.dense(last_hidden[0]))"))
        d["logits.{i}"] = "float32 [num_labels]"
        d["probs.{i}"] = "float32 [num_labels] activation(logits)"
    else:
        d["logits.{i}"] = "float32 [n, num_labels] every input"
        d["probs.{i}"] = "float32 [n, num_labels] softmax per token; only for n <= %d (else softmax(logits))" % HIDDEN_MAX_TOKENS
    return d


def compute_references(spec, model, config, act, items, encs, refs, folder, toks):
    T, entries, gaps = {}, [], []
    emb_mod = model.base_model.embeddings if spec["family"] == "gte" else model.base_model.rotary_emb
    if spec["family"] == "gte":
        T["rope_inv_freq"] = emb_mod.rotary_emb.inv_freq.float().clone()
    else:
        T["rope_inv_freq_global"] = emb_mod.full_attention_inv_freq.float().clone()
        T["rope_inv_freq_local"] = emb_mod.sliding_attention_inv_freq.float().clone()
    for i, (it, e, r) in enumerate(zip(items, encs, refs)):
        n = len(e["ids"])
        T["input_ids.%d" % i] = torch.tensor(e["ids"], dtype=torch.int32)
        if spec["family"] == "gte":
            T["token_type_ids.%d" % i] = torch.tensor(e["type_ids"], dtype=torch.int32)
        if n <= HIDDEN_MAX_TOKENS:
            T["position_ids.%d" % i] = torch.arange(n, dtype=torch.int32)
            T["last_hidden.%d" % i] = r["last_hidden"].float()
        if n <= LAYER1_MAX_TOKENS:
            T["hidden_states_1.%d" % i] = r["hidden_states_1"].float()
        entry = {"index": i, "text": it["text"], "text_pair": it["text_pair"], "ids_only": it["text"] is None,
                 "num_tokens": n}
        if spec["head"] == "base":
            T["embedding_cls.%d" % i] = r["last_hidden"][0].float().clone()
            T["embedding_mean.%d" % i] = r["last_hidden"].float().mean(0)
            if spec.get("st"):
                T["st_embedding.%d" % i] = torch.nn.functional.normalize(r["last_hidden"][0].float(), dim=0)
        else:
            logits = r["logits"].float()
            probs = enc.apply_activation(logits, act)
            T["logits.%d" % i] = logits.clone()
            if spec["head"] == "seqcls" or n <= HIDDEN_MAX_TOKENS:     # tokcls: [n, C] probs only for short inputs
                T["probs.%d" % i] = probs
            if spec["head"] == "seqcls":
                T["pooled.%d" % i] = r["pooled"].float().clone()
                am = int(probs.argmax())
                g = enc.prob_gaps(logits.reshape(1, -1), act)[0].item()
                entry.update(argmax=am, label=config.id2label[am], prob_gap=round(g, 6))
                if config.num_labels == 1:
                    entry["score"] = float(probs[0])
                gaps.append(g)
            else:
                am = probs.argmax(-1).tolist()
                g = enc.prob_gaps(logits, act)
                entry.update(argmax=am, min_prob_gap=round(g.min().item(), 6))
                if n <= HIDDEN_MAX_TOKENS:
                    entry["label"] = [config.id2label[k] for k in am]
                gaps.extend(g.tolist())
        entries.append(entry)
    save_file({k: v.contiguous() for k, v in T.items()}, os.path.join(folder, "reference.safetensors"),
              metadata={"format": "pt"})
    mb = spec["family"] == "modernbert"
    meta = {
        "folder": spec["name"],
        "architecture": MB_CLASSES[HEADS.index(spec["head"])].__name__ if mb else GTE_CLASSES[HEADS.index(spec["head"])],
        "model_type": config.model_type, "head": spec["head"] + ("+sentence_transformers" if spec.get("st") else ""),
        "activation": act, "problem_type": getattr(config, "problem_type", None),
        "num_labels": config.num_labels if spec["head"] != "base" else None,
        "id2label": {str(k): v for k, v in config.id2label.items()} if spec["head"] != "base" else None,
        "weights_dtype": "float32",
        "reference_compute": "fp32, eager attention, one input at a time, no padding, no attention_mask passed",
        "model_inputs": ["input_ids"] + (["token_type_ids"] if spec["family"] == "gte" and spec["variant"] == "en" else []),
        "token_type_ids_used_by_model": spec["family"] == "gte",
        "position_ids": "arange(n) (RoPE; no position embedding table)",
        "tokenizer": spec["tok"],
        "rope": rope_doc(spec, config),
        "tensors": tensor_doc(spec),
        "min_prob_gap": round(min(gaps), 6) if gaps else None,
        "max_prob_gap": round(max(gaps), 6) if gaps else None,
        "inputs": entries,
    }
    if mb:
        meta["attention"] = {"layer_types": list(config.layer_types), "local_attention": config.local_attention,
                             "sliding_window_rule": "sliding_attention layers: query i sees key j iff |i - j| <= %d "
                             "(local_attention // 2); full_attention layers see everything" % (config.local_attention // 2)}
        if spec["head"] != "base":
            meta["classifier_pooling"] = config.classifier_pooling if spec["head"] == "seqcls" else None
            meta["classifier_activation"] = config.classifier_activation
    else:
        meta["gte_reference"] = ("Alibaba-NLP/new-impl modeling.py (see README.md), eager NewAttention, "
                                 "transformers 5 shims + rebuilt non-persistent RoPE buffers")
        if spec["head"] == "seqcls":
            meta["pooling"] = "CLS: NewPooler tanh(pooler.dense(last_hidden[0])), then classifier"
            # vLLM's docs: the name NewForSequenceClassification is too generic, its class must be named
            meta["vllm_hf_overrides"] = {"architectures": ["GteNewForSequenceClassification"]}
    enc.write_json(os.path.join(folder, "reference.json"), meta)
    return meta


def rope_doc(spec, config):
    if spec["family"] == "modernbert":
        v = MB_VARIANTS[spec["variant"]]
        return {"type": "default", "global_rope_theta": v["global_rope_theta"], "local_rope_theta": v["local_rope_theta"],
                "head_dim": config.hidden_size // config.num_attention_heads,
                "inv_freq": "theta ** (-arange(0, d, 2) / d)"}
    v = GTE_VARIANTS[spec["variant"]]
    return {"rope_theta": v["rope_theta"], "rope_scaling": v["rope_scaling"],
            "head_dim": config.hidden_size // config.num_attention_heads,
            "inv_freq": ("(theta * F) ** (-arange(0, d, 2) / d) / F ** (2 / d), for every input length"
                         if v["rope_scaling"] else "theta ** (-arange(0, d, 2) / d)")}


# --------------------------------------------------------------------------
# 6. Verification
# --------------------------------------------------------------------------

def load_for_check(spec, folder, impl, gte, tmp):
    """AutoModel* the way a user loads the folder.  GTE: a temporary copy whose auto_map points at a local
    copy of the new-impl code (the committed one points at the hub), trust_remote_code, buffers rebuilt."""
    auto = {"base": AutoModel, "seqcls": AutoModelForSequenceClassification, "tokcls": AutoModelForTokenClassification}[spec["head"]]
    if spec["family"] == "modernbert":
        return auto.from_pretrained(folder, dtype=torch.float32, attn_implementation=impl).eval()
    local = os.path.join(tmp, spec["name"])
    if not os.path.exists(local):
        shutil.copytree(folder, local)
        for f, b in gte.files.items():
            open(os.path.join(local, f), "wb").write(b)
        c = json.load(open(os.path.join(local, "config.json")))
        c["auto_map"] = {k: v.split("--")[1] for k, v in c["auto_map"].items()}
        enc.write_json(os.path.join(local, "config.json"), c)
    # new-impl has NewSdpaAttention but does not declare _supports_sdpa, so transformers refuses sdpa: set it on
    # the class trust_remote_code loads (transformers_modules.<folder>.modeling), for this check only
    from transformers.dynamic_module_utils import get_class_from_dynamic_module
    head_cls = get_class_from_dynamic_module(json.load(open(os.path.join(local, "config.json")))["auto_map"][
        {"base": "AutoModel", "seqcls": "AutoModelForSequenceClassification",
         "tokcls": "AutoModelForTokenClassification"}[spec["head"]]], local)
    pre = [c for c in head_cls.__mro__ if c.__name__ == "NewPreTrainedModel"][0]
    pre._supports_sdpa = impl == "sdpa"
    m = auto.from_pretrained(local, dtype=torch.float32, attn_implementation=impl, trust_remote_code=True).eval()
    repair_gte_buffers(m)
    want = "NewSdpaAttention" if impl == "sdpa" else "NewAttention"
    assert type(m.base_model.encoder.layer[0].attention).__name__ == want
    return m


def aligned_(model):
    """from_pretrained leaves weights in the mmapped safetensors buffer, not 64-byte aligned; the fp32 kernels
    then round differently (~5e-7).  Copy them to fresh (aligned) storage so eager is bit-exact."""
    with torch.no_grad():
        for p in list(model.parameters()) + list(model.buffers()):
            p.data = p.data.clone()
    return model


def verify_folder(spec, folder, items, gte):
    # trust_remote_code=False: AutoTokenizer reads config.json, whose auto_map points at the hub
    hf_tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    raw = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    encs = encode_inputs(hf_tok, raw, items)
    ref = load_file(os.path.join(folder, "reference.safetensors"))
    meta = json.load(open(os.path.join(folder, "reference.json")))
    for i, e in enumerate(encs):
        assert ref["input_ids.%d" % i].tolist() == e["ids"]
    res = {}
    tmp = tempfile.mkdtemp()
    try:
        for impl in ("eager", "sdpa"):
            m = aligned_(load_for_check(spec, folder, impl, gte, tmp))
            worst = 0.0
            for i, e in enumerate(encs):
                inputs = {"input_ids": torch.tensor([e["ids"]])}
                if spec["family"] == "gte" and spec["variant"] == "en":
                    inputs["token_type_ids"] = torch.tensor([e["type_ids"]])
                with torch.no_grad():
                    out = m(**inputs)
                if spec["head"] == "base":
                    got, want = out.last_hidden_state[0, 0], ref["embedding_cls.%d" % i]
                    worst = max(worst, (out.last_hidden_state[0].mean(0) - ref["embedding_mean.%d" % i]).abs().max().item())
                else:
                    got, want = out.logits[0], ref["logits.%d" % i]
                    assert torch.equal(got.argmax(-1), want.argmax(-1)), (spec["name"], impl, i)
                worst = max(worst, (got - want).abs().max().item())
            res[impl] = worst
    finally:
        shutil.rmtree(tmp)
    assert res["eager"] < 1e-5 and res["sdpa"] < 1e-4, (spec["name"], res)
    res.update(independent_check(folder, meta, encs, ref))
    return res


def independent_check(folder, meta, encs, ref):
    """reference_impl.py (float64) against every stored tensor; 'fp32' = HF's RoPE angle rounding
    emulated, 'exact' = float64 angles.  Error = max |a - b| / max(1, max |b|) over each tensor."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    if cfg["model_type"] == "modernbert":
        g, loc = ref_impl.modernbert_thetas(cfg)
        mine = {"rope_inv_freq_global": ref_impl.default_inv_freq(g, d, "fp32"),
                "rope_inv_freq_local": ref_impl.default_inv_freq(loc, d, "fp32")}
    else:
        mine = {"rope_inv_freq": ref_impl.gte_inv_freq(cfg, "fp32")}
    out = {"inv_freq_ulp_mismatches": sum(int((mine[k].float() != ref[k]).sum()) for k in mine)}
    for rope in ("fp32", "exact"):
        worst, where = 0.0, None
        for i, e in enumerate(encs):
            r = ref_impl.forward(folder, e["ids"], e["type_ids"], rope)
            pairs = [(r["hidden_states_1"], "hidden_states_1"), (r["last_hidden"], "last_hidden")]
            if "logits" in r:
                pairs += [(r["logits"], "logits")]
                act = meta["activation"]
                pr = torch.softmax(r["logits"], -1) if act == "softmax" else torch.sigmoid(r["logits"])
                pairs += [(pr, "probs")]
            if "pooled" in r:
                pairs += [(r["pooled"], "pooled")]
            if meta["head"].startswith("base"):
                pairs += [(r["last_hidden"][0], "embedding_cls"), (r["last_hidden"].mean(0), "embedding_mean")]
            for a, name in pairs:
                key = "%s.%d" % (name, i)
                if key not in ref:
                    continue
                b = ref[key].to(torch.float64)
                assert a.shape == b.shape, (key, a.shape, b.shape)
                err = (a - b).abs().max().item() / max(1.0, b.abs().max().item())
                if err > worst:
                    worst, where = err, key
        out["independent_" + rope] = worst
        out["independent_%s_at" % rope] = where
    assert out["independent_fp32"] < 1e-4, out
    return out


# --------------------------------------------------------------------------
# 7. WEIGHT_NAMES.md, VERSIONS.txt, manifest.json, main
# --------------------------------------------------------------------------

ARCH_NOTES = {
    "modernbert": [
        "prefix `model.` in *For* models, none in `ModernBertModel`. No position table, no token types, no pooler.",
        "embeddings: x = norm(tok_embeddings[ids]) (LayerNorm, eps norm_eps, bias only if norm_bias).",
        "layer l (pre-LN): h = x if l == 0 else attn_norm(x)  (layer 0 has NO attn_norm weights: Identity); "
        "qkv = attn.Wqkv(h) viewed [n, 3, H, d] (q | k | v blocks, each H*d wide); RoPE on q, k with the layer "
        "type's theta; scores * d^-0.5; x = x + attn.Wo(attn); x = x + mlp.Wo(act(Wi_1) * Wi_2) where "
        "mlp.Wi(mlp_norm(x)) = [Wi_1 | Wi_2] (FIRST half activated, act = hidden_activation = exact GELU).",
        "layer types: layer i is full_attention iff i % global_attn_every_n_layers == 0 (global_rope_theta), "
        "else sliding_attention (local_rope_theta) where query i sees key j only if |i - j| <= local_attention // 2.",
        "last_hidden = final_norm(x).  Biases: attention_bias -> Wqkv / Wo, mlp_bias -> Wi / Wo, norm_bias -> every "
        "LayerNorm, classifier_bias -> head.dense ONLY (classifier always has a bias).",
        "seqcls: pooled = last_hidden[0] (classifier_pooling cls) or mean over all tokens (mean); "
        "logits = classifier(head.norm(act(head.dense(pooled)))) with act = classifier_activation.  "
        "tokcls: the same head on every token.",
    ],
    "gte": [
        "remote code (Alibaba-NLP/new-impl, config model_type `new`); prefix `new.` in *For* models, none in `NewModel`.",
        "embeddings: x = LayerNorm(word_embeddings[ids] + token_type_embeddings[tt]) (tt = 0 when the tokenizer "
        "gives none; type_vocab_size 1 in mGTE); no position table.",
        "layer (POST-LN, like BERT): q | k | v = attention.qkv_proj(x).split(D) (pack_qkv); RoPE on q, k; "
        "scores * d^-0.5; x = attn_ln(x + attention.o_proj(attn)); [up | gate] = mlp.up_gate_proj(x) "
        "(no bias); x = mlp_ln(x + mlp.down_proj(act(gate) * up))  (SECOND half activated, act = hidden_act "
        "= exact GELU; vLLM calls this geglu). No final norm.",
        "RoPE: rope_theta; rope_scaling {type ntk, factor F}: inv_freq = (theta*F)^(-2i/d) / F^(2/d) for every "
        "input length (see README).",
        "seqcls: logits = classifier(tanh(pooler.dense(last_hidden[0]))).  tokcls: classifier(last_hidden).",
    ],
}


def saved_keys(folder):
    from safetensors import safe_open
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        return {k: (f.get_slice(k).get_dtype(), list(f.get_slice(k).get_shape())) for k in f.keys()}


def write_weight_names(out_dir, specs):
    lines = ["# Weight names of the RoPE encoder fixtures", "",
             "Generated by make_fixtures.py from the saved safetensors files (transformers %s). Only layer 0 is "
             "listed, plus layer 1 where it differs (ModernBERT: layer 0 has no `attn_norm`). `shape` is the "
             "safetensors shape (nn.Linear weights are `[out_features, in_features]`, y = x W^T + b)."
             % transformers.__version__, ""]
    seen_family = set()
    for spec in specs:
        keys = saved_keys(os.path.join(out_dir, spec["name"]))
        if spec["family"] not in seen_family:
            seen_family.add(spec["family"])
            lines += ["## %s" % spec["family"], ""] + ["- " + n for n in ARCH_NOTES[spec["family"]]] + [""]
        lines += ["### `%s` (folder `%s`)" % (json.load(open(os.path.join(out_dir, spec["name"], "config.json")))
                                                ["architectures"][0], spec["name"]), "",
                  "| name | dtype | shape |", "|---|---|---|"]
        for k in sorted(keys):
            if any(".%d." % li in k for li in range(2, 10)) or (".1." in k and "attn_norm" not in k):
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
    ap.add_argument("--gte-impl", help="folder with Alibaba-NLP/new-impl's modeling.py and configuration.py")
    ap.add_argument("--only", nargs="*", help="only these folders (debugging; the .md files are not rewritten)")
    ap.add_argument("--skip-verify", action="store_true")
    args = ap.parse_args()
    out_dir = args.out
    torch.manual_seed(0)
    gte = GteImpl(args.gte_impl) if args.gte_impl else None
    specs = [s for s in SPECS if not args.only or s["name"] in args.only]
    if gte is None:
        print("no --gte-impl: the GTE folders are left as they are")
        specs = [s for s in specs if s["family"] != "gte"]

    corpus = enc.training_corpus()
    toks, inputs, encs_by_tok = {}, {}, {}
    for kind in sorted({s["tok"] for s in specs}):
        toks[kind] = TOKENIZERS[kind][0](corpus)
        inputs[kind] = make_inputs(toks[kind], {"modernbert_bpe": 31, "xlmr_bpe": 32, "wordpiece": 33}[kind])
        d = tempfile.mkdtemp()
        save_tokenizer(d, kind, toks[kind])
        encs_by_tok[kind] = encode_inputs(AutoTokenizer.from_pretrained(d), toks[kind], inputs[kind])
        shutil.rmtree(d)
        enc.write_json(os.path.join(out_dir, "inputs_%s.json" % kind), [
            {"index": i, "text": it["text"], "text_pair": it["text_pair"], "ids": it.get("ids"),
             "num_tokens": len(e["ids"])} for i, (it, e) in enumerate(zip(inputs[kind], encs_by_tok[kind]))])

    metas = {}
    for spec in specs:
        model, config, act, refs = build_model(spec, gte, encs_by_tok[spec["tok"]])
        folder = os.path.join(out_dir, spec["name"])
        save_folder(spec, model, folder, toks)
        metas[spec["name"]] = compute_references(spec, model, config, act, inputs[spec["tok"]], encs_by_tok[spec["tok"]],
                                                 refs, folder, toks)
        print("built %-28s %8.1f KB  min gap %s" % (spec["name"], dir_size(folder) / 1024, metas[spec["name"]]["min_prob_gap"]))

    print("\n%-28s %8s %-10s %-7s %-8s %8s %8s %9s %9s %s" % ("folder", "KB", "type", "head", "act", "min gap",
                                                             "eager", "sdpa", "f64/fp32", "f64/exact"))
    results = {}
    for spec in specs:
        folder = os.path.join(out_dir, spec["name"])
        v = {} if args.skip_verify else verify_folder(spec, folder, inputs[spec["tok"]], gte)
        results[spec["name"]] = v
        m = metas[spec["name"]]
        print("%-28s %8.1f %-10s %-7s %-8s %8s %8.1e %8.1e %9.1e %9.1e  (%s)" % (
            spec["name"], dir_size(folder) / 1024, m["model_type"], spec["head"], m["activation"] or "-",
            m["min_prob_gap"], v.get("eager", float("nan")), v.get("sdpa", float("nan")),
            v.get("independent_fp32", float("nan")), v.get("independent_exact", float("nan")),
            v.get("independent_exact_at")))
        if v:
            print("    inv_freq ulp mismatches vs HF buffer: %s; worst fp32 at %s" % (
                v.get("inv_freq_ulp_mismatches"), v.get("independent_fp32_at")))
    for root, _, files in os.walk(out_dir):
        for f in files:
            os.chmod(os.path.join(root, f), 0o755 if f == "make_fixtures.py" else 0o644)
    if not args.only and gte is not None:
        enc.write_json(os.path.join(out_dir, "manifest.json"), [{
            "folder": s["name"], "family": s["family"], "model_type": metas[s["name"]]["model_type"],
            "architecture": metas[s["name"]]["architecture"], "head": metas[s["name"]]["head"],
            "activation": metas[s["name"]]["activation"], "num_labels": metas[s["name"]]["num_labels"],
            "tokenizer": s["tok"], "remote_code": s["family"] == "gte"} for s in specs])
        write_weight_names(out_dir, specs)
        v = enc.versions()
        with open(os.path.join(out_dir, "VERSIONS.txt"), "w") as f:
            for k in ("python", "torch", "transformers", "tokenizers", "safetensors", "sentence_transformers", "numpy"):
                f.write("%s %s\n" % (k, v[k]))
            for fn, h in sorted(gte.sha256().items()):
                f.write("gte_impl_%s_sha256 %s\n" % (fn.replace(".py", ""), h))
            f.write("platform %s\n" % platform.platform())
    print("\ntotal size of %s: %.2f MB" % (out_dir, dir_size(out_dir) / 1e6))


if __name__ == "__main__":
    main()
