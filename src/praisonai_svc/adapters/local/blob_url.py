"""``file:///path``: the local blob store in a directory of one's choosing (links signed like the default's)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, unquote

from praisonai_svc.adapters.local.blobs import FileBlobStore
from praisonai_svc.adapters.local.signing import load_or_create_key
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings


def path_of(url: SplitResult) -> Path:
    """``file:///abs/dir`` → /abs/dir; ``file://rel/dir`` (a host part) → rel/dir, relative to the cwd."""
    host = "" if url.netloc in ("", "localhost") else url.netloc
    text = unquote(host + url.path)
    if not text:
        raise ConfigError("PRAISONAI_BLOB_URL=file://... needs a directory, e.g. file:///var/lib/praisonai/blobs")
    return Path(text)


async def open_blob_store(url: SplitResult, settings: Settings) -> FileBlobStore:
    root = path_of(url).resolve()
    root.mkdir(parents=True, exist_ok=True)
    key = (settings.signing_key.get_secret_value().encode() if settings.signing_key is not None
           else load_or_create_key(settings.data_dir / "signing.key"))
    return FileBlobStore(root, key)
