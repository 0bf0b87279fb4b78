"""Built-in image plugins (Pillow; ``pip install 'praisonai-svc[plugins]'``)."""

from praisonai_svc.plugins.image.compress import CompressInput, CompressOptions, ImageCompressPlugin
from praisonai_svc.plugins.image.resize import ImageResizePlugin, ResizeInput, ResizeOptions

__all__ = ["CompressInput", "CompressOptions", "ImageCompressPlugin", "ImageResizePlugin", "ResizeInput",
           "ResizeOptions"]
