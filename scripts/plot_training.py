#!/usr/bin/python3
"""plot_training.py RUN_DIR/ckpt.h5 [OUT.png] — draw the training curves of a train run.

Reads /history/train_loss and /history/val_loss (float64 [epochs]) written by `hpclip train`
(also present in train-state.h5 during a run) and the best epoch from the `state` attribute,
and writes a PNG (default: curves.png beside the checkpoint). Debian 12: python3-h5py,
python3-matplotlib (Agg backend, no display needed)."""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(path) or ".", "curves.png")
    with h5py.File(path, "r") as f:
        if "history" not in f:
            sys.exit(f"{path}: no /history (not written by hpclip train, or no epoch completed)")
        tr = f["history/train_loss"][...]
        va = f["history/val_loss"][...]
        state = f.attrs.get("state", b"")
        state = state.decode() if isinstance(state, bytes) else str(state)
        name = f.attrs.get("model", b"")
        name = name.decode() if isinstance(name, bytes) else str(name)
    kv = dict(w.split("=", 1) for w in state.split() if "=" in w)
    epochs = range(1, len(tr) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.plot(epochs, tr, "o-", label="training loss (mean over the epoch)")
    ax.plot(epochs, va, "s-", label="validation loss")
    best = int(kv.get("best_epoch", "0"))
    if 1 <= best <= len(va):
        ax.axvline(best, color="gray", ls="--", lw=1)
        ax.annotate(f"best epoch {best}", (best, va[best - 1]), textcoords="offset points", xytext=(6, 10))
    title = "contrastive loss per epoch"
    if "i2t_r1" in kv:
        title += f"  (test image->caption R@1 {float(kv['i2t_r1']):.3f})"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.text(0.01, 0.01, name[:140], fontsize=6, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out)
    print(f"{out}: {len(tr)} epochs")


if __name__ == "__main__":
    main()
