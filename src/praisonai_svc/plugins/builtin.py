"""The built-in plugins, for ``for plugin in builtin_plugins(): app.register_plugin(plugin)``."""

from __future__ import annotations

from praisonai_svc.blob_url import import_adapter
from praisonai_svc.plugins.base import BasePlugin


def builtin_plugins() -> list[BasePlugin]:
    """image-compress, image-resize and document-pdf-to-text (a missing Pillow or pypdf names the pip extra)."""
    image = import_adapter("praisonai_svc.plugins.image", "plugins", "The image plugins")
    document = import_adapter("praisonai_svc.plugins.document", "plugins", "The document plugins")
    return [image.ImageCompressPlugin(), image.ImageResizePlugin(), document.PdfToTextPlugin()]
