"""Fixtures of the storage-port contract suite: every test runs once per adapter (memory, local, azure).

The ``azure`` adapter runs against the Azurite emulator, started once per session. Azure is not optional: when
Azurite cannot be installed or started the azure tests fail (they are never skipped), because CI installs it.
Each test gets a fresh backend (a new data dir, or a new Azure table/queue/container) and closes it at teardown.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from praisonai_svc.backend import Backend, memory_backend, open_backend
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, utcnow
from praisonai_svc.ports import JobQueue
from praisonai_svc.settings import Settings
from tests.support.azurite import AzuriteHandle
from tests.support.moto_s3 import MotoHandle

ADAPTERS = ["memory", "local", "azure"]


@dataclass(frozen=True)
class Timing:
    """Lease lengths short enough for a fast suite, long enough for the adapter's clock resolution.

    Azure Queue visibility timeouts are whole seconds (and Azurite compares at second granularity), so the azure
    adapter gets 1 s leases and a 1 s margin; the embedded adapters keep float precision.
    """

    lease: float  # a visibility timeout / delay the test waits out
    margin: float  # how long past ``lease`` to wait before expecting the message back


TIMINGS = {
    "memory": Timing(lease=0.4, margin=0.2),
    "local": Timing(lease=0.5, margin=0.3),
    "azure": Timing(lease=1.0, margin=1.0),
}


@dataclass(frozen=True)
class StorageNames:
    """Per-test Azure resource names (valid for Azure's naming rules), also used as queue names elsewhere."""

    queue: str
    table: str
    container: str


def settings_for(**values: Any) -> Settings:
    """Settings from keyword arguments only: no ``.env`` file, and no Azure setting leaking in from the env."""
    defaults: dict[str, Any] = {
        "azure_storage_connection_string": None,
        "azure_table_conn_string": None,
        "azure_queue_conn_string": None,
        "azure_storage_account_url": None,
        "signing_key": None,
    }
    return Settings(_env_file=None, **{**defaults, **values})  # type: ignore[call-arg]


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    """:func:`settings_for`, for tests that open a backend of their own."""
    return settings_for


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """The adapter under test: ``memory``, ``local`` or ``azure``."""
    return str(request.param)


@pytest.fixture
def timing(adapter: str) -> Timing:
    return TIMINGS[adapter]


@pytest.fixture
def names() -> StorageNames:
    token = uuid.uuid4().hex[:16]
    return StorageNames(queue=f"q{token}", table=f"t{token}", container=f"c{token}")


@pytest.fixture
def backend_settings(
    adapter: str, request: pytest.FixtureRequest, tmp_path: Path, names: StorageNames
) -> Settings | None:
    """What the backend is opened from (None for memory, which is process-local and needs no settings).

    ``s3`` (blob suites only) is the local backend with its outputs in a fresh bucket of moto's S3 server.
    """
    if adapter == "memory":
        return None
    if adapter == "local":
        return settings_for(data_dir=tmp_path / "data")
    if adapter == "s3":
        moto: MotoHandle = request.getfixturevalue("moto_s3")
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        for name, value in moto.env.items():
            monkeypatch.setenv(name, value)
        return settings_for(data_dir=tmp_path / "data", blob_url=moto.blob_url(moto.create_bucket()))
    azurite: AzuriteHandle = request.getfixturevalue("azurite")  # started only when an azure test runs
    return settings_for(
        data_dir=tmp_path / "data",
        azure_storage_connection_string=azurite.connection_string,
        queue_name=names.queue,
        table_name=names.table,
        container_name=names.container,
    )


@pytest.fixture
async def backend(backend_settings: Settings | None) -> AsyncIterator[Backend]:
    opened = memory_backend() if backend_settings is None else await open_backend(backend_settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def twin_backend(backend: Backend, backend_settings: Settings | None) -> AsyncIterator[Backend]:
    """A second backend on the same storage, like another process (API vs worker, or a second worker).

    For memory, whose storage lives in one process, that is the same backend.
    """
    if backend_settings is None:
        yield backend
        return
    opened = await open_backend(backend_settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def queue(backend: Backend, names: StorageNames) -> JobQueue:
    return backend.queue(names.queue)


JobFactory = Callable[..., Job]


@pytest.fixture
def new_job() -> JobFactory:
    """Build an unsaved job; its payload is unique unless given, and its hash is scoped by service."""

    def build(
        payload: dict[str, Any] | None = None, *, service: str = "svc", created: datetime | None = None,
        **fields: Any,
    ) -> Job:
        payload = payload if payload is not None else {"nonce": uuid.uuid4().hex}
        created = created or utcnow()
        values: dict[str, Any] = {
            "job_id": uuid.uuid4().hex,
            "service": service,
            "payload": payload,
            "payload_hash": payload_hash(payload, service),
            "created_utc": created,
            "updated_utc": created,
        }
        return Job(**{**values, **fields})

    return build
