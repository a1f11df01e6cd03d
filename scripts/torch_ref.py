#!/usr/bin/python3
"""torch_ref.py — plain-torch reference models with hpclip's state-dict names, shared by
scripts/make_model_fixtures.py, scripts/make_resnet_fixtures.py, the checkpoint round-trip test
(tests/models/cli_ckpt_torch.sh) and the PyTorch side of scripts/bench/bench_encoders.sh.

Needs torch (Debian's /usr/bin/python3); TowerResNet also needs torchvision. Neither Hugging
Face transformers nor timm is needed: the modules below have the SAME structure and state-dict
names as
  BertModel          Hugging Face BertModel minus its pooler (eager attention, padding mask)
  VisionTransformer  timm VisionTransformer (class token, no head; drop rates 0)
  Block              its pre-LN transformer block; with post_ln, causal and eps=1e-5 also the
                     caption decoder's (scripts/make_caption_fixtures.py)
  TowerResNet        torchvision resnet50 minus avgpool/fc, configurable blocks and width
  Head               projection Dense + L2 normalisation (its Linear is `lin`)
  Clip               the two towers + projection heads + logit_scale under hpclip's prefixes
                     ("text.", "visual.", "text_projection.", "visual_projection.")
Every model works in any floating dtype (the fixtures use float64, the benchmark float32).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- BERT (Hugging Face BertModel structure, no pooler) ---------------------------------------
class BertEmbeddings(nn.Module):
    def __init__(s, V, T, D):
        super().__init__()
        s.word_embeddings = nn.Embedding(V, D)
        s.position_embeddings = nn.Embedding(T, D)
        s.token_type_embeddings = nn.Embedding(2, D)
        s.LayerNorm = nn.LayerNorm(D, eps=1e-12)

    def forward(s, ids):
        T = ids.shape[1]
        pos = torch.arange(T)
        e = s.word_embeddings(ids) + s.position_embeddings(pos)[None] + \
            s.token_type_embeddings(torch.zeros_like(ids))
        return s.LayerNorm(e)


class BertSelfAttention(nn.Module):
    def __init__(s, D, H):
        super().__init__()
        s.H = H
        s.query, s.key, s.value = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)

    def forward(s, x, mask):
        B, T, D = x.shape
        hs = D // s.H
        sp = lambda t: t.view(B, T, s.H, hs).transpose(1, 2)
        q, k, v = sp(s.query(x)), sp(s.key(x)), sp(s.value(x))
        sc = q @ k.transpose(-1, -2) / math.sqrt(hs)
        sc = sc + (1.0 - mask[:, None, None, :].to(sc.dtype)) * torch.finfo(sc.dtype).min  # HF mask
        p = sc.softmax(-1)
        return (p @ v).transpose(1, 2).reshape(B, T, D)


class BertSelfOutput(nn.Module):
    def __init__(s, D):
        super().__init__()
        s.dense = nn.Linear(D, D)
        s.LayerNorm = nn.LayerNorm(D, eps=1e-12)

    def forward(s, h, x):
        return s.LayerNorm(s.dense(h) + x)


class BertAttention(nn.Module):
    def __init__(s, D, H):
        super().__init__()
        s.self = BertSelfAttention(D, H)
        s.output = BertSelfOutput(D)

    def forward(s, x, mask):
        return s.output(s.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(s, D, Fw):
        super().__init__()
        s.dense = nn.Linear(D, Fw)

    def forward(s, x):
        return F.gelu(s.dense(x))


class BertOutput(nn.Module):
    def __init__(s, D, Fw):
        super().__init__()
        s.dense = nn.Linear(Fw, D)
        s.LayerNorm = nn.LayerNorm(D, eps=1e-12)

    def forward(s, h, x):
        return s.LayerNorm(s.dense(h) + x)


class BertLayer(nn.Module):
    def __init__(s, D, H, Fw):
        super().__init__()
        s.attention = BertAttention(D, H)
        s.intermediate = BertIntermediate(D, Fw)
        s.output = BertOutput(D, Fw)

    def forward(s, x, mask):
        a = s.attention(x, mask)
        return s.output(s.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(s, L, D, H, Fw):
        super().__init__()
        s.layer = nn.ModuleList([BertLayer(D, H, Fw) for _ in range(L)])

    def forward(s, x, mask):
        for l in s.layer:
            x = l(x, mask)
        return x


class BertModel(nn.Module):
    def __init__(s, V, T, L, H, D, Fw):
        super().__init__()
        s.embeddings = BertEmbeddings(V, T, D)
        s.encoder = BertEncoder(L, D, H, Fw)

    def forward(s, ids, mask, pooling):
        x = s.encoder(s.embeddings(ids), mask)
        if pooling == "cls":
            return x[:, 0]
        m = mask.to(x.dtype)[:, :, None]
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


# ---- ViT (timm VisionTransformer structure, class token, no head) -----------------------------
class PatchEmbed(nn.Module):
    def __init__(s, P, D):
        super().__init__()
        s.proj = nn.Conv2d(3, D, P, stride=P)

    def forward(s, x):
        return s.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """fused qkv (rows [q|k|v]) self-attention; causal=True masks the future (the caption
    decoder)"""

    def __init__(s, D, H, causal=False):
        super().__init__()
        s.H = H
        s.causal = causal
        s.qkv = nn.Linear(D, 3 * D)
        s.proj = nn.Linear(D, D)

    def forward(s, x):
        B, N, D = x.shape
        qkv = s.qkv(x).reshape(B, N, 3, s.H, D // s.H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        sc = q @ k.transpose(-2, -1) / math.sqrt(D // s.H)
        if s.causal:
            sc = sc.masked_fill(torch.ones(N, N, dtype=torch.bool).triu(1), float("-inf"))
        return s.proj((sc.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D))


class Mlp(nn.Module):
    def __init__(s, D, Fw):
        super().__init__()
        s.fc1, s.fc2 = nn.Linear(D, Fw), nn.Linear(Fw, D)

    def forward(s, x):
        return s.fc2(F.gelu(s.fc1(x)))


class Block(nn.Module):
    """pre-LN (timm ViT): x + attn(norm1(x)), then + mlp(norm2(x)).
    post_ln=True (hpclip's caption decoder): n1 = norm1(x + attn(x)), out = norm2(n1 + mlp(n1)).
    causal: the attention's mask; eps: the LayerNorms' (timm 1e-6, PyTorch's default 1e-5).
    The submodules are registered in the order of each model's state dict."""

    def __init__(s, D, H, Fw, post_ln=False, causal=False, eps=1e-6):
        super().__init__()
        s.post_ln = post_ln
        if post_ln:
            s.attn, s.norm1 = Attention(D, H, causal), nn.LayerNorm(D, eps=eps)
            s.mlp, s.norm2 = Mlp(D, Fw), nn.LayerNorm(D, eps=eps)
        else:
            s.norm1, s.attn = nn.LayerNorm(D, eps=eps), Attention(D, H, causal)
            s.norm2, s.mlp = nn.LayerNorm(D, eps=eps), Mlp(D, Fw)

    def forward(s, x):
        if s.post_ln:
            n1 = s.norm1(x + s.attn(x))
            return s.norm2(n1 + s.mlp(n1))
        x = x + s.attn(s.norm1(x))
        return x + s.mlp(s.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(s, S, P, L, H, D, Fw):
        super().__init__()
        n = (S // P) ** 2
        s.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        s.pos_embed = nn.Parameter(torch.zeros(1, n + 1, D))
        s.patch_embed = PatchEmbed(P, D)
        s.blocks = nn.Sequential(*[Block(D, H, Fw) for _ in range(L)])
        s.norm = nn.LayerNorm(D, eps=1e-6)

    def forward(s, x):
        x = s.patch_embed(x)
        x = torch.cat([s.cls_token.expand(x.shape[0], -1, -1), x], 1) + s.pos_embed
        x = s.norm(s.blocks(x))
        return x[:, 0]


class Head(nn.Module):
    def __init__(s, Din, E):
        super().__init__()
        s.lin = nn.Linear(Din, E)

    def forward(s, x):
        return F.normalize(s.lin(x), dim=-1)


# ---- ResNet (torchvision Bottleneck blocks) ----------------------------------------------------
class TowerResNet(nn.Module):
    """torchvision ResNet (v1.5 bottlenecks) without avgpool-fc, configurable base width."""

    def __init__(self, layers, width):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(width, layers[0], 1)
        self.layer2 = self._make_layer(width * 2, layers[1], 2)
        self.layer3 = self._make_layer(width * 4, layers[2], 2)
        self.layer4 = self._make_layer(width * 8, layers[3], 2)

    def _make_layer(self, planes, blocks, stride):
        from torchvision.models.resnet import Bottleneck
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes * 4))
        mods = [Bottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        for _ in range(1, blocks):
            mods.append(Bottleneck(self.inplanes, planes))
        return nn.Sequential(*mods)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))


# ---- CLIP (hpclip's model: src/models/clip.h) --------------------------------------------------
VIT_MEAN = (0.5, 0.5, 0.5)
VIT_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Clip(nn.Module):
    """text: BertModel; visual: VisionTransformer or TowerResNet; projection heads Linear
    (names text_projection.{weight,bias}, visual_projection.*); logit_scale [1].
    Images are uint8 NHWC [B,S,S,3], normalised as hpclip does (ViT: mean = std = 0.5,
    ResNet: ImageNet mean/std); ids [B,T] with padding id 0."""

    def __init__(self, text, visual, text_dim, image_dim, E, pooling="mean", temperature=0.07):
        super().__init__()
        self.text = text
        self.visual = visual
        self.text_projection = nn.Linear(text_dim, E)
        self.visual_projection = nn.Linear(image_dim, E)
        self.logit_scale = nn.Parameter(torch.full((1,), math.log(1.0 / temperature)))
        self.pooling = pooling
        resnet = isinstance(visual, TowerResNet)
        self.register_buffer("img_mean", torch.tensor(IMAGENET_MEAN if resnet else VIT_MEAN),
                             persistent=False)
        self.register_buffer("img_std", torch.tensor(IMAGENET_STD if resnet else VIT_STD),
                             persistent=False)

    def encode_text(self, ids, pad_id=0):
        mask = (ids != pad_id).to(torch.int32)
        return F.normalize(self.text_projection(self.text(ids, mask, self.pooling)), dim=-1)

    def encode_image(self, img_u8):
        dt = self.text_projection.weight.dtype
        x = (img_u8.to(dt) / 255.0 - self.img_mean.to(dt)) / self.img_std.to(dt)
        return F.normalize(self.visual_projection(self.visual(x.permute(0, 3, 1, 2))), dim=-1)
