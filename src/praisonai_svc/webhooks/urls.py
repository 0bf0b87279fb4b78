"""What a webhook URL may look like; where it may point is decided when it is called (:mod:`.transport`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from praisonai_svc.errors import PayloadError


def check_callback_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL without credentials; PayloadError saying what is wrong otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PayloadError(f"callback_url is not a valid URL ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PayloadError("callback_url must be an absolute http:// or https:// URL.")
    if parts.username or parts.password:
        raise PayloadError("callback_url must not carry credentials; verify X-PraisonAI-Signature instead.")
    if port == 0:
        raise PayloadError("callback_url has an invalid port.")
    return url
