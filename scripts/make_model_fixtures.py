#!/usr/bin/python3
"""make_model_fixtures.py — reference data for src/models (BERT, ViT, projection heads) and
src/nn/optim, computed with PyTorch.

Run by hand (Debian's python3, which has torch; the pyenv python3 on PATH does not):
    /usr/bin/python3 scripts/make_model_fixtures.py    # writes tests/data/models/<name>.bin
The .bin files are committed; the cmocka tests in tests/models/ and tests/nn/test_optim.c
read them through $HP_TEST_DATA/models/.

The reference models (scripts/torch_ref.py) are written in plain torch.nn with the SAME module structure and
state-dict names as Hugging Face's BertModel (minus its pooler) and timm's
VisionTransformer (class token, no head), so neither package is needed, and a real HF/timm
state dict maps onto hpclip's parameter table by name (prefixes "text." / "visual.").

Reference computation: weights and inputs are drawn with a seeded generator and rounded to
float32 (the C code sees exactly those numbers); forward and backward run in float64 with
autograd, dropout off; results are stored as float32. Loss = sum(emb * G) with emb the
L2-normalised projection and G a fixed random [B,E] tensor; every parameter gradient is
stored as "grad.<name>".

Layout differences from PyTorch (stored as hpclip uses them):
    visual.patch_embed.proj.weight   [D,P,P,3]  (= torch [D,3,P,P].permute(0,2,3,1))
    images                           [B,S,S,3]  uint8 NHWC, normalised (x/255-0.5)/0.5

File format: as scripts/make_fixtures.py ("hpfix1 <count>", one "<name> <f32|i32> <ndim>
<dims..>" line per tensor, then raw little-endian data in order).
"""
import os

import numpy as np
import torch

torch.manual_seed(4321)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "models")
D64 = torch.float64


def write(name, tensors):
    header, blobs = [], []
    for tname, v in tensors:
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        if isinstance(v, (bool, int, np.integer)):
            v = np.array(v, dtype=np.int32)
        elif isinstance(v, (float, np.floating)):
            v = np.array(v, dtype=np.float32)
        if v.dtype.kind in "iub":
            v, code = np.ascontiguousarray(v, dtype="<i4"), "i32"
        else:
            v, code = np.ascontiguousarray(v, dtype="<f4"), "f32"
        header.append(" ".join([tname, code, str(v.ndim)] + [str(d) for d in v.shape]))
        blobs.append(v.tobytes())
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".bin")
    with open(path, "wb") as f:
        f.write(("hpfix1 %d\n" % len(header)).encode())
        for h in header:
            f.write((h + "\n").encode())
        for b in blobs:
            f.write(b)
    print("%-14s %7d bytes" % (name, os.path.getsize(path)))


def randomise(model, scale=0.3):
    """non-trivial weights (LN weights around 1, biases nonzero), rounded to float32"""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("LayerNorm.weight") or ("norm" in n and n.endswith(".weight")):
                v = 1.0 + 0.1 * torch.randn(p.shape, dtype=D64)
            else:
                v = scale * torch.randn(p.shape, dtype=D64)
            p.copy_(v.to(torch.float32).to(D64))


# The reference models (Hugging Face BertModel / timm VisionTransformer structure, projection
# head) live in scripts/torch_ref.py, shared with the checkpoint test and the benchmark.
from torch_ref import BertModel, Head, VisionTransformer  # noqa: E402


def params_rows(model, prefix, head, hprefix, permute=None):
    rows, grads = [], []
    for n, p in list(model.named_parameters()) + [("@" + k, v) for k, v in head.lin.named_parameters()]:
        name = (hprefix + "." + n[1:]) if n.startswith("@") else prefix + "." + n
        val, g = p.detach(), p.grad
        if permute and n in permute:
            val, g = val.permute(*permute[n]), g.permute(*permute[n])
        rows.append((name, val))
        grads.append(("grad." + name, g))
    return rows, grads


def fx_bert(tag, pooling, B=3, T=8, V=50, L=2, H=2, D=16, E=24):
    m = BertModel(V, T, L, H, D, 4 * D).to(D64)
    hd = Head(D, E).to(D64)
    randomise(m)
    randomise(hd)
    ids = torch.randint(2, V, (B, T))
    lens = [T, 5, 1][:B]
    mask = torch.zeros(B, T, dtype=torch.int32)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        ids[b, n:] = 0  # padding id 0
    pooled = m(ids, mask, pooling)
    pooled.retain_grad()
    emb = hd(pooled)
    G = torch.randn(B, E, dtype=D64).to(torch.float32).to(D64)
    (emb * G).sum().backward()
    rows, grads = params_rows(m, "text", hd, "text_projection")
    write(tag, [("B", B), ("T", T), ("V", V), ("L", L), ("H", H), ("D", D), ("E", E),
                ("pooling", 1 if pooling == "cls" else 0),
                ("ids", ids.to(torch.int32)), ("valid", mask), ("G", G),
                ("pooled", pooled), ("emb", emb), ("dpooled", pooled.grad)] + rows + grads)


def fx_vit(tag, P, B=2, S=32, L=2, H=2, D=16, E=24):
    m = VisionTransformer(S, P, L, H, D, 4 * D).to(D64)
    hd = Head(D, E).to(D64)
    randomise(m)
    randomise(hd)
    img = torch.randint(0, 256, (B, S, S, 3), dtype=torch.int32)
    x = ((img.to(D64) / 255.0 - 0.5) / 0.5).permute(0, 3, 1, 2)
    pooled = m(x)
    pooled.retain_grad()
    emb = hd(pooled)
    G = torch.randn(B, E, dtype=D64).to(torch.float32).to(D64)
    (emb * G).sum().backward()
    rows, grads = params_rows(m, "visual", hd, "visual_projection",
                              permute={"patch_embed.proj.weight": (0, 2, 3, 1)})
    write(tag, [("B", B), ("S", S), ("P", P), ("L", L), ("H", H), ("D", D), ("E", E),
                ("image", img), ("G", G), ("pooled", pooled), ("emb", emb),
                ("dpooled", pooled.grad)] + rows + grads)


def fx_head(B=4, Din=12, E=10):
    hd = Head(Din, E).to(D64)
    randomise(hd)
    x = torch.randn(B, Din, dtype=D64).to(torch.float32).to(D64).requires_grad_(True)
    emb = hd(x)
    G = torch.randn(B, E, dtype=D64).to(torch.float32).to(D64)
    (emb * G).sum().backward()
    write("head", [("B", B), ("Din", Din), ("E", E), ("x", x), ("G", G), ("emb", emb),
                   ("dx", x.grad), ("weight", hd.lin.weight), ("bias", hd.lin.bias),
                   ("grad.weight", hd.lin.weight.grad), ("grad.bias", hd.lin.bias.grad)])


# ---- optimisers -------------------------------------------------------------------------------
def fx_optim(steps=5):
    """Three tensors: 'w' (matrix: DECAY), 'b' (bias: none), 'k' (projection kernel:
    DECAY|L2). Random gradients per step; L2 penalty 2*lambda*k added to k's gradient,
    global-norm clipping (max_norm), then torch.optim.AdamW / SGD with param groups."""
    shapes = {"w": (4, 5), "b": (7,), "k": (3, 6)}
    lam, max_norm = 1e-3, 2.0
    rows = [("steps", steps), ("lambda", lam), ("max_norm", max_norm)]
    init = {n: torch.randn(s, dtype=torch.float32) for n, s in shapes.items()}
    gs = [{n: torch.randn(s, dtype=torch.float32) * 0.8 for n, s in shapes.items()} for _ in range(steps)]
    lrs = [0.05 * (0.8 ** t) for t in range(steps)]
    for n in shapes:
        rows.append(("init." + n, init[n]))
        for t in range(steps):
            rows.append(("g%d.%s" % (t, n), gs[t][n]))
    rows.append(("lr", torch.tensor(lrs, dtype=torch.float32)))

    def run(make):
        ps = {n: init[n].clone().to(D64).requires_grad_(True) for n in shapes}
        opt = make([{"params": [ps["w"], ps["k"]]}, {"params": [ps["b"]], "weight_decay": 0.0}])
        norms, traj = [], []
        for t in range(steps):
            for n in shapes:
                ps[n].grad = gs[t][n].to(D64).clone()
            with torch.no_grad():
                ps["k"].grad += 2 * lam * ps["k"]
            norms.append(float(torch.nn.utils.clip_grad_norm_(list(ps.values()), max_norm)))
            for g in opt.param_groups:
                g["lr"] = lrs[t]
            opt.step()
            traj.append({n: ps[n].detach().clone() for n in shapes})
        return norms, traj

    cases = {
        "adamw": lambda g: torch.optim.AdamW(g, lr=1.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
        "sgd": lambda g: torch.optim.SGD(g, lr=1.0, momentum=0.9, dampening=0.1, weight_decay=0.05),
        "nesterov": lambda g: torch.optim.SGD(g, lr=1.0, momentum=0.9, nesterov=True, weight_decay=0.05),
    }
    for tag, make in cases.items():
        norms, traj = run(make)
        rows.append((tag + ".norm", torch.tensor(norms, dtype=torch.float32)))
        for t in range(steps):
            for n in shapes:
                rows.append(("%s.w%d.%s" % (tag, t, n), traj[t][n]))
    write("optim", rows)


if __name__ == "__main__":
    fx_bert("bert_cls", "cls")
    fx_bert("bert_mean", "mean")
    fx_vit("vit_p16", 16)
    fx_vit("vit_p8", 8)
    fx_head()
    fx_optim()
    # Appended last so the fixtures above keep their bytes (one global seeded generator).
    # ViT/32 as in the study: 64x64 images give a 2x2 patch grid.
    fx_vit("vit_p32", 32, S=64)
