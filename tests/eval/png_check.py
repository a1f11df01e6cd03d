#!/usr/bin/env python3
"""png_check.py FILE WIDTH HEIGHT — FILE is a valid 8-bit RGB PNG of WIDTH x HEIGHT: signature,
every chunk's CRC, IHDR fields, IDAT inflating to height rows of 1 + 3*width bytes, IEND last.
Exit 0 and one line on stdout when valid; an AssertionError naming the fault otherwise."""
import struct, sys, zlib

path, W, H = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b = open(path, "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
p, idat, chunks = 8, b"", []
while p < len(b):
    n, = struct.unpack(">I", b[p:p + 4]); t = b[p + 4:p + 8]; d = b[p + 8:p + 8 + n]
    crc, = struct.unpack(">I", b[p + 8 + n:p + 12 + n])
    assert zlib.crc32(t + d) & 0xffffffff == crc, "bad CRC in %r" % t
    chunks.append(t)
    if t == b"IHDR":
        w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", d)
        assert (w, h) == (W, H), "size %dx%d, expected %dx%d" % (w, h, W, H)
        assert (depth, ctype, inter) == (8, 2, 0), "not 8-bit RGB non-interlaced"
    if t == b"IDAT":
        idat += d
    p += 12 + n
assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND", "chunk order"
raw = zlib.decompress(idat)
assert len(raw) == H * (1 + 3 * W), "pixel data %d bytes, expected %d" % (len(raw), H * (1 + 3 * W))
print("valid PNG %dx%d" % (W, H))
