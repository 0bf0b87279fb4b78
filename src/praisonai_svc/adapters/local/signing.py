"""HMAC-signed, expiring download links for the local backend (the local stand-in for Azure SAS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from praisonai_svc.errors import InvalidSignature

# Served by the local backend's own route (adapters/local/serving.py); it was /files until /files/{id} became
# the file records' path.
BLOBS_ROUTE = "/blobs"
FILES_ROUTE = BLOBS_ROUTE  # the former name


def load_or_create_key(path: Path) -> bytes:
    """The data dir's signing key, created once (atomically, mode 600) and shared by every process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            key = path.read_bytes()
            if key:
                return key
            time.sleep(0.01)
        raise InvalidSignature(f"Signing key file {path} is empty; delete it and restart.") from None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _mac(key: bytes, name: str, expires: int, filename: str, content_type: str) -> str:
    message = "\n".join([name, str(expires), filename, content_type]).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def link_path(name: str) -> str:
    """The URL path of blob ``name``: every segment percent-encoded (a space, ``#``, ``?``, ``%`` or any
    non-ASCII character in a name would otherwise make an invalid URL, or cut it short); the route decodes it."""
    return FILES_ROUTE + "/" + "/".join(quote(segment, safe="") for segment in name.split("/"))


def sign(key: bytes, name: str, expires: int, filename: str, content_type: str) -> str:
    """Path + query of a link to blob ``name`` valid until unix time ``expires`` (every part percent-encoded)."""
    query = urlencode({"exp": expires, "fn": filename, "ct": content_type,
                       "sig": _mac(key, name, expires, filename, content_type)}, quote_via=quote)
    return f"{link_path(name)}?{query}"


def verify(key: bytes, name: str, expires: str, filename: str, content_type: str, signature: str) -> None:
    """Raise :class:`InvalidSignature` unless the link is authentic and not expired."""
    try:
        expires_at = int(expires)
    except ValueError:
        raise InvalidSignature() from None
    expected = _mac(key, name, expires_at, filename, content_type)
    if not hmac.compare_digest(expected, signature) or expires_at < time.time():
        raise InvalidSignature()
