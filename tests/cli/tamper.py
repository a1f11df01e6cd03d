#!/usr/bin/python3
"""tamper.py SRC DST CASE — copy a valid dataset.h5 and break it in one way (for the bad-input
tests). Written with h5py, independently of hpclip's own HDF5 code."""
import shutil, sys
import h5py
import numpy as np

src, dst, case = sys.argv[1:4]
shutil.copyfile(src, dst)

def replace(f, path, data):
    del f[path]
    f.create_dataset(path, data=data)

with h5py.File(dst, "r+") as f:
    if case == "wrong_schema":
        f.attrs["schema"] = np.bytes_("someone.else")
    elif case == "vlen_attrs":
        # not a defect: h5py's default for str is a variable-length UTF-8 string
        for k in ("schema", "config", "fingerprint", "created_by"):
            v = f.attrs[k]
            f.attrs[k] = v.decode() if isinstance(v, bytes) else str(v)
    elif case == "wrong_version":
        f.attrs["schema_version"] = np.int32(99)
    elif case == "no_schema_attr":
        del f.attrs["schema"]
    elif case == "missing_images":
        del f["images"]
    elif case == "float_images":
        replace(f, "images", f["images"][...].astype(np.float32))
    elif case == "images_rank3":
        img = f["images"][...]
        replace(f, "images", img.reshape(img.shape[0], img.shape[1], -1))
    elif case == "images_4_channels":
        img = f["images"][...]
        replace(f, "images", np.concatenate([img, img[..., :1]], axis=3))
    elif case == "caption_index_out_of_range":
        idx = f["captions/image"][...]
        idx[-1] = f["images"].shape[0] + 5
        f["captions/image"][...] = idx
    elif case == "caption_index_negative":
        idx = f["captions/image"][...]
        idx[0] = -1
        f["captions/image"][...] = idx
    elif case == "offsets_decreasing":
        off = f["captions/text/offsets"][...]
        off[3], off[4] = off[4], off[3] - 1
        f["captions/text/offsets"][...] = off
    elif case == "offsets_past_end":
        off = f["captions/text/offsets"][...]
        off[-1] = off[-1] + 1000
        f["captions/text/offsets"][...] = off
    elif case == "labels_wrong_width":
        lab = f["labels/matrix"][...]
        replace(f, "labels/matrix", lab[:, :-1])
    elif case == "split_bad_value":
        s = f["split"][...]
        s[0] = 7
        f["split"][...] = s
    elif case == "split_wrong_length":
        replace(f, "split", f["split"][...][:-1])
    elif case == "caption_count_mismatch":
        replace(f, "captions/image", f["captions/image"][...][:-1])
    # Absurd declared sizes: HDF5 stores nothing for a contiguous dataset never written, so a
    # tiny file can declare 2^40 images; the validator must refuse it before allocating.
    elif case == "huge_images":
        shp = f["images"].shape
        del f["images"]
        f.create_dataset("images", shape=(2**40,) + shp[1:], dtype=np.uint8)
    elif case == "huge_image_side":
        n = f["images"].shape[0]
        del f["images"]
        f.create_dataset("images", shape=(n, 2**24, 2**24, 3), dtype=np.uint8)
    elif case == "overflow_dims":
        # elements overflow 64 bits: 2^40 * 2^20 * 2^20 * 3
        del f["images"]
        f.create_dataset("images", shape=(2**40, 2**20, 2**20, 3), dtype=np.uint8)
    elif case == "huge_captions":
        del f["captions/image"]
        f.create_dataset("captions/image", shape=(2**40,), dtype=np.int64)
    elif case == "huge_text_bytes":
        del f["captions/text/bytes"]
        f.create_dataset("captions/text/bytes", shape=(2**50,), dtype=np.uint8)
    elif case == "offsets_huge":
        off = f["captions/text/offsets"][...]
        off[-1] = 2**62
        f["captions/text/offsets"][...] = off
    elif case == "chunked_huge_images":
        # chunked, one chunk written: declared 2^32 rows, stored a few KB
        shp = f["images"].shape
        del f["images"]
        d = f.create_dataset("images", shape=(2**32,) + shp[1:], chunks=(1,) + shp[1:], dtype=np.uint8)
        d[0] = 1
    else:
        sys.exit("unknown case " + case)
