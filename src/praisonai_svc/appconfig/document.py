"""Read a YAML file with ``${VAR}`` / ``${VAR:-default}`` substitution, remembering where every key stands.

Generic on purpose: the app's ``praisonai.yaml`` (``appconfig.schema``) and any feature that owns a section of it
(plugins, tenants, retention, workflows) read the same :class:`ConfigDocument`, so every error can name
``file:line`` the same way. Substitution happens inside scalar values only (never in keys); a plain (unquoted)
scalar is typed again after substitution, so ``port: ${PORT:-8080}`` is the integer 8080 while
``port: "${PORT:-8080}"`` stays the string ``"8080"``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from praisonai_svc.errors import ConfigError

KeyPath = tuple[str | int, ...]
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


@dataclass(frozen=True)
class ConfigDocument:
    """The substituted document, the file it came from, and the line (1-based) of every key path in it."""

    data: dict[str, Any]
    path: Path | None = None
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    def where(self, *keys: str | int) -> str:
        """``file:line`` of the deepest known prefix of ``keys`` (the file alone when none is known)."""
        name = str(self.path) if self.path is not None else "<config>"
        for end in range(len(keys), 0, -1):
            line = self.lines.get(tuple(keys[:end]))
            if line is not None:
                return f"{name}:{line}"
        return name

    def section(self, key: str) -> Any:
        """The top-level ``key`` (None when absent): what a feature that owns a section reads."""
        return self.data.get(key)


def substitute(text: str, environ: Mapping[str, str], where: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}``; an unset VAR without a default is a ConfigError."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{where}: environment variable {name} is not set and has no default; set it, or write "
            f"${{{name}:-default}}."
        )

    return _VARIABLE.sub(value, text)


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, environ: Mapping[str, str], path: Path | None) -> None:
        self.loader = loader
        self.environ = environ
        self.name = str(path) if path is not None else "<config>"
        self.lines: dict[KeyPath, int] = {}

    def walk(self, node: yaml.Node, keys: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key: str | int = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                self.lines[(*keys, key)] = key_node.start_mark.line + 1
                self.walk(value_node, (*keys, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*keys, index)] = item.start_mark.line + 1
                self.walk(item, (*keys, index))
        elif isinstance(node, yaml.ScalarNode) and "${" in node.value:
            where = f"{self.name}:{node.start_mark.line + 1}"
            node.value = substitute(node.value, self.environ, where)
            if node.style is None:  # plain scalar: let YAML type the substituted text (int, bool, ...)
                node.tag = self.loader.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]


def parse_document(
    text: str, *, path: Path | None = None, environ: Mapping[str, str] | None = None,
) -> ConfigDocument:
    """Parse YAML ``text`` into a :class:`ConfigDocument` (the top level must be a mapping, or empty)."""
    name = str(path) if path is not None else "<config>"
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ConfigDocument({}, path, {})
        walker = _Walker(loader, os.environ if environ is None else environ, path)
        walker.walk(node, ())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{name}{line}: not valid YAML ({exc.problem}).") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML ({exc}).") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of sections (app:, server:, services:).")
    return ConfigDocument(data, path, walker.lines)


def load_document(path: Path, *, environ: Mapping[str, str] | None = None) -> ConfigDocument:
    """Read and parse the YAML file at ``path`` (see :func:`parse_document`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the configuration file {path}: {exc.strerror or exc}.") from exc
    return parse_document(text, path=path, environ=environ)
