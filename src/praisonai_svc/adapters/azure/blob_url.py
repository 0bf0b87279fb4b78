"""``azure://container``: Azure Blob Storage for outputs alone, with the PRAISONAI_AZURE_* connection settings
(so jobs can stay on SQLite while outputs go to Azure)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import SplitResult

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob.aio import BlobServiceClient

from praisonai_svc.adapters.azure.blobs import AzureBlobStore
from praisonai_svc.adapters.azure.connection import blob_service_client
from praisonai_svc.adapters.azure.errors import storage_errors
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings


class OwnedAzureBlobStore(AzureBlobStore):
    """An AzureBlobStore that owns its service client (and credential) and closes them."""

    def __init__(self, service: BlobServiceClient, container: str, credential: Any) -> None:
        super().__init__(service, service.get_container_client(container))
        self._credential = credential

    async def close(self) -> None:
        for client in (self._service, self._credential):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.close()


async def open_blob_store(url: SplitResult, settings: Settings) -> AzureBlobStore:
    container = url.netloc or url.path.strip("/")
    if not container:
        raise ConfigError("PRAISONAI_BLOB_URL=azure://<container> needs a container name.")
    service, credential = blob_service_client(settings)
    store = OwnedAzureBlobStore(service, container, credential)
    try:
        with storage_errors(f"create container {container}"), contextlib.suppress(ResourceExistsError):
            await service.create_container(container)
    except BaseException:
        await store.close()
        raise
    return store
