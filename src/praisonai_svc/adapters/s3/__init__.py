"""The ``s3`` blob store (``PRAISONAI_BLOB_URL=s3://...``, or seed 004's R2 variables). Needs
``pip install 'praisonai-svc[s3]'`` (boto3); importing this package without it raises ModuleNotFoundError, which
:mod:`praisonai_svc.blob_url` turns into that advice."""

from __future__ import annotations

import asyncio
from urllib.parse import SplitResult

from praisonai_svc.adapters.s3.blobs import S3BlobStore, make_client
from praisonai_svc.adapters.s3.location import S3Location, parse_location
from praisonai_svc.settings import Settings


async def open_blob_store(url: SplitResult, settings: Settings) -> S3BlobStore:
    """The store for ``s3://bucket[/prefix]?...``. The bucket must exist (buckets are created by operators, with
    their lifecycle and access rules); :meth:`S3BlobStore.check` says so when it does not."""
    location = parse_location(url, settings)
    client = await asyncio.to_thread(make_client, location)  # loading the service model takes ~100 ms of CPU
    return S3BlobStore(client, location)


__all__ = ["S3BlobStore", "S3Location", "make_client", "open_blob_store", "parse_location"]
