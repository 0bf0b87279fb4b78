"""A record store wrapper that counts the requests made through it (by method), for idle-cost tests."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Counting:
    """A record store that counts the requests made through it (by method)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attr(*args, **kwargs)

        return counted
