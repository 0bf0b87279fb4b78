"""Which ``praisonai.yaml`` an app reads, and the environment's say over it.

The file is ``--config PATH`` / ``PRAISONAI_CONFIG_FILE`` when given (it must exist), else ``praisonai.yaml``
beside the handlers file when there is one, else none (every service enabled, defaults everywhere).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from praisonai_svc.appconfig.document import ConfigDocument, load_document
from praisonai_svc.appconfig.schema import AppConfig, ServerSection, resolve_app_config
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings

CONFIG_FILE_NAME = "praisonai.yaml"


def find_config_file(explicit: Path | None, beside: Path | None) -> Path | None:
    """The explicit file (which must exist), else ``praisonai.yaml`` in ``beside``, else None."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"PRAISONAI_CONFIG_FILE / --config names {explicit}, which does not exist.")
        return explicit
    if beside is not None and (beside / CONFIG_FILE_NAME).is_file():
        return beside / CONFIG_FILE_NAME
    return None


def _server_overrides(doc: ConfigDocument, settings: Settings) -> ConfigDocument:
    """Server keys set through ``PRAISONAI_<KEY>`` (environment or .env) win over the file's."""
    server: dict[str, Any] = dict(doc.data.get("server") or {}) if isinstance(doc.data.get("server"), dict) else {}
    for key in ServerSection.model_fields:
        value = getattr(settings, key, None)
        if value is not None:
            server[key] = value
    if not server:
        return doc
    return ConfigDocument({**doc.data, "server": server}, doc.path, doc.lines)


def load_app_config(
    settings: Settings, beside: Path | None, services: Mapping[str, type[BaseModel] | None],
    environ: Mapping[str, str] | None = None,
) -> AppConfig:
    """Find, read, substitute and validate the app's file against its ``services`` (name → config model)."""
    environ = os.environ if environ is None else environ
    path = find_config_file(settings.config_file, beside)
    doc = load_document(path, environ=environ) if path is not None else ConfigDocument({})
    return resolve_app_config(_server_overrides(doc, settings), services, environ)
