#!/usr/bin/env python3
"""Decompression bombs for issue 24: a ~2.4 MB PNG declaring 50,000 x 50,000 RGB pixels (a real
zlib stream of zero rows, truncated), and 65,500 x 65,500 JPEGs (RGB and grey) of a few hundred
bytes (a tiny baseline RGB JPEG whose SOF0 height and width are patched, e.g. Python's own
Lib/test/imghdrdata/python.jpg). Usage: make_bombs.py OUT RGB.jpg. The grey one is written from scratch."""
import struct, sys, zlib, os

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

def png_bomb(side=50_000, rows=1_000):
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    raw = (b"\x00" + b"\x00" * (3 * side)) * rows  # filter byte + zero pixels, `rows` rows
    idat = zlib.compress(raw, 9)
    # Repeat the compressed rows' worth of data to reach ~2.4 MB (a valid prefix of the stream
    # is enough for the header to be trusted).
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat * 16) + chunk(b"IEND", b"")

def seg(marker, body):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body

def grey_jpeg(side):
    """A baseline one-component JPEG: flat quantisation, one-code Huffman tables, one 8x8 block
    of entropy data (DC difference 0, then end-of-block)."""
    dqt = seg(0xDB, b"\x00" + b"\x01" * 64)
    sof = seg(0xC0, struct.pack(">BHHB", 8, side, side, 1) + b"\x01\x11\x00")
    one_code = lambda cls_id, symbol: seg(0xC4, bytes([cls_id]) + b"\x01" + b"\x00" * 15 + bytes([symbol]))
    sos = seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + dqt + sof + one_code(0x00, 0) + one_code(0x10, 0) + sos + b"\x3f\xff\xd9"

def jpeg_from_small(path_small, side):
    data = bytearray(open(path_small, "rb").read())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 7] = struct.pack(">H", side)
    data[sof + 7:sof + 9] = struct.pack(">H", side)
    return bytes(data)

if __name__ == "__main__":
    out = sys.argv[1]
    small_rgb = sys.argv[2]  # a tiny baseline RGB JPEG to patch
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "bomb.png"), "wb").write(png_bomb())
    open(os.path.join(out, "bomb_rgb.jpg"), "wb").write(jpeg_from_small(small_rgb, 65_500))
    open(os.path.join(out, "bomb_grey.jpg"), "wb").write(grey_jpeg(65_500))
    for f in sorted(os.listdir(out)):
        print(f, os.path.getsize(os.path.join(out, f)))
