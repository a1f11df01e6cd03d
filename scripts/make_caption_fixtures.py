#!/usr/bin/python3
"""make_caption_fixtures.py — PyTorch reference data for the caption decoder
(src/models/caption_decoder.c) and the RMSprop optimiser (src/nn/optim.c).

Run by hand with Debian's python3 (it has torch; the pyenv python3 on PATH does not):
    /usr/bin/python3 scripts/make_caption_fixtures.py   # writes tests/data/models/capdec*.bin, rmsprop.bin
The .bin files are committed; tests/models/test_caption_decoder.c and tests/nn/test_optim.c
read them. Format and conventions as scripts/make_model_fixtures.py ("hpfix1"; weights and
inputs rounded to float32, reference computed in float64 with autograd, dropout off).

CapDec below is the decoder in plain torch with hpclip's state-dict names ("capdec." prefix):
prefix Linear(E->D) of the conditioning embedding as position 0, token embeddings of the
caption shifted right at positions 1..S-1, learned positions, post-LN transformer blocks with
CAUSAL self-attention (fused qkv, rows [q|k|v]) and an erf-GELU MLP (torch_ref.Block with
post_ln=True, causal=True, LayerNorm eps 1e-5), output Linear(D->V).
Loss = sum over counted positions of the token cross-entropy (target -1 = ignored) — the
decoder's hp_capdec_loss returns this sum.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import write  # noqa: E402
from torch_ref import Block  # noqa: E402

D64 = torch.float64


class CapDec(nn.Module):
    def __init__(s, V, T, E, D, Fw, H, L):
        super().__init__()
        s.prefix = nn.Linear(E, D)
        s.tok_embed = nn.Embedding(V, D)
        s.pos_embed = nn.Embedding(T, D)
        s.blocks = nn.ModuleList([Block(D, H, Fw, post_ln=True, causal=True, eps=1e-5) for _ in range(L)])
        s.out = nn.Linear(D, V)

    def forward(s, cond, tokens, S):
        x = torch.cat([s.prefix(cond)[:, None], s.tok_embed(tokens[:, :S - 1])], 1) + s.pos_embed.weight[:S][None]
        for b in s.blocks:
            x = b(x)
        return s.out(x)


def targets_of(caps):
    """caption word up to and including the first padding id 0, -1 after it"""
    t = caps.clone()
    for b in range(caps.shape[0]):
        ended = False
        for i in range(caps.shape[1]):
            if ended:
                t[b, i] = -1
            if caps[b, i] == 0:
                ended = True
    return t


def fx_capdec(tag, B=3, T=7, V=23, E=10, D=16, Fw=24, H=2, L=1):
    m = CapDec(V, T, E, D, Fw, H, L).to(D64)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" in n and n.endswith(".weight"):
                v = 1.0 + 0.1 * torch.randn(p.shape, dtype=D64)
            else:
                v = 0.3 * torch.randn(p.shape, dtype=D64)
            p.copy_(v.to(torch.float32).to(D64))
    cond = torch.randn(B, E, dtype=D64).to(torch.float32).to(D64)
    caps = torch.randint(2, V, (B, T))
    lens = [T, 4, 1][:B]  # full length (no end token), 4 words + end, 1 word + end
    for b, n in enumerate(lens):
        caps[b, n:] = 0
    tg = targets_of(caps)
    logits = m(cond, caps, T)
    loss = F.cross_entropy(logits.reshape(-1, V), tg.reshape(-1), ignore_index=-1, reduction="sum")
    loss.backward()
    rows = [("B", B), ("T", T), ("V", V), ("E", E), ("D", D), ("F", Fw), ("H", H), ("L", L),
            ("cond", cond), ("captions", caps.to(torch.int32)), ("targets", tg.to(torch.int32)),
            ("logits", logits), ("loss", float(loss)), ("count", int((tg >= 0).sum()))]
    grads = []
    for n, p in m.named_parameters():
        rows.append(("capdec." + n, p.detach()))
        grads.append(("grad.capdec." + n, p.grad))
    write(tag, rows + grads)


def fx_rmsprop(steps=5):
    """torch.optim.RMSprop (alpha 0.9, eps 1e-7, coupled weight decay on the matrix group)
    over three tensors 'w' (DECAY), 'b' (none), 'k' (DECAY); no clipping."""
    shapes = {"w": (4, 5), "b": (7,), "k": (3, 6)}
    rows = [("steps", steps)]
    init = {n: torch.randn(s, dtype=torch.float32) for n, s in shapes.items()}
    gs = [{n: torch.randn(s, dtype=torch.float32) * 0.8 for n, s in shapes.items()} for _ in range(steps)]
    lrs = [0.01 * (0.8 ** t) for t in range(steps)]
    for n in shapes:
        rows.append(("init." + n, init[n]))
        for t in range(steps):
            rows.append(("g%d.%s" % (t, n), gs[t][n]))
    rows.append(("lr", torch.tensor(lrs, dtype=torch.float32)))
    ps = {n: init[n].clone().to(D64).requires_grad_(True) for n in shapes}
    opt = torch.optim.RMSprop([{"params": [ps["w"], ps["k"]], "weight_decay": 0.05},
                               {"params": [ps["b"]], "weight_decay": 0.0}],
                              lr=1.0, alpha=0.9, eps=1e-7)
    for t in range(steps):
        for n in shapes:
            ps[n].grad = gs[t][n].to(D64).clone()
        for g in opt.param_groups:
            g["lr"] = lrs[t]
        opt.step()
        for n in shapes:
            rows.append(("rmsprop.w%d.%s" % (t, n), ps[n].detach().clone()))
    write("rmsprop", rows)


if __name__ == "__main__":
    torch.manual_seed(2468)
    fx_capdec("capdec")
    fx_capdec("capdec_l2", B=2, T=6, V=19, E=8, D=12, Fw=12, H=3, L=2)
    fx_rmsprop()
