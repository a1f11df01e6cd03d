#!/usr/bin/python3
"""hf_bert_ckpt.py — PyTorch side of tests/models/cli_hf_bert.sh (Debian's /usr/bin/python3).

The BERT here is written from the published description (Devlin et al. 2019, section 3 and
Vaswani et al. 2017: token + learned position + segment embeddings, LayerNorm, then post-LN
encoder layers of multi-head self-attention and a GELU feed-forward network, LayerNorm eps
1e-12) with torch.nn.TransformerEncoderLayer (norm_first=False), not with hpclip's reference
code; its state dict is written under Hugging Face's BertModel names (query/key/value split out of
in_proj, "bert." prefix, a pooler and a pretraining head that the converter must skip).

    hf_bert_ckpt.py make SPEC SEED DIR    DIR/bert.pt (HF names), DIR/vit.pt (timm names, a
                                          small ViT from torch_ref), DIR/vocab.txt (V lines),
                                          DIR/in.h5 (/ids [6,T] [CLS] ... [SEP] [PAD]...,
                                          /images [5,S,S,3])
    hf_bert_ckpt.py embed-export SPEC DIR SD.pt POOL OUT.h5
                                          float64 embeddings of a state dict written by
                                          `ckpt_convert.py to-torch` (HF names under text.,
                                          timm's under visual., the heads), loaded into the
                                          reference BERT (in_proj from query/key/value) strictly
    hf_bert_ckpt.py embed SPEC DIR CKPT.h5 POOL OUT.h5
                                          float64 embeddings of the reference BERT and ViT with
                                          the projection heads read from CKPT.h5 (the converter
                                          made them), unit rows
SPEC: tiny (V=60, P=40, L=2, D=32, H=4) | base (BERT-base: V=30522, P=512, L=12, D=768, H=12);
texts of T=24 tokens (--context 24 at conversion).
"""
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import torch_ref  # noqa: E402  (the image tower only: timm names)

D64 = torch.float64
SPECS = {"tiny": dict(V=60, P=40, L=2, D=32, H=4), "base": dict(V=30522, P=512, L=12, D=768, H=12)}
T = 24
VIT = dict(S=32, P=16, L=1, H=2, D=32)


class Bert(nn.Module):
    def __init__(self, V, P, L, D, H):
        super().__init__()
        self.word, self.pos, self.seg = nn.Embedding(V, D), nn.Embedding(P, D), nn.Embedding(2, D)
        self.ln = nn.LayerNorm(D, eps=1e-12)
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(D, H, 4 * D, dropout=0.0, activation="gelu",
                                                                layer_norm_eps=1e-12, batch_first=True)
                                     for _ in range(L)])
        self.pooler = nn.Linear(D, D)  # HF's pooler: in the state dict, not used by CLIP

    def forward(self, ids, pool):
        pos = torch.arange(ids.shape[1])
        x = self.ln(self.word(ids) + self.pos(pos)[None] + self.seg(torch.zeros_like(ids)))
        pad = ids == 0
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        if pool == "cls":
            return x[:, 0]
        m = (~pad).to(x.dtype)[:, :, None]
        return (x * m).sum(1) / m.sum(1).clamp(min=1)

    def hf_state_dict(self):
        """Hugging Face BertModel names, under "bert." as BertForPreTraining saves them"""
        sd, D = {}, self.word.weight.shape[1]
        e = "bert.embeddings."
        sd[e + "word_embeddings.weight"] = self.word.weight
        sd[e + "position_embeddings.weight"] = self.pos.weight
        sd[e + "token_type_embeddings.weight"] = self.seg.weight
        sd[e + "LayerNorm.weight"], sd[e + "LayerNorm.bias"] = self.ln.weight, self.ln.bias
        sd[e + "position_ids"] = torch.arange(self.pos.weight.shape[0])[None]
        for l, layer in enumerate(self.layers):
            p = "bert.encoder.layer.%d." % l
            w, b = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
            for i, n in enumerate(("query", "key", "value")):
                sd[p + "attention.self.%s.weight" % n] = w[i * D:(i + 1) * D]
                sd[p + "attention.self.%s.bias" % n] = b[i * D:(i + 1) * D]
            sd[p + "attention.output.dense.weight"] = layer.self_attn.out_proj.weight
            sd[p + "attention.output.dense.bias"] = layer.self_attn.out_proj.bias
            sd[p + "attention.output.LayerNorm.weight"], sd[p + "attention.output.LayerNorm.bias"] = layer.norm1.weight, layer.norm1.bias
            sd[p + "intermediate.dense.weight"], sd[p + "intermediate.dense.bias"] = layer.linear1.weight, layer.linear1.bias
            sd[p + "output.dense.weight"], sd[p + "output.dense.bias"] = layer.linear2.weight, layer.linear2.bias
            sd[p + "output.LayerNorm.weight"], sd[p + "output.LayerNorm.bias"] = layer.norm2.weight, layer.norm2.bias
        sd["bert.pooler.dense.weight"], sd["bert.pooler.dense.bias"] = self.pooler.weight, self.pooler.bias
        sd["cls.predictions.bias"] = torch.zeros(self.word.weight.shape[0])  # BertForPreTraining's head
        return {k: v.detach().clone().float() if v.is_floating_point() else v.clone() for k, v in sd.items()}


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim == 1 and ("norm" in n or n.startswith("ln")) and n.endswith("weight"):
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
            elif p.ndim == 1:
                v = 0.1 * torch.randn(p.shape, generator=g)
            elif n.startswith(("word", "pos", "seg")):
                v = 0.5 * torch.randn(p.shape, generator=g)
            else:
                v = torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1])
            p.copy_(v.to(p.dtype))


def build(spec, d):
    s = SPECS[spec]
    bert = Bert(s["V"], s["P"], s["L"], s["D"], s["H"])
    vit = torch_ref.VisionTransformer(VIT["S"], VIT["P"], VIT["L"], VIT["H"], VIT["D"], 4 * VIT["D"])
    return bert, vit


def cmd_make(spec, seed, out):
    bert, vit = build(spec, out)
    randomise(bert, int(seed))
    randomise(vit, int(seed) + 1)
    torch.save(bert.hf_state_dict(), os.path.join(out, "bert.pt"))
    vsd = {k: v.detach().clone().float() for k, v in vit.state_dict().items()}
    vsd["head.weight"], vsd["head.bias"] = torch.zeros(10, VIT["D"]), torch.zeros(10)  # timm's classifier
    torch.save(vsd, os.path.join(out, "vit.pt"))
    V = SPECS[spec]["V"]
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("".join(t + "\n" for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + ["w%d" % k for k in range(V - 4)]))
    rng = np.random.default_rng(int(seed))
    ids = np.zeros((6, T), dtype=np.int32)
    for b, n in enumerate([T - 2, 5, 0, 10, 1, 3]):
        ids[b, :n + 2] = [2] + list(rng.integers(4, V, n)) + [3]
    images = rng.integers(0, 256, (5, VIT["S"], VIT["S"], 3), dtype=np.uint8)
    with h5py.File(os.path.join(out, "in.h5"), "w") as f:
        f["ids"], f["images"] = ids, images
    torch.save({"bert": bert.state_dict(), "vit": vit.state_dict()}, os.path.join(out, "ref.pt"))
    print("hf_bert_ckpt: %s: BERT %d floats" % (spec, sum(p.numel() for p in bert.parameters())))


HEADS = ("text_projection.weight", "text_projection.bias", "visual_projection.weight", "visual_projection.bias")


def embed_write(bert, vit, head, d, pool, out):
    """float64 unit embeddings of DIR/in.h5 through the towers and the heads -> OUT.h5"""
    bert, vit = bert.to(D64).eval(), vit.to(D64).eval()
    head = {k: v.to(D64) for k, v in head.items()}
    with h5py.File(os.path.join(d, "in.h5"), "r") as f:
        ids, images = torch.from_numpy(f["ids"][...]).long(), torch.from_numpy(f["images"][...])
    with torch.no_grad():
        t = F.linear(bert(ids, pool), head["text_projection.weight"], head["text_projection.bias"])
        x = (images.to(D64) / 255.0 - 0.5) / 0.5
        i = F.linear(vit(x.permute(0, 3, 1, 2)), head["visual_projection.weight"], head["visual_projection.bias"])
    with h5py.File(out, "w") as f:
        f["text_emb"] = F.normalize(t, dim=-1).numpy().astype(np.float32)
        f["image_emb"] = F.normalize(i, dim=-1).numpy().astype(np.float32)


def cmd_embed(spec, d, ckpt, pool, out):
    bert, vit = build(spec, d)
    st = torch.load(os.path.join(d, "ref.pt"))
    bert.load_state_dict(st["bert"])
    vit.load_state_dict(st["vit"])
    with h5py.File(ckpt, "r") as f:
        head = {k: torch.from_numpy(f["params"][k][()]) for k in HEADS}
    embed_write(bert, vit, head, d, pool, out)


def load_hf(bert, sd):
    """Hugging Face names (as to-torch writes them under "text.") -> the reference BERT"""
    D = bert.word.weight.shape[1]
    e = "text.embeddings."
    own = {"word.weight": sd[e + "word_embeddings.weight"], "pos.weight": sd[e + "position_embeddings.weight"],
           "seg.weight": sd[e + "token_type_embeddings.weight"], "ln.weight": sd[e + "LayerNorm.weight"],
           "ln.bias": sd[e + "LayerNorm.bias"], "pooler.weight": torch.zeros(D, D), "pooler.bias": torch.zeros(D)}
    for l in range(len(bert.layers)):
        p, q = "text.encoder.layer.%d." % l, "layers.%d." % l
        own[q + "self_attn.in_proj_weight"] = torch.cat([sd[p + "attention.self.%s.weight" % n] for n in ("query", "key", "value")])
        own[q + "self_attn.in_proj_bias"] = torch.cat([sd[p + "attention.self.%s.bias" % n] for n in ("query", "key", "value")])
        for mine, hf in (("self_attn.out_proj", "attention.output.dense"), ("norm1", "attention.output.LayerNorm"),
                         ("linear1", "intermediate.dense"), ("linear2", "output.dense"), ("norm2", "output.LayerNorm")):
            own[q + mine + ".weight"], own[q + mine + ".bias"] = sd[p + hf + ".weight"], sd[p + hf + ".bias"]
    bert.load_state_dict(own, strict=True)


def cmd_embed_export(spec, d, sd_path, pool, out):
    """embeddings of to-torch's state dict (hpclip names = HF's under text., timm's under visual.)"""
    bert, vit = build(spec, d)
    sd = torch.load(sd_path, map_location="cpu")
    load_hf(bert, sd)
    vit.load_state_dict({k[len("visual."):]: v for k, v in sd.items() if k.startswith("visual.")}, strict=True)
    embed_write(bert, vit, {k: sd[k] for k in HEADS}, d, pool, out)


def main(a):
    if len(a) == 4 and a[0] == "make":
        return cmd_make(*a[1:]) or 0
    if len(a) == 6 and a[0] == "embed":
        return cmd_embed(*a[1:]) or 0
    if len(a) == 6 and a[0] == "embed-export":
        return cmd_embed_export(*a[1:]) or 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
