#!/usr/bin/python3
"""make_coco_json.py — turn a simple table of your own image-caption data into the COCO layout
that `hpclip ingest` reads (ingest.format = "coco"; docs/custom-dataset.md).

    /usr/bin/python3 scripts/make_coco_json.py TABLE.tsv ROOT SPLIT

TABLE.tsv: one line per (image, caption), tab-separated, no header:
    FILE <TAB> CAPTION [<TAB> LABEL,LABEL,...]
FILE is relative to ROOT/SPLIT/ (JPEG or PNG); an image may have several lines (several captions);
labels (optional, comma-separated) become the classes of search/zeroshot: the union over an
image's lines. SPLIT must be one of COCO's names (train2014, val2014, train2017, val2017): it is
only a folder name here, the train/val/test split is made by data.*_frac.
Writes ROOT/annotations/captions_SPLIT.json and, when any line has labels,
ROOT/annotations/instances_SPLIT.json. Errors name the line.
"""
import json
import os
import sys

SPLITS = ("train2014", "val2014", "train2017", "val2017")


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    table, root, split = argv[1:]
    if split not in SPLITS:
        print("make_coco_json.py: split '%s': expected one of %s" % (split, ", ".join(SPLITS)), file=sys.stderr)
        return 2
    images, anns, labels, cats = {}, [], {}, {}
    with open(table, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 2 or not cols[0] or not cols[1].strip():
                print("make_coco_json.py: %s:%d: expected FILE<TAB>CAPTION[<TAB>LABELS]" % (table, n), file=sys.stderr)
                return 1
            path = os.path.join(root, split, cols[0])
            if not os.path.isfile(path):
                print("make_coco_json.py: %s:%d: no image %s" % (table, n, path), file=sys.stderr)
                return 1
            if cols[0] not in images:
                images[cols[0]] = len(images) + 1
                labels[cols[0]] = set()
            anns.append({"id": len(anns) + 1, "image_id": images[cols[0]], "caption": cols[1].strip()})
            for lab in (cols[2].split(",") if len(cols) > 2 else []):
                lab = lab.strip()
                if lab:
                    cats.setdefault(lab, len(cats) + 1)
                    labels[cols[0]].add(lab)
    if not images:
        print("make_coco_json.py: %s has no lines" % table, file=sys.stderr)
        return 1
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    imgs = [{"id": i, "file_name": fn} for fn, i in images.items()]
    with open(os.path.join(root, "annotations", "captions_%s.json" % split), "w") as f:
        json.dump({"images": imgs, "annotations": anns}, f)
    msg = "%d images, %d captions" % (len(imgs), len(anns))
    if cats:
        inst = [{"id": k + 1, "image_id": images[fn], "category_id": cats[lab]}
                for k, (fn, lab) in enumerate((fn, lab) for fn in images for lab in sorted(labels[fn]))]
        with open(os.path.join(root, "annotations", "instances_%s.json" % split), "w") as f:
            json.dump({"images": imgs, "annotations": inst,
                       "categories": [{"id": i, "name": c} for c, i in cats.items()]}, f)
        msg += ", %d labels" % len(cats)
    print("make_coco_json.py: wrote %s/annotations: %s" % (root, msg))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
