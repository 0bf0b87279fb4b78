"""Blob storage chosen by URL (``PRAISONAI_BLOB_URL``), through a scheme registry with lazy imports.

=========================================  =========================================================
``file:///var/lib/praisonai/blobs``        files on disk, links signed by the API (the local default)
``azure://container``                      Azure Blob Storage, with the PRAISONAI_AZURE_* connection
``s3://bucket?endpoint_url=&region=``      AWS S3, Cloudflare R2, MinIO (``pip install praisonai-svc[s3]``)
=========================================  =========================================================

Seed 004's ``R2_ACCOUNT_ID`` + ``R2_BUCKET_NAME`` (+ ``R2_ACCESS_KEY_ID`` / ``R2_SECRET_ACCESS_KEY``) stand for
``s3://<bucket>?endpoint_url=https://<account>.r2.cloudflarestorage.com&region=auto``. Each scheme's module
offers ``async def open_blob_store(url: SplitResult, settings) -> BlobStore``; its SDK is imported only when the
scheme is used, and a missing SDK names the pip extra that installs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import SplitResult, urlencode, urlsplit

from praisonai_svc.errors import ConfigError
from praisonai_svc.ports import BlobStore
from praisonai_svc.settings import Settings

BLOB_URL_VAR = "PRAISONAI_BLOB_URL"


@dataclass(frozen=True)
class Scheme:
    """Where a scheme's adapter lives and which pip extra brings its SDK."""

    module: str
    extra: str | None
    example: str


BLOB_SCHEMES: dict[str, Scheme] = {
    "file": Scheme("praisonai_svc.adapters.local.blob_url", None, "file:///var/lib/praisonai/blobs"),
    "azure": Scheme("praisonai_svc.adapters.azure.blob_url", "azure", "azure://praison-output"),
    "s3": Scheme("praisonai_svc.adapters.s3", "s3", "s3://my-bucket?region=eu-west-1"),
}


def import_adapter(module: str, extra: str | None, purpose: str) -> ModuleType:
    """Import an adapter module; a missing third-party SDK becomes a ConfigError naming the pip command."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if extra is None or (exc.name or "").startswith("praisonai_svc"):
            raise
        raise ConfigError(
            f"{purpose} needs the optional package '{exc.name}', which is not installed: "
            f"pip install 'praisonai-svc[{extra}]'"
        ) from exc


def r2_blob_url(settings: Settings) -> str | None:
    """The s3:// URL that seed 004's R2_* variables describe (None when none is set)."""
    if not (settings.r2_account_id or settings.r2_bucket_name):
        return None
    missing = [name for name, value in (("R2_ACCOUNT_ID", settings.r2_account_id),
                                        ("R2_BUCKET_NAME", settings.r2_bucket_name)) if not value]
    if missing:
        raise ConfigError(f"Cloudflare R2 needs {' and '.join(missing)} as well (or set {BLOB_URL_VAR}).")
    query = urlencode({"endpoint_url": f"https://{settings.r2_account_id}.r2.cloudflarestorage.com",
                       "region": "auto"})
    return f"s3://{settings.r2_bucket_name}?{query}"


def configured_blob_url(settings: Settings) -> str | None:
    """PRAISONAI_BLOB_URL, else the R2 variables' URL, else None (the job backend's own blob store)."""
    return settings.blob_url or r2_blob_url(settings)


def parse_blob_url(url: str) -> tuple[SplitResult, Scheme]:
    parts = urlsplit(url)
    scheme = BLOB_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        examples = ", ".join(s.example for s in BLOB_SCHEMES.values())
        raise ConfigError(f"{BLOB_URL_VAR}: unknown scheme {parts.scheme!r}; use one of: {examples}")
    return parts, scheme


async def open_blob_store(url: str, settings: Settings) -> BlobStore:
    """Open the blob store ``url`` names (ConfigError for a bad URL or a missing extra)."""
    parts, scheme = parse_blob_url(url)
    module = import_adapter(scheme.module, scheme.extra, f"{BLOB_URL_VAR}={parts.scheme}://...")
    store: BlobStore = await module.open_blob_store(parts, settings)
    return store
