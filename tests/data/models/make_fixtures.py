#!/usr/bin/env python3
"""Generate the golden reference fixtures for the vkcls encoder models.

Everything under tests/data/models/ (except README.md) is produced by this one
script, deterministically (fixed seeds, single-threaded torch):

  * two small tokenizers trained with `tokenizers` on seeded, generated
    English-ish text (WordPiece/BERT-style and byte-level BPE/RoBERTa-style);
  * inputs.json (the ~24 inputs every model is run on);
  * tiny random-weight models (2 layers) for BERT, RoBERTa, XLM-RoBERTa, ERNIE,
    DistilBERT and ELECTRA, saved as ordinary Hugging Face folders
    (config.json + model.safetensors + tokenizer files);
  * per folder reference.safetensors + reference.json computed with the HF
    PyTorch implementation (fp32, eager attention, one input at a time);
  * WEIGHT_NAMES.md, VERSIONS.txt and manifest.json.

Every folder is then re-checked: reloaded with AutoTokenizer / AutoModelFor*.from_pretrained (eager
and sdpa attention) and recomputed by an independent float64 re-implementation from config.json +
safetensors only (independent_forward), all compared with the stored references.
See README.md for the formats.

No network access is needed (nothing is fetched from the Hugging Face hub).

Usage:  python3 tests/data/models/make_fixtures.py [--out DIR] [--skip-verify]
"""

import argparse
import datetime
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

VOCAB_SIZE = 1000          # both tokenizers
GAP_MIN = 0.01             # required min (top1 - top2) probability gap
GAP_ACCEPT = 0.02          # ... what the generator insists on (2x safety)
GAP_TARGET = 0.03          # margin the classifier tuning aims for

# --------------------------------------------------------------------------
# 1. Seeded generator of English-ish text
# --------------------------------------------------------------------------

DET = "the a an this that every some no each my your our their his her its".split()
PRON = "i you he she we they it someone nobody everyone".split()
AUX = "is was will can should must might could would does did has had".split()
PREP = ("in on at with from to into over under near after before during without "
        "about behind between across through around against along").split()
CONJ = "and but or so because while although when if since unless".split()
ADV = ("quickly slowly really very quite never always often rarely again soon "
       "already still almost barely nearly probably surely clearly").split()
ADJ = ("good bad great small large old new young long short happy sad bright dark "
       "quiet loud warm cold early late strong weak rich poor clean dirty simple "
       "strange famous local public private green red blue golden wooden broken "
       "empty full heavy light busy lazy careful angry calm gentle wild").split()
NOUN = ("man woman child dog cat house car city river road tree book letter table "
        "window door garden market school teacher student doctor river bridge "
        "station train ship island mountain forest village kitchen picture song "
        "story movie game team company office phone computer music water bread "
        "coffee money friend family mother father brother sister king queen farmer "
        "river storm winter summer morning evening night week year country world "
        "market bank museum church hotel airport shop street park beach lake").split()
VERB = ("see saw walk walked run ran find found take took give gave make made "
        "know knew think thought tell told call called want wanted love loved "
        "like liked open opened close closed build built read write wrote buy "
        "bought sell sold bring brought leave left meet met pay paid play played "
        "watch watched help helped carry carried visit visited follow followed").split()
NAMES = ("Alice Bob Carol David Emma Frank Grace Henry Irene Jack Laura Michael "
         "Nina Oscar Paul Rachel Sam Tina Victor Wendy").split()
PLACES = ("Paris London Berlin Madrid Rome Vienna Oslo Tokyo Cairo Lima Boston "
          "Chicago Texas Canada Brazil India Kenya Norway").split()
ORGS = ("Google Microsoft Amazon Siemens Toyota Nestle Reuters Unicef Nasa Oxford "
        "Harvard Intel Nokia Samsung Boeing").split()
# morphological pieces -> a long tail of rarer words that get split into subwords
PREFIX = "un re pre dis over under mis out inter anti".split()
ROOT = ("form act build print play work turn load view write read mark paint "
        "count light power state nation govern develop").split()
SUFFIX = "able ing ed er ment ness less ful ly ation ist ism ive".split()


class TextGen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def rare_word(self):
        r = self.r
        w = r.choice(ROOT)
        if r.random() < 0.6:
            w = r.choice(PREFIX) + w
        for _ in range(r.randint(1, 2)):
            w = w + r.choice(SUFFIX)
        return w

    def number(self):
        r = self.r
        k = r.random()
        if k < 0.4:
            return str(r.randint(0, 100))
        if k < 0.7:
            return str(r.randint(1900, 2030))
        if k < 0.85:
            return "%d.%d" % (r.randint(0, 99), r.randint(0, 99))
        return "%d,%03d" % (r.randint(1, 999), r.randint(0, 999))

    def noun_phrase(self):
        r = self.r
        k = r.random()
        if k < 0.12:
            return r.choice(NAMES)
        if k < 0.2:
            return r.choice(PLACES)
        if k < 0.26:
            return r.choice(ORGS)
        if k < 0.32:
            return r.choice(PRON)
        words = [r.choice(DET)]
        if r.random() < 0.5:
            words.append(r.choice(ADJ))
        if r.random() < 0.1:
            words.append(self.number())
        words.append(self.rare_word() if r.random() < 0.12 else r.choice(NOUN))
        return " ".join(words)

    def clause(self):
        r = self.r
        parts = [self.noun_phrase()]
        if r.random() < 0.3:
            parts.append(r.choice(AUX))
        if r.random() < 0.25:
            parts.append(r.choice(ADV))
        parts.append(self.rare_word() if r.random() < 0.08 else r.choice(VERB))
        parts.append(self.noun_phrase())
        if r.random() < 0.5:
            parts.append(r.choice(PREP))
            parts.append(self.noun_phrase())
        return " ".join(parts)

    def sentence(self):
        r = self.r
        s = self.clause()
        if r.random() < 0.3:
            s += ("," if r.random() < 0.5 else "") + " " + r.choice(CONJ) + " " + self.clause()
        s = s[0].upper() + s[1:]
        end = r.choices([".", "!", "?", "...", ";"], weights=[70, 8, 12, 3, 2])[0]
        if r.random() < 0.05:
            s = '"' + s + end + '"'
        else:
            s += end
        return s

    def paragraph(self, n):
        return " ".join(self.sentence() for _ in range(n))


def training_corpus(seed=1234, n=25000):
    g = TextGen(seed)
    out = []
    for i in range(n):
        out.append(g.paragraph(g.r.randint(1, 3)))
    return out


# --------------------------------------------------------------------------
# 2. Tokenizers
# --------------------------------------------------------------------------

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def learn_wordpiece_vocab(corpus, size):
    """Deterministic WordPiece vocabulary (tokenizers' WordPieceTrainer is not deterministic across
    processes: its tie-breaking follows Rust HashMap order). Specials, the alphabet (c and ##c), then
    whole words and word-initial / ##continuation pieces ranked by corpus frequency (ties: by string)."""
    norm = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts = {}
    for t in corpus:
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(t)):
            counts[w] = counts.get(w, 0) + 1
    chars = sorted({ch for w in counts for ch in w})
    vocab = list(BERT_SPECIALS) + chars + ["##" + ch for ch in chars]
    budget = size - len(vocab)
    n_words = int(budget * 0.6)
    words = sorted((w for w in counts if len(w) > 1 and counts[w] >= 2), key=lambda w: (-counts[w], w))
    chosen = words[:n_words]
    taken = set(vocab) | set(chosen)
    pieces = {}
    for w, c in counts.items():
        if w in taken or len(w) < 3:
            continue
        for k in range(2, len(w)):                      # word-initial pieces
            pieces[w[:k]] = pieces.get(w[:k], 0) + c
        for i in range(1, len(w)):                      # continuation pieces
            for j in range(i + 2, min(len(w), i + 7) + 1):
                p = "##" + w[i:j]
                pieces[p] = pieces.get(p, 0) + c
    ranked = sorted((p for p in pieces if p not in taken), key=lambda p: (-pieces[p] * (len(p.lstrip("#")) - 1), p))
    vocab += chosen + ranked[:size - len(vocab) - len(chosen)]
    assert len(vocab) == size and len(set(vocab)) == size
    return {t: i for i, t in enumerate(vocab)}


def train_wordpiece(corpus):
    vocab = learn_wordpiece_vocab(corpus, VOCAB_SIZE)
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    assert [tok.token_to_id(t) for t in BERT_SPECIALS] == [0, 1, 2, 3, 4]
    assert tok.get_vocab_size() == VOCAB_SIZE
    return tok


def train_bytelevel_bpe(corpus):
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=ROBERTA_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    assert [tok.token_to_id(t) for t in ROBERTA_SPECIALS] == [0, 1, 2, 3, 4]
    assert tok.get_vocab_size() == VOCAB_SIZE
    return tok


# tokenizer_config.json written next to tokenizer.json (the HF class only matters for
# transformers' AutoTokenizer; the C++ side reads tokenizer.json)
def tokenizer_files(kind, tokenizer_class, model_max_length):
    if kind == "wordpiece":
        specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                    "cls_token": "[CLS]", "mask_token": "[MASK]"}
        cfg = {"tokenizer_class": tokenizer_class, "do_lower_case": True, "strip_accents": None,
               "tokenize_chinese_chars": True, "clean_up_tokenization_spaces": False,
               "model_max_length": model_max_length, **specials}
    else:
        specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                    "pad_token": "<pad>", "cls_token": "<s>",
                    "mask_token": {"content": "<mask>", "lstrip": True, "normalized": False,
                                   "rstrip": False, "single_word": False, "special": True}}
        cfg = {"tokenizer_class": tokenizer_class, "add_prefix_space": False, "errors": "replace",
               "trim_offsets": True, "clean_up_tokenization_spaces": False,
               "model_max_length": model_max_length, **specials}
    return cfg, specials


# --------------------------------------------------------------------------
# 3. Inputs
# --------------------------------------------------------------------------

def n_tok(tok, text, pair=None):
    return len(tok.encode(text, pair).ids)


def exact_length_text(gen, wp, bpe, target_wp, target_bpe_max, target_bpe=None, pair_first=None):
    """Generate text (or the 2nd segment of a pair when pair_first is given) whose WordPiece
    encoding has exactly target_wp tokens (incl. specials) and whose BPE encoding has
    <= target_bpe_max (== target_bpe if given) tokens.

    Both pre-tokenizers split at whitespace, so token counts are additive over
    space-separated words: cost(w) is counted for " w" (BPE) and w (WordPiece)."""
    r = gen.r
    cache = {}

    def cost(w, first):
        k = (w, first)
        if k not in cache:
            cache[k] = (len(wp.encode(w, add_special_tokens=False).ids),
                        len(bpe.encode(w if first else " " + w, add_special_tokens=False).ids))
        return cache[k]

    if pair_first is None:
        base_w, base_b = 2, 2
    else:
        base_w, base_b = n_tok(wp, pair_first) + 1, n_tok(bpe, pair_first) + 2

    def totals(words):
        cw, cb = base_w, base_b
        for i, w in enumerate(words):
            a, b = cost(w, i == 0)
            cw, cb = cw + a, cb + b
        return cw, cb

    pool = sorted(set(NOUN + ADJ + VERB + ADV + DET + PREP + PRON + ROOT + NAMES + PLACES + ORGS))
    pool += [gen.rare_word() for _ in range(100)]
    pool += [w.upper() for w in pool[::7]]          # WordPiece lowercases, byte-level BPE does not
    pool += ["...", "!!", "?!", "--", ",", ".", "(", ")", "2024", "3.14"]
    words = []
    while True:
        sent = gen.sentence().split(" ")
        if totals(words + sent)[0] > target_wp - 8:
            break
        words += sent
    if not words:
        words = [r.choice(DET).capitalize()]
    cw, cb = totals(words)
    tb_goal = target_bpe if target_bpe is not None else target_bpe_max
    for _ in range(200000):
        bpe_ok = cb <= target_bpe_max if target_bpe is None else cb == target_bpe
        if cw == target_wp and bpe_ok:
            break
        tb = tb_goal if (target_bpe is not None or cb > target_bpe_max) else cb
        k = r.random()
        if cw < target_wp and (k < 0.3 or len(words) < 2):
            words.append(r.choice(pool))
            a, b = cost(words[-1], False)
            cw, cb = cw + a, cb + b
        elif cw > target_wp and (k < 0.3 or len(words) < 2):
            a, b = cost(words.pop(), False)
            cw, cb = cw - a, cb - b
        else:  # replace a random non-first word, keep it if it does not make things worse
            i = r.randrange(1, len(words))
            a0, b0 = cost(words[i], False)
            w = r.choice(pool)
            a1, b1 = cost(w, False)
            nw, nb = cw - a0 + a1, cb - b0 + b1
            if abs(nw - target_wp) + abs(nb - tb) <= abs(cw - target_wp) + abs(cb - tb):
                words[i], cw, cb = w, nw, nb
    else:
        raise RuntimeError("could not satisfy length constraints")
    text = " ".join(words)
    cw, cb = (n_tok(wp, text), n_tok(bpe, text)) if pair_first is None else \
        (n_tok(wp, pair_first, text), n_tok(bpe, pair_first, text))
    assert cw == target_wp and (cb <= target_bpe_max if target_bpe is None else cb == target_bpe), (cw, cb)
    return text


def make_inputs(wp, bpe):
    g = TextGen(777)
    items = [
        ("", None),                                                     # just specials
        ("movie", None),                                                # one word piece
        ("The movie was great!", None),
        ("Where is the station?", "The station is near the old bridge."),
        ("Alice moved to Paris in 2019 and works at Google.", None),
        ("Caf\u00e9 au lait in Z\u00fcrich \u2014 na\u00efve? \U0001F642", None),   # accents, dash, emoji
        ("Is this empty?", ""),                                          # empty second segment
        ("WOW!!! Really???", None),
        ("Bob met Rachel at the Microsoft office in Boston last summer.", None),
        ("Call 555-0199 or visit room 42b at 10:30.", None),
        ("the " * 20 + "end", None),                                    # repeated token
        ("\u6211\u7231\u5317\u4eac and Tokyo", None),                   # CJK chars (split per char by BERT)
        ("  leading and   trailing   spaces\t\n", None),
        ("The unbelievably overprinted antidisestablishmentarianism", "reworkable unpaintedness"),
        ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ]
    out = [{"text": t, "text_pair": p} for t, p in items]
    # exact lengths for the WordPiece tokenizer; BPE lengths must stay <= 512
    targets = [  # (wp_len, pair?, exact bpe length or None)
        (8, False, None), (17, False, None), (17, True, None), (32, True, None), (64, False, None),
        (64, True, None), (128, False, None), (300, True, None), (512, False, 512),
    ]
    for tw, is_pair, tb in targets:
        if is_pair:
            first = g.paragraph(1 if tw < 100 else 3)
            while n_tok(wp, first) > tw // 2:
                first = g.sentence()
            text = exact_length_text(g, wp, bpe, tw, 512, tb, pair_first=first)
            out.append({"text": first, "text_pair": text})
        else:
            out.append({"text": exact_length_text(g, wp, bpe, tw, 512, tb), "text_pair": None})
    return out



# --------------------------------------------------------------------------
# 4. Model specs
# --------------------------------------------------------------------------

from transformers import (  # noqa: E402
    AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer,
    BertConfig, BertForSequenceClassification, BertForTokenClassification, BertModel,
    DistilBertConfig, DistilBertForSequenceClassification, DistilBertForTokenClassification, DistilBertModel,
    ElectraConfig, ElectraForSequenceClassification, ElectraForTokenClassification, ElectraModel,
    ErnieConfig, ErnieForSequenceClassification, ErnieForTokenClassification, ErnieModel,
    RobertaConfig, RobertaForSequenceClassification, RobertaForTokenClassification, RobertaModel,
    XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaForTokenClassification, XLMRobertaModel,
)

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

INIT_RANGE = 0.2   # initializer_range (HF default 0.02 gives near-zero, useless logits)

ARCHS = {
    # name: config class, (base, seqcls, tokcls) classes, tokenizer kind, HF tokenizer class, config kwargs
    "bert": dict(
        cfg=BertConfig, classes=(BertModel, BertForSequenceClassification, BertForTokenClassification),
        tok="wordpiece", tok_class="BertTokenizer", max_len=512,
        kw=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
                pad_token_id=0)),
    "roberta": dict(
        cfg=RobertaConfig, classes=(RobertaModel, RobertaForSequenceClassification, RobertaForTokenClassification),
        tok="bpe", tok_class="RobertaTokenizer", max_len=512,
        kw=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                max_position_embeddings=514, type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-5,
                pad_token_id=1, bos_token_id=0, eos_token_id=2)),
    "xlm-roberta": dict(
        cfg=XLMRobertaConfig,
        classes=(XLMRobertaModel, XLMRobertaForSequenceClassification, XLMRobertaForTokenClassification),
        # XLMRobertaTokenizer (transformers 5) insists on a Unigram model; the fixture tokenizer is BPE
        tok="bpe", tok_class="PreTrainedTokenizerFast", max_len=512,
        kw=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                max_position_embeddings=514, type_vocab_size=1, hidden_act="gelu", layer_norm_eps=1e-5,
                pad_token_id=1, bos_token_id=0, eos_token_id=2)),
    "ernie": dict(
        cfg=ErnieConfig, classes=(ErnieModel, ErnieForSequenceClassification, ErnieForTokenClassification),
        tok="wordpiece", tok_class="BertTokenizer", max_len=512,
        kw=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                max_position_embeddings=512, type_vocab_size=4, task_type_vocab_size=3, use_task_id=True,
                hidden_act="gelu", layer_norm_eps=1e-5, pad_token_id=0)),
    "distilbert": dict(
        cfg=DistilBertConfig,
        classes=(DistilBertModel, DistilBertForSequenceClassification, DistilBertForTokenClassification),
        tok="wordpiece", tok_class="DistilBertTokenizer", max_len=512,
        kw=dict(dim=32, n_layers=2, n_heads=2, hidden_dim=96, max_position_embeddings=512,
                activation="gelu", sinusoidal_pos_embds=False, pad_token_id=0)),
    "electra": dict(
        cfg=ElectraConfig, classes=(ElectraModel, ElectraForSequenceClassification, ElectraForTokenClassification),
        tok="wordpiece", tok_class="ElectraTokenizer", max_len=512,
        kw=dict(embedding_size=32, hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
                intermediate_size=96, max_position_embeddings=512, type_vocab_size=2,
                hidden_act="gelu_new", layer_norm_eps=1e-12, pad_token_id=0)),
}

# path of the last nn.Linear of each head (the layer whose weights are margin-tuned, see tune_head)
FINAL_LINEAR = {
    ("bert", "seqcls"): "classifier", ("ernie", "seqcls"): "classifier", ("distilbert", "seqcls"): "classifier",
    ("roberta", "seqcls"): "classifier.out_proj", ("xlm-roberta", "seqcls"): "classifier.out_proj",
    ("electra", "seqcls"): "classifier.out_proj",
}

NER = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]

# head: base | seqcls | tokcls.  labels=None -> no id2label/label2id passed to the config (HF defaults)
SPECS = [
    dict(name="bert-base", arch="bert", head="base", seed=101),
    dict(name="bert-seqcls", arch="bert", head="seqcls", seed=102,
         labels=["negative", "neutral", "positive"], problem_type="single_label_classification",
         bf16_copy=True),
    dict(name="bert-tokcls", arch="bert", head="tokcls", seed=103, labels=NER),
    dict(name="bert-crossencoder", arch="bert", head="seqcls", seed=104, labels=["LABEL_0"],
         crossencoder=True),
    dict(name="bert-st-embedding", arch="bert", head="base", seed=105, st=True),
    dict(name="roberta-base", arch="roberta", head="base", seed=201),
    dict(name="roberta-seqcls", arch="roberta", head="seqcls", seed=202,
         labels=["CONTRADICTION", "NEUTRAL", "ENTAILMENT"], problem_type="single_label_classification"),
    dict(name="roberta-tokcls", arch="roberta", head="tokcls", seed=203, labels=NER),
    dict(name="roberta-multilabel", arch="roberta", head="seqcls", seed=204,
         labels=["toxic", "insult", "threat", "obscene"], problem_type="multi_label_classification"),
    dict(name="xlm-roberta-base", arch="xlm-roberta", head="base", seed=301, shard="100KB"),
    dict(name="xlm-roberta-seqcls", arch="xlm-roberta", head="seqcls", seed=302,
         labels=["negative", "neutral", "positive"], problem_type="single_label_classification"),
    dict(name="xlm-roberta-tokcls", arch="xlm-roberta", head="tokcls", seed=303, labels=NER, bf16_copy=True),
    dict(name="xlm-roberta-seqcls-defaultlabels", arch="xlm-roberta", head="seqcls", seed=304, labels=None),
    dict(name="ernie-base", arch="ernie", head="base", seed=401),
    dict(name="ernie-seqcls", arch="ernie", head="seqcls", seed=402,
         labels=["sports", "politics", "technology"], problem_type="single_label_classification"),
    dict(name="ernie-tokcls", arch="ernie", head="tokcls", seed=403, labels=NER),
    dict(name="distilbert-base", arch="distilbert", head="base", seed=501),
    dict(name="distilbert-seqcls", arch="distilbert", head="seqcls", seed=502,
         labels=["NEGATIVE", "NEUTRAL", "POSITIVE"]),                       # problem_type unset
    dict(name="distilbert-tokcls", arch="distilbert", head="tokcls", seed=503, labels=NER),
    dict(name="distilbert-regression", arch="distilbert", head="seqcls", seed=504, labels=["score"],
         problem_type="regression"),
    dict(name="electra-base", arch="electra", head="base", seed=601, bf16_copy=True),
    dict(name="electra-seqcls", arch="electra", head="seqcls", seed=602,
         labels=["joy", "anger", "sadness"]),                                # problem_type unset
    dict(name="electra-tokcls", arch="electra", head="tokcls", seed=603, labels=NER),
]


def activation_of(config, head):
    """Activation applied to the logits, exactly as vLLM's classification pooler does."""
    if head == "base":
        return None
    pt = getattr(config, "problem_type", None)
    if pt == "regression":
        return "identity"
    if pt == "multi_label_classification":
        return "sigmoid"
    if config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def apply_activation(logits, act):
    if act == "softmax":
        return torch.softmax(logits, dim=-1)
    if act == "sigmoid":
        return torch.sigmoid(logits)
    return logits.clone()


def prob_gaps(logits, act):
    """Decision margin per row of logits [N, C] (differentiable).
    softmax: p_top1 - p_top2;  sigmoid, C == 1: |p - 0.5|;  sigmoid, C > 1: min(p_top1 - p_top2,
    min_c |p_c - 0.5|);  identity (regression): +inf (no decision)."""
    if act == "identity":
        return torch.full(logits.shape[:1], float("inf"))
    p = apply_activation(logits, act)
    if p.shape[-1] == 1:
        return (p[:, 0] - 0.5).abs()
    top = p.topk(2, dim=-1).values
    g = top[:, 0] - top[:, 1]
    if act == "sigmoid":
        g = torch.minimum(g, (p - 0.5).abs().min(dim=-1).values)
    return g


# --------------------------------------------------------------------------
# 5. Building, tuning and running the models
# --------------------------------------------------------------------------

def make_config(spec):
    a = ARCHS[spec["arch"]]
    kw = dict(a["kw"], vocab_size=VOCAB_SIZE, initializer_range=INIT_RANGE)
    if spec["head"] != "base":
        labels = spec.get("labels")
        if labels is None:
            kw["num_labels"] = 2
        else:
            kw["id2label"] = {i: l for i, l in enumerate(labels)}
            kw["label2id"] = {l: i for i, l in enumerate(labels)}
        if spec.get("problem_type"):
            kw["problem_type"] = spec["problem_type"]
    config = a["cfg"](**kw)
    config._attn_implementation = "eager"     # references use eager attention (not saved to config.json)
    return config


def model_class(spec):
    return ARCHS[spec["arch"]]["classes"][["base", "seqcls", "tokcls"].index(spec["head"])]


def auto_class(head):
    return {"base": AutoModel, "seqcls": AutoModelForSequenceClassification,
            "tokcls": AutoModelForTokenClassification}[head]


def random_init(model, seed):
    """Explicit random init, independent of transformers' _init_weights:
    Linear/Embedding weights ~ N(0, INIT_RANGE) (as HF does with initializer_range), and - unlike
    HF - random LayerNorm gains (U[0.5, 1.5]), LayerNorm biases (N(0, 0.2)) and Linear biases
    (N(0, 0.1)), so that a bug in any of them changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    ln_params = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, torch.nn.LayerNorm):
            ln_params.add(mname + ".weight")
            ln_params.add(mname + ".bias")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ln_params and name.endswith(".weight"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name in ln_params:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * INIT_RANGE)


def round_bf16_(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))


def layer_list(model):
    base = model.base_model
    if hasattr(base, "transformer"):      # DistilBERT
        return base.transformer.layer
    return base.encoder.layer


def embeddings_module(model):
    return model.base_model.embeddings


class Encoded:
    def __init__(self, hf_enc, raw_type_ids):
        self.model_inputs = {k: torch.tensor([v]) for k, v in hf_enc.items()}
        self.input_ids = hf_enc["input_ids"]
        self.raw_type_ids = raw_type_ids


def encode_all(hf_tok, raw_tok, inputs):
    """Tokenize every input with the folder's HF tokenizer (batched call: transformers' un-batched
    call drops an empty text_pair, see README) and check it against tokenizer.json."""
    out = []
    for it in inputs:
        if it["text_pair"] is None:
            enc = hf_tok([it["text"]])
        else:
            enc = hf_tok([it["text"]], [it["text_pair"]])
        enc = {k: v[0] for k, v in enc.items()}
        raw = raw_tok.encode(it["text"], it["text_pair"])
        assert enc["input_ids"] == raw.ids, (it, enc["input_ids"], raw.ids)
        if "token_type_ids" in enc:
            assert enc["token_type_ids"] == raw.type_ids
        assert len(raw.ids) <= 512
        out.append(Encoded(enc, raw.type_ids))
    return out


def run_one(model, enc):
    """fp32 forward of one un-padded input; returns dict of per-input tensors."""
    captured = {}
    hooks = []
    emb = embeddings_module(model)

    def cap(name):
        def hook(mod, args, kwargs=None):
            captured[name] = args[0].detach().clone()
        return hook

    hooks.append(emb.position_embeddings.register_forward_pre_hook(cap("position_ids")))
    if hasattr(emb, "token_type_embeddings"):
        hooks.append(emb.token_type_embeddings.register_forward_pre_hook(cap("token_type_ids")))
    if hasattr(emb, "task_type_embeddings"):
        hooks.append(emb.task_type_embeddings.register_forward_pre_hook(cap("task_type_ids")))

    def cap_layer0(mod, args, output):
        o = output[0] if isinstance(output, (tuple, list)) else output
        captured["layer0_out"] = o.detach().clone()
    hooks.append(layer_list(model)[0].register_forward_hook(cap_layer0))
    try:
        with torch.no_grad():
            out = model(**enc.model_inputs, output_hidden_states=True, return_dict=True)
    finally:
        for h in hooks:
            h.remove()
    hs = out.hidden_states
    assert len(hs) == model.config.num_hidden_layers + 1 if hasattr(model.config, "num_hidden_layers") \
        else len(hs) == model.config.n_layers + 1
    # hidden_states[1] must be the output of the first layer
    assert torch.equal(hs[1], captured["layer0_out"]), "hidden_states[1] != layer 0 output"
    res = {
        "position_ids": captured["position_ids"][0],
        "embeddings": hs[0][0],
        "hidden_states_1": hs[1][0],
        "last_hidden": hs[-1][0],
    }
    if hasattr(out, "last_hidden_state") and out.last_hidden_state is not None:
        assert torch.equal(out.last_hidden_state, hs[-1])
    if "token_type_ids" in captured:
        res["token_type_ids_used"] = captured["token_type_ids"][0]
    if "task_type_ids" in captured:
        res["task_type_ids"] = captured["task_type_ids"][0]
    if getattr(out, "logits", None) is not None:
        res["logits"] = out.logits[0]
    return res


def collect_final_features(model, spec, encs):
    """Inputs of the head's last Linear for every input (rows: inputs for seqcls, tokens for tokcls)."""
    path = FINAL_LINEAR.get((spec["arch"], spec["head"]), "classifier")
    lin = model.get_submodule(path)
    feats = []
    h = lin.register_forward_pre_hook(lambda m, args: feats.append(args[0].detach().reshape(-1, args[0].shape[-1])))
    try:
        with torch.no_grad():
            for e in encs:
                model(**e.model_inputs)
    finally:
        h.remove()
    return lin, torch.cat(feats, 0)


def tune_head(model, spec, encs, act, bf16, seed):
    """Make the decisions of the (random) head well separated.

    Only the head's last Linear is touched: it is rescaled/centred so that logits vary across
    inputs and every class wins somewhere, then margin-tuned (a few hundred Adam steps on a hinge
    loss) until every decision margin (see prob_gaps) is >= GAP_TARGET; with a random head some
    top-2 probabilities are inevitably within 1e-2 of each other, which would make argmax
    comparisons flaky under fp16 error."""
    lin, F = collect_final_features(model, spec, encs)
    g = torch.Generator().manual_seed(seed + 7)
    C = lin.out_features
    with torch.no_grad():
        W = lin.weight.detach().clone()
        Z = F @ W.T
        target_std = 2.0 if spec["head"] == "seqcls" else 3.0
        W *= target_std / Z.std(0).clamp_min(1e-6).mean()
        Z = F @ W.T
        b = -Z.mean(0) + torch.randn(C, generator=g) * (0.3 if C > 1 else 0.0)
    if act == "identity":        # regression: nothing to separate, just an O(1) output with an offset
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(b + 0.75)
            if bf16:
                round_bf16_(lin)
        return
    W0 = W.clone()
    W.requires_grad_(True)
    b.requires_grad_(True)
    opt = torch.optim.Adam([W, b], lr=0.01)
    for step in range(4000):
        logits = F @ W.T + b
        gaps = prob_gaps(logits, act)
        if gaps.min().item() >= GAP_TARGET:
            break
        loss = torch.relu(GAP_TARGET * 1.5 - gaps).sum() + 1e-3 * ((W - W0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        lin.weight.copy_(W)
        lin.bias.copy_(b)
        if bf16:
            round_bf16_(lin)


def check_head(spec, act, refs, config):
    """Returns (min gap, set of winning classes) over all decisions of this folder."""
    if act in (None, "identity"):
        return None, None
    gaps, wins = [], set()
    for r in refs:
        lg = r["logits"].reshape(-1, config.num_labels)
        gaps.append(prob_gaps(lg, act))
        wins.update(apply_activation(lg, act).argmax(-1).tolist())
    return torch.cat(gaps).min().item(), wins


def build_model(spec, encs, base_state=None):
    """Create, initialise and (for heads) tune one model. Returns (model, config, act)."""
    torch.manual_seed(spec["seed"])
    config = make_config(spec)
    model = model_class(spec)(config)
    model.eval()
    act = activation_of(config, spec["head"])
    bf16 = spec.get("bf16", False)
    if base_state is not None:
        model.load_state_dict(base_state)
    else:
        random_init(model, spec["seed"])
    if bf16:
        round_bf16_(model)
    if spec["head"] == "base":
        return model, config, act
    for attempt in range(20):
        if base_state is None or attempt > 0:
            tune_head(model, spec, encs, act, bf16, spec["seed"] * 100 + attempt)
            if base_state is not None:
                spec["head_retuned"] = True
        refs = [run_one(model, e) for e in encs]
        gmin, wins = check_head(spec, act, refs, config)
        need = min(config.num_labels, 7 if spec["head"] == "tokcls" else 3)
        if act == "identity":
            return model, config, act
        ok_gap = gmin >= GAP_ACCEPT
        ok_div = len(wins) >= (need if act == "softmax" else 2) if config.num_labels > 1 else True
        if act == "sigmoid" and config.num_labels == 1:
            sides = {bool(r["logits"].item() > 0) for r in refs}
            ok_div = len(sides) == 2
        if ok_gap and ok_div:
            return model, config, act
        print("   retune %s (attempt %d): min gap %.4f, classes %s" % (spec["name"], attempt, gmin, sorted(wins)))
    raise RuntimeError("could not tune head of " + spec["name"])


# --------------------------------------------------------------------------
# 6. Saving folders and references
# --------------------------------------------------------------------------

EMB_MAX_TOKENS = 32     # embeddings.{i} (output of the embedding block) only for short inputs (size)
ST_VERSION_INFO = None


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def save_tokenizer(folder, kind, tok, tok_class):
    tok.save(os.path.join(folder, "tokenizer.json"))
    cfg, specials = tokenizer_files(kind, tok_class, 512)
    write_json(os.path.join(folder, "tokenizer_config.json"), cfg)
    write_json(os.path.join(folder, "special_tokens_map.json"), specials)


def versions():
    import sentence_transformers
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "safetensors": safetensors.__version__, "sentence_transformers": sentence_transformers.__version__,
            "numpy": np.__version__}


def save_model_folder(spec, model, folder, toks):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    bf16 = spec.get("bf16", False)
    to_save = model
    if bf16:
        import copy
        to_save = copy.deepcopy(model).to(torch.bfloat16)
    kwargs = {}
    if spec.get("shard"):
        kwargs["max_shard_size"] = spec["shard"]
    to_save.save_pretrained(folder, **kwargs)
    # config.json: transformers 5 writes "dtype"; most checkpoints in the wild (transformers 4) carry
    # "torch_dtype" -> write both
    cpath = os.path.join(folder, "config.json")
    cfg = json.load(open(cpath))
    cfg["torch_dtype"] = cfg.get("dtype", "bfloat16" if bf16 else "float32")
    if spec.get("crossencoder"):
        # what sentence-transformers >= 4 CrossEncoder.save_pretrained puts into config.json, read by
        # sentence-transformers and vLLM to pick the score activation
        import sentence_transformers
        cfg["sentence_transformers"] = {"activation_fn": "torch.nn.modules.activation.Sigmoid",
                                        "version": sentence_transformers.__version__}
    write_json(cpath, dict(sorted(cfg.items())))
    a = ARCHS[spec["arch"]]
    save_tokenizer(folder, a["tok"], toks[a["tok"]], a["tok_class"])
    v = versions()
    if spec.get("crossencoder"):
        write_json(os.path.join(folder, "config_sentence_transformers.json"), {
            "__version__": {"sentence_transformers": v["sentence_transformers"],
                            "transformers": v["transformers"], "pytorch": v["torch"]},
            "activation_fn": "torch.nn.modules.activation.Sigmoid",
            "default_prompt_name": None, "model_type": "CrossEncoder", "prompts": {}})
    if spec.get("st"):
        # classic sentence-transformers layout (as e.g. sentence-transformers/all-MiniLM-L6-v2)
        write_json(os.path.join(folder, "modules.json"), [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ])
        write_json(os.path.join(folder, "sentence_bert_config.json"), {"max_seq_length": 512, "do_lower_case": False})
        write_json(os.path.join(folder, "config_sentence_transformers.json"), {
            "__version__": {"sentence_transformers": v["sentence_transformers"],
                            "transformers": v["transformers"], "pytorch": v["torch"]},
            "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"})
        os.makedirs(os.path.join(folder, "1_Pooling"))
        write_json(os.path.join(folder, "1_Pooling", "config.json"), {
            "word_embedding_dimension": model.config.hidden_size,
            "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False,
            "include_prompt": True})
        # 2_Normalize has no files (git cannot hold an empty folder, and the hub copies of such
        # models do not have it either); sentence-transformers does not need it to exist.


def compute_references(spec, model, config, act, encs, inputs, folder):
    tensors = {}
    entries = []
    all_gaps = []
    arch = spec["arch"]
    for i, (e, it) in enumerate(zip(encs, inputs)):
        r = run_one(model, e)
        n = len(e.input_ids)
        tensors["input_ids.%d" % i] = torch.tensor(e.input_ids, dtype=torch.int32)
        tt_raw = torch.tensor(e.raw_type_ids, dtype=torch.int32)
        if "token_type_ids_used" in r:
            assert torch.equal(r["token_type_ids_used"].to(torch.int32).reshape(-1), tt_raw), \
                "token types used by the model differ from the tokenizer's"
        tensors["token_type_ids.%d" % i] = tt_raw
        tensors["position_ids.%d" % i] = r["position_ids"].to(torch.int32).reshape(-1)
        if "task_type_ids" in r:
            tensors["task_type_ids.%d" % i] = r["task_type_ids"].to(torch.int32).reshape(-1)
        if n <= EMB_MAX_TOKENS:
            tensors["embeddings.%d" % i] = r["embeddings"].float()
        tensors["hidden_states_1.%d" % i] = r["hidden_states_1"].float()
        tensors["last_hidden.%d" % i] = r["last_hidden"].float()
        entry = {"index": i, "text": it["text"], "text_pair": it["text_pair"], "num_tokens": n}
        if spec["head"] == "base":
            tensors["embedding_cls.%d" % i] = r["last_hidden"][0].float().clone()
            tensors["embedding_mean.%d" % i] = r["last_hidden"].float().mean(0)
        else:
            logits = r["logits"].float()
            probs = apply_activation(logits, act)
            tensors["logits.%d" % i] = logits.clone()
            tensors["probs.%d" % i] = probs
            id2label = config.id2label
            if spec["head"] == "seqcls":
                am = int(probs.argmax().item())
                gap = prob_gaps(logits.reshape(1, -1), act)[0].item()
                entry.update(argmax=am, label=id2label[am])
                if act == "identity":
                    entry["score"] = float(logits[0].item())
                else:
                    entry["prob_gap"] = round(gap, 6)
                    all_gaps.append(gap)
                if config.num_labels == 1:
                    entry["score"] = float(probs[0].item())
            else:
                am = probs.argmax(-1).tolist()
                gaps = prob_gaps(logits, act)
                entry.update(argmax=am, label=[id2label[k] for k in am], min_prob_gap=round(gaps.min().item(), 6))
                all_gaps.extend(gaps.tolist())
        entries.append(entry)

    if spec.get("st"):
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(folder, device="cpu")
        assert type(st[1]).__name__ == "Pooling" and type(st[2]).__name__ == "Normalize", st
        for i, it in enumerate(inputs):
            x = it["text"] if it["text_pair"] is None else (it["text"], it["text_pair"])
            emb = torch.from_numpy(np.asarray(st.encode([x], convert_to_numpy=True)[0])).float()
            tensors["st_embedding.%d" % i] = emb
            ref = torch.nn.functional.normalize(tensors["embedding_mean.%d" % i], dim=0)
            d = (emb - ref).abs().max().item()
            assert d < 1e-5, ("st_embedding != normalize(embedding_mean)", i, d)
    if spec.get("crossencoder"):
        from sentence_transformers import CrossEncoder
        ce = CrossEncoder(folder, device="cpu")
        assert type(ce.activation_fn).__name__ == "Sigmoid", ce.activation_fn
        for i, it in enumerate(inputs):
            if it["text_pair"] is None:
                continue
            s = float(np.asarray(ce.predict([(it["text"], it["text_pair"])]))[0])
            tensors["st_score.%d" % i] = torch.tensor([s], dtype=torch.float32)
            d = abs(s - tensors["probs.%d" % i][0].item())
            assert d < 1e-5, ("CrossEncoder.predict != sigmoid(logit)", i, d)

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(folder, "reference.safetensors"), metadata={"format": "pt"})

    base_cls = model_class(spec)
    uses_tt = hasattr(embeddings_module(model), "token_type_embeddings")
    meta = {
        "folder": spec["name"],
        "architecture": base_cls.__name__,
        "model_type": config.model_type,
        "head": spec["head"] if not spec.get("st") else "base+sentence_transformers",
        "activation": act,
        "problem_type": getattr(config, "problem_type", None),
        "num_labels": config.num_labels if spec["head"] != "base" else None,
        "id2label": {str(k): v for k, v in config.id2label.items()} if spec["head"] != "base" else None,
        "weights_dtype": "bfloat16" if spec.get("bf16") else "float32",
        "reference_compute": ("fp32 eager attention, one input at a time, no padding" +
                              (", bf16 weights upcast to fp32" if spec.get("bf16") else "")),
        "model_inputs": sorted(encs[0].model_inputs.keys()),
        "token_type_ids_used_by_model": uses_tt,
        "position_ids": ("padding_idx + 1 + arange(n) = 2..n+1" if arch in ("roberta", "xlm-roberta")
                         else "arange(n)"),
        "tensors": tensor_doc(spec),
        "min_prob_gap": round(min(all_gaps), 6) if all_gaps else None,
        "max_prob_gap": round(max(all_gaps), 6) if all_gaps else None,
        "inputs": entries,
    }
    if spec.get("bf16_of"):
        meta["bf16_copy_of"] = spec["bf16_of"]
        meta["bf16_note"] = ("weights = those of %s rounded to bfloat16%s" % (
            spec["bf16_of"], "; the last Linear of the head was then re-tuned (rounding had put a decision "
            "margin below %.2f)" % GAP_ACCEPT if spec.get("head_retuned") else ""))
    write_json(os.path.join(folder, "reference.json"), meta)
    return tensors, meta


def tensor_doc(spec):
    d = {
        "input_ids.{i}": "int32 [n] token ids (HF tokenizer == tokenizer.json)",
        "token_type_ids.{i}": "int32 [n] segment ids from tokenizer.json (0 = text, 1 = text_pair); "
                              "what the model embeds if it has token type embeddings",
        "position_ids.{i}": "int32 [n] indices HF fed to position_embeddings",
        "embeddings.{i}": "float32 [n, hidden] output of the embedding block (after LayerNorm%s); only "
                          "for inputs with n <= %d" % (", after embeddings_project" if spec["arch"] == "electra"
                                                       else "", EMB_MAX_TOKENS),
        "hidden_states_1.{i}": "float32 [n, hidden] output of encoder layer 0",
        "last_hidden.{i}": "float32 [n, hidden] output of the last encoder layer",
    }
    if spec["arch"] == "ernie":
        d["task_type_ids.{i}"] = "int32 [n] task type ids HF used (zeros: HF default when not passed)"
    if spec["head"] == "base":
        d["embedding_cls.{i}"] = "float32 [hidden] last_hidden[0] (not normalized)"
        d["embedding_mean.{i}"] = "float32 [hidden] mean of last_hidden over all n tokens incl. specials"
    elif spec["head"] == "seqcls":
        d["logits.{i}"] = "float32 [num_labels]"
        d["probs.{i}"] = "float32 [num_labels] activation(logits), see 'activation'"
    else:
        d["logits.{i}"] = "float32 [n, num_labels]"
        d["probs.{i}"] = "float32 [n, num_labels] activation(logits) per token"
    if spec.get("st"):
        d["st_embedding.{i}"] = ("float32 [hidden] SentenceTransformer(folder).encode(text or (text, text_pair)) "
                                 "= L2-normalized mean pooling")
    if spec.get("crossencoder"):
        d["st_score.{i}"] = "float32 [1] CrossEncoder(folder).predict([(text, text_pair)]) (pairs only)"
    return d


# --------------------------------------------------------------------------
# 7. Verification, weight names, versions
# --------------------------------------------------------------------------

def verify_folder(spec, folder, inputs):
    """Reload the folder the way a user would and compare with the stored references."""
    hf_tok = AutoTokenizer.from_pretrained(folder)
    raw_tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    encs = encode_all(hf_tok, raw_tok, inputs)
    ref = load_file(os.path.join(folder, "reference.safetensors"))
    for i, e in enumerate(encs):
        assert ref["input_ids.%d" % i].tolist() == e.input_ids
    res = {}
    cls = auto_class(spec["head"])
    for impl in ("eager", "sdpa"):
        m = cls.from_pretrained(folder, dtype=torch.float32, attn_implementation=impl).eval()
        assert type(m) is model_class(spec), (type(m), model_class(spec))
        worst = 0.0
        for i, e in enumerate(encs):
            with torch.no_grad():
                out = m(**e.model_inputs)
            if spec["head"] == "base":
                got, want = out.last_hidden_state[0], ref["last_hidden.%d" % i]
            else:
                got, want = out.logits[0], ref["logits.%d" % i]
                assert torch.equal(got.argmax(-1), want.argmax(-1)), (spec["name"], impl, i)
            worst = max(worst, (got - want).abs().max().item())
        res[impl] = worst
    m = cls.from_pretrained(folder)
    res["default_load_dtype"] = str(m.dtype).replace("torch.", "")
    res["independent"] = independent_check(folder, len(inputs))
    assert res["eager"] < 1e-5 and res["sdpa"] < 1e-4, (spec["name"], res)
    return res



def independent_forward(folder, ids, tts):
    """Re-implementation of the six encoders from config.json + safetensors only (no transformers
    modules), in float64, following ARCH_NOTES - this is what the C++ engine has to do. Returns
    (hidden_states_1, last_hidden, logits or None)."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    idx = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    W = {}
    for f in files:
        W.update({k: v.to(torch.float64) for k, v in load_file(os.path.join(folder, f)).items()})
    mt = cfg["model_type"]
    word_key = [k for k in W if k.endswith("embeddings.word_embeddings.weight")][0]
    p = word_key[: -len("embeddings.word_embeddings.weight")]          # "", "bert.", "roberta.", ...
    n = len(ids)
    ids = torch.tensor(ids)
    eps = 1e-12 if mt == "distilbert" else cfg["layer_norm_eps"]

    def lin(x, name):
        return x @ W[name + ".weight"].T + W[name + ".bias"]

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]

    def act(x, kind):
        if kind == "gelu":
            return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
        if kind == "gelu_new":
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
        if kind == "relu":
            return torch.relu(x)
        raise ValueError(kind)

    if mt in ("roberta", "xlm-roberta"):
        pos = torch.arange(n) + cfg["pad_token_id"] + 1
    else:
        pos = torch.arange(n)
    x = W[p + "embeddings.word_embeddings.weight"][ids] + W[p + "embeddings.position_embeddings.weight"][pos]
    if p + "embeddings.token_type_embeddings.weight" in W:
        tt = torch.zeros(n, dtype=torch.long) if mt in ("roberta", "xlm-roberta") else torch.tensor(tts)
        x = x + W[p + "embeddings.token_type_embeddings.weight"][tt]
    if cfg.get("use_task_id"):
        x = x + W[p + "embeddings.task_type_embeddings.weight"][torch.zeros(n, dtype=torch.long)]
    x = ln(x, p + "embeddings.LayerNorm")
    if mt == "electra":
        x = lin(x, p + "embeddings_project")
    if mt == "distilbert":
        L, H, hact = cfg["n_layers"], cfg["n_heads"], cfg["activation"]
    else:
        L, H, hact = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["hidden_act"]
    hs = []
    for l in range(L):
        if mt == "distilbert":
            b = p + "transformer.layer.%d." % l
            names = (b + "attention.q_lin", b + "attention.k_lin", b + "attention.v_lin", b + "attention.out_lin",
                     b + "sa_layer_norm", b + "ffn.lin1", b + "ffn.lin2", b + "output_layer_norm")
        else:
            b = p + "encoder.layer.%d." % l
            names = (b + "attention.self.query", b + "attention.self.key", b + "attention.self.value",
                     b + "attention.output.dense", b + "attention.output.LayerNorm", b + "intermediate.dense",
                     b + "output.dense", b + "output.LayerNorm")
        d = x.shape[-1]
        hd = d // H
        q, k, v = (lin(x, nm).reshape(n, H, hd).transpose(0, 1) for nm in names[:3])
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), dim=-1) @ v
        a = a.transpose(0, 1).reshape(n, d)
        x = ln(x + lin(a, names[3]), names[4])
        x = ln(x + lin(act(lin(x, names[5]), hact), names[6]), names[7])
        hs.append(x)
    arch = (cfg.get("architectures") or [""])[0]
    logits = None
    if arch.endswith("ForTokenClassification"):
        logits = lin(x, "classifier")
    elif arch.endswith("ForSequenceClassification"):
        h0 = x[0]
        if mt in ("bert", "ernie"):
            logits = lin(torch.tanh(lin(h0, p + "pooler.dense")), "classifier")
        elif mt in ("roberta", "xlm-roberta"):
            logits = lin(torch.tanh(lin(h0, "classifier.dense")), "classifier.out_proj")
        elif mt == "distilbert":
            logits = lin(torch.relu(lin(h0, "pre_classifier")), "classifier")
        elif mt == "electra":
            logits = lin(act(lin(h0, "classifier.dense"), "gelu"), "classifier.out_proj")
    return hs[0], hs[-1], logits


def independent_check(folder, n_inputs):
    ref = load_file(os.path.join(folder, "reference.safetensors"))
    meta = json.load(open(os.path.join(folder, "reference.json")))
    worst = 0.0
    for i in range(n_inputs):
        h1, hl, logits = independent_forward(folder, ref["input_ids.%d" % i].tolist(),
                                             ref["token_type_ids.%d" % i].tolist())
        pairs = [(h1, ref["hidden_states_1.%d" % i]), (hl, ref["last_hidden.%d" % i])]
        if logits is not None:
            pairs.append((logits, ref["logits.%d" % i]))
            act = meta["activation"]
            pr = torch.softmax(logits, -1) if act == "softmax" else torch.sigmoid(logits) if act == "sigmoid" else logits
            pairs.append((pr, ref["probs.%d" % i]))
        else:
            pairs.append((hl.mean(0), ref["embedding_mean.%d" % i]))
            if "st_embedding.%d" % i in ref:
                pairs.append((torch.nn.functional.normalize(hl.mean(0), dim=0), ref["st_embedding.%d" % i]))
        for a, b in pairs:
            assert a.shape == b.shape, (folder, i, a.shape, b.shape)
            worst = max(worst, (a - b.to(torch.float64)).abs().max().item())
    assert worst < 2e-4, (folder, worst)
    return worst


def saved_keys(folder):
    idx = os.path.join(folder, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    from safetensors import safe_open
    for f in files:
        with safe_open(os.path.join(folder, f), "pt") as sf:
            for k in sf.keys():
                t = sf.get_slice(k)
                out[k] = (t.get_dtype(), list(t.get_shape()), f)
    return out



# How HF computes each architecture (transformers 5.23), written into WEIGHT_NAMES.md.
# h = last encoder output [n, hidden]; Linear(x) = x W^T + b; LN = LayerNorm(eps from config unless noted).
ARCH_NOTES = {
    "bert": [
        "prefix `bert.` in *For* models, none in `BertModel` (base folder). Base folders also carry `pooler.*`.",
        "embeddings: LN(word[ids] + token_type[tt] + position[arange(n)]), eps=layer_norm_eps (1e-12).",
        "layer: post-LN. a = LN1(x + attention.output.dense(MHA(x))); y = LN2(a + output.dense(act(intermediate.dense(a)))); "
        "act = config.hidden_act (\"gelu\" = exact erf GELU). Scores scaled by 1/sqrt(head_dim).",
        "seqcls: logits = classifier(tanh(pooler.dense(h[0]))).  tokcls: logits = classifier(h).",
    ],
    "roberta": [
        "prefix `roberta.`; same layer as BERT. `RobertaFor*` have no pooler (base folder has `pooler.*`).",
        "position ids = padding_idx + 1 + arange(n) = 2..n+1 (padding_idx = pad_token_id = 1), hence "
        "max_position_embeddings 514 for 512 tokens; rows 0/1 are never used for real tokens.",
        "token_type_embeddings has ONE row (type_vocab_size 1); HF adds row 0 to every token "
        "(the tokenizer returns no token_type_ids).",
        "seqcls: logits = classifier.out_proj(tanh(classifier.dense(h[0]))).  tokcls: classifier(h).",
    ],
    "xlm-roberta": [
        "identical code and weight names to RoBERTa - including the `roberta.` prefix - only model_type / "
        "architectures differ (`XLMRoberta*`).",
    ],
    "ernie": [
        "prefix `ernie.`; BERT layer and heads (pooler + classifier).",
        "embeddings: LN(word + token_type + position + task_type_embeddings[task_type_ids]) when "
        "use_task_id is true; task_type_ids default to zeros (the tokenizer does not produce them), so "
        "task_type_embeddings row 0 is added to every token. type_vocab_size 4 here (as ernie-3.0).",
    ],
    "distilbert": [
        "prefix `distilbert.`; config keys dim / n_heads / hidden_dim / n_layers / activation.",
        "no token type embeddings at all (tokenizer returns no token_type_ids; the model rejects them).",
        "all LayerNorm eps are hard-coded 1e-12 (not in config.json).",
        "layer: a = sa_layer_norm(x + attention.out_lin(MHA(q_lin, k_lin, v_lin))); "
        "y = output_layer_norm(a + ffn.lin2(act(ffn.lin1(a)))).",
        "seqcls: logits = classifier(ReLU(pre_classifier(h[0]))).  tokcls: classifier(h).",
    ],
    "electra": [
        "prefix `electra.`; embeddings have width embedding_size (32) and are followed by "
        "`embeddings_project` Linear(embedding_size -> hidden_size) before the first layer; "
        "hidden_states[0]/embeddings.{i} are after the projection. No pooler.",
        "the encoder uses config.hidden_act = gelu_new (tanh approximation) in these fixtures, BUT the "
        "sequence head ALWAYS uses exact erf GELU: logits = classifier.out_proj(gelu(classifier.dense(h[0]))).",
        "tokcls: logits = classifier(h).",
    ],
}

def write_weight_names(out_dir, specs, state_keys):
    lines = ["# Weight names of the fixture models",
             "",
             "Generated by make_fixtures.py from the saved safetensors files "
             "(transformers %s). Only encoder layer 0 is listed; layer 1 has the same names with `.1.`. "
             "`shape` is the safetensors shape (nn.Linear weights are stored `[out_features, in_features]`, "
             "y = x W^T + b)." % transformers.__version__,
             ""]
    seen, seen_arch = set(), set()
    for spec in specs:
        if spec.get("bf16") or spec.get("st") or spec.get("crossencoder"):
            continue
        key = (spec["arch"], spec["head"])
        if key in seen:
            continue
        seen.add(key)
        folder = os.path.join(out_dir, spec["name"])
        keys = saved_keys(folder)
        if spec["arch"] not in seen_arch:
            seen_arch.add(spec["arch"])
            lines.append("## %s" % spec["arch"])
            lines.append("")
            lines += ["- " + n for n in ARCH_NOTES[spec["arch"]]]
            lines.append("")
        lines.append("### `%s` (folder `%s`)" % (model_class(spec).__name__, spec["name"]))
        lines.append("")
        sd = state_keys[spec["name"]]
        if sorted(sd) != sorted(keys):
            lines.append("NOTE: state_dict() keys differ from the saved keys: only in state_dict: %s; only saved: %s"
                         % (sorted(set(sd) - set(keys)), sorted(set(keys) - set(sd))))
            lines.append("")
        lines.append("| name | dtype | shape |")
        lines.append("|---|---|---|")
        for k in sorted(keys):
            if ".layer.1." in k:
                continue
            dt, shape, _ = keys[k]
            lines.append("| `%s` | %s | %s |" % (k, dt, shape))
        lines.append("")
    with open(os.path.join(out_dir, "WEIGHT_NAMES.md"), "w") as f:
        f.write("\n".join(lines))


def dir_size(path):
    tot = 0
    for root, _, files in os.walk(path):
        for f in files:
            tot += os.path.getsize(os.path.join(root, f))
    return tot


def expand_specs():
    out = []
    for s in SPECS:
        out.append(dict(s))
        if s.get("bf16_copy"):
            c = dict(s, name=s["name"] + "-bf16", bf16=True, bf16_of=s["name"])
            c.pop("bf16_copy")
            c.pop("shard", None)
            out.append(c)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", nargs="*", help="only these folders (debugging; WEIGHT_NAMES.md is not rewritten)")
    ap.add_argument("--skip-verify", action="store_true")
    args = ap.parse_args()
    out_dir = args.out
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)

    corpus = training_corpus()
    toks = {"wordpiece": train_wordpiece(corpus), "bpe": train_bytelevel_bpe(corpus)}
    inputs = make_inputs(toks["wordpiece"], toks["bpe"])
    inputs_json = []
    for i, it in enumerate(inputs):
        inputs_json.append({"index": i, "text": it["text"], "text_pair": it["text_pair"],
                            "num_tokens_wordpiece": n_tok(toks["wordpiece"], it["text"], it["text_pair"]),
                            "num_tokens_bpe": n_tok(toks["bpe"], it["text"], it["text_pair"])})
    write_json(os.path.join(out_dir, "inputs.json"), inputs_json)

    specs = expand_specs()
    names = [s["name"] for s in specs]
    if args.only:
        specs = [s for s in specs if s["name"] in args.only or s.get("bf16_of") in args.only]
    else:   # remove stale generated folders
        for d in os.listdir(out_dir):
            p = os.path.join(out_dir, d)
            if os.path.isdir(p) and d not in names and os.path.exists(os.path.join(p, "reference.json")):
                shutil.rmtree(p)

    tmp = tempfile.mkdtemp()
    hf_toks = {}
    states, state_keys, metas = {}, {}, {}
    for spec in specs:
        a = ARCHS[spec["arch"]]
        tk = (a["tok"], a["tok_class"])
        if tk not in hf_toks:
            d = os.path.join(tmp, "%s-%s" % tk)
            os.makedirs(d)
            save_tokenizer(d, a["tok"], toks[a["tok"]], a["tok_class"])
            hf_toks[tk] = AutoTokenizer.from_pretrained(d)
        encs = encode_all(hf_toks[tk], toks[a["tok"]], inputs)
        base_state = None
        if spec.get("bf16_of"):
            if spec["bf16_of"] not in states:
                raise RuntimeError("bf16 copy needs its fp32 original in the same run")
            base_state = states[spec["bf16_of"]]
        model, config, act = build_model(spec, encs, base_state)
        states[spec["name"]] = {k: v.clone() for k, v in model.state_dict().items()}
        state_keys[spec["name"]] = list(model.state_dict().keys())
        folder = os.path.join(out_dir, spec["name"])
        save_model_folder(spec, model, folder, toks)
        _, meta = compute_references(spec, model, config, act, encs, inputs, folder)
        metas[spec["name"]] = meta
        print("built %-34s %7.1f KB  %s" % (spec["name"], dir_size(folder) / 1024, meta["min_prob_gap"]))
    shutil.rmtree(tmp)

    print()
    print("%-34s %8s %-12s %-6s %-8s %7s %7s %7s %8s %8s %8s %s" % (
        "folder", "KB", "model_type", "head", "act", "min gap", "max gap", "classes", "eager", "sdpa",
        "indep.", "load dtype"))
    for spec in specs:
        folder = os.path.join(out_dir, spec["name"])
        meta = metas[spec["name"]]
        v = {"eager": float("nan"), "sdpa": float("nan"), "independent": float("nan"), "default_load_dtype": "-"}
        if not args.skip_verify:
            v = verify_folder(spec, folder, inputs)
        classes = "-"
        if spec["head"] != "base" and meta["activation"] != "identity":
            won = set()
            for e in meta["inputs"]:
                won.update(e["argmax"] if isinstance(e["argmax"], list) else [e["argmax"]])
            classes = "%d/%d" % (len(won), meta["num_labels"])
        fmt = lambda x: "-" if x is None else "%.4f" % x  # noqa: E731
        print("%-34s %8.1f %-12s %-6s %-8s %7s %7s %7s %8.1e %8.1e %8.1e %s" % (
            spec["name"], dir_size(folder) / 1024, meta["model_type"], spec["head"], meta["activation"] or "-",
            fmt(meta["min_prob_gap"]), fmt(meta["max_prob_gap"]), classes, v["eager"], v["sdpa"],
            v["independent"], v["default_load_dtype"]))

    for root, _, files in os.walk(out_dir):
        for f in files:
            os.chmod(os.path.join(root, f), 0o755 if f.endswith(".py") else 0o644)
    if not args.only:
        write_json(os.path.join(out_dir, "manifest.json"), [{
            "folder": s["name"], "model_type": metas[s["name"]]["model_type"],
            "architecture": metas[s["name"]]["architecture"], "head": metas[s["name"]]["head"],
            "activation": metas[s["name"]]["activation"], "num_labels": metas[s["name"]]["num_labels"],
            "weights_dtype": metas[s["name"]]["weights_dtype"], "sharded": bool(s.get("shard")),
            "tokenizer": ARCHS[s["arch"]]["tok"]} for s in specs])
        write_weight_names(out_dir, specs, state_keys)
        v = versions()
        with open(os.path.join(out_dir, "VERSIONS.txt"), "w") as f:
            for k in ("python", "torch", "transformers", "tokenizers", "safetensors", "sentence_transformers", "numpy"):
                f.write("%s %s\n" % (k, v[k]))
            f.write("date %s\n" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
            f.write("platform %s\n" % platform.platform())
    print("\ntotal size of %s: %.2f MB" % (out_dir, dir_size(out_dir) / 1e6))


if __name__ == "__main__":
    main()
