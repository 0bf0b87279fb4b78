"""Where plugin results go: content-addressed keys in the blob store, and the link a client gets for them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from praisonai_svc.filenames import safe_filename
from praisonai_svc.ports import BlobStore

OUTPUT_PREFIX = "uploads/"


@dataclass(frozen=True)
class StoredOutput:
    """The stored key and the URL for it: public (``expires_utc`` None) or signed and expiring."""

    key: str
    url: str
    expires_utc: datetime | None


def output_key(data: bytes, filename: str) -> str:
    """``uploads/{sha256(data)[:16]}_{filename}`` (the seed's layout, ``filename`` made safe): the same bytes land
    on the same key."""
    return f"{OUTPUT_PREFIX}{hashlib.sha256(data).hexdigest()[:16]}_{safe_filename(filename)}"


class OutputStore:
    """Puts outputs into ``blobs``; links are ``{public_base}/{key}`` when a public base is set, else signed."""

    def __init__(self, blobs: BlobStore, *, public_base: str | None, link_lifetime: timedelta) -> None:
        self.blobs = blobs
        self.public_base = public_base.rstrip("/") if public_base else None
        self.link_lifetime = link_lifetime

    async def store(self, data: bytes, filename: str, content_type: str) -> StoredOutput:
        key = output_key(data, filename)
        name = safe_filename(filename)
        await self.blobs.put(key, data, content_type=content_type, filename=name)
        if self.public_base is not None:
            return StoredOutput(key, f"{self.public_base}/{quote(key, safe='/')}", None)
        link = await self.blobs.signed_url(key, expires_in=self.link_lifetime, filename=name,
                                           content_type=content_type)
        return StoredOutput(key, link.url, link.expires_utc)
