#!/usr/bin/env python3
"""Regenerates the annotation fixtures (and, with make_images, their tiny images) of
tests/data/ingest from the real samples in shared/data. Not part of the build or the tests.

  python3 make_text_fixtures.py SHARED_DATA_DIR MAKE_IMAGES_BINARY
See tests/data/ingest/PROVENANCE.md for what each file is."""
import json, os, subprocess, sys

shared, make_images = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.dirname(here)

def w(path, data):
    p = os.path.join(out, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

def shrink(src, dst, longest=32):
    import struct
    # read the size from the SOF marker to keep the aspect ratio
    b = open(src, "rb").read()
    i = 2
    while i < len(b):
        if b[i] != 0xFF: i += 1; continue
        m = b[i + 1]
        if m in (0xC0, 0xC1, 0xC2):
            h, wd = struct.unpack(">HH", b[i + 5:i + 9]); break
        i += 2 + struct.unpack(">H", b[i + 2:i + 4])[0]
    s = longest / max(wd, h)
    p = os.path.join(out, dst)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    subprocess.check_call([make_images, "shrink", src, p, str(max(1, round(wd * s))),
                           str(max(1, round(h * s)))])

# ---------------------------------------------------------------- COCO (val2017, CC BY images)
coco = os.path.join(shared, "coco-mini")
cap = json.load(open(os.path.join(coco, "annotations/captions_val2017.json")))
ins = json.load(open(os.path.join(coco, "annotations/instances_val2017.json")))
ids = [6818, 58636, 62554, 99053]
imgs = [i for i in cap["images"] if i["id"] in ids]
anns = [a for a in cap["annotations"] if a["image_id"] in ids]
for i in imgs:
    shrink(os.path.join(coco, "val2017", i["file_name"]), "coco/val2017/" + i["file_name"])
bad_imgs = [
    {"id": 900001, "file_name": "../../outside.jpg"},
    {"id": 900002, "file_name": "/etc/passwd"},
    {"id": 6818, "file_name": "000000006818.jpg"},          # duplicate id
    {"id": "62554", "file_name": "000000062554.jpg"},       # id is a string
    {"id": 900003, "file_name": "000000900003.jpg"},        # has a caption, file missing
    {"id": 900004, "file_name": "000000900004.jpg"},        # no caption
    {"id": 900005},                                         # no file_name
    17,                                                     # not an object
]
bad_anns = [
    {"image_id": 424242, "id": 1, "caption": "refers to no image"},
    {"image_id": 62554, "id": 2, "caption": "   \n"},
    {"image_id": 62554, "id": 3},
    {"image_id": 900001, "id": 4, "caption": "caption of the escaping image"},
    {"image_id": 900003, "id": 5, "caption": "caption of the missing image"},
    {"image_id": 1.5, "id": 6, "caption": "fractional image id"},
]
w("coco/annotations/captions_val2017.json", json.dumps(
    {"info": cap["info"], "licenses": cap["licenses"], "images": imgs + bad_imgs,
     "annotations": anns + bad_anns}, separators=(",", ":"), ensure_ascii=False))
ia = [{k: v for k, v in a.items() if k != "segmentation"} for a in ins["annotations"]
      if a["image_id"] in ids]
ia += [{"image_id": 6818, "category_id": 999, "id": 1}, {"image_id": 777, "category_id": 1, "id": 2}]
w("coco/annotations/instances_val2017.json", json.dumps(
    {"info": ins["info"], "licenses": ins["licenses"], "images": imgs, "annotations": ia,
     "categories": ins["categories"]}, separators=(",", ":")))
# malformed JSON: the captions file cut off in the middle (line 1), and a multi-line one
good = open(os.path.join(out, "coco/annotations/captions_val2017.json"), encoding="utf-8").read()
w("coco_badjson/annotations/captions_val2017.json", good[:len(good) // 2])
w("coco_badjson2/annotations/captions_val2017.json",
  '{\n  "images": [\n    {"id": 1, "file_name": "a.jpg"},\n    {"id": 2 "file_name": "b.jpg"}\n  ],\n'
  '  "annotations": []\n}\n')
w("coco_badinst/annotations/captions_val2017.json", good)
w("coco_badinst/annotations/instances_val2017.json", '{"categories": [}')

# ---------------------------------------------------------------- ROCO (test/radiology, CC BY)
rd = os.path.join(shared, "roco-mini/data/test/radiology")
lines = open(os.path.join(rd, "captions.txt"), "rb").read().split(b"\n")
pick = [l for l in lines if l.split(b"\t")[0] in (b"ROCO_00300", b"ROCO_00535", b"ROCO_00773")]
assert len(pick) == 3
for l in pick:
    rid = l.split(b"\t")[0].decode()
    shrink(os.path.join(rd, "images", rid + ".jpg"), "roco/data/test/radiology/images/%s.jpg" % rid)
body = [pick[0], pick[1] + b"\r",                  # CRLF line
        b"ROCO_99999\t missing image file",
        b"no tab on this line",
        b"",                                           # blank line: skipped silently
        pick[0].split(b"\t")[0] + b"\t duplicate of the first line",
        b"ROCO_abc\t bad id",
        b"ROCO_00001\t   ",
        b"ROCO_00002\t caf\xe9 is Latin-1, not UTF-8",
        b"ROCO_00003\t NUL \x00 byte",
        pick[2]]
w("roco/data/test/radiology/captions.txt", b"\n".join(body) + b"\n")

# ---------------------------------------------------------------- Fashion
fd = os.path.join(shared, "fashion-mini")
rows = open(os.path.join(fd, "styles.csv"), "rb").read().split(b"\n")
hdr, real = rows[0], {r.split(b",")[0]: r for r in rows[1:] if r}
for i in (b"1163", b"1164", b"1525", b"1526", b"1528", b"1529"):
    shrink(os.path.join(fd, "images", i.decode() + ".jpg"), "fashion/images/%s.jpg" % i.decode())
csv = [hdr,
       real[b"1163"],
       real[b"1164"],
       # quoted field with an embedded comma and a doubled quote (modified product name)
       b'1525,Unisex,Accessories,Bags,Backpacks,Navy Blue,Fall,2010,Casual,"Puma Deck Navy Blue Backpack, 20 ""L"""',
       # quoted field with an embedded line break
       b'1526,Unisex,Accessories,Bags,Backpacks,Black,Fall,2010,Sports,"Puma Big Cat\nBackpack Black"',
       b"1528,Men,Apparel,Topwear,Jackets,Black,Fall,2010,Sports,Puma Men Ferrari Black Fleece Jacket, Size M",  # 11 fields
       b"1529,Men,Apparel,Topwear,Tshirts,Red,Fall,2010,Casual,Ferrari Tee \xff\xfe",              # bad UTF-8
       b"1163,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011,Sports,duplicate id",
       b"12a,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011,Sports,bad id",
       b"1530,Men,Apparel,Topwear,Tshirts,Red,Fall,2010,Casual,",                                   # empty name
       b"999999,Men,Apparel,Topwear,Tshirts,Red,Fall,2010,Casual,No Such Image Tee",
       b'1531,Men,Apparel,Topwear,Tshirts,Red,Fall,2010,Casual,Bad "quote" Tee',
       b'1532,Men,Apparel,Topwear,Tshirts,Red,Fall,2010,Casual,"unterminated']
w("fashion/styles.csv", b"\r\n".join(csv[:-1]) + b"\r\n" + csv[-1] + b"\r\n")
print("ok")
