#!/usr/bin/python3
"""bench_encoders_torch.py — PyTorch side of scripts/bench/bench_encoders.sh: the same training
step as scripts/bench/bench_encoders.c (zero_grad, forward, backward of loss = sum(pooled * G),
torch.optim.AdamW step with its defaults, lr 1e-4), on the reference models of
tests/fixtures/torch_ref.py (Hugging Face BertModel / timm VisionTransformer structure, torchvision
ResNet50 without fc, the CLIP wrapper) in float32, eager mode, one process per model so that
ru_maxrss is that model's peak.

    /usr/bin/python3 scripts/bench/bench_encoders_torch.py MODEL THREADS
        [--batch 32] [--image 128] [--tokens 20] [--warmup 2] [--reps 5] [--infer]
--infer: inference as bench_encoders.c --infer: model.eval(), the forward pass alone under
torch.inference_mode() (CLIP models: encode_text and encode_image), no optimiser.
MODEL as bench_encoders.c: sgemm (torch.mm, square 3072), bert-4-256, bert-12-768, vit-b16,
vit-b32, resnet50, clip-bert4-vitb16, clip-bert4-resnet50. THREADS -> torch.set_num_threads;
run it with OMP_WAIT_POLICY=PASSIVE (the shell script does). No dropout, every token valid,
uint8 images normalised inside the step (as hpclip). Prints one JSON line.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
import torch_ref  # noqa: E402


def vit(S, P):
    return torch_ref.VisionTransformer(S, P, 12, 12, 768, 3072)


def bert(L, D, T):
    return torch_ref.BertModel(15000, T, L, D // 64, D, 4 * D)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("threads", type=int)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--image", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--infer", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    B, S, T, m = a.batch, a.image, a.tokens, a.model
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    ids = torch.randint(1, 15000, (B, T))
    mask = torch.ones(B, T, dtype=torch.int32)
    img = torch.randint(0, 256, (B, S, S, 3), dtype=torch.uint8)
    mean = torch.tensor(torch_ref.VIT_MEAN)
    std = torch.tensor(torch_ref.VIT_STD)

    def images(x, resnet=False):
        mu = torch.tensor(torch_ref.IMAGENET_MEAN) if resnet else mean
        sd = torch.tensor(torch_ref.IMAGENET_STD) if resnet else std
        return ((x.float() / 255.0 - mu) / sd).permute(0, 3, 1, 2)

    if m == "sgemm":
        n = 3072
        A, Bm = torch.rand(n, n), torch.rand(n, n)
        model, fn, flops_note = None, (lambda: torch.mm(A, Bm)), 2.0 * n ** 3
    else:
        if m.startswith("bert-"):
            L, D = (int(x) for x in m.split("-")[1:])
            model = bert(L, D, T)
            fwd = lambda: model(ids, mask, "mean")
        elif m in ("vit-b16", "vit-b32"):
            model = vit(S, 16 if m == "vit-b16" else 32)
            fwd = lambda: model(images(img))
        elif m == "resnet50":
            model = torch_ref.TowerResNet([3, 4, 6, 3], 64)
            fwd = lambda: model(images(img, True))
        elif m in ("clip-bert4-vitb16", "clip-bert4-resnet50"):
            resnet = m.endswith("resnet50")
            visual = torch_ref.TowerResNet([3, 4, 6, 3], 64) if resnet else vit(S, 16)
            model = torch_ref.Clip(bert(4, 256, T), visual, 256, 2048 if resnet else 768, 512)
            fwd = lambda: torch.cat([model.encode_text(ids), model.encode_image(img)], 0)
        else:
            sys.exit("bench_encoders_torch.py: unknown model %r" % m)
        G = None
        if a.infer:
            model.eval()

            def fn():
                with torch.inference_mode():
                    return fwd()
        else:
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def train_fn():
            nonlocal G
            opt.zero_grad()
            out = fwd()
            if G is None:
                G = (torch.rand(out.shape) - 0.5) * 0.02
            (out * G).sum().backward()
            opt.step()
        if not a.infer:
            fn = train_fn
        flops_note = None
    setup = time.perf_counter() - t0
    for _ in range(a.warmup):
        fn()
    times = []
    for _ in range(a.reps):
        s = time.perf_counter()
        fn()
        times.append(time.perf_counter() - s)
    med = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    params = sum(p.numel() for p in model.parameters()) if model is not None else 0
    rec = {"impl": "torch", "mode": "infer" if a.infer else "train", "model": m, "threads": torch.get_num_threads(), "batch": 0 if m == "sgemm" else B,
           "image": S, "tokens": T, "params": params, "median_s": round(med, 6), "min_s": round(min(times), 6),
           "per_s": round((1.0 if m == "sgemm" else B) / med, 4), "maxrss_mb": round(rss, 1),
           "rss_base_mb": round(rss_base, 1), "setup_s": round(setup, 2), "times": [round(t, 5) for t in times],
           "torch": torch.__version__}
    if flops_note:
        rec["flops"] = flops_note
        rec["gflops"] = round(flops_note / med * 1e-9, 3)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
