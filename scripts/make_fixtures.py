#!/usr/bin/python3
"""make_fixtures.py — reference data for the src/nn kernels, computed with PyTorch.

Run by hand (Debian's python3, which has torch; the pyenv python3 on PATH does not):
    /usr/bin/python3 scripts/make_fixtures.py          # writes tests/data/nn/<kernel>.bin
Re-run only when a fixture's definition changes; the .bin files are committed and the
cmocka tests in tests/nn/ read them through $HP_TEST_DATA/nn/.

Reference computation: inputs are drawn with a seeded generator, rounded to float32 (so the
C kernels see exactly the same numbers), then everything is computed in float64 with torch
autograd and the results are stored as float32.

Image tensors follow the C kernels' NHWC layout: torch computes in NCHW and the script
permutes on writing; conv weights are stored [OC,KH,KW,C] (torch weight.permute(0,2,3,1)).

File format ("hpfix1"), trivial and self-describing:
    line 1:            hpfix1 <count>
    next <count> lines: <name> <f32|i32> <ndim> <dim0> ... <dimN-1>
    then the raw data of every tensor in the listed order, little-endian, no padding.
A scalar is a tensor with ndim 0 (one element). Integer settings (sizes, stride, flags)
are i32 tensors, real settings (eps, momentum) f32 tensors.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "nn")
D = torch.float64


def r32(t):
    """round a float64 tensor to float32 precision, keep it float64"""
    return t.to(torch.float32).to(D)


def randn(*shape, scale=1.0, grad=False):
    t = r32(torch.randn(*shape, dtype=D) * scale)
    if grad:
        t.requires_grad_(True)
    return t


def write(kernel, tensors):
    """tensors: list of (name, value); value a torch tensor, numpy array, int or float"""
    header, blobs = [], []
    for name, v in tensors:
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
        header.append(" ".join([name, code, str(v.ndim)] + [str(d) for d in v.shape]))
        blobs.append(v.tobytes())
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, kernel + ".bin")
    with open(path, "wb") as f:
        f.write(("hpfix1 %d\n" % len(header)).encode())
        for h in header:
            f.write((h + "\n").encode())
        for b in blobs:
            f.write(b)
    print("%-12s %7d bytes" % (kernel, os.path.getsize(path)))


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def fx_linear():
    N, IC, OC = 6, 8, 5
    x, w, b = randn(N, IC, grad=True), randn(OC, IC, grad=True), randn(OC, grad=True)
    y = F.linear(x, w, b)
    dy = randn(N, OC)
    y.backward(dy)
    write("linear", [("N", N), ("IC", IC), ("OC", OC), ("inp", x), ("weight", w), ("bias", b),
                     ("out", y), ("dout", dy), ("dinp", x.grad), ("dweight", w.grad),
                     ("dbias", b.grad)])


def fx_embedding():
    V, C, B, T = 11, 7, 2, 5
    ids = torch.tensor([[3, 0, 3, 10, 7], [7, 7, 1, 3, 2]])
    table, pos = randn(V, C, grad=True), randn(T, C, grad=True)
    y = F.embedding(ids, table) + pos
    dy = randn(B, T, C)
    y.backward(dy)
    write("embedding", [("V", V), ("C", C), ("B", B), ("T", T), ("ids", ids), ("table", table),
                        ("pos", pos), ("out", y), ("dout", dy), ("dtable", table.grad),
                        ("dpos", pos.grad)])


def fx_layernorm():
    N, C, eps = 6, 16, 1e-5
    x = r32(torch.randn(N, C, dtype=D) * 2 + 3).requires_grad_(True)
    w, b = randn(C, grad=True), randn(C, grad=True)
    y = F.layer_norm(x, (C,), w, b, eps)
    mean = x.mean(-1)
    rstd = 1.0 / torch.sqrt(x.var(-1, unbiased=False) + eps)
    dy = randn(N, C)
    y.backward(dy)
    write("layernorm", [("N", N), ("C", C), ("eps", eps), ("inp", x), ("weight", w),
                        ("bias", b), ("out", y), ("mean", mean), ("rstd", rstd), ("dout", dy),
                        ("dinp", x.grad), ("dweight", w.grad), ("dbias", b.grad)])


def fx_activation():
    n = 96
    x = r32(torch.linspace(-6, 6, n, dtype=D) + 0.01 * torch.randn(n, dtype=D))
    xg = x.clone().requires_grad_(True)
    y = F.gelu(xg)  # exact erf form
    dy = randn(n)
    y.backward(dy)
    # ReLU: keep inputs away from 0 so the test and finite differences are well defined
    xr = x.clone()
    xr[xr.abs() < 0.05] = 0.5
    xr.requires_grad_(True)
    yr = F.relu(xr)
    yr.backward(dy)
    write("activation", [("n", n), ("inp", x), ("gelu_out", y), ("dout", dy),
                         ("gelu_dinp", xg.grad), ("relu_inp", xr), ("relu_out", yr),
                         ("relu_dinp", xr.grad)])


def fx_softmax():
    N, C = 5, 9
    x = randn(N, C, scale=3.0)
    x[1] += 80.0  # large logits: needs the max subtraction
    x[2] -= 80.0
    x = r32(x).requires_grad_(True)
    y = F.softmax(x, -1)
    dy = randn(N, C)
    y.backward(dy)
    write("softmax", [("N", N), ("C", C), ("inp", x), ("out", y), ("dout", dy),
                      ("dinp", x.grad)])


def attention_ref(qkv, valid, causal, NH):
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // NH
    q, k, v = qkv.split(C, dim=2)
    q = q.view(B, T, NH, hs).transpose(1, 2)
    k = k.view(B, T, NH, hs).transpose(1, 2)
    v = v.view(B, T, NH, hs).transpose(1, 2)
    s = q @ k.transpose(-2, -1) / (hs ** 0.5)
    allowed = valid.bool()[:, None, None, :].expand(B, NH, T, T)
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()[None, None]
    s = s.masked_fill(~allowed, float("-inf"))
    att = F.softmax(s, -1)
    y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
    return y, att


def fx_attention():
    B, T, C, NH = 2, 5, 12, 3
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.int32)
    rows = [("B", B), ("T", T), ("C", C), ("NH", NH), ("key_valid", valid)]
    for tag, causal in (("m_", 0), ("c_", 1)):
        qkv = randn(B, T, 3 * C, grad=True)
        y, att = attention_ref(qkv, valid, causal, NH)
        dy = randn(B, T, C)
        y.backward(dy)
        rows += [(tag + "qkv", qkv), (tag + "out", y), (tag + "att", att), (tag + "dout", dy),
                 (tag + "dqkv", qkv.grad)]
    write("attention", rows)


def fx_l2norm():
    N, C, eps = 5, 8, 1e-6
    x = randn(N, C)
    x[3] = r32(torch.randn(C, dtype=D) * 1e-8)  # norm below eps: the clamped branch
    x.requires_grad_(True)
    y = F.normalize(x, dim=-1, eps=eps)
    dy = randn(N, C)
    y.backward(dy)
    write("l2norm", [("N", N), ("C", C), ("eps", eps), ("inp", x), ("out", y), ("dout", dy),
                     ("dinp", x.grad)])


def fx_loss():
    N, V, ign = 7, 10, -100
    x = randn(N, V, scale=2.0)
    x[4] += 50.0
    x = r32(x).requires_grad_(True)
    t = torch.tensor([3, ign, 0, 9, 5, ign, 3])
    loss = F.cross_entropy(x, t, ignore_index=ign, reduction="mean")
    dloss = 0.75
    loss.backward(torch.tensor(dloss, dtype=D))
    write("loss", [("N", N), ("V", V), ("ignore_index", ign), ("logits", x), ("targets", t),
                   ("loss", loss), ("probs", F.softmax(x, -1)), ("dloss", dloss),
                   ("dlogits", x.grad)])


def fx_conv():
    rows = []
    cases = [("a_", 2, 3, 7, 6, 4, 3, 3, 2, 1),   # 3x3 stride 2 pad 1
             ("b_", 2, 5, 4, 5, 3, 1, 1, 1, 0),   # pointwise fast path
             ("c_", 1, 2, 5, 5, 6, 2, 3, 1, 0)]   # non-square kernel, no pad
    for tag, N, C, H, W, OC, KH, KW, s, p in cases:
        x, w, b = randn(N, C, H, W, grad=True), randn(OC, C, KH, KW, grad=True), randn(OC, grad=True)
        y = F.conv2d(x, w, b, stride=s, padding=p)
        dy = randn(*y.shape)
        y.backward(dy)
        rows += [(tag + "cfg", np.array([N, C, H, W, OC, KH, KW, s, p])), (tag + "inp", nhwc(x)),
                 (tag + "weight", w.permute(0, 2, 3, 1)), (tag + "bias", b), (tag + "out", nhwc(y)),
                 (tag + "dout", nhwc(dy)), (tag + "dinp", nhwc(x.grad)),
                 (tag + "dweight", w.grad.permute(0, 2, 3, 1)), (tag + "dbias", b.grad)]
    write("conv", rows)


def fx_batchnorm():
    N, C, H, W, eps, mom = 3, 6, 4, 5, 1e-5, 0.1
    x = r32(torch.randn(N, C, H, W, dtype=D) * 1.5 + 0.7).requires_grad_(True)
    w, b = randn(C, grad=True), randn(C, grad=True)
    rm0, rv0 = randn(C, scale=0.1), r32(torch.rand(C, dtype=D) + 0.5)
    rm, rv = rm0.clone(), rv0.clone()
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=mom, eps=eps)
    dy = randn(N, C, H, W)
    y.backward(dy)
    rows = [("cfg", np.array([N, H, W, C])), ("eps", eps), ("momentum", mom), ("inp", nhwc(x)),
            ("weight", w), ("bias", b), ("running_mean0", rm0), ("running_var0", rv0),
            ("out", nhwc(y)), ("running_mean", rm), ("running_var", rv), ("dout", nhwc(dy)),
            ("dinp", nhwc(x.grad)), ("dweight", w.grad), ("dbias", b.grad)]
    # eval mode with the updated running statistics
    x2 = x.detach().clone().requires_grad_(True)
    y2 = F.batch_norm(x2, rm.clone(), rv.clone(), w.detach(), b.detach(), training=False,
                      eps=eps)
    y2.backward(dy)
    rows += [("eval_out", nhwc(y2)), ("eval_dinp", nhwc(x2.grad))]
    write("batchnorm", rows)


def fx_pool():
    N, C, H, W = 2, 3, 7, 6
    rows = [("cfg", np.array([N, H, W, C]))]
    x = randn(N, C, H, W, grad=True)
    rows.append(("inp", nhwc(x)))
    cases = [("max_", "max", 3, 2, 1, 1), ("max2_", "max", 2, 2, 0, 1),
             ("avg_", "avg", 3, 2, 1, 1), ("avgx_", "avg", 3, 2, 1, 0)]
    for tag, kind, k, s, p, cip in cases:
        x.grad = None
        if kind == "max":
            y = F.max_pool2d(x, k, s, p)
        else:
            y = F.avg_pool2d(x, k, s, p, count_include_pad=bool(cip))
        dy = randn(*y.shape)
        y.backward(dy)
        rows += [(tag + "cfg", np.array([k, s, p, cip])), (tag + "out", nhwc(y)),
                 (tag + "dout", nhwc(dy)), (tag + "dinp", nhwc(x.grad))]
    x.grad = None
    y = x.mean(dim=(2, 3))
    dy = randn(N, C)
    y.backward(dy)
    rows += [("gap_out", y), ("gap_dout", dy), ("gap_dinp", nhwc(x.grad))]
    write("pool", rows)


if __name__ == "__main__":
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) < (1, 13):
        sys.exit("needs torch >= 1.13")
    for fn in (fx_linear, fx_embedding, fx_layernorm, fx_activation, fx_softmax, fx_attention,
               fx_l2norm, fx_loss, fx_conv, fx_batchnorm, fx_pool):
        fn()
