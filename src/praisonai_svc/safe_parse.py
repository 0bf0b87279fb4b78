"""Parse untrusted JSON and YAML with limits on size, nodes, depth, YAML aliases and time.

Both parsers refuse, with a :class:`~praisonai_svc.errors.PayloadError` naming the problem (HTTP 400), what the
rest of the service could not store or hash: NaN and infinite numbers (``1e400`` overflows to infinity),
integers of more than :data:`MAX_INT_DIGITS` digits, lone UTF-16 surrogates (``"\\ud800"``), documents nested
deeper than :data:`MAX_DEPTH` or with more than :data:`MAX_NODES` values, and documents that take longer than
their time budget (``deadline``, a :func:`time.monotonic` value).

YAML is limited while it is composed (:mod:`praisonai_svc.yaml_limits`). JSON is parsed by the standard
library's C parser, which is linear in the size of the text (~20 ms per MB on a slow CPU) and cannot be
interrupted: its value count, depth and the deadline are checked right after it (the count only when the text
has more separators than the limit allows), before anything is done with the value.
The API runs both off the event loop (:mod:`praisonai_svc.api.parse_pool`).
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any

import yaml

from praisonai_svc.errors import PayloadError
from praisonai_svc.yaml_limits import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_YAML_ALIASES,
    MAX_YAML_NODES,
    check_deadline,
    check_text_value,
    load_limited,
)

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "MAX_NODES", "MAX_YAML_ALIASES", "MAX_YAML_NODES", "json_needs_walk",
           "parse_json", "parse_yaml"]

MAX_NODES = MAX_YAML_NODES  # one limit for both formats: values, keys included
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"JSON value {name} is not allowed; use a number or a string.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PayloadError(f"JSON number {text[:40]} is too large: it would be infinity, which JSON cannot carry. "
                           "Send a smaller number or a string.")
    return value


_CONTAINERS = (dict, list)


def _walk(value: Any, check_text: bool) -> None:
    """Depth and value count (keys included) of a parsed JSON value, and (when asked) that every string is
    valid Unicode. Only containers are visited one by one; their scalars are counted by ``len``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 1
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.")
        is_dict = isinstance(item, dict)
        nodes += 2 * len(item) if is_dict else len(item)
        if nodes > MAX_NODES:
            raise PayloadError(f"JSON document has more than {MAX_NODES} values; refusing it. "
                               "Send a smaller document.")
        children = item.values() if is_dict else item
        if check_text:
            for text in (*item, *children) if is_dict else children:
                if isinstance(text, str):
                    check_text_value(text)
        stack.extend((child, depth + 1) for child in children if child.__class__ in _CONTAINERS)


def _most_values(text: str) -> int:
    """No JSON text holds more values than this: each one after the first follows a ``[``, ``{``, ``,`` or ``:``
    (those inside strings make it an over-estimate, never an under-estimate)."""
    return 1 + text.count("[") + text.count("{") + text.count(",") + text.count(":")


_decoders = threading.local()  # one decoder per thread (json.loads with hooks would build one per call)


def _decoder() -> json.JSONDecoder:
    decoder: json.JSONDecoder | None = getattr(_decoders, "decoder", None)
    if decoder is None:
        decoder = _decoders.decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)
    return decoder


def _loads(text: str) -> Any:
    """``json.loads(text, parse_constant=..., parse_float=...)``, with this thread's decoder."""
    if text.startswith("\ufeff"):  # what json.loads refuses before decoding
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _decoder().decode(text)


def parse_json(text: str, *, deadline: float | None = None, budget_seconds: float | None = None,
               walk: bool = True) -> Any:
    """The value of ``text``, within the limits. ``walk=False`` only for a text :func:`json_needs_walk` has
    already found not to need the walk (the cheap bounds are not worked out twice)."""
    try:
        value = _loads(text)
    except RecursionError:
        raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except ValueError as exc:  # int/str conversion limit: the only other ValueError json.loads raises
        raise PayloadError(f"JSON integer with more than {MAX_INT_DIGITS} digits is not accepted; send it as a "
                           "string.") from exc
    check_deadline(deadline, budget_seconds)
    if not walk:
        return value
    check_text = _SURROGATE_ESCAPE.search(text) is not None  # a lone surrogate can only come from an escape
    if check_text or _may_break_limits(text):
        _walk(value, check_text)
    return value


def json_needs_walk(text: str) -> bool:
    """Whether :func:`parse_json` would walk the parsed value of ``text`` (Python work, ~0.5 µs per container)
    rather than let cheap bounds from the text vouch for it."""
    return _SURROGATE_ESCAPE.search(text) is not None or _may_break_limits(text)


def _may_break_limits(text: str) -> bool:
    """False when the text alone proves the limits hold: fewer brackets cannot nest too deep, fewer separators
    hold fewer values."""
    return text.count("[") + text.count("{") > MAX_DEPTH or _most_values(text) > MAX_NODES


def parse_yaml(text: str, *, deadline: float | None = None, budget_seconds: float | None = None) -> Any:
    try:
        value = load_limited(text, deadline=deadline, budget_seconds=budget_seconds)
    except RecursionError:
        raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1} column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit (1,000), met while it reads ahead
            raise PayloadError(f"Document is nested deeper than {MAX_DEPTH} levels.") from None
        raise PayloadError(f"Malformed YAML{at}: {problem}.") from None
    # Make sure it is JSON-representable (dates, sets, binary and recursive aliases are not); this also turns
    # non-string mapping keys into strings, as JSON would.
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"YAML contains values JSON cannot carry: {exc}.") from None
