"""Shared fixtures for every tier."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_praisonai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; a developer's PRAISONAI_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("PRAISONAI_"):
            monkeypatch.delenv(name)
