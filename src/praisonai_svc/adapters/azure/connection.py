"""Build the three async service clients from the settings, with retries that give up in seconds.

Two ways in:

* a connection string: ``PRAISONAI_AZURE_STORAGE_CONNECTION_STRING`` for all three services, where
  ``PRAISONAI_AZURE_TABLE_CONN_STRING`` / ``PRAISONAI_AZURE_QUEUE_CONN_STRING`` override it for one service;
* ``PRAISONAI_AZURE_STORAGE_ACCOUNT_URL`` (``https://<account>.blob.core.windows.net``) with
  ``DefaultAzureCredential`` (managed identity in Azure, ``az login`` on a laptop); the queue and table URLs are
  derived from the blob URL.

The SDK defaults retry for up to a minute or more (storage: 15 s initial backoff; transport: 300 s connect
timeout). A job service must instead fail fast with StorageUnavailable (the API answers 503 + Retry-After, the
worker backs off), so every client gets a few quick retries and short socket timeouts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings

CONNECTION_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10
RETRY_TOTAL = 2  # at most 3 tries: a refused connection fails in 1-3 s, a hung server in ~35 s, never minutes
# Storage (blob, queue) policy: sleep before retry n = initial + base ** n  → ~1.4 s, then ~1.6 s.
_INITIAL_BACKOFF_SECONDS = 0.2
_INCREMENT_BASE = 1.2
_JITTER_SECONDS = 0.2
# Tables (azure-core policy): no sleep before the first retry, then factor * 2 ** (n - 1) → 1 s.
_TABLE_BACKOFF_FACTOR = 0.5

_CONN_VAR = "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING"
_URL_VAR = "PRAISONAI_AZURE_STORAGE_ACCOUNT_URL"


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NETRC")


def proxy_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for a proxy (or a netrc file): only then do the clients read it."""
    env = os.environ if environ is None else environ
    return any(env.get(name) or env.get(name.lower()) for name in _PROXY_VARIABLES)


def _transport_kwargs() -> dict[str, Any]:
    # ``use_env_settings`` makes aiohttp trust the environment, and aiohttp then looks for ~/.netrc credentials
    # on *every* request, in a thread: that was about half of the client CPU of a storage call. Turned on only
    # when a proxy or netrc is configured, so proxies keep working where they are set.
    return {"connection_timeout": CONNECTION_TIMEOUT_SECONDS, "read_timeout": READ_TIMEOUT_SECONDS,
            "use_env_settings": proxy_configured()}


def _storage_kwargs() -> dict[str, Any]:
    # Blob and queue clients build their async ExponentialRetry from these keywords (the async policy class is
    # not public in azure-storage-queue, so we configure it rather than construct it).
    return {
        "retry_total": RETRY_TOTAL, "initial_backoff": _INITIAL_BACKOFF_SECONDS, "increment_base": _INCREMENT_BASE,
        "random_jitter_range": _JITTER_SECONDS, **_transport_kwargs(),
    }


def _table_kwargs() -> dict[str, Any]:
    return {
        "retry_total": RETRY_TOTAL, "retry_backoff_factor": _TABLE_BACKOFF_FACTOR, "retry_backoff_max": 2,
        **_transport_kwargs(),
    }


def derive_service_url(blob_account_url: str, service: str) -> str:
    """``https://acct.blob.core.windows.net`` → ``https://acct.<service>.core.windows.net`` (any cloud suffix)."""
    parts = urlsplit(blob_account_url if "://" in blob_account_url else "https://" + blob_account_url)
    labels = (parts.hostname or "").split(".")
    if len(labels) < 3 or labels[1] != "blob":
        raise ConfigError(
            f"{_URL_VAR} must look like https://<account>.blob.core.windows.net (got {blob_account_url!r}); "
            f"for the emulator or custom endpoints use {_CONN_VAR}."
        )
    labels[1] = service
    netloc = ".".join(labels) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass
class StorageClients:
    """The three service clients (sharing nothing but the optional credential) and what to close."""

    tables: TableServiceClient
    queues: QueueServiceClient
    blobs: BlobServiceClient
    credential: Any = None  # azure.identity.aio.DefaultAzureCredential when an account URL is used
    _closed: bool = field(default=False, repr=False)

    async def close(self) -> None:
        """Close the clients' HTTP sessions and the credential. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for client in (self.tables, self.queues, self.blobs, self.credential):
            if client is not None:
                with contextlib.suppress(Exception):  # closing must not mask the error that led here
                    await client.close()


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def _credential() -> Any:
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


@dataclass(frozen=True)
class _Source:
    """Where one service is reached: a connection string (and the variable it came from) or a URL."""

    conn: str | None
    variable: str
    url: str | None

    def build(self, factory: Any, credential: Any, kwargs: dict[str, Any]) -> Any:
        try:
            if self.conn is not None:
                return factory.from_connection_string(self.conn, **kwargs)
            return factory(self.url, credential=credential, **kwargs)
        except ValueError as exc:
            raise ConfigError(f"{self.variable} is not usable for Azure Storage: {exc}") from exc


def _sources(settings: Settings) -> tuple[_Source, _Source, _Source]:
    """(blob, queue, table) sources; raises ConfigError naming the variable when one cannot be reached."""
    main = _secret(settings.azure_storage_connection_string)
    url = settings.azure_storage_account_url
    if main is None and not url:
        raise ConfigError(f"Blob storage needs {_CONN_VAR} or {_URL_VAR}.")
    blob = _Source(main, _CONN_VAR, None) if main is not None else _Source(None, _URL_VAR, url)

    def other(override: Any, variable: str, service: str) -> _Source:
        conn = _secret(override)
        if conn is not None:
            return _Source(conn, variable, None)
        if main is not None:
            return _Source(main, _CONN_VAR, None)
        return _Source(None, _URL_VAR, derive_service_url(url or "", service))

    queue = other(settings.azure_queue_conn_string, "PRAISONAI_AZURE_QUEUE_CONN_STRING", "queue")
    table = other(settings.azure_table_conn_string, "PRAISONAI_AZURE_TABLE_CONN_STRING", "table")
    return blob, queue, table


def blob_service_client(settings: Settings) -> tuple[BlobServiceClient, Any]:
    """The blob client alone (and the credential it uses, None with a connection string), for azure:// URLs."""
    blob = _sources(settings)[0]
    credential = _credential() if blob.conn is None else None
    return blob.build(BlobServiceClient, credential, _storage_kwargs()), credential


def open_clients(settings: Settings) -> StorageClients:
    """Construct the clients (no I/O happens here; the first request opens the connections)."""
    blob, queue, table = _sources(settings)
    needs_credential = any(source.conn is None for source in (blob, queue, table))
    credential = _credential() if needs_credential else None
    return StorageClients(
        tables=table.build(TableServiceClient, credential, _table_kwargs()),
        queues=queue.build(QueueServiceClient, credential, _storage_kwargs()),
        blobs=blob.build(BlobServiceClient, credential, _storage_kwargs()),
        credential=credential,
    )
