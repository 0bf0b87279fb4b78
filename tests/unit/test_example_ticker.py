"""The example examples/ticker-service: loads with its praisonai.yaml, the ticker leads and counts, the report
job reads its heading from the file (context.config)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.loader import load_app
from praisonai_svc.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ticker-service"


def test_ticker_example_runs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICK_SECONDS", "0.05")
    monkeypatch.setenv("REPORT_HEADING", "Unit heading")
    app = load_app(str(EXAMPLE / "handlers.py"))
    app.settings = Settings(_env_file=None, worker_poll_interval_min=0.01,  # type: ignore[call-arg]
                            worker_poll_interval_max=0.05)
    app.backend = memory_backend()
    assert app.config.options("report").config.heading == "Unit heading"
    with TestClient(create_api(app, embedded_worker=True)) as client:
        deadline = time.monotonic() + 30
        while client.get("/services/ticker/count").status_code != 200 or \
                client.get("/services/ticker/count").json()["count"] < 2:
            assert time.monotonic() < deadline, client.get("/services/ticker").json()
            time.sleep(0.05)
        ticker = client.get("/services/ticker").json()
        assert ticker["runs_on"] == "one" and ticker["instances"][0]["leader"] is True
        job = client.post("/jobs?service=report", json={"payload": {"period": "today"}}).json()
        while client.get(f"/jobs/{job['job_id']}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        runtime = client.app.state.service_runtime  # type: ignore[attr-defined]
        assert runtime.service_config("report").heading == "Unit heading"
