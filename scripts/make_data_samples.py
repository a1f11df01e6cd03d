#!/usr/bin/python3
"""make_data_samples.py — regenerate tests/data/samples/{coco,roco,fashion} from the real samples.

    /usr/bin/python3 scripts/make_data_samples.py [SHARED_DATA] [OUT]
    (defaults: ../shared/data relative to the repository root, and tests/data/samples)

Reads SHARED_DATA/{coco-mini,roco-mini,fashion-mini} (each with its PROVENANCE.md) and writes a
small slice of each in its original layout, images downscaled so the longer side is at most
MAX_SIDE pixels (Pillow, Lanczos) and re-encoded as baseline JPEG quality QUALITY:

  coco/     every coco-mini image (train2017 and val2017) with all its captions and instance
            annotations; pixel geometry (images[].width/height, bbox, area, polygons, crowd RLE
            masks) rescaled to the new size;
  roco/     ROCO_N images of roco-mini test/radiology (smallest sha256 of the ROCO id first),
            every ROCO text file cut to those ids' lines, verbatim, in ROCO's order;
  fashion/  FASHION_N products: first up to PER_QUERY rows relevant to each of the study's eight
            Fashion queries (conf/fashion.cfg), then the rest, each by sha256 of the id; styles.csv
            and images.csv lines verbatim, in file order.

Deterministic: the same input gives byte-identical output (Pillow's JPEG encoder is
deterministic for a given libjpeg). Needs Debian python3-pil and python3-numpy.
"""
import hashlib
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

MAX_SIDE = 128
QUALITY = 85
ROCO_N = 200
FASHION_N = 200
PER_QUERY = 12
# (articleType, baseColour or None, gender or None): the relevance sets of conf/fashion.cfg
FASHION_QUERIES = [("Skirts", None, None), ("Tshirts", "Blue", None), ("Shirts", "White", None),
                   ("Tshirts", None, "Women"), ("Track Pants", "Yellow", None),
                   ("Trousers", "Yellow", None), ("Scarves", "Red", None),
                   ("Handbags", "Red", None), ("Ties", "Blue", None)]


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def shrink(src, dst):
    """Downscale src to a longer side <= MAX_SIDE; returns the (old, new) sizes."""
    with Image.open(src) as im:
        im.load()
        w, h = im.size
        s = min(1.0, MAX_SIDE / max(w, h))
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        mode = "L" if im.mode in ("L", "1") else "RGB"
        im = im.convert(mode)
        if (nw, nh) != (w, h):
            im = im.resize((nw, nh), Image.LANCZOS)
        im.save(dst, "JPEG", quality=QUALITY, optimize=True)
    return (w, h), (nw, nh)


def rle_decode(counts, h, w):
    flat = np.zeros(h * w, dtype=np.uint8)
    pos, val = 0, 0
    for c in counts:
        flat[pos:pos + c] = val
        pos += c
        val ^= 1
    return flat.reshape((w, h)).T  # COCO RLE is column-major


def rle_encode(mask):
    flat = mask.T.reshape(-1)
    counts, val, run = [], 0, 0
    for v in flat:
        if v != val:
            counts.append(run)
            run, val = 0, v
        run += 1
    counts.append(run)
    return counts


def coco(src, dst):
    os.makedirs(os.path.join(dst, "annotations"))
    for split in ("train2017", "val2017"):
        os.makedirs(os.path.join(dst, split))
        scale = {}
        for name in sorted(os.listdir(os.path.join(src, split))):
            (w, h), (nw, nh) = shrink(os.path.join(src, split, name), os.path.join(dst, split, name))
            scale[name] = (nw / w, nh / h, nw, nh)
        for kind in ("captions", "instances"):
            fn = "%s_%s.json" % (kind, split)
            with open(os.path.join(src, "annotations", fn)) as f:
                d = json.load(f)
            by_id = {}
            for im in d["images"]:
                sx, sy, nw, nh = scale[im["file_name"]]
                im["width"], im["height"] = nw, nh
                by_id[im["id"]] = (sx, sy, nw, nh)
            if kind == "instances":
                for a in d["annotations"]:
                    sx, sy, nw, nh = by_id[a["image_id"]]
                    x, y, bw, bh = a["bbox"]
                    a["bbox"] = [round(x * sx, 2), round(y * sy, 2), round(bw * sx, 2), round(bh * sy, 2)]
                    a["area"] = round(a["area"] * sx * sy, 2)
                    seg = a["segmentation"]
                    if isinstance(seg, list):
                        a["segmentation"] = [[round(v * (sx if i % 2 == 0 else sy), 2) for i, v in enumerate(p)]
                                             for p in seg]
                    else:
                        oh, ow = seg["size"]
                        m = rle_decode(seg["counts"], oh, ow)
                        ys = np.minimum((np.arange(nh) + 0.5) / sy, oh - 1).astype(int)
                        xs = np.minimum((np.arange(nw) + 0.5) / sx, ow - 1).astype(int)
                        a["segmentation"] = {"counts": rle_encode(m[np.ix_(ys, xs)]), "size": [nh, nw]}
            with open(os.path.join(dst, "annotations", fn), "w") as f:
                json.dump(d, f, separators=(",", ":"))


def roco(src, dst):
    sub = "data/test/radiology"
    s, d = os.path.join(src, sub), os.path.join(dst, sub)
    os.makedirs(os.path.join(d, "images"))
    ids = sorted((n[:-4] for n in os.listdir(os.path.join(s, "images")) if n.endswith(".jpg")), key=sha)
    keep = set(ids[:ROCO_N])
    for name in sorted(os.listdir(s)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(s, name), "rb") as f:
            lines = f.read().split(b"\n")
        out = []
        for i, ln in enumerate(lines):
            key = ln.split(b",")[0] if name == "licences.txt" else ln.split(b"\t")[0]
            if (name == "licences.txt" and i == 0) or key.strip().decode("utf-8", "replace") in keep:
                out.append(ln)
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"\n".join(out) + b"\n")
    for i in sorted(keep):
        shrink(os.path.join(s, "images", i + ".jpg"), os.path.join(d, "images", i + ".jpg"))


def fashion(src, dst):
    os.makedirs(os.path.join(dst, "images"))
    with open(os.path.join(src, "styles.csv"), "rb") as f:
        lines = f.read().split(b"\n")
    head, rows = lines[0], [ln for ln in lines[1:] if ln.strip()]
    cols = head.decode().split(",")
    ci = {c: cols.index(c) for c in ("id", "gender", "articleType", "baseColour")}

    def field(ln, c):
        return ln.decode("utf-8", "replace").split(",")[ci[c]]

    def matches(ln, q):
        a, c, g = q
        return field(ln, "articleType") == a and (c is None or field(ln, "baseColour") == c) \
            and (g is None or field(ln, "gender") == g)
    # up to PER_QUERY rows relevant to each query (by sha256 of the id), then the rest
    bysha = sorted(rows, key=lambda ln: sha(field(ln, "id")))
    pick, seen = [], set()
    for q in FASHION_QUERIES:
        for ln in [ln for ln in bysha if matches(ln, q)][:PER_QUERY]:
            if ln not in seen:
                seen.add(ln)
                pick.append(ln)
    rest = [ln for ln in bysha if ln not in seen]
    pick += rest[:FASHION_N - len(pick)]
    keep = {field(ln, "id") for ln in pick}
    with open(os.path.join(dst, "styles.csv"), "wb") as f:
        f.write(b"\n".join([head] + [ln for ln in rows if field(ln, "id") in keep]) + b"\n")
    with open(os.path.join(src, "images.csv"), "rb") as f:
        il = f.read().split(b"\n")
    with open(os.path.join(dst, "images.csv"), "wb") as f:
        f.write(b"\n".join([il[0]] + [ln for ln in il[1:] if ln.split(b",")[0][:-4].decode() in keep]) + b"\n")
    for i in sorted(keep):
        shrink(os.path.join(src, "images", i + ".jpg"), os.path.join(dst, "images", i + ".jpg"))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "tests", "data", "samples")
    for name, fn, srcname in (("coco", coco, "coco-mini"), ("roco", roco, "roco-mini"),
                              ("fashion", fashion, "fashion-mini")):
        dst = os.path.join(out, name)
        keep_doc = None
        doc = os.path.join(dst, "PROVENANCE.md")
        if os.path.exists(doc):
            with open(doc) as f:
                keep_doc = f.read()
        if os.path.exists(dst):
            shutil.rmtree(dst)
        fn(os.path.join(shared, srcname), dst)
        if keep_doc is not None:  # the hand-written provenance stays
            with open(doc, "w") as f:
                f.write(keep_doc)
        print("%s: %s" % (name, dst))


if __name__ == "__main__":
    main()
