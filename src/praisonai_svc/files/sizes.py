"""Sizes with units, as the seed writes them (``MAX_FILE_SIZE=10MB``)."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """``10MB`` → 10485760. Units K, M, G, T with an optional ``B`` or ``iB``, any case; 1 MB = 1024 KB, as the
    seed's 10MB default meant. A bare number is bytes. Raises ValueError naming the accepted forms."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size: use bytes or a number with KB, MB or GB (e.g. 10MB)")
    number, unit, _suffix = match.groups()
    return int(float(number) * _FACTORS[unit.lower()])


def format_size(size: int) -> str:
    """10485760 → ``10 MB`` (for messages)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}" if size % factor else f"{size // factor} {unit}"
    return f"{size} bytes"
