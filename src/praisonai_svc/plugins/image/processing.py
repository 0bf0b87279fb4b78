"""The image operations the plugins send to the process pool (module level, picklable arguments)."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageOps

from praisonai_svc.plugins.image.codec import (
    PILLOW_FORMATS,
    Encoded,
    decode,
    encode,
    for_format,
    metadata_present,
    orient,
)


@dataclass(frozen=True)
class Limits:
    supported_formats: list[str]
    max_pixels: int


def compress(data: bytes, quality: int, fmt: str | None, max_width: int | None, max_height: int | None,
             limits: Limits) -> Encoded:
    """Upright, metadata-free, within max_width x max_height (aspect kept, never enlarged), re-encoded.

    The original bytes are returned instead when re-encoding would make the file larger and nothing was asked
    or needed: same format, same size, already upright and carrying no metadata to strip.
    """
    image = decode(data, limits.supported_formats, limits.max_pixels)
    source_format = str(image.format)
    original = (image.width, image.height)
    had_metadata = metadata_present(image)
    image, turned = orient(image)
    bounds = (max_width or image.width, max_height or image.height)
    if image.width > bounds[0] or image.height > bounds[1]:
        image.thumbnail(bounds, Image.Resampling.LANCZOS)
    target = PILLOW_FORMATS[fmt.lower()] if fmt else source_format
    result = encode(for_format(image, target), target, quality)
    unchanged = target == source_format and (result.width, result.height) == original and not turned
    if unchanged and not had_metadata and len(result.data) >= len(data):
        return Encoded(data, original[0], original[1], source_format)
    return result


def resize(data: bytes, width: int | None, height: int | None, fit: str, fmt: str | None, quality: int,
           limits: Limits) -> Encoded:
    """Scaled to ``width`` x ``height``: ``contain`` keeps the aspect inside the box (one side may be given),
    ``cover`` fills the box and crops the overflow, ``stretch`` ignores the aspect."""
    image = decode(data, limits.supported_formats, limits.max_pixels)
    source_format = str(image.format)
    image, _ = orient(image)
    w = width or round(image.width * (height or image.height) / image.height)
    h = height or round(image.height * (width or image.width) / image.width)
    box = (max(w, 1), max(h, 1))
    if fit == "cover":
        image = ImageOps.fit(image, box, Image.Resampling.LANCZOS)
    elif fit == "stretch":
        image = image.resize(box, Image.Resampling.LANCZOS)
    else:
        image = ImageOps.contain(image, box, Image.Resampling.LANCZOS)
    target = PILLOW_FORMATS[fmt.lower()] if fmt else source_format
    return encode(for_format(image, target), target, quality)
