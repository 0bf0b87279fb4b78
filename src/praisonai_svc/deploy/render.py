"""Fill the deployment templates (``deploy/templates``) in: ``${name}`` placeholders, values JSON-encoded.

The templates are the readable source of truth; rendering only fills in names and values (only the braced
form is a placeholder, so a ``$`` elsewhere needs no escaping). YAML templates get
every value as a JSON literal (a JSON string, number, list or object is valid YAML flow syntax), so quoting is
always right; JSON templates get strings escaped in place (their placeholders sit inside quotes) and numbers and
booleans as they are. The result is parsed, to catch a broken template at once, and keys whose value is null are
dropped (optional parts such as the scale rule's ``identity``). :class:`~praisonai_svc.deploy.az.Secret` values
render as ``<redacted>`` unless ``reveal`` is set, which only the file handed to ``az`` uses.
"""

from __future__ import annotations

import json
from importlib import resources
from string import Template
from typing import Any

import yaml

from praisonai_svc.deploy.az import REDACTED, Secret


class _Braced(Template):
    """Only ``${name}`` is a placeholder: a bare ``$`` (ARM's ``$schema``, a ``${...}`` in a comment) stays as is."""

    pattern = r"(?P<escaped>(?!))|\$\{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*)\}|(?P<named>(?!))|(?P<invalid>(?!))"  # type: ignore[assignment]


def template_text(name: str) -> str:
    return (resources.files("praisonai_svc.deploy") / "templates" / name).read_text(encoding="utf-8")


def _plain(value: Any, reveal: bool) -> Any:
    if isinstance(value, Secret):
        return value.value if reveal else REDACTED
    if isinstance(value, dict):
        return {key: _plain(item, reveal) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, reveal) for item in value]
    return value


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _prune(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value


def render_yaml(name: str, values: dict[str, Any], *, reveal: bool = False) -> tuple[dict[str, Any], str]:
    """(document, YAML text) of template ``name`` with ``values`` filled in."""
    literals = {key: json.dumps(_plain(value, reveal)) for key, value in values.items()}
    document = _prune(yaml.safe_load(_Braced(template_text(name)).substitute(literals)))
    return document, yaml.safe_dump(document, sort_keys=False, width=120)


def _json_fragment(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)[1:-1]  # the template supplies the quotes
    return json.dumps(value)


def render_json(name: str, values: dict[str, Any], *, reveal: bool = False) -> tuple[dict[str, Any], str]:
    """(document, JSON text) of template ``name`` with ``values`` filled in."""
    literals = {key: _json_fragment(_plain(value, reveal)) for key, value in values.items()}
    document = json.loads(_Braced(template_text(name)).substitute(literals))
    return document, json.dumps(document, indent=2, ensure_ascii=False)
