"""Parse untrusted JSON and YAML with limits on size, depth and YAML aliases.

PyYAML's SafeLoader already refuses arbitrary objects; it does not stop a "billion laughs" alias bomb (a few
hundred bytes that expand to gigabytes once serialised) or pathological nesting. We count aliases and depth
while composing, before anything is constructed.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from praisonai_svc.errors import PayloadError

MAX_DEPTH = 64
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 200_000  # after alias expansion; a 1 MB document without aliases has fewer


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._weights: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise PayloadError(f"YAML uses more than {MAX_YAML_ALIASES} aliases; refusing to expand it.")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._weigh(node)
        return node

    def _weigh(self, node: Any) -> int:
        """Nodes this one expands to; an alias shares its anchor's node, so it weighs the anchor's full size."""
        known = self._weights.get(id(node))
        if known is not None:
            return known
        weight = 1
        if isinstance(node, yaml.SequenceNode):
            weight += sum(self._weights.get(id(child), 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            weight += sum(self._weights.get(id(k), 1) + self._weights.get(id(v), 1) for k, v in node.value)
        if weight > MAX_YAML_NODES:
            raise PayloadError(f"YAML expands to more than {MAX_YAML_NODES} nodes through its aliases; refusing it.")
        self._weights[id(node)] = weight
        return weight


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"JSON value {name} is not allowed; use a number or a string.")


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def parse_json(text: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    if text.count("[") + text.count("{") > MAX_DEPTH:  # fewer brackets than the limit cannot nest too deep
        _check_depth(value)
    return value


def parse_yaml(text: str) -> Any:
    try:
        value = yaml.load(text, Loader=_LimitedLoader)
    except RecursionError:
        raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1} column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PayloadError(f"Malformed YAML{at}: {problem}.") from None
    # Make sure it is JSON-representable (dates, sets and binary are not).
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"YAML contains values JSON cannot carry: {exc}.") from None
