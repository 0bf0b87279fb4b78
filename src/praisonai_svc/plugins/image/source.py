"""Where an image plugin's input comes from: ``image_url`` (fetched safely) or a multipart upload."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from praisonai_svc.errors import PayloadError, PayloadTooLarge
from praisonai_svc.plugins.base import BasePlugin, PluginConfig, Upload, first_problem
from praisonai_svc.plugins.image.codec import DEFAULT_MAX_PIXELS, PILLOW_FORMATS
from praisonai_svc.plugins.image.processing import Limits

FORMAT_PATTERN = "^(?i:jpg|jpeg|png|webp)$"


class ImagePluginConfig(PluginConfig):
    supported_formats: list[str] = Field(default_factory=lambda: ["jpg", "jpeg", "png", "webp"],
                                         description="Formats accepted and produced.")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, description="Largest width x height decoded.")


class ImageInput(BaseModel):
    """What every image plugin takes besides its options (``file`` uploads come as multipart instead)."""

    model_config = ConfigDict(extra="forbid")
    image_url: str = Field(description="http(s) URL of the image", min_length=1, max_length=4096)


def image_config(plugin: BasePlugin) -> ImagePluginConfig:
    config = plugin.config
    assert isinstance(config, ImagePluginConfig)
    return config


def validate_image_input(plugin: BasePlugin, input: dict[str, Any], options_model: type[BaseModel]
                         ) -> tuple[bool, str | None]:
    """The seed's checks: a source (``image_url`` or an uploaded ``file``), then valid options."""
    upload = input.get("file")
    if upload is None and not input.get("image_url"):
        return False, "Missing required parameter: image_url"
    if upload is not None and not isinstance(upload, Upload):
        return False, "Invalid parameter file: send the image as a multipart upload"
    extra = set(input) - {"image_url", "options", "file"}
    if extra:
        return False, f"Unknown parameter: {sorted(extra)[0]}"
    if upload is None and not isinstance(input["image_url"], str):
        return False, "Invalid parameter image_url: must be a string"
    try:
        options = options_model.model_validate(input.get("options") or {})
    except ValidationError as exc:
        return False, first_problem(exc, prefix="options.")
    fmt = getattr(options, "format", None)
    allowed = image_config(plugin).supported_formats
    if fmt is not None and fmt.lower() not in [name.lower() for name in allowed]:
        return False, f"Unsupported format: {fmt}; supported: {', '.join(allowed)}"
    return True, None


async def image_bytes(plugin: BasePlugin, input: dict[str, Any]) -> bytes:
    limit = image_config(plugin).max_file_size
    upload = input.get("file")
    if isinstance(upload, Upload):
        if len(upload.data) > limit:
            raise PayloadTooLarge(f"File size exceeds maximum of {limit} bytes")
        return upload.data
    fetched = await plugin.runtime.download(str(input["image_url"]), max_bytes=limit, what="image")
    if not fetched.data:
        raise PayloadError("The image is empty.")
    return fetched.data


def limits_of(plugin: BasePlugin) -> Limits:
    config = image_config(plugin)
    return Limits([name for name in config.supported_formats if name.lower() in PILLOW_FORMATS], config.max_pixels)
