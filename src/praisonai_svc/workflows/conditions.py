"""The condition step's operators and what happens next (continue, stop, goto)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from praisonai_svc.errors import JobFailed


class ConditionFailed(JobFailed):
    """A condition could not be evaluated."""


def _number(value: Any, side: str, operator: str) -> float:
    if isinstance(value, bool):
        raise ConditionFailed(f"{operator}: the {side} side is a boolean, not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConditionFailed(f"{operator}: the {side} side {value!r} is not a number") from None


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return str(item) in container
    if isinstance(container, list | tuple | dict):
        return item in container
    raise ConditionFailed(f"contains: the left side is a {type(container).__name__}, not text, a list or an object")


def _loose_equal(left: Any, right: Any) -> bool:
    """Equal as given, or as text when one side is text (templates render numbers to text in longer strings)."""
    if left == right:
        return True
    if isinstance(left, str) != isinstance(right, str) and not isinstance(left, dict | list) and not isinstance(
            right, dict | list):
        return str(left) == str(right)
    return False


def evaluate(left: Any, operator: str, right: Any) -> bool:
    """Apply one of equals, not_equals, contains, not_contains, greater_than, less_than."""
    if operator == "equals":
        return _loose_equal(left, right)
    if operator == "not_equals":
        return not _loose_equal(left, right)
    if operator == "contains":
        return _contains(left, right)
    if operator == "not_contains":
        return not _contains(left, right)
    if operator == "greater_than":
        return _number(left, "left", operator) > _number(right, "right", operator)
    if operator == "less_than":
        return _number(left, "left", operator) < _number(right, "right", operator)
    raise ConditionFailed(f"Unknown operator {operator!r}")


@dataclass(frozen=True)
class Next:
    """Where an execution goes after a condition: on (``continue``), ``stop``, or to step ``goto``."""

    action: str  # "continue" | "stop" | "goto"
    goto: str | None = None


def next_after(action: str) -> Next:
    if action.startswith("goto:"):
        return Next("goto", action[5:])
    return Next(action)
