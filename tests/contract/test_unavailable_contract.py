"""Storage that cannot be reached raises StorageUnavailable (the ports module's contract), from every port.

Only the azure adapter can lose its storage for real: here a private Azurite is killed under an open backend.
(The in-process adapters have nothing to lose; the API-level consequences — 503 + Retry-After — are tested in
the integration tier.)
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from praisonai_svc.backend import open_backend
from praisonai_svc.errors import StorageUnavailable
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.settings import Settings
from tests.support.azurite import start_azurite

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.contract.conftest import StorageNames


def _job() -> Job:
    now = utcnow()
    payload = {"nonce": uuid.uuid4().hex}
    return Job(job_id=uuid.uuid4().hex, service="svc", payload=payload, payload_hash=payload_hash(payload, "svc"),
               created_utc=now, updated_utc=now)


@pytest.mark.parametrize("adapter", ["azure"], indirect=True)
async def test_killed_azure_storage_raises_storage_unavailable(
    adapter: str, tmp_path: Path, names: StorageNames, settings_factory: Callable[..., Settings]
) -> None:
    emulator = start_azurite(tmp_path / "azurite")
    try:
        backend = await open_backend(settings_factory(
            data_dir=tmp_path / "data", azure_storage_connection_string=emulator.connection_string,
            queue_name=names.queue, table_name=names.table, container_name=names.container,
        ))
        try:
            queue = backend.queue(names.queue)
            stored = await backend.jobs.create(_job())
            await queue.send(stored.job_id)
            (message,) = await queue.receive(1, 30)
            await backend.blobs.put("svc/x/out.txt", b"x", content_type="text/plain", filename="out.txt")

            emulator.kill()
            calls: dict[str, Any] = {
                "jobs.check": backend.jobs.check(),
                "jobs.get": backend.jobs.get(stored.job_id),
                "jobs.create": backend.jobs.create(_job()),
                "jobs.update": backend.jobs.update(stored),
                "jobs.find_by_hash": backend.jobs.find_by_hash(stored.payload_hash),
                "jobs.list": backend.jobs.list(),
                "queue.check": queue.check(),
                "queue.send": queue.send(stored.job_id),
                "queue.receive": queue.receive(1, 30),
                "queue.renew": queue.renew(message, 30),
                "queue.ack": queue.ack(message),
                "queue.length": queue.length(),
                "blobs.check": backend.blobs.check(),
                "blobs.open": backend.blobs.open("svc/x/out.txt"),
                "blobs.exists": backend.blobs.exists("svc/x/out.txt"),
                "backend.check": backend.check(),
            }
            results = await asyncio.wait_for(asyncio.gather(*calls.values(), return_exceptions=True), 30)
            wrong = {
                name: repr(result) for name, result in zip(calls, results, strict=True)
                if not isinstance(result, StorageUnavailable)
            }
            assert not wrong, f"expected StorageUnavailable, got: {wrong}"
        finally:
            await backend.close()
    finally:
        emulator.kill()
