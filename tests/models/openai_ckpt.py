#!/usr/bin/python3
"""openai_ckpt.py — PyTorch side of tests/models/cli_openai_clip.sh (Debian's /usr/bin/python3 with
torch, h5py, regex). The model is tests/fixtures/openai_clip_ref.py (written from the published
architecture, independent of hpclip's code); its state dict has OpenAI's key set.

    openai_ckpt.py merges N FILE          a merges file of N merges made from the committed captions
                                          (tests/text/tokenizer_ref.py), so V = 512 + N + 2
    openai_ckpt.py make SPEC SEED DIR     random model SPEC (float32 weights, seeded): DIR/sd.pt with
                                          OpenAI's keys (and the JIT archives' input_resolution,
                                          context_length, vocab_size), DIR/in.h5 (/ids [6,T]
                                          [SOT, tokens, EOT, 0...], /images [5,S,S,3] uint8),
                                          DIR/torch.h5 float64 embeddings (unit rows)
    openai_ckpt.py embed SPEC SD.pt IN.h5 OUT.h5        embeddings of a state dict (strict load)
    openai_ckpt.py embed-run SPEC SD.pt MERGES RUN_DIR OUT.h5
                                          embeddings of RUN_DIR/dataset.h5 (its images; its captions
                                          through the reference BPE tokenizer), for embeddings.h5
    openai_ckpt.py compare A.h5 B.h5 TOL  per row: max|a-b| / max|b| <= TOL for every row of
                                          text_emb and image_emb (or /captions/embedding, /images/embedding)
SPEC: tiny (V=544: 30 merges) | tiny-gelu | b32 (ViT-B/32 at 224 + the 12 x 512 x 8-head text
transformer, V = 49,408, context 77: OpenAI's ViT-B/32 shapes)
"""
import math
import os
import sys

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "..", "text"))
import openai_clip_ref  # noqa: E402

D64 = torch.float64
SPECS = {
    # image_size, patch, vision width, layers, heads, vocab, context, text width, layers, heads, embed, quick
    "tiny": (32, 16, 32, 2, 4, 544, 16, 32, 2, 2, 24, True),
    "tiny-gelu": (32, 8, 32, 1, 2, 544, 16, 32, 1, 4, 16, False),
    "b32": (224, 32, 768, 12, 12, 49408, 77, 512, 12, 8, 512, True),
}


def build(spec):
    S, P, Dv, Lv, Hv, V, C, Dt, Lt, Ht, E, quick = SPECS[spec]
    return openai_clip_ref.Clip(S, P, Dv, Lv, Hv, V, C, Dt, Lt, Ht, E, quick_gelu=quick)


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n == "logit_scale":
                v = torch.tensor(math.log(1 / 0.07))
            elif p.ndim == 1 and n.endswith("weight"):  # layer norm scales
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
            elif p.ndim == 1:
                v = 0.1 * torch.randn(p.shape, generator=g)
            elif "embedding" in n:
                v = 0.5 * torch.randn(p.shape, generator=g)
            else:
                fan_in = p[0].numel() if n.endswith("weight") else p.shape[0]  # proj [D,E]: fan-in D
                v = torch.randn(p.shape, generator=g) / math.sqrt(fan_in)
            p.copy_(v.to(p.dtype))


def embed(model, ids, images):
    model = model.to(D64).eval()
    with torch.no_grad():
        t = model.encode_text(torch.from_numpy(ids).long())
        i = model.encode_image(torch.from_numpy(images))
    t, i = t / t.norm(dim=-1, keepdim=True), i / i.norm(dim=-1, keepdim=True)
    return t.numpy(), i.numpy()


def write_emb(path, te, ie):
    with h5py.File(path, "w") as f:
        f["text_emb"] = te.astype(np.float32)
        f["image_emb"] = ie.astype(np.float32)


def cmd_merges(n, path):
    """up to 200 merges learnt from the committed captions, then unique made-up ones (a real
    vocabulary's size without minutes of merge learning)"""
    import tokenizer_ref
    n = int(n)
    texts = tokenizer_ref.corpus(os.path.join(HERE, "..", "data", "samples"))
    tokenizer_ref.make_merges(texts, path, min(n, 200))
    with open(path, encoding="utf-8") as f:
        lines = [m for m in f.read().split("\n")[1:] if m]
    made = ["q%d z%d</w>" % (k, k) for k in range(n - len(lines))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(lines + made) + "\n")


def cmd_make(spec, seed, out):
    model = build(spec)
    randomise(model, int(seed))
    sd = dict(model.state_dict())
    S, _, _, _, _, V, C = SPECS[spec][:7]
    sd.update(input_resolution=torch.tensor(S), context_length=torch.tensor(C), vocab_size=torch.tensor(V))
    torch.save(sd, os.path.join(out, "sd.pt"))
    rng = np.random.default_rng(int(seed))
    lens = [C - 2, 5, 0, C + 10, 3, 1]  # one row cut to the context, with EOT last
    ids = np.zeros((len(lens), C), dtype=np.int32)
    for b, n in enumerate(lens):
        row = [V - 2] + list(rng.integers(1, V - 2, n)) + [V - 1]
        if len(row) > C:
            row = row[:C]
            row[-1] = V - 1
        ids[b, :len(row)] = row
    images = rng.integers(0, 256, (5, S, S, 3), dtype=np.uint8)
    with h5py.File(os.path.join(out, "in.h5"), "w") as f:
        f["ids"] = ids
        f["images"] = images
    write_emb(os.path.join(out, "torch.h5"), *embed(model, ids, images))
    print("openai_ckpt: %s: %d tensors, %d floats -> %s" % (spec, len(sd), sum(v.numel() for v in sd.values()), out))


def load(spec, sd_path):
    model = build(spec)
    sd = torch.load(sd_path, map_location="cpu")
    for k in ("input_resolution", "context_length", "vocab_size"):
        sd.pop(k, None)
    model.load_state_dict(sd, strict=True)
    return model


def cmd_embed(spec, sd_path, inp, out):
    with h5py.File(inp, "r") as f:
        ids, images = f["ids"][...], f["images"][...]
    write_emb(out, *embed(load(spec, sd_path), ids, images))


def cmd_embed_run(spec, sd_path, merges, run_dir, out):
    import tokenizer_ref
    bpe = tokenizer_ref.ClipBpe(merges)
    with h5py.File(os.path.join(run_dir, "dataset.h5"), "r") as f:
        images = f["images"][...]
        b, o = f["captions/text/bytes"][()].tobytes(), f["captions/text/offsets"][()]
    caps = [b[o[k]:o[k + 1]].decode("utf-8") for k in range(len(o) - 1)]
    C = SPECS[spec][6]
    ids = np.array([bpe.encode(c, C) for c in caps], dtype=np.int32)
    write_emb(out, *embed(load(spec, sd_path), ids, images))
    print("openai_ckpt: %d captions (first: %r -> %s...), %d images" % (len(caps), caps[0][:40], list(ids[0][:6]),
                                                                     len(images)))


def rows(f, key):
    alt = {"text_emb": "captions/embedding", "image_emb": "images/embedding"}[key]
    return (f[key] if key in f else f[alt])[...].astype(np.float64)


def cmd_compare(a, b, tol):
    worst = 0.0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for k in ("text_emb", "image_emb"):
            x, y = rows(fa, k), rows(fb, k)
            if x.shape != y.shape:
                print("openai_ckpt: %s: shapes %s vs %s" % (k, x.shape, y.shape))
                return 1
            err = (np.abs(x - y).max(axis=1) / np.abs(y).max(axis=1)).max()
            print("openai_ckpt: %-9s %d rows, worst row max|a-b|/max|b| = %.3g" % (k, len(x), err))
            worst = max(worst, err)
    if not worst <= float(tol):
        print("openai_ckpt: FAIL: error %.3g > %s" % (worst, tol))
        return 1
    return 0


def main(a):
    cmds = {("merges", 3): cmd_merges, ("make", 4): cmd_make, ("embed", 5): cmd_embed,
            ("embed-run", 6): cmd_embed_run, ("compare", 4): cmd_compare}
    f = cmds.get((a[0] if a else "", len(a)))
    if not f:
        print(__doc__, file=sys.stderr)
        return 2
    return f(*a[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
