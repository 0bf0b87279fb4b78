"""The ``azure`` backend: Table Storage for jobs, Queue Storage for work, Blob Storage for outputs.

All calls use the SDKs' async clients, so the event loop never waits on storage. :func:`open_azure_backend`
checks the names, builds the clients (:mod:`.connection`) and creates the jobs table, the rate-limit table
(``<table>limits``), the records table (``<table>records``), the output container, the queue and its poison
queue (an existing one is fine) — at open time, never at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from azure.core.exceptions import ResourceExistsError

from praisonai_svc.adapters.azure.blobs import AzureBlobStore
from praisonai_svc.adapters.azure.connection import StorageClients, open_clients
from praisonai_svc.adapters.azure.errors import storage_errors
from praisonai_svc.adapters.azure.jobs import AzureJobStore
from praisonai_svc.adapters.azure.queue import AzureJobQueue
from praisonai_svc.adapters.azure.rate_limits import AzureRateLimiter, limits_table_name
from praisonai_svc.adapters.azure.records import AzureRecordStore, records_table_name
from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings

# Azure's naming rules, checked up front so a bad name fails at start naming the variable.
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_QUEUE_OR_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


def check_names(settings: Settings) -> None:
    """Raise ConfigError naming the setting whose value Azure would refuse."""
    problems = []
    if not _TABLE_NAME.match(settings.table_name):
        problems.append(f"PRAISONAI_TABLE_NAME={settings.table_name!r} (3-63 letters and digits, first a letter)")
    for variable, name in (
        ("PRAISONAI_QUEUE_NAME", settings.queue_name),
        ("PRAISONAI_POISON_QUEUE_SUFFIX", settings.poison_queue_name(settings.queue_name)),
        ("PRAISONAI_CONTAINER_NAME", settings.container_name),
    ):
        if not _QUEUE_OR_CONTAINER_NAME.match(name):
            problems.append(f"{variable} gives {name!r} (3-63 lowercase letters, digits and single hyphens)")
    if problems:
        raise ConfigError("Invalid Azure Storage names: " + "; ".join(problems))


async def _create_table(clients: StorageClients, name: str) -> None:
    with storage_errors(f"create table {name}"), contextlib.suppress(ResourceExistsError):
        await clients.tables.create_table(name)


async def _create_container(clients: StorageClients, name: str) -> None:
    with storage_errors(f"create container {name}"), contextlib.suppress(ResourceExistsError):
        await clients.blobs.create_container(name)


async def open_azure_backend(settings: Settings) -> Backend:
    """Connect to Azure Storage (or Azurite), create what is missing, and return the backend."""
    check_names(settings)
    clients = open_clients(settings)

    def make_queue(name: str) -> AzureJobQueue:
        return AzureJobQueue(clients.queues, name, settings.poison_queue_name(name))

    try:
        default_queue = make_queue(settings.queue_name)
        outcomes = await asyncio.gather(
            _create_table(clients, settings.table_name),
            _create_table(clients, limits_table_name(settings.table_name)),
            _create_table(clients, records_table_name(settings.table_name)),
            _create_container(clients, settings.container_name),
            default_queue.create_queues(),
            return_exceptions=True,  # let every creation finish before the clients are closed on failure
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
    except BaseException:
        await clients.close()
        raise
    blobs = AzureBlobStore(clients.blobs, clients.blobs.get_container_client(settings.container_name))
    jobs = AzureJobStore(clients.tables.get_table_client(settings.table_name), blobs)
    limiter = AzureRateLimiter(clients.tables.get_table_client(limits_table_name(settings.table_name)))
    records = AzureRecordStore(clients.tables.get_table_client(records_table_name(settings.table_name)))
    # Event feed writes at most every 0.1 s per process: at 60 jobs/s a feed record holds ~12 events, not ~1.5
    # (live streams see events up to 0.1 s later; docs/azure.md "What it costs").
    backend = Backend("azure", jobs, blobs, make_queue, records, rate_limiter=limiter, batch_write_gap=0.1)
    backend.closers.append(clients.close)
    return backend


__all__ = [
    "AzureBlobStore", "AzureJobQueue", "AzureJobStore", "AzureRateLimiter", "AzureRecordStore", "check_names",
    "open_azure_backend",
]
