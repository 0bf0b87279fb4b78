"""Step templates: ``{{ trigger.file_id }}``, ``{{ steps.deck.download_url }}``, rendered in Jinja2's sandbox.

The sandbox refuses attribute access to internals (``{{ ''.__class__ }}``), unsafe callables and oversized
ranges; undefined names are errors rather than empty strings, so a typo fails the step with a message naming
it instead of sending an empty value downstream. A string that is exactly one ``{{ expression }}`` keeps the
expression's type (a number stays a number, a list a list); anything else renders to text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from praisonai_svc.errors import JobFailed

MAX_RENDERED_CHARS = 1_000_000
_SINGLE_EXPRESSION = re.compile(r"^\{\{(?!.*\{\{).*\}\}$", re.DOTALL)


class TemplateFailed(JobFailed):
    """A step's template could not be rendered."""


_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render_value(value: Any, scope: Mapping[str, Any], *, where: str = "template") -> Any:
    """``value`` with every string inside it rendered against ``scope`` (dicts and lists recursively)."""
    if isinstance(value, str):
        return render_text(value, scope, where=where)
    if isinstance(value, list):
        return [render_value(item, scope, where=f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: render_value(item, scope, where=f"{where}.{key}") for key, item in value.items()}
    return value


def render_text(text: str, scope: Mapping[str, Any], *, where: str = "template") -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    try:
        if _SINGLE_EXPRESSION.match(text.strip()) and "{%" not in text:
            expression = text.strip()[2:-2]
            compiled = _TEXT.compile_expression(expression, undefined_to_none=False)
            return _plain(compiled(**scope), where)
        rendered = _TEXT.from_string(text).render(**scope)
    except TemplateError as exc:
        raise TemplateFailed(f"{where}: template {_short(text)} failed: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateFailed(f"{where}: template {_short(text)} failed: {type(exc).__name__}: {exc}") from exc
    if len(rendered) > MAX_RENDERED_CHARS:
        raise TemplateFailed(f"{where}: template renders to more than {MAX_RENDERED_CHARS} characters")
    return rendered


def _plain(value: Any, where: str) -> Any:
    """Only JSON-like values leave the sandbox (no functions, classes or other live objects)."""
    if isinstance(value, Undefined):
        str(value)  # raises UndefinedError (or SecurityError) naming what was missing or refused
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item, where) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item, where) for key, item in value.items()}
    raise TemplateFailed(f"{where}: the template gave a {type(value).__name__}, not a JSON value")


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")
