#!/usr/bin/python3
"""make_resnet_fixtures.py — reference data for src/models/resnet50.c, computed with PyTorch.

Run by hand (Debian's python3, which has torch + torchvision):
    /usr/bin/python3 scripts/make_resnet_fixtures.py    # writes tests/data/models/resnet_tiny.bin
Re-run only when the fixture's definition changes; the .bin file is committed and
tests/models/test_resnet50.c reads it through $HP_TEST_DATA/models/.

The network is torchvision's ResNet built from torchvision.models.resnet.Bottleneck, with the
same module names as torchvision.models.resnet50 but a configurable base width (torchvision's
ResNet class hard-wires 64 stem channels, so the tiny variant is assembled here from its
Bottleneck blocks; with width 64 and layers [3,4,6,3] it is exactly resnet50 minus fc, which the
script checks: same state-dict names and shapes, 23,508,032 parameters).

Tiny variant: width 4, layers [2,2,1,1] (identity AND projection shortcuts, stride-1 and
stride-2 downsamples), B = 4. Weights and BN affine parameters are random (not the init values)
and the running statistics start random, so every term is exercised. Two cases share the
weights, each starting from the same weights and running statistics:
  s48: 48x48 images (final map 2x2: train-mode BN sees 16 values per channel in layer4).
       Well conditioned: PyTorch float32 agrees with float64 to ~1e-5; the C test uses 1e-4.
  s32: 32x32 images (final map 1x1: only B = 4 values per channel in layer4). Train-mode BN
       over 4 values amplifies rounding: PyTorch's OWN float32 run differs from float64 by
       1.6e-5 in the features and up to 6e-4 in the gradients, so the C test compares the
       train-mode gradients of this case at a looser bound (see tests/models/test_resnet50.c).

Reference computation as scripts/make_fixtures.py: inputs/weights rounded to float32, then
everything in float64 with autograd, stored as float32. Per case <c>:
  1. train mode: feat = model(x); loss = sum(feat * G); backward -> <c>.train.feat,
     <c>.train.grad:*, running statistics after the step (momentum 0.1) -> <c>.train.rs:*
  2. eval mode (with the updated running statistics), grads zeroed: same loss -> <c>.eval.feat,
     <c>.eval.grad:*
Tensor names: "cfg" = [B, width, layers x4], "eps", "momentum"; "w:<name>" initial parameters
and running statistics (conv weights permuted to the C layout [OC,KH,KW,IC] =
torch weight.permute(0,2,3,1)); "<c>.S", "<c>.x" NHWC images, "<c>.G"; gradients in the same
layout as the weights. num_batches_tracked is not stored (hpclip does not keep it).

File format "hpfix1": see scripts/make_fixtures.py.
"""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "models")
D = torch.float64
PREFIX = "visual."


# TowerResNet (torchvision Bottleneck blocks, configurable width) lives in scripts/torch_ref.py.
from torch_ref import TowerResNet  # noqa: E402


def check_against_resnet50():
    ref = torchvision.models.resnet50()
    mine = TowerResNet([3, 4, 6, 3], 64)
    rs = {k: v.shape for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    ms = {k: v.shape for k, v in mine.state_dict().items()}
    assert rs == ms, "tiny builder does not reproduce resnet50's state dict"
    n = sum(p.numel() for p in mine.parameters())
    nref = sum(p.numel() for p in ref.parameters()) - sum(p.numel() for p in ref.fc.parameters())
    nbuf = sum(v.numel() for k, v in mine.state_dict().items() if "running" in k)
    assert n == nref == 23508032, (n, nref)
    print("resnet50 without fc: %d parameters, %d running-stat floats, names match" % (n, nbuf))


def c_layout(name, t):
    t = t.detach().clone()  # state_dict() and .grad alias live storage updated in place later
    if t.ndim == 4:
        t = t.permute(0, 2, 3, 1)  # [OC,IC,KH,KW] -> [OC,KH,KW,IC]
    return t


def write(path, tensors):
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
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(("hpfix1 %d\n" % len(header)).encode())
        for h in header:
            f.write((h + "\n").encode())
        for b in blobs:
            f.write(b)
    print("%s: %d tensors, %d bytes" % (os.path.basename(path), len(header), os.path.getsize(path)))


def run_case(model, tag, S, B):
    """train step then eval pass on fresh B x S x S images; returns fixture tensors"""
    m = copy.deepcopy(model)  # every case starts from the same weights and running stats
    params = dict(m.named_parameters())
    names = [k for k in m.state_dict() if not k.endswith("num_batches_tracked")]
    x = torch.randn(B, 3, S, S, dtype=D).to(torch.float32).to(D)
    m.train()
    feat = m(x)
    G = torch.randn(feat.shape, dtype=D).to(torch.float32).to(D)
    (feat * G).sum().backward()
    t = tag + "."
    out = [(t + "S", S), (t + "x", x.permute(0, 2, 3, 1)), (t + "G", G),
           (t + "train.feat", feat.detach().clone())]
    out += [(t + "train.grad:" + PREFIX + k, c_layout(k, params[k].grad)) for k in names if k in params]
    sd = m.state_dict()
    out += [(t + "train.rs:" + PREFIX + k, sd[k].clone()) for k in names if "running" in k]
    m.eval()
    m.zero_grad()
    feat = m(x)
    (feat * G).sum().backward()
    out += [(t + "eval.feat", feat.detach().clone())]
    out += [(t + "eval.grad:" + PREFIX + k, c_layout(k, params[k].grad)) for k in names if k in params]
    return out


def main():
    check_against_resnet50()
    torch.manual_seed(20240611)
    layers, width, B = [2, 2, 1, 1], 4, 4
    eps, momentum = 1e-5, 0.1
    model = TowerResNet(layers, width)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        for t in list(model.parameters()) + [b for n, b in model.named_buffers() if "running" in n]:
            t.copy_(t.to(torch.float32).to(t.dtype))
    model = model.to(D)
    names = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    out = [("cfg", np.array([B, width] + layers, dtype=np.int32)), ("eps", eps),
           ("momentum", momentum)]
    out += [("w:" + PREFIX + k, c_layout(k, model.state_dict()[k])) for k in names]
    out += run_case(model, "s48", 48, B)
    out += run_case(model, "s32", 32, B)
    write(os.path.join(OUT, "resnet_tiny.bin"), out)


if __name__ == "__main__":
    main()
