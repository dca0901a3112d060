#!/usr/bin/env python3
"""Convert an 8x16 bitmap font into a raw 256-glyph, 16-bytes-per-glyph font
in IBM code page 437 order (one byte per scan line, bit 7 = leftmost pixel).

Inputs understood:
  * PC Screen Font (PSF1 or PSF2) with a Unicode table, mapped through it;
  * X11 PCF whose encoding is already CP437 (e.g. Terminus' ter-u16*_ibm437).

Usage: font_to_cp437.py FONT.{psf,psfu,pcf}[.gz] OUT.bin

Glyphs the source font lacks are left blank and listed on stderr.
Used to produce crates/vga/fonts/*.bin (see crates/vga/fonts/README).
"""
import gzip
import struct
import sys

# Code points 0x00-0x1F and 0x7F are shown by a VGA as graphics, not controls.
CP437_LOW = (
    "\u0000\u263a\u263b\u2665\u2666\u2663\u2660\u2022"
    "\u25d8\u25cb\u25d9\u2642\u2640\u266a\u266b\u263c"
    "\u25ba\u25c4\u2195\u203c\u00b6\u00a7\u25ac\u21a8"
    "\u2191\u2193\u2192\u2190\u221f\u2194\u25b2\u25bc"
)
# Accepted substitutes when a font lacks the canonical code point.
ALTERNATES = {
    0x00: [0x0020],
    0x7F: [0x2302],
    0xE1: [0x00DF, 0x03B2],
    0xE6: [0x00B5, 0x03BC],
    0xEE: [0x03B5, 0x2208],
    0xF9: [0x2219, 0x00B7],
    0xFA: [0x00B7, 0x2219],
    0xFF: [0x00A0, 0x0020],
}


def cp437_unicode(byte):
    if byte < 0x20:
        return ord(CP437_LOW[byte])
    if byte == 0x7F:
        return 0x2302
    return ord(bytes([byte]).decode("cp437"))


def parse_psf(data):
    """Return (glyph_bytes_list, height, {codepoint: glyph_index})."""
    if data[:2] == b"\x36\x04":
        mode, height = data[2], data[3]
        count = 512 if mode & 0x01 else 256
        glyphs_at = 4
        size = height
        table = {}
        if mode & 0x06:
            pos = glyphs_at + count * size
            for index in range(count):
                while True:
                    (cp,) = struct.unpack_from("<H", data, pos)
                    pos += 2
                    if cp == 0xFFFF:
                        break
                    if cp == 0xFFFE:  # sequences follow: skip to terminator
                        while struct.unpack_from("<H", data, pos)[0] != 0xFFFF:
                            pos += 2
                        pos += 2
                        break
                    table.setdefault(cp, index)
        width = 8
    elif data[:4] == b"\x72\xb5\x4a\x86":
        (_, hsize, flags, count, size, height, width) = struct.unpack_from("<7I", data, 4)
        glyphs_at = hsize
        table = {}
        if flags & 1:
            pos = glyphs_at + count * size
            for index in range(count):
                text = bytearray()
                while data[pos] != 0xFF:
                    text.append(data[pos])
                    pos += 1
                pos += 1
                # 0xFE starts sequences; keep only the single code points before it
                single = bytes(text).split(b"\xfe")[0].decode("utf-8")
                for ch in single:
                    table.setdefault(ord(ch), index)
    else:
        raise SystemExit("not a PSF1/PSF2 font")
    if width != 8 or height != 16 or size != 16:
        raise SystemExit(f"need an 8x16 font, got {width}x{height}")
    glyphs = [data[glyphs_at + i * size: glyphs_at + (i + 1) * size] for i in range(count)]
    if not table:
        table = {cp437_unicode(i): i for i in range(min(count, 256))}
    return glyphs, table


PCF_ACCELERATORS = 1 << 1
PCF_METRICS = 1 << 2
PCF_BITMAPS = 1 << 3
PCF_BDF_ENCODINGS = 1 << 5
PCF_BDF_ACCELERATORS = 1 << 8


def parse_pcf(data):
    """Return the 256 glyphs (16 bytes each) of a CP437-encoded 8x16 PCF font."""
    (count,) = struct.unpack_from("<I", data, 4)
    tables = {}
    for i in range(count):
        ttype, fmt, size, offset = struct.unpack_from("<4I", data, 8 + 16 * i)
        tables[ttype] = (fmt, offset)

    def reader(ttype):
        fmt, offset = tables[ttype]
        (fmt2,) = struct.unpack_from("<I", data, offset)
        order = ">" if fmt2 & 4 else "<"
        return fmt2, order, offset + 4

    # font ascent: from the (BDF) accelerator table
    acc = PCF_BDF_ACCELERATORS if PCF_BDF_ACCELERATORS in tables else PCF_ACCELERATORS
    _, order, pos = reader(acc)
    font_ascent, font_descent = struct.unpack_from(order + "ii", data, pos + 8)
    if font_ascent + font_descent != 16:
        raise SystemExit(f"need a 16-pixel font, got {font_ascent + font_descent}")

    fmt, order, pos = reader(PCF_METRICS)
    metrics = []
    if fmt & 0x100:
        (n,) = struct.unpack_from(order + "h", data, pos)
        pos += 2
        for _ in range(n):
            lb, rb, w, asc, desc = (b - 0x80 for b in data[pos:pos + 5])
            metrics.append((lb, rb, asc, desc))
            pos += 5
    else:
        (n,) = struct.unpack_from(order + "i", data, pos)
        pos += 4
        for _ in range(n):
            lb, rb, w, asc, desc, _attr = struct.unpack_from(order + "6h", data, pos)
            metrics.append((lb, rb, asc, desc))
            pos += 12

    fmt, order, pos = reader(PCF_BITMAPS)
    if not fmt & 8:
        raise SystemExit("LSB-first PCF bit order is not supported")
    pad = 1 << (fmt & 3)
    (n,) = struct.unpack_from(order + "i", data, pos)
    pos += 4
    offsets = struct.unpack_from(order + f"{n}i", data, pos)
    pos += 4 * n + 16
    bitmap_base = pos

    fmt, order, pos = reader(PCF_BDF_ENCODINGS)
    min2, max2, min1, max1, _default = struct.unpack_from(order + "5h", data, pos)
    pos += 10
    if min1 != 0 or max1 != 0:
        raise SystemExit("expected a single-byte encoding")
    cells = max2 - min2 + 1
    indices = struct.unpack_from(order + f"{cells}H", data, pos)

    glyphs = {}
    for code in range(min2, max2 + 1):
        index = indices[code - min2]
        if index == 0xFFFF or code > 255:
            continue
        lb, rb, asc, desc = metrics[index]
        width = rb - lb
        stride = ((width + 7) // 8 + pad - 1) // pad * pad
        cell = bytearray(16)
        for row in range(asc + desc):
            y = font_ascent - asc + row
            if not 0 <= y < 16:
                continue
            start = bitmap_base + offsets[index] + row * stride
            bits = int.from_bytes(data[start:start + stride], "big")
            bits >>= stride * 8 - width
            for col in range(width):
                x = lb + col
                if 0 <= x < 8 and bits & (1 << (width - 1 - col)):
                    cell[y] |= 0x80 >> x
        glyphs[code] = bytes(cell)
    return glyphs


def main():
    src, out = sys.argv[1], sys.argv[2]
    raw = open(src, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:4] == b"\x01fcp":
        pcf = parse_pcf(raw)
        glyphs = [pcf.get(i, bytes(16)) for i in range(256)]
        table = {cp437_unicode(i): i for i in pcf}
    else:
        glyphs, table = parse_psf(raw)
    result = bytearray()
    missing = []
    for byte in range(256):
        candidates = [cp437_unicode(byte)] + ALTERNATES.get(byte, [])
        index = next((table[c] for c in candidates if c in table), None)
        if byte == 0x00:
            index = None  # NUL is always blank on a VGA
        if index is None:
            result += bytes(16)
            if byte != 0x00:
                missing.append(f"{byte:02X}(U+{cp437_unicode(byte):04X})")
        else:
            result += glyphs[index]
    open(out, "wb").write(result)
    print(f"{len(missing)} glyphs missing: {' '.join(missing)}", file=sys.stderr)


if __name__ == "__main__":
    main()
