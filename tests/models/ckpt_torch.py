#!/usr/bin/python3
"""ckpt_torch.py — PyTorch side of tests/models/cli_ckpt_torch.sh (needs torch + h5py: Debian's
/usr/bin/python3). Reference models: tests/fixtures/torch_ref.py; names: scripts/ckpt_convert.py.

    ckpt_torch.py make DESC SEED DIR     random CLIP of model DESC (float32-rounded weights,
                                         random BN running statistics), saved as DIR/sd.pt with
                                         a fake HF pooler (to-hpclip must skip it); fixed inputs
                                         DIR/in.h5 (/ids [6,T] with padding, /images [5,S,S,3]);
                                         float64 embeddings DIR/torch.h5
    ckpt_torch.py embed DESC SD.pt IN.h5 OUT.h5     embeddings of a state dict (strict load)
    ckpt_torch.py compare A.h5 B.h5 TOL  max|a-b| / max|b| of /text_emb and /image_emb <= TOL
    ckpt_torch.py same-params A.h5 B.h5  /params of two checkpoints bit-identical
    ckpt_torch.py mutate IN.pt OUT.pt    drop one tensor, reshape one, add an unknown one
"""
import math
import os
import sys

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))  # ckpt_convert
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))  # torch_ref
import ckpt_convert  # noqa: E402
import torch_ref  # noqa: E402

D64 = torch.float64


def build(desc):
    c = ckpt_convert.parse_desc(desc)
    t, v = c["text"], c["image"]
    text = torch_ref.BertModel(t["V"], t["P"], t["L"], t["H"], t["D"], t["F"])  # P position rows, T used
    if v["kind"] == "vit":
        visual = torch_ref.VisionTransformer(v["S"], v["P"], v["L"], v["H"], v["D"], v["F"])
        dimg = v["D"]
    else:
        visual = torch_ref.TowerResNet(v["blocks"], v["width"])
        dimg = 32 * v["width"]
    model = torch_ref.Clip(text, visual, t["D"], dimg, c["E"], pooling=t["pool"])
    if v.get("norm"):  # model.image_mean / image_std carried by the description
        with torch.no_grad():
            model.img_mean.copy_(torch.tensor(v["norm"][0]))
            model.img_std.copy_(torch.tensor(v["norm"][1]))
    return model, c


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.state_dict().items():
            if not p.is_floating_point():
                continue
            if n == "logit_scale":
                v = torch.full(p.shape, math.log(1 / 0.07), dtype=D64)
            elif n.endswith("running_mean"):
                v = 0.1 * torch.randn(p.shape, generator=g, dtype=D64)
            elif n.endswith("running_var"):
                v = 0.5 + torch.rand(p.shape, generator=g, dtype=D64)
            elif p.ndim == 1 and n.endswith(".weight"):  # LayerNorm / BatchNorm scale
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=g, dtype=D64)
            elif p.ndim == 1:
                v = 0.1 * torch.randn(p.shape, generator=g, dtype=D64)
            elif "embeddings" in n or n.endswith("cls_token") or n.endswith("pos_embed"):
                v = 0.5 * torch.randn(p.shape, generator=g, dtype=D64)
            else:
                v = torch.randn(p.shape, generator=g, dtype=D64) / math.sqrt(p[0].numel())
            p.copy_(v.to(torch.float32).to(p.dtype))


def embed(model, ids, images):
    model = model.to(D64).eval()
    with torch.no_grad():
        return (model.encode_text(torch.from_numpy(ids).long()).numpy(),
                model.encode_image(torch.from_numpy(images)).numpy())


def write_emb(path, te, ie):
    with h5py.File(path, "w") as f:
        f["text_emb"] = te.astype(np.float32)
        f["image_emb"] = ie.astype(np.float32)


def cmd_make(desc, seed, out):
    model, c = build(desc)
    randomise(model, int(seed))
    sd = {k: v.detach().clone().float() if v.is_floating_point() else v.clone()
          for k, v in model.state_dict().items()}
    D = c["text"]["D"]
    sd["text.pooler.dense.weight"] = torch.zeros(D, D)  # HF BertModel's pooler: must be skipped
    sd["text.pooler.dense.bias"] = torch.zeros(D)
    torch.save(sd, os.path.join(out, "sd.pt"))
    rng = np.random.default_rng(int(seed))
    T, V = c["text"]["T"], c["text"]["V"]
    lens = [T, 5, 1, T - 2, 3, 2]
    ids = np.zeros((len(lens), T), dtype=np.int32)
    for b, n in enumerate(lens):
        ids[b, :n] = rng.integers(1, V, n)
    S = c["image"]["S"]
    images = rng.integers(0, 256, (5, S, S, 3), dtype=np.uint8)
    with h5py.File(os.path.join(out, "in.h5"), "w") as f:
        f["ids"] = ids
        f["images"] = images
    write_emb(os.path.join(out, "torch.h5"), *embed(model, ids, images))
    print("ckpt_torch: %s: %d tensors -> %s" % (desc, len(sd), out))


def cmd_embed(desc, sd_path, inp, out):
    model, _ = build(desc)
    model.load_state_dict(torch.load(sd_path, map_location="cpu"), strict=True)
    with h5py.File(inp, "r") as f:
        ids, images = f["ids"][...], f["images"][...]
    write_emb(out, *embed(model, ids, images))


def cmd_compare(a, b, tol):
    worst = 0.0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for k in ("text_emb", "image_emb"):
            x, y = fa[k][...].astype(np.float64), fb[k][...].astype(np.float64)
            if x.shape != y.shape:
                print("ckpt_torch: %s: shapes %s vs %s" % (k, x.shape, y.shape))
                return 1
            err = np.abs(x - y).max() / np.abs(y).max()
            print("ckpt_torch: %-9s max|a-b|/max|b| = %.3g  (%s vs %s)" % (k, err, os.path.basename(a),
                                                                         os.path.basename(b)))
            worst = max(worst, err)
    if not worst <= float(tol):
        print("ckpt_torch: FAIL: error %.3g > %s" % (worst, tol))
        return 1
    return 0


def cmd_same_params(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ka, kb = sorted(fa["params"]), sorted(fb["params"])
        if ka != kb:
            print("ckpt_torch: FAIL: different tensor names")
            return 1
        for k in ka:
            x, y = fa["params"][k][...], fb["params"][k][...]
            if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
                print("ckpt_torch: FAIL: /params/%s differs" % k)
                return 1
    print("ckpt_torch: %d tensors bit-identical" % len(ka))
    return 0


def cmd_mutate(inp, out):
    sd = torch.load(inp, map_location="cpu")
    del sd["text.embeddings.LayerNorm.bias"]
    sd["text_projection.bias"] = torch.zeros(sd["text_projection.bias"].numel() + 1)
    sd["visual.head.weight"] = torch.zeros(3, 3)
    torch.save(sd, out)
    return 0


def main(a):
    if len(a) == 4 and a[0] == "make":
        return cmd_make(*a[1:]) or 0
    if len(a) == 5 and a[0] == "embed":
        return cmd_embed(*a[1:]) or 0
    if len(a) == 4 and a[0] == "compare":
        return cmd_compare(*a[1:])
    if len(a) == 3 and a[0] == "same-params":
        return cmd_same_params(*a[1:])
    if len(a) == 3 and a[0] == "mutate":
        return cmd_mutate(*a[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
