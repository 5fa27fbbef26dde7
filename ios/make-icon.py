#!/usr/bin/env python3
"""Writes App/Assets.xcassets/AppIcon.appiconset/AppIcon.png: the plain notebook icon of
the Android adaptive icon (android/app/src/main/res/drawable/ic_launcher_foreground.xml),
1024x1024, opaque, with the standard library only (zlib PNG writer)."""
import os
import struct
import zlib

SIZE = 1024
SCALE = SIZE / 108.0  # the Android icon's 108-unit canvas
BACKGROUND = (0xF4, 0xEE, 0xDC)
COVER = (0x4A, 0x6B, 0x5D)
SPINE = (0x2F, 0x4A, 0x3F)
LINE = (0xF4, 0xEE, 0xDC)


def rounded(x0, y0, x1, y1, r):
    """A rounded rectangle in 108-unit coordinates, as a point test in pixels."""
    x0, y0, x1, y1, r = (v * SCALE for v in (x0, y0, x1, y1, r))

    def inside(x, y):
        if not (x0 <= x < x1 and y0 <= y < y1):
            return False
        cx = min(max(x, x0 + r), x1 - r)
        cy = min(max(y, y0 + r), y1 - r)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

    return inside


shapes = [
    (rounded(34, 28, 74, 80, 4), COVER),
    (rounded(30, 28, 40, 80, 2), SPINE),
    (rounded(46, 40, 66, 43, 0), LINE),
    (rounded(46, 49, 66, 52, 0), LINE),
    (rounded(46, 58, 60, 61, 0), LINE),
]

rows = []
for y in range(SIZE):
    row = bytearray([0])
    for x in range(SIZE):
        colour = BACKGROUND
        for inside, c in shapes:
            if inside(x + 0.5, y + 0.5):
                colour = c
        row.extend(colour)
    rows.append(bytes(row))


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


png = b"\x89PNG\r\n\x1a\n"
png += chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
png += chunk(b"IEND", b"")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "App/Assets.xcassets/AppIcon.appiconset/AppIcon.png")
with open(out, "wb") as f:
    f.write(png)
print(out, len(png), "bytes")
