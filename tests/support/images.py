"""Test images made on the spot, and an independent reading of encoded files (format, size, metadata) that
parses the bytes itself instead of asking Pillow, which produced them."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Facts:
    format: str  # jpeg | png | webp
    width: int
    height: int
    has_exif: bool
    has_icc: bool
    has_xmp: bool


def _jpeg(data: bytes) -> Facts:
    pos, size, exif, icc, xmp = 2, None, False, False, False
    while pos < len(data) - 4:
        if data[pos] != 0xFF:
            raise ValueError("bad JPEG marker")
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00"):
            exif = True
        if marker == 0xE1 and segment.startswith(b"http://ns.adobe.com/xap"):
            xmp = True
        if marker == 0xE2 and segment.startswith(b"ICC_PROFILE"):
            icc = True
        if marker in (0xC0, 0xC1, 0xC2) and size is None:
            height, width = struct.unpack(">HH", segment[1:5])
            size = (width, height)
        if marker == 0xDA:
            break
        pos += 2 + length
    assert size is not None, "no SOF marker"
    return Facts("jpeg", size[0], size[1], exif, icc, xmp)


def _png(data: bytes) -> Facts:
    pos, chunks, size = 8, set(), (0, 0)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            size = struct.unpack(">II", data[pos + 8:pos + 16])
        chunks.add(kind)
        pos += 12 + length
    text = bool(chunks & {b"tEXt", b"iTXt", b"zTXt"})
    return Facts("png", size[0], size[1], b"eXIf" in chunks, b"iCCP" in chunks, text)


def _webp(data: bytes) -> Facts:
    pos, chunks, size = 12, {}, (0, 0)
    while pos < len(data):
        kind, length = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks[kind] = data[pos + 8:pos + 8 + length]
        pos += 8 + length + (length & 1)
    if b"VP8X" in chunks:
        body = chunks[b"VP8X"]
        size = (1 + int.from_bytes(body[4:7], "little"), 1 + int.from_bytes(body[7:10], "little"))
    elif b"VP8L" in chunks:
        bits = int.from_bytes(chunks[b"VP8L"][1:5], "little")
        size = (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    else:
        body = chunks[b"VP8 "]
        size = (struct.unpack("<H", body[6:8])[0] & 0x3FFF, struct.unpack("<H", body[8:10])[0] & 0x3FFF)
    return Facts("webp", size[0], size[1], b"EXIF" in chunks, b"ICCP" in chunks, b"XMP " in chunks)


def facts(data: bytes) -> Facts:
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    raise ValueError(f"not a JPEG, PNG or WebP: {data[:12]!r}")


def two_tone(size: tuple[int, int], left: tuple[int, ...], right: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def exif_rotated_jpeg() -> bytes:
    """400x200 stored (red left, blue right), EXIF orientation 6 (turn 90° clockwise to view), a GPS tag and an
    ICC profile: upright it is 200x400 with red on top."""
    image = two_tone((400, 200), (255, 0, 0), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS: must not survive
    icc = b"\x00" * 128  # stands in for a profile; only its presence is checked
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=icc)
    return out.getvalue()


def alpha_png() -> bytes:
    """300x200 RGBA: transparent left half, opaque green right half."""
    out = io.BytesIO()
    two_tone((300, 200), (0, 0, 0, 0), (0, 200, 0, 255), mode="RGBA").save(out, "PNG")
    return out.getvalue()


def large_jpeg(size: tuple[int, int] = (2400, 1600)) -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    two_tone((320, 240), (0, 255, 255, 0), (255, 0, 255, 0), mode="CMYK").save(out, "JPEG", quality=90)
    return out.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid PNG header declaring width x height grey pixels, with one tiny IDAT: ~100 bytes that would
    decode to gigabytes. Built by hand, without Pillow."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + \
        chunk(b"IEND", b"")
