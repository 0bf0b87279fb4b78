"""Plugin settings from YAML: seed 004's ``config/plugins.yaml`` and the ``plugins:`` section of the app's
``praisonai.yaml`` (the one the app reads: ``--config`` / ``PRAISONAI_CONFIG_FILE``, else beside the handlers
file), both read with the app's YAML reader (:mod:`praisonai_svc.appconfig`: ``${VAR}`` / ``${VAR:-default}``
substitution, ``file:line`` in every message). The app file's settings win over the seed file's, key by key.
``config/plugins.yaml`` is looked for beside the handlers file, then in the working directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from praisonai_svc.appconfig.document import load_document
from praisonai_svc.errors import ConfigError

SEED_FILE = Path("config") / "plugins.yaml"


@dataclass(frozen=True)
class PluginSection:
    """One plugin's settings and where they stand (``file:line``, for error messages)."""

    values: dict[str, Any]
    source: str


def seed_file(dirs: Iterable[Path]) -> Path | None:
    """The first ``config/plugins.yaml`` in ``dirs``."""
    return next((d / SEED_FILE for d in dirs if (d / SEED_FILE).is_file()), None)


def _plugins_of(path: Path, environ: Mapping[str, str] | None) -> dict[str, PluginSection]:
    document = load_document(path, environ=environ)
    section = document.section("plugins")
    if section is None:
        return {}
    if not isinstance(section, dict) or not all(isinstance(v, dict | None) for v in section.values()):
        raise ConfigError(f"{document.where('plugins')}: 'plugins' must map plugin names to their settings, "
                          f"e.g. image-compress: {{max_file_size: 52428800}}")
    return {str(name): PluginSection(dict(values or {}), document.where("plugins", str(name)))
            for name, values in section.items()}


def plugin_sections(
    app_file: Path | None, seed_dirs: Iterable[Path], environ: Mapping[str, str] | None = None
) -> dict[str, PluginSection]:
    """Every plugin's file settings: the seed file first, the app file's ``plugins:`` over it (key by key)."""
    sections: dict[str, PluginSection] = {}
    for path in (seed_file(seed_dirs), app_file):
        if path is None:
            continue
        for name, section in _plugins_of(path, environ).items():
            previous = sections.get(name)
            merged = {**previous.values, **section.values} if previous else section.values
            sections[name] = PluginSection(merged, section.source)
    return sections
