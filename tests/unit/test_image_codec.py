"""The image work the pool runs, called directly: the keep-the-original rule, metadata stripping, refusals."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from praisonai_svc.errors import PayloadError
from praisonai_svc.plugins.image.processing import Limits, compress, resize
from tests.support import images

LIMITS = Limits(["jpg", "jpeg", "png", "webp"], 50_000_000)


def jpeg(quality: int, **save: object) -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").resize((320, 200)).convert("RGB").save(out, "JPEG", quality=quality, **save)
    return out.getvalue()


def test_a_larger_result_keeps_the_original_bytes_when_nothing_was_asked() -> None:
    small = jpeg(20)
    kept = compress(small, 95, None, None, None, LIMITS)
    assert kept.data == small and (kept.width, kept.height, kept.format) == (320, 200, "JPEG")


def test_a_larger_result_is_still_stored_when_metadata_had_to_go_or_a_change_was_asked() -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    with_exif = jpeg(20, exif=exif.tobytes())
    stripped = compress(with_exif, 95, None, None, None, LIMITS)
    assert stripped.data != with_exif and not images.facts(stripped.data).has_exif
    as_png = compress(jpeg(20), 95, "png", None, None, LIMITS)
    assert images.facts(as_png.data).format == "png"


def test_png_text_chunks_are_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone")
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(out, "PNG", pnginfo=info)
    result = compress(out.getvalue(), 80, "png", None, None, LIMITS)
    assert not images.facts(result.data).has_xmp  # tEXt/iTXt/zTXt count as text metadata here


@pytest.mark.parametrize(("data", "message"), [
    (jpeg(90)[:600], "truncated or corrupt"),
    (b"GIF89a" + bytes(100), "not a valid image"),
    (images.png_bomb(20_000, 20_000), "20000x20000 pixels, more than the limit"),
])
def test_unusable_images_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        compress(data, 80, None, None, None, LIMITS)


def test_unsupported_formats_are_refused_by_name() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    with pytest.raises(PayloadError, match="Unsupported image format: GIF"):
        compress(out.getvalue(), 80, None, None, None, LIMITS)
    with pytest.raises(PayloadError, match="Unsupported image format: PNG"):
        compress(images.alpha_png(), 80, None, None, None, Limits(["jpg"], 1000000))


@pytest.mark.parametrize(("fit", "size"), [("contain", (300, 188)), ("cover", (300, 300)), ("stretch", (300, 300))])
def test_resize_fits(fit: str, size: tuple[int, int]) -> None:
    result = resize(jpeg(90), 300, 300, fit, "webp", 80, LIMITS)
    assert (images.facts(result.data).width, images.facts(result.data).height) == size
    assert resize(jpeg(90), None, 100, "contain", None, 80, LIMITS).width == 160
