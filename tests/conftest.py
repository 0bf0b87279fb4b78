"""Shared fixtures for every tier."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.azurite import AzuriteHandle, start_azurite
from tests.support.moto_s3 import MotoHandle, start_moto


@pytest.fixture(autouse=True)
def _no_praisonai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; a developer's PRAISONAI_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("PRAISONAI_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteHandle]:
    """One Azurite for the whole session, started on first use; every test gets its own queue/table/container
    names, so the contract and acceptance tiers share it safely."""
    handle = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoHandle]:
    """One moto S3 server (a real HTTP server in a subprocess) for the session, started on first use; tests
    create a bucket each."""
    handle = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield handle
    finally:
        handle.stop()
