"""Acceptance tier: the CLI started as subprocesses, driven over HTTP, on each real backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import Service, running_service

HANDLERS = Path(__file__).parent / "svc" / "handlers.py"
BACKENDS = ["local", "azure"]


@pytest.fixture(params=BACKENDS)
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """PRAISONAI_* variables selecting a fresh, empty backend of the parametrized kind."""
    if request.param == "local":
        return {"PRAISONAI_DATA_DIR": str(tmp_path / "data")}
    handle = request.getfixturevalue("azurite")
    suffix = uuid.uuid4().hex[:10]
    return {
        "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING": handle.connection_string,  # type: ignore[attr-defined]
        "PRAISONAI_QUEUE_NAME": f"jobs-{suffix}",
        "PRAISONAI_TABLE_NAME": f"jobs{suffix}",
        "PRAISONAI_CONTAINER_NAME": f"out-{suffix}",
    }


@pytest.fixture
def markers_dir(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def service(backend_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    """API + one worker on the parametrized backend."""
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=1) as svc:
        yield svc
