#!/usr/bin/python3
"""ckpt_convert.py — convert between a PyTorch state dict and an hpclip checkpoint (ckpt.h5,
schema hpclip.checkpoint version 1, hdf5-schemas/checkpoint.md), both ways.

Usage (Debian's /usr/bin/python3, which has torch, h5py and numpy):
    /usr/bin/python3 scripts/ckpt_convert.py to-hpclip STATE_DICT.pt CKPT.h5 --model DESC \
        --tokenizer word|wordpiece|bpe --tokenizer-file FILE [--cased]
    ... to-hpclip ... --model auto --heads TEXT,IMAGE [--pool mean|cls] [--logit-scale learned|fixed]
        [--image-size S (ResNet)] [--image-mean r,g,b --image-std r,g,b]   # DESC from the tensors
    /usr/bin/python3 scripts/ckpt_convert.py from-openai|from-openclip STATE_DICT.pt CKPT.h5 --merges MERGES
        [--heads T,I] [--act quickgelu|gelu] [--context N] [--image-mean r,g,b --image-std r,g,b]
    /usr/bin/python3 scripts/ckpt_convert.py from-hf-bert BERT.pt CKPT.h5 --vocab vocab.txt --image IMG.pt
        --heads T,I --embed-dim E [--pool cls|mean] [--context N] [--image-size S] [--seed N] [--cased]
    /usr/bin/python3 scripts/ckpt_convert.py to-torch CKPT.h5 STATE_DICT.pt [--layout hpclip|openai]
    /usr/bin/python3 scripts/ckpt_convert.py names --model DESC      # print the name table

from-openai / from-openclip read an OpenAI CLIP / OpenCLIP ViT state dict (OpenAI's key set), see
from_openai_names; from-hf-bert composes a Hugging Face BERT and a timm / torchvision image tower
with new projection heads, see compose_hf_bert; docs/models.md has the table of commands.

DESC is the model description hpclip stores in every checkpoint and compares on loading
(src/models/clip.c), e.g.
    clip(text=bert(V=15000,T=20,L=12,H=12,D=768,F=3072,pool=mean),
         image=vit(S=128,P=16,L=12,H=12,D=768,F=3072),E=768,logit_scale=fixed)
    clip(text=bert(...),image=resnet(S=128,blocks=3-4-6-3,width=64),E=768,logit_scale=learned)
(one line, no spaces). `h5dump -a /model ckpt.h5` shows it for an existing checkpoint.

Name table (the state dict of ONE CLIP module holding both towers; `names` prints it in full):
    text.*               Hugging Face BertModel (embeddings, encoder.layer.<l>.*), no pooler; or
                         OpenAI CLIP's text transformer (token_embedding, positional_embedding,
                         transformer.resblocks.<l>.*, ln_final) for text=clip_text(...)
    visual.*             OpenAI CLIP's VisionTransformer for vit(...,style=openai), or
                         timm VisionTransformer (cls_token, pos_embed, patch_embed.proj.*,
                         blocks.<l>.*, norm.*)  or  torchvision resnet50 without fc (conv1,
                         bn1, layer<s>.<b>.{conv,bn}{1,2,3}, layer<s>.0.downsample.{0,1})
    text_projection.{weight [E,D],bias [E]}, visual_projection.{weight [E,Dimg],bias [E]}
                         (no biases with proj_bias=0)
    logit_scale [1]      (a 0-d tensor, as OpenAI CLIP stores it, is accepted as [1])
Layouts are PyTorch's except 4-D tensors (conv weights, the ViT patch embedding): hpclip stores
[OC,KH,KW,IC] = torch w.permute(0, 2, 3, 1); to-torch applies permute(0, 3, 1, 2).

to-hpclip skips, and reports on stderr, the tensors hpclip does not keep:
    text.pooler.*                       HF BertModel's pooler (hpclip pools by mean / [CLS] and
                                        projects directly, see src/models/bert.h)
    *.num_batches_tracked               BatchNorm counters (never read with momentum 0.1)
    text.embeddings.position_ids        HF's constant arange buffer (older transformers)
    text.embeddings.token_type_ids      idem
Every other tensor must be in the table with the table's shape, and every table entry must be
present: violations are reported all at once (name, both shapes) with exit status 1. Values are
stored as float32. Attributes written: schema, schema_version 1, config (a libconfig comment
naming the source), fingerprint (first 16 hex digits of the SHA-256 of the stored tensors),
created_by "hpclip ckpt_convert.py", model DESC, optimizer "none", state "", step 0, epoch 0,
tokenizer (its spec), and /vocab: the tokenizer's entries (word: the /vocab of the hpclip
dataset.h5 or ckpt.h5 given; wordpiece: the vocab.txt lines; bpe: the merges). The description's V
must equal the tokenizer's vocabulary size and its pad= the tokenizer's padding id ([PAD] of a
vocab.txt; omitted when 0).
The file is written as CKPT.h5.tmp and renamed when complete.

to-torch reads /params only (optimiser moments, vocabulary and history are not converted),
checks the file's tensors against its own `model` attribute, and writes a state dict with
torch layouts; for ResNet image towers it adds every BatchNorm's num_batches_tracked (= the
checkpoint's step), so torchvision-style modules load it with strict=True.
"""
import argparse
import hashlib
import os
import re
import sys

SKIP_PATTERNS = [(re.compile(p), label) for p, label in (
    (r"^text\.pooler\.", "text.pooler.*"), (r"\.num_batches_tracked$", "*.num_batches_tracked"),
    (r"^text\.embeddings\.position_ids$", "text.embeddings.position_ids"),
    (r"^text\.embeddings\.token_type_ids$", "text.embeddings.token_type_ids"))]


class ConvertError(Exception):
    pass


# ---- model descriptions ------------------------------------------------------------------------
TEXT_RE = (r"(?:bert\(V=(?P<V>\d+),T=(?P<T>\d+),L=(?P<L>\d+),H=(?P<H>\d+),D=(?P<D>\d+),F=(?P<F>\d+),pool=(?P<pool>mean|cls)"
           r"(?:,pad=(?P<pad>\d+))?(?P<bq>,act=quickgelu)?(?:,P=(?P<P>\d+))?\)"
           r"|clip_text\(V=(?P<cV>\d+),T=(?P<cT>\d+),L=(?P<cL>\d+),H=(?P<cH>\d+),D=(?P<cD>\d+),F=(?P<cF>\d+)"
           r"(?P<cg>,act=gelu)?(?:,P=(?P<cP>\d+))?\))")
NORM_RE = r"(?P<{0}>,mean=[^,()]+,std=[^,()]+)?"
IMAGE_RE = (r"(?:vit\(S=(?P<vS>\d+),P=(?P<vP>\d+),L=(?P<vL>\d+),H=(?P<vH>\d+),D=(?P<vD>\d+),F=(?P<vF>\d+)"
            r"(?P<vstyle>,style=openai)?(?P<vact>,act=(?:gelu|quickgelu))?" + NORM_RE.format("vnorm") + r"\)"
            r"|resnet\(S=(?P<rS>\d+),blocks=(?P<b1>\d+)-(?P<b2>\d+)-(?P<b3>\d+)-(?P<b4>\d+),width=(?P<rw>\d+)"
            + NORM_RE.format("rnorm") + r"\))")
DESC_RE = re.compile(r"^clip\(text=" + TEXT_RE + r",image=" + IMAGE_RE +
                     r",E=(?P<E>\d+)(?P<nobias>,proj_bias=0)?,logit_scale=(?P<ls>learned|fixed)\)$")
FORM = ("clip(text=bert(V=..,T=..,L=..,H=..,D=..,F=..,pool=mean|cls)|clip_text(V=..,T=..,L=..,H=..,D=..,F=..),"
        "image=vit(S=..,P=..,L=..,H=..,D=..,F=..[,style=openai])|resnet(S=..,blocks=a-b-c-d,width=..),E=..,"
        "logit_scale=learned|fixed)")


def parse_desc(desc):
    """model description (src/models/clip.c format) -> dict"""
    m = DESC_RE.match(desc)
    if not m:
        raise ConvertError("model description %r is not of the form %s" % (desc, FORM))
    g = m.groupdict()
    i = lambda k: int(g[k])

    def norm(part):  # ",mean=a:b:c,std=d:e:f" -> (mean, std), or None for the tower's default
        if part is None:
            return None
        mm = re.match(r"^,mean=([^:]+):([^:]+):([^:,]+),std=([^:]+):([^:]+):([^:,]+)$", part)
        if not mm:
            raise ConvertError("model description: bad normalisation %r" % part)
        v = [float(x) for x in mm.groups()]
        return v[:3], v[3:]
    if g["V"] is not None:
        text = dict(kind="bert", V=i("V"), T=i("T"), L=i("L"), H=i("H"), D=i("D"), F=i("F"), pool=g["pool"],
                    pad=int(g["pad"] or 0), P=int(g["P"] or g["T"]), quick=g["bq"] is not None)
    else:
        text = dict(kind="clip_text", V=i("cV"), T=i("cT"), L=i("cL"), H=i("cH"), D=i("cD"), F=i("cF"), pool="eot",
                    pad=0, P=int(g["cP"] or g["cT"]), quick=g["cg"] is None)
    c = {"text": text, "E": i("E"), "logit_scale": g["ls"], "proj_bias": g["nobias"] is None}
    if g["vS"] is not None:
        openai = g["vstyle"] is not None
        act = (g["vact"] or "")[len(",act="):]
        if act == ("quickgelu" if openai else "gelu"):
            raise ConvertError("model description %r: act=%s is the default of this ViT style and is not written" % (desc, act))
        c["image"] = dict(kind="vit", S=i("vS"), P=i("vP"), L=i("vL"), H=i("vH"), D=i("vD"), F=i("vF"),
                          norm=norm(g["vnorm"]), openai=openai, quick=(act != "gelu") if openai else act == "quickgelu")
        if c["image"]["S"] % c["image"]["P"]:
            raise ConvertError("model description: image size %d is not a multiple of patch %d"
                               % (c["image"]["S"], c["image"]["P"]))
    else:
        c["image"] = dict(kind="resnet", S=i("rS"), blocks=[i("b1"), i("b2"), i("b3"), i("b4")], width=i("rw"),
                          norm=norm(g["rnorm"]))
    return c


OPENAI_BLOCK = [("ln_1.weight", "D"), ("ln_1.bias", "D"), ("attn.in_proj_weight", "3D,D"), ("attn.in_proj_bias", "3D"),
                ("attn.out_proj.weight", "D,D"), ("attn.out_proj.bias", "D"), ("ln_2.weight", "D"), ("ln_2.bias", "D"),
                ("mlp.c_fc.weight", "F,D"), ("mlp.c_fc.bias", "F"), ("mlp.c_proj.weight", "D,F"), ("mlp.c_proj.bias", "D")]


def openai_blocks(prefix, L, D, F):
    dims = {"D": D, "3D": 3 * D, "F": F}
    return [("%stransformer.resblocks.%d.%s" % (prefix, l, n), tuple(dims[d] for d in shp.split(",")))
            for l in range(L) for n, shp in OPENAI_BLOCK]


def clip_text_table(t):
    V, P, L, D, F = t["V"], t["P"], t["L"], t["D"], t["F"]
    return ([("text.token_embedding.weight", (V, D)), ("text.positional_embedding", (P, D))] +
            openai_blocks("text.", L, D, F) + [("text.ln_final.weight", (D,)), ("text.ln_final.bias", (D,))])


def bert_table(t):
    V, P, L, D, F = t["V"], t["P"], t["L"], t["D"], t["F"]
    rows = [("text.embeddings.word_embeddings.weight", (V, D)),
            ("text.embeddings.position_embeddings.weight", (P, D)),
            ("text.embeddings.token_type_embeddings.weight", (2, D)),
            ("text.embeddings.LayerNorm.weight", (D,)), ("text.embeddings.LayerNorm.bias", (D,))]
    for l in range(L):
        p = "text.encoder.layer.%d." % l
        for x in ("query", "key", "value"):
            rows += [(p + "attention.self.%s.weight" % x, (D, D)), (p + "attention.self.%s.bias" % x, (D,))]
        rows += [(p + "attention.output.dense.weight", (D, D)), (p + "attention.output.dense.bias", (D,)),
                 (p + "attention.output.LayerNorm.weight", (D,)), (p + "attention.output.LayerNorm.bias", (D,)),
                 (p + "intermediate.dense.weight", (F, D)), (p + "intermediate.dense.bias", (F,)),
                 (p + "output.dense.weight", (D, F)), (p + "output.dense.bias", (D,)),
                 (p + "output.LayerNorm.weight", (D,)), (p + "output.LayerNorm.bias", (D,))]
    return rows


def vit_table(v):
    S, P, L, D, F = v["S"], v["P"], v["L"], v["D"], v["F"]
    T = (S // P) ** 2 + 1
    if v.get("openai"):
        return ([("visual.class_embedding", (D,)), ("visual.positional_embedding", (T, D)),
                 ("visual.conv1.weight", (D, P, P, 3)), ("visual.ln_pre.weight", (D,)), ("visual.ln_pre.bias", (D,))] +
                openai_blocks("visual.", L, D, F) + [("visual.ln_post.weight", (D,)), ("visual.ln_post.bias", (D,))]), D
    rows = [("visual.cls_token", (1, 1, D)), ("visual.pos_embed", (1, T, D)),
            ("visual.patch_embed.proj.weight", (D, P, P, 3)), ("visual.patch_embed.proj.bias", (D,))]
    for l in range(L):
        p = "visual.blocks.%d." % l
        rows += [(p + "norm1.weight", (D,)), (p + "norm1.bias", (D,)),
                 (p + "attn.qkv.weight", (3 * D, D)), (p + "attn.qkv.bias", (3 * D,)),
                 (p + "attn.proj.weight", (D, D)), (p + "attn.proj.bias", (D,)),
                 (p + "norm2.weight", (D,)), (p + "norm2.bias", (D,)),
                 (p + "mlp.fc1.weight", (F, D)), (p + "mlp.fc1.bias", (F,)),
                 (p + "mlp.fc2.weight", (D, F)), (p + "mlp.fc2.bias", (D,))]
    rows += [("visual.norm.weight", (D,)), ("visual.norm.bias", (D,))]
    return rows, D


def resnet_table(r):
    w = r["width"]

    def unit(conv, bn, ic, oc, k):
        return [("visual." + conv, (oc, k, k, ic))] + \
               [("visual.%s.%s" % (bn, s), (oc,)) for s in ("weight", "bias", "running_mean", "running_var")]

    rows = unit("conv1.weight", "bn1", 3, w, 7)
    inplanes = w
    for s in range(4):
        planes = w << s
        for b in range(r["blocks"][s]):
            p = "layer%d.%d." % (s + 1, b)
            rows += unit(p + "conv1.weight", p + "bn1", inplanes, planes, 1)
            rows += unit(p + "conv2.weight", p + "bn2", planes, planes, 3)
            rows += unit(p + "conv3.weight", p + "bn3", planes, 4 * planes, 1)
            if b == 0 and (s > 0 or inplanes != 4 * planes):
                rows += unit(p + "downsample.0.weight", p + "downsample.1", inplanes, 4 * planes, 1)
            inplanes = 4 * planes
    return rows, inplanes


def name_table(cfg):
    """[(name, hpclip shape)] in hpclip's registration order"""
    rows = bert_table(cfg["text"]) if cfg["text"]["kind"] == "bert" else clip_text_table(cfg["text"])
    if cfg["image"]["kind"] == "vit":
        irows, dimg = vit_table(cfg["image"])
    else:
        irows, dimg = resnet_table(cfg["image"])
    E, D, b = cfg["E"], cfg["text"]["D"], cfg["proj_bias"]
    return rows + irows + [("text_projection.weight", (E, D))] + ([("text_projection.bias", (E,))] if b else []) + \
        [("visual_projection.weight", (E, dimg))] + ([("visual_projection.bias", (E,))] if b else []) + \
        [("logit_scale", (1,))]


def sd_shape(sd, n):
    """the shape of tensor n of a state dict, for deriving a description"""
    if n not in sd:
        raise ConvertError("cannot derive the model description: no tensor %s" % n)
    return tuple(sd[n].shape)


def sd_layers(sd, prefix):
    """the number of layers prefix<l>.* (0..L-1 without a gap)"""
    ids = {int(k[len(prefix):].split(".")[0]) for k in sd if k.startswith(prefix)}
    if not ids or ids != set(range(len(ids))):
        raise ConvertError("cannot derive the model description: layers %s* are not 0..L-1" % prefix)
    return len(ids)


def context_of(P, context):
    """tokens per text: --context, else the position table's rows"""
    T = context or P
    if T > P:
        raise ConvertError("--context %d is longer than the position table (%d rows)" % (T, P))
    return T


def derive_desc(sd, heads, pool, logit_scale, image_size, norm, context=0):
    """The model description of a state dict (torch names and layouts), from its tensor shapes:
    V, T, D, F, L of the text tower; S, P, D, F, L of a ViT (S from the position table) or the
    blocks and width of a ResNet (whose input size the tensors do not fix: image_size); E. The
    head counts are not in any shape: heads = (text, image)."""
    shape = lambda n: sd_shape(sd, n)
    layers = lambda prefix: sd_layers(sd, prefix)
    V, D = shape("text.embeddings.word_embeddings.weight")
    P = shape("text.embeddings.position_embeddings.weight")[0]
    T = context_of(P, context)
    F = shape("text.encoder.layer.0.intermediate.dense.weight")[0]
    L = layers("text.encoder.layer.")
    E = shape("text_projection.weight")[0]
    th, ih = heads
    if D % th:
        raise ConvertError("text width %d is not a multiple of %d heads" % (D, th))
    text = "bert(V=%d,T=%d,L=%d,H=%d,D=%d,F=%d,pool=%s" % (V, T, L, th, D, F, pool)
    suffix = ",P=%d" % P if P != T else ""
    if "visual.patch_embed.proj.weight" in sd:
        Di, _, P, _ = shape("visual.patch_embed.proj.weight")
        n = shape("visual.pos_embed")[1] - 1
        side = int(round(n ** 0.5))
        if side * side != n:
            raise ConvertError("visual.pos_embed holds %d patches, not a square grid" % n)
        if Di % ih:
            raise ConvertError("image width %d is not a multiple of %d heads" % (Di, ih))
        image = "vit(S=%d,P=%d,L=%d,H=%d,D=%d,F=%d" % (side * P, P, layers("visual.blocks."), ih, Di,
                                                         shape("visual.blocks.0.mlp.fc1.weight")[0])
    elif "visual.conv1.weight" in sd:
        if not image_size:
            raise ConvertError("a ResNet state dict does not fix the image size: give --image-size")
        width = shape("visual.conv1.weight")[0]
        blocks = [layers("visual.layer%d." % (i + 1)) for i in range(4)]
        image = "resnet(S=%d,blocks=%d-%d-%d-%d,width=%d" % ((image_size,) + tuple(blocks) + (width,))
    else:
        raise ConvertError("cannot derive the model description: neither visual.patch_embed (ViT) nor visual.conv1 "
                           "(ResNet) is in the state dict")
    import numpy as np  # compared and printed as hpclip does its float32 values (src/models/clip.c)
    defaults = {"vit": ([0.5] * 3, [0.5] * 3), "resnet": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])}
    kind = "vit" if image.startswith("vit") else "resnet"
    same = norm and all(np.float32(a) == np.float32(b) for x, y in zip(norm, defaults[kind]) for a, b in zip(x, y))
    if norm and not same:
        f32 = lambda v: ":".join("%.9g" % float(np.float32(x)) for x in v)
        image += ",mean=%s,std=%s" % (f32(norm[0]), f32(norm[1]))
    return "clip(text=%s%s),image=%s),E=%d,logit_scale=%s)" % (text, suffix, image, E, logit_scale)


def torch_shape(shape):
    """hpclip shape -> PyTorch shape ([OC,KH,KW,IC] -> [OC,IC,KH,KW] for 4-D)"""
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else tuple(shape)


def fmt(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def check_names(have, table, what):
    """have: {name: torch-layout shape}; raise listing every missing / unexpected / misshaped"""
    want = {n: torch_shape(s) for n, s in table}
    errs = []
    for n, s in table:
        if n not in have:
            errs.append("missing tensor %s %s" % (n, fmt(torch_shape(s))))
        elif tuple(have[n]) != want[n]:
            errs.append("tensor %s has shape %s, the model needs %s" % (n, fmt(have[n]), fmt(want[n])))
    for n in have:
        if n not in want:
            errs.append("unexpected tensor %s %s (not in this model's name table; see `names`)" % (n, fmt(have[n])))
    if errs:
        shown = errs[:20] + (["... and %d more" % (len(errs) - 20)] if len(errs) > 20 else [])
        raise ConvertError("%s does not match the model (%d problem%s):\n  %s"
                           % (what, len(errs), "" if len(errs) == 1 else "s", "\n  ".join(shown)))


def attr_str(f, name, value):
    """string attribute exactly as hpclip writes them (src/io/h5.c): fixed length strlen+1,
    NUL-terminated, UTF-8 (h5py's default, variable-length strings, are not read by hpclip)"""
    import h5py
    import numpy as np
    b = value.encode("utf-8") + b"\0"
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(b))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    tid.set_cset(h5py.h5t.CSET_UTF8)
    aid = h5py.h5a.create(f.id, name.encode(), tid, h5py.h5s.create(h5py.h5s.SCALAR))
    aid.write(np.array(b, dtype="S%d" % len(b)), mtype=tid)


# ---- the tokenizer ----------------------------------------------------------------------------
def read_tokenizer(kind, path, cased):
    """(spec text, entries, vocabulary size, padding id) of the tokenizer to store, read as hpclip
    reads it (src/text/text_tokenizer.h): word = the /vocab of an hpclip dataset.h5 or ckpt.h5;
    wordpiece = a BERT vocab.txt (text mode, one entry a line); bpe = CLIP's merges file (gzip or
    plain; the header line skipped, empty lines ignored, at most 48,894 merges)."""
    import gzip
    if kind == "word":
        import h5py
        try:
            with h5py.File(path, "r") as f:
                b, o = f["vocab/bytes"][()].tobytes(), f["vocab/offsets"][()]
        except (OSError, KeyError) as e:
            raise ConvertError("%s: no /vocab to take the word vocabulary from (a dataset.h5 or ckpt.h5 of hpclip): %s"
                               % (path, e))
        words = [b[o[k]:o[k + 1]].decode("utf-8") for k in range(len(o) - 1)]
        if len(words) < 2 or words[0] != "" or words[1] != "[UNK]":
            raise ConvertError("%s: /vocab does not start with the padding word and [UNK]" % path)
        return "word", words, len(words), 0
    try:
        if kind == "wordpiece":
            with open(path, "r", encoding="utf-8") as f:
                entries = [t.rstrip("\n") for t in f.readlines()]
        else:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                lines = f.read().decode("utf-8").split("\n")
            entries = [m for m in lines[1:] if m][:48894]
    except (OSError, UnicodeDecodeError) as e:
        raise ConvertError("%s: cannot read the %s file: %s" % (path, kind, e))
    if kind == "wordpiece":
        ids = {t: k for k, t in enumerate(entries)}
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in ids]
        if missing:
            raise ConvertError("%s: no %s entry (a BERT vocab.txt has [PAD], [UNK], [CLS] and [SEP])" % (path, missing[0]))
        spec = "wordpiece lowercase=%d strip_accents=%d" % ((0, 0) if cased else (1, 1))
        return spec, entries, len(entries), ids["[PAD]"]
    for k, m in enumerate(entries):
        if len(m.split(" ")) != 2 or not all(m.split(" ")):
            raise ConvertError("%s: merge %d %r is not two symbols separated by one space" % (path, k + 1, m[:60]))
    if not entries:
        raise ConvertError("%s: no merges" % path)
    return "bpe", entries, 512 + len(entries) + 2, 0


def write_strtab(f, name, strings):
    """a string table as hpclip writes it (hdf5-schemas/dataset.md): bytes uint8 [B], offsets uint64 [K+1]"""
    import numpy as np
    enc = [t.encode("utf-8") for t in strings]
    off = np.zeros(len(enc) + 1, dtype="<u8")
    off[1:] = np.cumsum([len(b) for b in enc])
    g = f.create_group(name)
    g.create_dataset("bytes", data=np.frombuffer(b"".join(enc), dtype="u1") if enc and off[-1] else np.zeros(0, "u1"))
    g.create_dataset("offsets", data=off)


# ---- to-hpclip --------------------------------------------------------------------------------
def load_state_dict(path):
    import torch
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch raises many types for a bad file
        raise ConvertError("%s: cannot load with torch.load: %s" % (path, e))
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConvertError("%s: holds a %s, not a state dict (name -> tensor)" % (path, type(obj).__name__))
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise ConvertError("%s: entry %r is not a named tensor" % (path, k))
    return obj


def to_hpclip(src, dst, desc, tokenizer, tokenizer_file, cased, auto=None, openai=None, sd=None, skipped=None):
    import h5py
    import numpy as np
    if tokenizer == "bpe" and desc and desc != "auto" and not desc.startswith("clip(text=clip_text("):
        raise ConvertError("--tokenizer bpe is CLIP's, for CLIP's causal text transformer (text=clip_text(...)), not "
                           "the BERT tower (its padding id 0 is the token \"!\", which BERT would mask)")
    spec, entries, V, pad = read_tokenizer(tokenizer, tokenizer_file, cased)
    sd = load_state_dict(src) if sd is None else sd
    skipped = {} if skipped is None else skipped
    if openai is not None:
        sd = from_openai_names(sd, src, skipped)
        desc = derive_openai_desc(sd, **openai)
        print("ckpt_convert: model description derived from the tensors: %s" % desc, file=sys.stderr)
    elif desc == "auto":
        desc = derive_desc(sd, **auto)
        if pad:  # the tokenizer's padding id comes right after the pooling
            desc = desc.replace(",pool=%s" % auto["pool"], ",pool=%s,pad=%d" % (auto["pool"], pad), 1)
        print("ckpt_convert: model description derived from the tensors: %s" % desc, file=sys.stderr)
    cfg = parse_desc(desc)
    if tokenizer == "bpe" and cfg["text"]["kind"] != "clip_text":
        raise ConvertError("--tokenizer bpe is CLIP's, for CLIP's causal text transformer (text=clip_text(...)), not "
                           "the BERT tower (its padding id 0 is the token \"!\", which BERT would mask)")
    if V != cfg["text"]["V"]:
        raise ConvertError("the model description has V=%d, the %s tokenizer of %s has %d ids: they must be equal"
                           % (cfg["text"]["V"], tokenizer, tokenizer_file, V))
    if pad != cfg["text"]["pad"]:
        raise ConvertError("the tokenizer pads with id %d ([PAD] of %s): the model description must say pad=%d "
                           "(bert(...,pool=...,pad=%d))" % (pad, tokenizer_file, pad, pad))
    table = name_table(cfg)
    kept = {}
    for k, v in sd.items():
        label = next((lb for p, lb in SKIP_PATTERNS if p.search(k)), None)
        if label:
            skipped[label] = skipped.get(label, 0) + 1
            continue
        if k == "logit_scale" and v.ndim == 0:
            v = v.reshape(1)
        if not v.is_floating_point():
            raise ConvertError("%s: tensor %s has dtype %s, expected a floating type" % (src, k, v.dtype))
        kept[k] = v
    check_names({k: tuple(v.shape) for k, v in kept.items()}, table, src)
    if skipped:
        print("ckpt_convert: skipped tensors hpclip does not keep: %s" % ", ".join(
            "%d x %s" % (n, lb) for lb, n in skipped.items()), file=sys.stderr)
    arrays = []
    for name, _ in table:
        v = kept[name].detach().to("cpu")
        if v.ndim == 4:
            v = v.permute(0, 2, 3, 1)
        arrays.append((name, np.ascontiguousarray(v.float().numpy(), dtype="<f4")))
    h = hashlib.sha256()
    for name, a in sorted(arrays):
        h.update(name.encode() + b"\0" + a.tobytes())
    tmp = dst + ".tmp"
    with h5py.File(tmp, "w") as f:
        attr_str(f, "schema", "hpclip.checkpoint")
        f.attrs["schema_version"] = np.int64(1)
        attr_str(f, "config", "# converted by ckpt_convert.py from the PyTorch state dict %s\n" % os.path.basename(src))
        attr_str(f, "fingerprint", h.hexdigest()[:16])
        attr_str(f, "created_by", "hpclip ckpt_convert.py")
        attr_str(f, "model", desc)
        attr_str(f, "optimizer", "none")
        attr_str(f, "state", "")
        f.attrs["step"] = np.int64(0)
        f.attrs["epoch"] = np.int64(0)
        attr_str(f, "tokenizer", spec)
        write_strtab(f, "vocab", entries)
        g = f.create_group("params")
        for name, a in arrays:
            g.create_dataset(name, data=a, dtype="<f4")
    os.replace(tmp, dst)
    print("ckpt_convert: %s: %d tensors, %d floats -> %s" % (src, len(arrays), sum(a.size for _, a in arrays), dst))


# ---- OpenAI CLIP / OpenCLIP state dicts --------------------------------------------------------
OPENAI_META = ("input_resolution", "context_length", "vocab_size")  # ints in OpenAI's JIT archives
OPENAI_TEXT = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.")


def from_openai_names(sd, src, skipped):
    """OpenAI CLIP / OpenCLIP ViT state dict -> hpclip names and layouts: the text tower's tensors
    under "text.", the projections [D,E] as heads [E,D] (text_projection -> text_projection.weight,
    visual.proj -> visual_projection.weight); visual.* and logit_scale unchanged"""
    import torch
    if any(k.startswith("visual.attnpool.") or k.startswith("visual.layer1.") for k in sd):
        raise ConvertError("%s: an OpenAI ModifiedResNet image tower (RN50, RN101, RN50x4, ...: three-convolution stem, "
                           "anti-aliased strides, attention pooling) is not supported by hpclip, whose ResNet is "
                           "torchvision's; the ViT models (ViT-B/32, ViT-B/16, ViT-L/14, ...) are" % src)
    if "visual.class_embedding" not in sd:
        raise ConvertError("%s: no visual.class_embedding: not an OpenAI CLIP / OpenCLIP ViT state dict "
                           "(for hpclip's own names use to-hpclip)" % src)
    out = {}
    for k, v in sd.items():
        if k in OPENAI_META:
            skipped[k] = skipped.get(k, 0) + 1
            continue
        if k in ("text_projection", "visual.proj"):
            if v.ndim != 2:
                raise ConvertError("%s: %s has shape %s, expected [width,embed]" % (src, k, fmt(v.shape)))
            out["text_projection.weight" if k == "text_projection" else "visual_projection.weight"] = v.t().contiguous()
        elif k.startswith(OPENAI_TEXT):
            out["text." + k] = v
        else:
            out[k] = v
    if "logit_scale" in out and isinstance(out["logit_scale"], torch.Tensor) and out["logit_scale"].ndim == 0:
        out["logit_scale"] = out["logit_scale"].reshape(1)
    return out


def derive_openai_desc(sd, act, heads, norm, context):
    """the description of an OpenAI-layout CLIP (hpclip names, torch layouts) from its shapes; heads
    default to width / 64, OpenAI's rule (clip/model.py build_model)"""
    shape = lambda n: sd_shape(sd, n)
    layers = lambda prefix: sd_layers(sd, prefix)
    V, D = shape("text.token_embedding.weight")
    P = shape("text.positional_embedding")[0]
    T = context_of(P, context)
    Dv, _, patch, _ = shape("visual.conv1.weight")
    n = shape("visual.positional_embedding")[0] - 1
    side = int(round(n ** 0.5))
    if side * side != n:
        raise ConvertError("visual.positional_embedding holds %d patches, not a square grid" % n)
    th, ih = heads or (D // 64, Dv // 64)
    for w, h, what in ((D, th, "text"), (Dv, ih, "image")):
        if h < 1 or w % h:
            raise ConvertError("%s width %d is not a multiple of %d heads (give --heads TEXT,IMAGE)" % (what, w, h))
    Ft = shape("text.transformer.resblocks.0.mlp.c_fc.weight")[0]
    Fv = shape("visual.transformer.resblocks.0.mlp.c_fc.weight")[0]
    E = shape("text_projection.weight")[0]
    gelu = ",act=gelu" if act == "gelu" else ""
    text = "clip_text(V=%d,T=%d,L=%d,H=%d,D=%d,F=%d%s%s)" % (V, T, layers("text.transformer.resblocks."), th, D, Ft, gelu,
                                                             ",P=%d" % P if P != T else "")
    import numpy as np
    f32 = lambda v: ":".join("%.9g" % float(np.float32(x)) for x in v)
    mean, std = norm
    image = "vit(S=%d,P=%d,L=%d,H=%d,D=%d,F=%d,style=openai%s,mean=%s,std=%s)" % (
        side * patch, patch, layers("visual.transformer.resblocks."), ih, Dv, Fv, gelu, f32(mean), f32(std))
    return "clip(text=%s,image=%s,E=%d,proj_bias=0,logit_scale=learned)" % (text, image, E)


def to_openai_names(sd, cfg, src):
    """inverse of from_openai_names, for a model of OpenAI's structure"""
    if cfg["text"]["kind"] != "clip_text" or cfg["image"]["kind"] != "vit" or not cfg["image"]["openai"] \
            or cfg["proj_bias"]:
        raise ConvertError("%s: --layout openai needs OpenAI's structure: text=clip_text(...), "
                           "image=vit(...,style=openai), proj_bias=0" % src)
    out = {}
    for k, v in sd.items():
        if k == "text_projection.weight":
            out["text_projection"] = v.t().contiguous()
        elif k == "visual_projection.weight":
            out["visual.proj"] = v.t().contiguous()
        elif k == "logit_scale":
            out[k] = v.reshape(())
        elif k.startswith("text."):
            out[k[len("text."):]] = v
        else:
            out[k] = v
    return out


# ---- Hugging Face BERT + a timm / torchvision image tower ---------------------------------------
HF_SKIP = (("cls.", "the pretraining heads cls.*"), ("embeddings.position_ids", "embeddings.position_ids"),
           ("embeddings.token_type_ids", "embeddings.token_type_ids"))
IMAGE_SKIP = (("head.", "the classifier head.*"), ("fc.", "the classifier fc.*"), ("fc_norm.", "fc_norm.*"))


def compose_hf_bert(bert_path, image_path, embed_dim, seed, skipped):
    """A CLIP state dict in hpclip's names from a Hugging Face BertModel (or BertFor* with its "bert."
    prefix) and a timm VisionTransformer / torchvision ResNet state dict; the projection heads are new:
    weights normal(0, 0.02) from a seeded generator, biases 0, logit_scale log(1/0.07)"""
    import math
    import torch
    out = {}
    for path, prefix, skips, strip in ((bert_path, "text.", HF_SKIP, "bert."), (image_path, "visual.", IMAGE_SKIP, None)):
        sd = load_state_dict(path)
        for k, v in sd.items():
            if strip and k.startswith(strip):
                k = k[len(strip):]
            label = next((lb for p, lb in skips if k.startswith(p)), None)
            if label:
                skipped[label] = skipped.get(label, 0) + 1
                continue
            out[prefix + k] = v
    if "text.embeddings.word_embeddings.weight" not in out:
        raise ConvertError("%s: no embeddings.word_embeddings.weight: not a Hugging Face BERT state dict" % bert_path)
    D = out["text.embeddings.word_embeddings.weight"].shape[1]
    if "visual.patch_embed.proj.weight" in out:
        Dimg = out["visual.patch_embed.proj.weight"].shape[0]
    elif "visual.conv1.weight" in out:
        widths = [v.shape[0] for k, v in out.items() if re.match(r"^visual\.layer4\.\d+\.conv3\.weight$", k)]
        if not widths:
            raise ConvertError("%s: a ResNet without layer4.*.conv3 (not a bottleneck ResNet)" % image_path)
        Dimg = widths[0]
    else:
        raise ConvertError("%s: neither patch_embed.proj.weight (timm ViT) nor conv1.weight (torchvision ResNet)" % image_path)
    g = torch.Generator().manual_seed(seed)
    for name, d in (("text_projection", D), ("visual_projection", Dimg)):
        out[name + ".weight"] = 0.02 * torch.randn(embed_dim, d, generator=g)
        out[name + ".bias"] = torch.zeros(embed_dim)
    out["logit_scale"] = torch.tensor([math.log(1 / 0.07)])
    return out


# ---- to-torch ---------------------------------------------------------------------------------
def to_torch(src, dst, layout="hpclip"):
    import h5py
    import numpy as np
    import torch
    try:
        f = h5py.File(src, "r")
    except OSError as e:
        raise ConvertError("%s: cannot open as HDF5: %s" % (src, e))
    with f:
        def attr(name):
            if name not in f.attrs:
                raise ConvertError("%s: root attribute '%s' is missing (not an hpclip checkpoint?)" % (src, name))
            v = f.attrs[name]
            return v.decode() if isinstance(v, bytes) else v
        if attr("schema") != "hpclip.checkpoint" or int(attr("schema_version")) != 1:
            raise ConvertError("%s: schema %r version %r, expected hpclip.checkpoint version 1"
                               % (src, attr("schema"), attr("schema_version")))
        desc, step = str(attr("model")), int(attr("step"))
        table = name_table(parse_desc(desc))
        if "params" not in f or not isinstance(f["params"], h5py.Group):
            raise ConvertError("%s: /params is missing" % src)
        g = f["params"]
        have = {}
        for k in g:
            if not isinstance(g[k], h5py.Dataset):
                raise ConvertError("%s: /params/%s is not a dataset" % (src, k))
            have[k] = torch_shape(g[k].shape) if len(g[k].shape) == 4 else tuple(g[k].shape)
        check_names(have, table, src + " /params")
        sd = {}
        for name, _ in table:
            t = torch.from_numpy(np.asarray(g[name][...], dtype=np.float32))
            if t.ndim == 4:
                t = t.permute(0, 3, 1, 2)
            sd[name] = t.contiguous()
            if name.endswith(".running_var"):
                sd[name[:-len("running_var")] + "num_batches_tracked"] = torch.tensor(step, dtype=torch.long)
        if layout == "openai":
            sd = to_openai_names(sd, parse_desc(desc), src)
    tmp = dst + ".tmp"
    torch.save(sd, tmp)
    os.replace(tmp, dst)
    print("ckpt_convert: %s (%s) -> %s: %d tensors" % (src, desc, dst, len(sd)))


OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def parse_norm_args(mean, std):
    """--image-mean / --image-std -> (mean, std) or None when neither is given"""
    if not mean and not std:
        return None
    try:
        norm = ([float(x) for x in mean.split(",")], [float(x) for x in std.split(",")])
        assert len(norm[0]) == 3 and len(norm[1]) == 3 and min(norm[1]) > 0
    except (ValueError, AssertionError):
        raise ConvertError("--image-mean and --image-std take three numbers r,g,b each (std above 0)")
    return norm


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ckpt_convert.py", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-hpclip", help="PyTorch state dict -> ckpt.h5")
    a.add_argument("state_dict")
    a.add_argument("ckpt")
    a.add_argument("--model", required=True, help="hpclip model description, or \"auto\": derived from the tensors")
    a.add_argument("--heads", default=None, metavar="TEXT,IMAGE",
                   help="--model auto: the attention heads of the text and image towers (no tensor shape holds them)")
    a.add_argument("--pool", default="mean", choices=("mean", "cls"), help="--model auto: text pooling")
    a.add_argument("--logit-scale", default="learned", choices=("learned", "fixed"), help="--model auto")
    a.add_argument("--image-size", type=int, default=0, help="--model auto with a ResNet: the input side")
    a.add_argument("--context", type=int, default=0,
                   help="--model auto: tokens per text (data.caption_len); default the position table's rows")
    a.add_argument("--image-mean", default="", help="--model auto: pixel normalisation r,g,b (default: the tower's)")
    a.add_argument("--image-std", default="", help="--model auto: r,g,b")
    a.add_argument("--tokenizer", required=True, choices=("word", "wordpiece", "bpe"),
                   help="the tokenizer stored with the weights (a checkpoint without one cannot encode text)")
    a.add_argument("--tokenizer-file", required=True, metavar="FILE",
                   help="word: an hpclip dataset.h5 or ckpt.h5 (its /vocab); wordpiece: BERT's vocab.txt; "
                        "bpe: CLIP's merges file")
    a.add_argument("--cased", action="store_true", help="wordpiece: a cased model (no lowercasing, accents kept)")
    for name in ("from-openai", "from-openclip"):
        o = sub.add_parser(name, help="OpenAI CLIP / OpenCLIP ViT state dict -> ckpt.h5 (description from the tensors)")
        o.add_argument("state_dict")
        o.add_argument("ckpt")
        o.add_argument("--merges", required=True, metavar="FILE",
                       help="CLIP's BPE merges file (bpe_simple_vocab_16e6.txt.gz), stored as the tokenizer")
        o.add_argument("--act", choices=("quickgelu", "gelu"), default="quickgelu" if name == "from-openai" else "gelu",
                       help="MLP activation (default: %s; OpenAI's weights use QuickGELU, OpenCLIP's own "
                            "ViT-*-quickgelu models too)" % ("quickgelu" if name == "from-openai" else "gelu"))
        o.add_argument("--heads", default=None, metavar="TEXT,IMAGE", help="attention heads (default: width / 64)")
        o.add_argument("--context", type=int, default=0, help="tokens per text (default: the position table's 77)")
        o.add_argument("--image-mean", default="", help="r,g,b (default: OpenAI's 0.48145466,0.4578275,0.40821073)")
        o.add_argument("--image-std", default="", help="r,g,b (default: OpenAI's 0.26862954,0.26130258,0.27577711)")
    h = sub.add_parser("from-hf-bert", help="a Hugging Face BERT + a timm ViT / torchvision ResNet state dict -> ckpt.h5 "
                                            "with new projection heads (a start for train.init_checkpoint)")
    h.add_argument("bert_state_dict")
    h.add_argument("ckpt")
    h.add_argument("--vocab", required=True, metavar="VOCAB.TXT", help="the BERT's vocab.txt, stored as the tokenizer")
    h.add_argument("--cased", action="store_true", help="a cased BERT (no lowercasing, accents kept)")
    h.add_argument("--image", required=True, metavar="STATE_DICT",
                   help="image tower: a timm VisionTransformer or torchvision ResNet state dict (classifier skipped)")
    h.add_argument("--heads", required=True, metavar="TEXT,IMAGE", help="attention heads (12,12 for BERT-base + ViT-B)")
    h.add_argument("--embed-dim", type=int, required=True, help="E, the width of the new projection heads")
    h.add_argument("--pool", default="cls", choices=("mean", "cls"), help="text pooling (default: [CLS])")
    h.add_argument("--context", type=int, default=0, help="tokens per text (data.caption_len); default 512, the table's")
    h.add_argument("--image-size", type=int, default=0, help="a ResNet's input side")
    h.add_argument("--image-mean", default="", help="r,g,b (default: the tower's)")
    h.add_argument("--image-std", default="", help="r,g,b")
    h.add_argument("--seed", type=int, default=1234, help="seed of the new heads")
    b = sub.add_parser("to-torch", help="ckpt.h5 -> PyTorch state dict")
    b.add_argument("ckpt")
    b.add_argument("state_dict")
    b.add_argument("--layout", choices=("hpclip", "openai"), default="hpclip",
                   help="openai: OpenAI CLIP's names and [D,E] projections (a model of OpenAI's structure)")
    c = sub.add_parser("names", help="print the name table (torch layout) of a model description")
    c.add_argument("--model", required=True)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "to-hpclip":
            auto = None
            if args.model == "auto":
                try:
                    heads = tuple(int(x) for x in (args.heads or "").split(","))
                    assert len(heads) == 2 and min(heads) > 0
                except (ValueError, AssertionError):
                    raise ConvertError("--model auto needs --heads TEXT,IMAGE (e.g. 12,12 for BERT-base + ViT-B): "
                                       "attention head counts are in no tensor shape")
                norm = parse_norm_args(args.image_mean, args.image_std)
                auto = dict(heads=heads, pool=args.pool, logit_scale=args.logit_scale, image_size=args.image_size,
                            norm=norm, context=args.context)
            to_hpclip(args.state_dict, args.ckpt, args.model, args.tokenizer, args.tokenizer_file, args.cased, auto)
        elif args.cmd in ("from-openai", "from-openclip"):
            heads = None
            if args.heads:
                try:
                    heads = tuple(int(x) for x in args.heads.split(","))
                    assert len(heads) == 2 and min(heads) > 0
                except (ValueError, AssertionError):
                    raise ConvertError("--heads takes two positive numbers TEXT,IMAGE")
            norm = parse_norm_args(args.image_mean, args.image_std) or (OPENAI_MEAN, OPENAI_STD)
            to_hpclip(args.state_dict, args.ckpt, None, "bpe", args.merges, False,
                      openai=dict(act=args.act, heads=heads, norm=norm, context=args.context))
        elif args.cmd == "from-hf-bert":
            try:
                heads = tuple(int(x) for x in args.heads.split(","))
                assert len(heads) == 2 and min(heads) > 0
            except (ValueError, AssertionError):
                raise ConvertError("--heads takes two positive numbers TEXT,IMAGE")
            if args.embed_dim < 1:
                raise ConvertError("--embed-dim must be positive")
            skipped = {}
            sd = compose_hf_bert(args.bert_state_dict, args.image, args.embed_dim, args.seed, skipped)
            auto = dict(heads=heads, pool=args.pool, logit_scale="learned", image_size=args.image_size,
                        norm=parse_norm_args(args.image_mean, args.image_std), context=args.context)
            to_hpclip(args.bert_state_dict, args.ckpt, "auto", "wordpiece", args.vocab, args.cased, auto, sd=sd,
                      skipped=skipped)
        elif args.cmd == "to-torch":
            to_torch(args.ckpt, args.state_dict, args.layout)
        else:
            for n, s in name_table(parse_desc(args.model)):
                print("%-60s %s%s" % (n, fmt(torch_shape(s)), "  (hpclip %s)" % fmt(s) if len(s) == 4 else ""))
    except ConvertError as e:
        print("ckpt_convert: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
