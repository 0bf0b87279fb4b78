"""Decode and encode images safely with Pillow: what the pool's processes run (no I/O, no event loop).

Refused with PayloadError (a 400): data that is no image, formats outside the supported ones, images whose
declared size is over the pixel limit (decompression bombs are refused from the header, before any pixel is
decoded), and truncated or corrupt files.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from praisonai_svc.errors import PayloadError

PILLOW_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DEFAULT_MAX_PIXELS = 50_000_000
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never a half-grey picture


@dataclass(frozen=True)
class Encoded:
    """An encoded image and what is true of it."""

    data: bytes
    width: int
    height: int
    format: str  # Pillow's name: JPEG, PNG, WEBP

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def supported_pillow_formats(supported: list[str]) -> set[str]:
    return {PILLOW_FORMATS[name.lower()] for name in supported if name.lower() in PILLOW_FORMATS}


def decode(data: bytes, supported: list[str], max_pixels: int) -> Image.Image:
    """The fully decoded image (PayloadError when it is not a usable image).

    Runs in the pool's processes, where ``max_pixels`` replaces Pillow's process-wide limit: it is checked on the
    header's size, before a single pixel is decoded, and the refusal names the size.
    """
    names = ", ".join(supported)
    Image.MAX_IMAGE_PIXELS = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise PayloadError(f"The file is not a valid image (supported formats: {names}).") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PayloadError("The image declares too many pixels (a decompression bomb?).") from None
        except MemoryError:
            raise
        except Exception as exc:  # a header Pillow cannot parse: the input's fault, whatever the exception
            raise PayloadError(f"The image is truncated or corrupt: {exc}") from None
        if image.format not in supported_pillow_formats(supported):
            raise PayloadError(f"Unsupported image format: {image.format}; supported: {names}.")
        width, height = image.size
        if width * height > max_pixels:
            raise PayloadError(f"The image is {width}x{height} pixels, more than the limit of {max_pixels} "
                               f"(a decompression bomb?).")
        try:
            image.load()
        except MemoryError:
            raise
        except Exception as exc:  # truncated data, a broken stream: the input's fault, whatever the exception
            raise PayloadError(f"The image is truncated or corrupt: {exc}") from None
    return image


def metadata_present(image: Image.Image) -> bool:
    """Whether the file carries anything that stripping would remove (EXIF, ICC, XMP, comments, text)."""
    keys = {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc"}
    return bool(keys & set(image.info)) or bool(getattr(image, "text", None))


def orient(image: Image.Image) -> tuple[Image.Image, bool]:
    """The image turned upright by its EXIF orientation, and whether that changed anything."""
    orientation = image.getexif().get(0x0112, 1)
    if orientation in (None, 1):
        return image, False
    return ImageOps.exif_transpose(image), True


def _flatten(image: Image.Image) -> Image.Image:
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def for_format(image: Image.Image, target: str) -> Image.Image:
    """Convert the pixel mode to one the target format stores (alpha kept where the format has it)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if target == "JPEG":
        if has_alpha:
            return _flatten(image.convert("RGBA"))
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if target == "WEBP":
        return image.convert("RGBA") if has_alpha and image.mode != "RGBA" else (
            image if image.mode in ("RGB", "RGBA") else image.convert("RGB"))
    if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA"):
        return image
    return image.convert("RGBA" if has_alpha else "RGB")


def encode(image: Image.Image, target: str, quality: int) -> Encoded:
    """Encode without any metadata: the image's ``info`` (EXIF, ICC, XMP, text) is dropped first."""
    clean = image.copy()
    clean.info = {}
    out = io.BytesIO()
    if target == "JPEG":
        clean.save(out, "JPEG", quality=quality, optimize=True)
    elif target == "WEBP":
        clean.save(out, "WEBP", quality=quality, method=4)
    else:
        clean.save(out, "PNG", optimize=True)
    return Encoded(out.getvalue(), clean.width, clean.height, target)
