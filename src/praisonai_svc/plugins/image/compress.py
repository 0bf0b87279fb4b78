"""``image-compress`` (seed 004): compress an image from a URL or an upload; answer with its link and metadata."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from praisonai_svc.plugins.base import BasePlugin, Category, PluginConfig, ProcessingMode
from praisonai_svc.plugins.image.processing import compress
from praisonai_svc.plugins.image.source import (
    FORMAT_PATTERN,
    ImageInput,
    ImagePluginConfig,
    image_bytes,
    limits_of,
    validate_image_input,
)


class CompressOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quality: int = Field(80, ge=1, le=100, description="Encoder quality (JPEG, WebP)")
    format: str | None = Field(None, pattern=FORMAT_PATTERN, description="jpg, jpeg, png or webp (default: as is)")
    max_width: int | None = Field(None, ge=1, le=100_000, description="Largest width; the aspect ratio is kept")
    max_height: int | None = Field(None, ge=1, le=100_000, description="Largest height; the aspect ratio is kept")


class CompressInput(ImageInput):
    options: CompressOptions = Field(default_factory=lambda: CompressOptions.model_validate({}))


def ratio(original: int, compressed: int) -> float:
    return round(1 - compressed / original, 2) if original else 0.0


class ImageCompressPlugin(BasePlugin):
    """Upright (EXIF orientation applied), metadata stripped, aspect ratio kept, re-encoded at ``quality``."""

    name: ClassVar[str] = "image-compress"
    display_name: ClassVar[str] = "Image compression"
    category: ClassVar[Category] = "image"
    processing_mode: ClassVar[ProcessingMode] = ProcessingMode.SYNC
    description: ClassVar[str] = "Compress an image (jpg, png, webp) from image_url or an uploaded file."
    config_model: ClassVar[type[PluginConfig]] = ImagePluginConfig
    input_model: ClassVar[type[BaseModel] | None] = CompressInput

    def validate_input(self, input: dict[str, Any]) -> tuple[bool, str | None]:
        return validate_image_input(self, input, CompressOptions)

    async def process(self, input: dict[str, Any]) -> dict[str, Any]:
        options = CompressOptions.model_validate(input.get("options") or {})
        data = await image_bytes(self, input)
        result = await self.runtime.run_cpu(compress, data, options.quality, options.format, options.max_width,
                                            options.max_height, limits_of(self))
        stored = await self.runtime.store_output(result.data, f"compressed.{result.extension}", result.content_type)
        return {"output_url": stored.url, "metadata": {
            "original_size": len(data), "compressed_size": len(result.data),
            "compression_ratio": ratio(len(data), len(result.data)), "width": result.width, "height": result.height,
            "format": result.format.lower(),
        }}
