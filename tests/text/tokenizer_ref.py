"""Reference implementations of BERT's WordPiece and CLIP's byte-level BPE tokenizers, written
in Python from the published algorithms (Devlin et al.'s tokenization.py / Hugging Face's
BasicTokenizer + WordpieceTokenizer; Radford et al.'s simple_tokenizer.py), to check
src/text/wordpiece.c and src/text/bpe.c token for token. As hpclip documents: no ftfy and no HTML
unescaping before BPE, and empty lines of a merges file are skipped.

Also: a corpus of test texts (real captions + hostile strings), and makers of a small WordPiece
vocabulary and a small BPE merges file learnt from that corpus.

  tokenizer_ref.py corpus SAMPLES_DIR OUT.json
  tokenizer_ref.py make-vocab TEXTS.json OUT_vocab.txt
  tokenizer_ref.py make-merges TEXTS.json OUT_merges.txt N
  tokenizer_ref.py wordpiece VOCAB LOWER STRIP L TEXTS.json OUT.json
  tokenizer_ref.py bpe MERGES L TEXTS.json OUT.json
"""
import collections
import csv
import gzip
import json
import os
import random
import sys
import unicodedata

import regex

# ---- WordPiece ------------------------------------------------------------------------------


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lower, strip):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if _is_whitespace(ch) else ch)
    text = "".join(out)
    text = "".join(" %s " % ch if _is_cjk(ord(ch)) else ch for ch in text)
    pieces = []
    for tok in text.strip().split():
        if lower:  # character by character, as Hugging Face's tokenizers (no final sigma)
            tok = "".join(c.lower() for c in tok)
        if strip:
            tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
        cur = []
        for ch in tok:
            if _is_punctuation(ch):
                if cur:
                    pieces.append("".join(cur))
                    cur = []
                pieces.append(ch)
            else:
                cur.append(ch)
        if cur:
            pieces.append("".join(cur))
    return " ".join(pieces).split()


def wordpiece_tokenize(vocab, text, lower, strip, max_chars=100):
    # the special tokens written in the text stay whole (Hugging Face's added tokens)
    specials = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in vocab]
    if specials:
        parts = regex.split("(" + "|".join(regex.escape(t) for t in specials) + ")", text)
        out = []
        for k, part in enumerate(parts):
            out.extend([vocab[part]] if k % 2 else wordpiece_plain(vocab, part, lower, strip, max_chars))
        return out
    return wordpiece_plain(vocab, text, lower, strip, max_chars)


def wordpiece_plain(vocab, text, lower, strip, max_chars):
    out = []
    for word in basic_tokenize(text, lower, strip):
        if len(word) > max_chars:
            out.append(vocab["[UNK]"])
            continue
        start, sub, bad = 0, [], False
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                s = word[start:end]
                if start > 0:
                    s = "##" + s
                if s in vocab:
                    cur = s
                    break
                end -= 1
            if cur is None:
                bad = True
                break
            sub.append(vocab[cur])
            start = end
        out.extend([vocab["[UNK]"]] if bad else sub)
    return out


def load_vocab(path):
    vocab = {}
    with open(path, "r", encoding="utf-8") as reader:
        tokens = reader.readlines()
    for index, token in enumerate(tokens):
        vocab[token.rstrip("\n")] = index
    return vocab


# ---- CLIP BPE --------------------------------------------------------------------------------


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class ClipBpe:
    pat = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                        regex.IGNORECASE)

    def __init__(self, merges_path):
        opener = gzip.open if merges_path.endswith(".gz") else open
        with opener(merges_path, "rb") as f:
            lines = f.read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in lines[1:] if m.strip()][:48894]
        self.byte_encoder = bytes_to_unicode()
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.sot, self.eot = len(vocab) - 2, len(vocab) - 1
        self.ranks = dict(zip(merges, range(len(merges))))

    def bpe(self, token):
        if token in ("<|startoftext|>", "<|endoftext|>"):
            return [token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new.extend(word[i:])
                    break
                new.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return list(word)

    def tokenize(self, text):
        text = regex.sub(r"\s+", " ", text.strip()).strip().lower()
        out = []
        for tok in regex.findall(self.pat, text):
            for a in range(0, len(tok), 256):  # hpclip merges runs of more than 256 characters in pieces
                piece = "".join(self.byte_encoder[b] for b in tok[a:a + 256].encode("utf-8"))
                out.extend(self.encoder[t] for t in self.bpe(piece))
        return out

    def encode(self, text, L):
        ids = [self.sot] + self.tokenize(text) + [self.eot]
        if len(ids) > L:
            ids = ids[:L]
            ids[-1] = self.eot
        return ids + [0] * (L - len(ids))


# ---- the corpus and the small vocabularies ----------------------------------------------------

HOSTILE = [
    "", " ", "\t\n", "A man riding a horse.", "  Leading and trailing   spaces  ",
    "Café crème brûlée — naïve façade, résumé", "ÉCOLE DES BEAUX-ARTS", "Ångström ÅÄÖ åäö Øre",
    "ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ", "ἈΘΗΝΑΙ ΣΑΣ", "ΣΑΣ.", "ΜΑΣ'", "Σ", "aΣ", "ΑΣ Β", "İstanbul İİ DİYARBAKIR",
    "Straße STRASSE ß", "ﬁne ﬂower ﬃ", "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ", "猫が好きです。", "我爱北京天安门",
    "한국어 문장입니다", "Привет, мир! ЁЖИК", "שלום עולם", "مرحبا بالعالم", "हिन्दी पाठ",
    "emoji 🐶🐱 🏳️‍🌈 👍🏽 ❤️", "numbers 123 4.56 7,890 ½ ² ٣ 〇", "a1b2c3 x86_64 COVID-19 #hashtag @user",
    "it's don't they're we've I'm you'll he'd IT'S DON'T", "'s 't 're rock'n'roll ''quoted'' ‘curly’ “double”",
    "it'ſ", "<|startoftext|> hello <|endoftext|>", "<|endoftext|><|endoftext|>", "<|ENDOFTEXT|>",
    "zero\u200bwidth\u200cjoin\u200d", "soft\u00adhyphen", "no\u00a0break\u2007space\u202fnarrow",
    "line\u2028sep\u2029para", "ctrl\x01\x02\x1f\x7fchars\x85", "file\x1csep\x1dgroup", "bom\ufeffinside",
    "replacement\ufffdchar", "tab\tnew\nline\rcr", "a" * 150, "x" * 99 + " " + "y" * 100 + " " + "z" * 101,
    "supercalifragilisticexpialidocious antidisestablishmentarianism", "e\u0301 combining acute, o\u0308",
    "Ǆemal ǅemal ǆemal", "ᾼ ᾈ", "K Kelvin Å Angstrom", "mixed123letters456 v2.0.1 3D 4K",
    "!!!??? ... --- *** ((( ))) [[ ]] {{ }}", "$100 €50 £20 ¥1000 ₹500", "math ∑∫√∞≈≠≤≥ ±×÷",
    "a-b_c.d/e\\f|g~h^i`j", "ＡＢＣ１２３", "𝐀𝐁𝐂 𝒜ℬ𝒞 𝔸𝔹ℂ", "ǲ ǋ ǈ", "ﬆ ﬅ", "Ǝ ɐ ʇ",
    "🇫🇷🇯🇵 flags", "caf\u00e9 vs cafe\u0301", "TURKISH ıi İI", "A" * 30 + " " + "word " * 100,
    "abcdefghij" * 70, "!?" * 300 + "x", "ΣΣΣ ΟΔΟΣ.", "\u00e9" * 300,
    "a [MASK] in the text", "[CLS][SEP]x[PAD]", "[mask] lower case is text", "[[UNK]]", "x[MASK", "[MASK]",
]


def corpus(samples):
    texts = []
    for split in ("train2017", "val2017"):
        p = os.path.join(samples, "coco", "annotations", "captions_%s.json" % split)
        if os.path.exists(p):
            texts += [a["caption"] for a in json.load(open(p, encoding="utf-8"))["annotations"]]
    for r in csv.DictReader(open(os.path.join(samples, "fashion", "styles.csv"), encoding="utf-8")):
        texts.append(r["productDisplayName"])
    for root, _, files in os.walk(os.path.join(samples, "roco")):
        for f in files:
            if f == "captions.txt":
                for line in open(os.path.join(root, f), encoding="utf-8"):
                    if "\t" in line:
                        texts.append(line.split("\t", 1)[1].strip())
    rnd = random.Random(7)
    # recombinations: real words with hostile pieces, case and accents changed
    base = texts[:]
    for i in range(400):
        a, b = rnd.choice(base), rnd.choice(HOSTILE)
        w = a.split()
        k = rnd.randrange(len(w) + 1) if w else 0
        t = " ".join(w[:k] + [b] + w[k:])
        if i % 3 == 0:
            t = t.upper()
        texts.append(t)
    return HOSTILE + texts


def make_vocab(texts, path):
    words = collections.Counter()
    for t in texts:
        words.update(basic_tokenize(t, True, True))
        words.update(basic_tokenize(t, False, False))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)
    def add(tok):
        if tok not in seen:
            seen.add(tok)
            vocab.append(tok)
    chars = collections.Counter(c for w in words for c in w)
    for c, _ in chars.most_common(300):           # single characters, and as continuations
        add(c)
        add("##" + c)
    for w, _ in words.most_common(1500):          # whole words
        add(w)
    for w, n in words.most_common(4000):          # suffixes, so that words split into pieces
        if len(w) > 4:
            add("##" + w[-3:])
            add("##" + w[-2:])
    add("[unused0]")
    add("")
    add("[UNK]")                                  # listed twice: the last id wins
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(v + "\n" for v in vocab))


def make_merges(texts, path, n):
    enc = bytes_to_unicode()
    words = collections.Counter()
    for t in texts:
        t = regex.sub(r"\s+", " ", t.strip()).strip().lower()
        for tok in regex.findall(ClipBpe.pat, t):
            s = "".join(enc[b] for b in tok.encode("utf-8"))
            words[tuple(s[:-1]) + (s[-1] + "</w>",)] += 1
    merges = []
    for _ in range(n):
        pairs = collections.Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    body = "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n\n"
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(body.encode("utf-8"))
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(body)


def main():
    cmd = sys.argv[1]
    if cmd == "corpus":
        json.dump(corpus(sys.argv[2]), open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False)
    elif cmd == "make-vocab":
        make_vocab(json.load(open(sys.argv[2], encoding="utf-8")), sys.argv[3])
    elif cmd == "make-merges":
        make_merges(json.load(open(sys.argv[2], encoding="utf-8")), sys.argv[3], int(sys.argv[4]))
    elif cmd == "wordpiece":
        vocab = load_vocab(sys.argv[2])
        lower, strip, L = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        out = []
        for t in json.load(open(sys.argv[6], encoding="utf-8")):
            ids = wordpiece_tokenize(vocab, t, lower, strip)
            enc = [vocab["[CLS]"]] + ids[:L - 2] + [vocab["[SEP]"]]
            out.append({"ids": ids, "enc": enc + [vocab["[PAD]"]] * (L - len(enc))})
        json.dump(out, open(sys.argv[7], "w"))
    elif cmd == "bpe":
        b = ClipBpe(sys.argv[2])
        L = int(sys.argv[3])
        out = [{"ids": b.tokenize(t), "enc": b.encode(t, L)} for t in json.load(open(sys.argv[4], encoding="utf-8"))]
        json.dump(out, open(sys.argv[5], "w"))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
