"""PRAISONAI_CORS_ORIGINS must name exact origins: the browser compares them as strings, character by character.

``https://wp.example/`` (a trailing slash), ``https://wp.example/page`` or ``https://*.example`` never match
anything, so CORS would fail silently in the browser; they are refused at start instead. ``*`` (any origin,
the local-development default) stands alone: the API never sends credentials-mode CORS headers, so ``*`` can
never be combined with credentials.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def _problem(origin: str) -> str | None:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must start with http:// or https:// and name a host"
    if "*" in origin:
        return "wildcards are not supported; list each origin"
    if parts.path or parts.query or parts.fragment or origin.endswith(("/", "?", "#")):
        return "must have no path, not even a trailing slash"
    if parts.username or parts.password:
        return "must not contain credentials"
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        return "has an invalid port"
    return None


def check_origins(origins: list[str]) -> list[str]:
    """The origins unchanged; ValueError naming the first one the browser could never match."""
    if "*" in origins:
        if len(origins) > 1:
            raise ValueError("'*' allows any origin and cannot be combined with a list of origins")
        return origins
    for origin in origins:
        problem = _problem(origin)
        if problem is not None:
            raise ValueError(f"{origin!r} is not an exact origin like https://wp.example: it {problem}")
    return origins
