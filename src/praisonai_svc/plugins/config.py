"""Plugin settings from YAML: the ``plugins:`` section of the app's YAML file and the seed's
``config/plugins.yaml``, with ``${VAR}`` / ``${VAR:-default}`` substituted from the environment.

Self-contained on purpose: when the app-wide YAML loader exists, :func:`plugin_sections` is the one place to
point at it. Files are looked for beside the service file, then in the working directory:

* ``config/plugins.yaml`` (seed 004): ``plugins: {name: {setting: value}}``;
* the app's YAML, ``$PRAISONAI_CONFIG_FILE`` or ``praisonai.yaml``: its ``plugins:`` section wins over the seed file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from praisonai_svc.errors import ConfigError

SEED_FILE = Path("config") / "plugins.yaml"
APP_FILE = "praisonai.yaml"
APP_FILE_ENV = "PRAISONAI_CONFIG_FILE"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class PluginSection:
    """One plugin's settings and the file they came from (for error messages)."""

    values: dict[str, Any]
    source: str


def substitute(text: str, where: str, environ: Mapping[str, str]) -> str:
    """``${VAR}`` → its value, ``${VAR:-default}`` → its value or the default; an unset VAR without default
    is a ConfigError naming the variable and ``where`` (file:line)."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set (write ${{{name}:-default}} for a default)")

    return _VARIABLE.sub(value, text)


def _substituted(node: yaml.Node, path: Path, environ: Mapping[str, str]) -> None:
    if isinstance(node, yaml.ScalarNode) and "${" in node.value:
        node.value = substitute(node.value, f"{path}:{node.start_mark.line + 1}", environ)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _substituted(item, path, environ)
    elif isinstance(node, yaml.MappingNode):
        for key, item in node.value:
            _substituted(key, path, environ)
            _substituted(item, path, environ)


def load_yaml(path: Path, environ: Mapping[str, str]) -> Any:
    """The document in ``path`` with variables substituted in its values (never in its structure)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from None
    if node is None:
        return None
    _substituted(node, path, environ)
    return yaml.SafeLoader("").construct_document(node)


def _plugins_of(path: Path, environ: Mapping[str, str]) -> dict[str, PluginSection]:
    document = load_yaml(path, environ)
    section = document.get("plugins") if isinstance(document, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict) or not all(isinstance(v, dict | None) for v in section.values()):
        raise ConfigError(f"{path}: 'plugins' must map plugin names to their settings, e.g. image-compress: {{...}}")
    return {str(name): PluginSection(dict(values or {}), str(path)) for name, values in section.items()}


def candidate_dirs(service_file: str | None) -> list[Path]:
    """Where the files are looked for: beside the service file (``path.py`` or ``path.py:attr``), then the cwd."""
    dirs = []
    path_part = (service_file or "").split(":", 1)[0]
    if path_part.endswith(".py"):
        dirs.append(Path(path_part).resolve().parent)
    dirs.append(Path.cwd())
    return list(dict.fromkeys(dirs))


def _first_existing(paths: Iterable[Path]) -> Path | None:
    return next((path for path in paths if path.is_file()), None)


def plugin_sections(service_file: str | None, environ: Mapping[str, str] | None = None) -> dict[str, PluginSection]:
    """Every plugin's file settings: the seed file first, the app file's ``plugins:`` over it (key by key)."""
    env = os.environ if environ is None else environ
    dirs = candidate_dirs(service_file)
    sections: dict[str, PluginSection] = {}
    seed = _first_existing(d / SEED_FILE for d in dirs)
    explicit = env.get(APP_FILE_ENV)
    if explicit and not Path(explicit).is_file():
        raise ConfigError(f"{APP_FILE_ENV}={explicit}: no such file")
    app_file = Path(explicit) if explicit else _first_existing(d / APP_FILE for d in dirs)
    for path in (seed, app_file):
        if path is None:
            continue
        for name, section in _plugins_of(path, env).items():
            previous = sections.get(name)
            merged = {**previous.values, **section.values} if previous else section.values
            sections[name] = PluginSection(merged, section.source)
    return sections
