#!/usr/bin/python3
"""comm_model.py — the communication model of data-parallel CLIP training (docs/benchmarks.md,
"Projection to many nodes"): step time and parallel efficiency of hpclip's scheme projected to
N nodes from a measured single-node step.

Model (one rank per node; p nodes; S = 4 * P bytes of float32 gradients):
  ring allreduce      T_ar(p)  = 2 (p-1) alpha + 2 (p-1)/p * S / beta      (reduce-scatter + all-gather)
  feature all-gather  T_ag(p)  = (p-1) alpha + (p-1)/p * 2 * B * E * 4 / beta (image + text embeddings)
  compute             T_c(b)   = b * t_pair / speedup                       (b = pairs per node per step)
  overlap             buckets start during backward: only the part of T_ar that outlasts the
                      backward pass after the first bucket is ready is exposed;
                      backward ~ 2/3 of T_c, so  exposed = max(0, T_ar - f_overlap * 2/3 * T_c)
  step                T(p)     = T_c(b) + T_ag(p) + exposed
  efficiency          E(p)     = T_c(b) / T(p)    (weak scaling at fixed b)
Inputs: the parameter count P, t_pair (seconds per training pair on one node, measured), the link
(alpha latency, beta bandwidth). Everything it prints is a projection, not a measurement.

    /usr/bin/python3 scripts/bench/comm_model.py [--params N] [--t-pair S] [--speedups 1,32]
        [--nodes 8,64,512] [--batch-per-node 32] [--global-batch 32]
"""
import argparse


LINKS = [("InfiniBand HDR 200 Gb/s", 1.5e-6, 25e9), ("100 Gb/s", 2e-6, 12.5e9), ("25 GbE", 10e-6, 3.125e9)]


def step_time(p, b, t_pair, speedup, alpha, beta, S, embed, overlap):
    """One step at p nodes, b pairs per node: (step seconds, compute seconds)."""
    tc = b * t_pair / speedup
    tar = 2 * (p - 1) * alpha + 2 * (p - 1) / p * S / beta
    tag = (p - 1) * alpha + (p - 1) / p * 2 * b * p * embed * 4 / beta
    exposed = max(0.0, tar - overlap * 2.0 / 3.0 * tc)
    return tc + tag + exposed, tc


def project(params, t_pair, links, nodes, speedups, batch_per_node=32, global_batch=32, embed=768, overlap=0.9):
    """The weak and strong scaling tables (Markdown lines); links = [(name, alpha, beta)]."""
    S = 4.0 * params
    out = []
    for mode, b_of in (("weak scaling, %d pairs per node (global batch 32 x nodes)" % batch_per_node,
                        lambda p: batch_per_node),
                       ("strong scaling, the study's global batch %d" % global_batch,
                        lambda p: global_batch / p)):
        out += ["**%s**" % mode, ""]
        out.append("| node speed | link | " + " | ".join("%d nodes: step s (eff.)" % p for p in nodes) + " |")
        out.append("|---|---|" + "---|" * len(nodes))
        for sp in speedups:
            for name, alpha, beta in links:
                cells = []
                for p in nodes:
                    b = b_of(p)
                    if b < 1:
                        cells.append("n/a (%.2f pairs/node)" % b)
                        continue
                    t, tc = step_time(p, b, t_pair, sp, alpha, beta, S, embed, overlap)
                    cells.append("%.3f (%.0f%%)" % (t, 100 * tc / t))
                out.append("| %gx | %s | %s |" % (sp, name, " | ".join(cells)))
        out.append("")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=float, default=183471361,
                    help="parameter count (default: BERT-12/768 + ViT-B/16 at 128x128 + two heads to 768)")
    ap.add_argument("--t-pair", type=float, required=True, help="measured seconds per training pair on one node")
    ap.add_argument("--speedups", default="1,32", help="node compute speed relative to the measured node")
    ap.add_argument("--nodes", default="8,64,512")
    ap.add_argument("--batch-per-node", type=int, default=32)
    ap.add_argument("--global-batch", type=int, default=32, help="the study's global batch (strong scaling)")
    ap.add_argument("--embed", type=int, default=768)
    ap.add_argument("--overlap", type=float, default=0.9, help="share of backward usable for overlap")
    a = ap.parse_args()
    S = 4.0 * a.params
    print("Gradient message S = %.0f MB (%.1f M parameters, float32); t_pair = %.3f s measured.\n"
          % (S / 1e6, a.params / 1e6, a.t_pair))
    print("\n".join(project(a.params, a.t_pair, LINKS, [int(x) for x in a.nodes.split(",")],
                            [float(x) for x in a.speedups.split(",")], a.batch_per_node, a.global_batch,
                            a.embed, a.overlap)))


if __name__ == "__main__":
    main()
