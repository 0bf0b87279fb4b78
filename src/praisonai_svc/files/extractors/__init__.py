"""File formats: one module per format, each defining ``extractor`` (an :class:`Extractor`), found by name.

Adding a format touches one file: drop a module here that defines ``extractor = MyExtractor()`` with its
``extensions``, ``mime_type``, ``check_content`` (magic bytes) and ``extract``; docs/files.md shows one.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from praisonai_svc.files.extractors.base import HEAD_BYTES, Extraction, ExtractionError, Extractor, Limits

__all__ = ["HEAD_BYTES", "Extraction", "ExtractionError", "Extractor", "Limits", "extractor_for", "extractors"]


@cache
def extractors() -> dict[str, Extractor]:
    """Every extension a module of this package reads → its extractor."""
    found: dict[str, Extractor] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        candidate = getattr(module, "extractor", None)
        if isinstance(candidate, Extractor):
            for extension in candidate.extensions:
                found[extension] = candidate
    return found


def extractor_for(extension: str) -> Extractor | None:
    return extractors().get(extension.lower().lstrip("."))
