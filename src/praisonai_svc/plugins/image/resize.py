"""``image-resize`` (seed 004, phase 2): scale an image to a width and/or height."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from praisonai_svc.plugins.base import BasePlugin, Category, PluginConfig
from praisonai_svc.plugins.image.processing import resize
from praisonai_svc.plugins.image.source import (
    FORMAT_PATTERN,
    ImageInput,
    ImagePluginConfig,
    image_bytes,
    limits_of,
    validate_image_input,
)


class ResizeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int | None = Field(None, ge=1, le=20_000, description="Target width in pixels")
    height: int | None = Field(None, ge=1, le=20_000, description="Target height in pixels")
    fit: Literal["contain", "cover", "stretch"] = Field("contain", description="How to fit the box")
    format: str | None = Field(None, pattern=FORMAT_PATTERN, description="jpg, jpeg, png or webp (default: as is)")
    quality: int = Field(85, ge=1, le=100)

    @model_validator(mode="after")
    def _a_size(self) -> ResizeOptions:
        if self.width is None and self.height is None:
            raise ValueError("Missing required parameter: options.width or options.height")
        return self


class ResizeInput(ImageInput):
    options: ResizeOptions


class ImageResizePlugin(BasePlugin):
    """Scale an image: ``contain`` (keep the aspect inside the box), ``cover`` (fill and crop) or ``stretch``."""

    name: ClassVar[str] = "image-resize"
    display_name: ClassVar[str] = "Image resize"
    category: ClassVar[Category] = "image"
    description: ClassVar[str] = "Resize an image from image_url or an uploaded file to options.width/height."
    config_model: ClassVar[type[PluginConfig]] = ImagePluginConfig
    input_model: ClassVar[type[BaseModel] | None] = ResizeInput

    def validate_input(self, input: dict[str, Any]) -> tuple[bool, str | None]:
        if not input.get("options"):
            return False, "Missing required parameter: options.width or options.height"
        return validate_image_input(self, input, ResizeOptions)

    async def process(self, input: dict[str, Any]) -> dict[str, Any]:
        options = ResizeOptions.model_validate(input.get("options") or {})
        data = await image_bytes(self, input)
        result = await self.runtime.run_cpu(resize, data, options.width, options.height, options.fit,
                                            options.format, options.quality, limits_of(self))
        stored = await self.runtime.store_output(result.data, f"resized.{result.extension}", result.content_type)
        return {"output_url": stored.url, "metadata": {
            "original_size": len(data), "size": len(result.data), "width": result.width, "height": result.height,
            "format": result.format.lower(),
        }}
