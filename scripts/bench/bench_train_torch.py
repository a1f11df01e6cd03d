#!/usr/bin/python3
"""bench_train_torch.py — PyTorch side of scripts/bench/bench_train.sh: one CLIP training step
exactly as `hpclip train` takes it — both towers forward on the global batch, L2-normalised
projections, the symmetric contrastive loss of Radford et al. at temperature 0.07, backward,
torch.optim.AdamW step — on the reference models of tests/fixtures/torch_ref.py, float32, eager mode.

    /usr/bin/python3 scripts/bench/bench_train_torch.py MODEL THREADS [--batch 32] [--image 128]
        [--tokens 20] [--warmup 3] [--reps 10]
MODEL: small      BERT-4/256 + ViT/16 with 4 layers, width 256, 4 heads (the issue's small model)
       b4-vitb16  BERT-4/256 + ViT-B/16 (12 layers, width 768)
Both project to 768 (the study's joint width). Run with OMP_WAIT_POLICY=PASSIVE (the shell
script does). Prints one JSON line: median step time, pairs/s, peak RSS.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
import torch_ref  # noqa: E402


def build(model, S, T):
    text = torch_ref.BertModel(15000, T, 4, 4, 256, 1024)
    if model == "small":
        visual, width = torch_ref.VisionTransformer(S, 16, 4, 4, 256, 1024), 256
    elif model == "b4-vitb16":
        visual, width = torch_ref.VisionTransformer(S, 16, 12, 12, 768, 3072), 768
    else:
        sys.exit("bench_train_torch.py: unknown model %r (small, b4-vitb16)" % model)
    return torch_ref.Clip(text, visual, 256, width, 768)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("threads", type=int)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--image", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    B, S, T = a.batch, a.image, a.tokens
    model = build(a.model, S, T)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    ids = torch.randint(1, 15000, (B, T))
    img = torch.randint(0, 256, (B, S, S, 3), dtype=torch.uint8)
    labels = torch.arange(B)

    def step():
        opt.zero_grad()
        ti = model.encode_image(img)
        tt = model.encode_text(ids)
        logits = model.logit_scale.exp() * ti @ tt.t()
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.reps):
        s = time.perf_counter()
        step()
        times.append(time.perf_counter() - s)
    med = statistics.median(times)
    rec = {"impl": "torch", "model": a.model, "ranks": 1, "threads": torch.get_num_threads(), "batch": B,
           "median_s": round(med, 5), "pairs_per_s": round(B / med, 3),
           "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
           "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
           "times": [round(t, 4) for t in times]}
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
