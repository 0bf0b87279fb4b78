"""Issue 3's reliability run on Azurite: 200 jobs, 3 worker processes killed with kill -9 at random moments, and
the storage emulator itself restarted once mid-run (on-disk persistence, so its data survives).

Invariants: every job ends terminal (done), every done job has exactly one output blob, no job is lost, and no job
ever runs twice at the same time (attempt intervals never overlap).
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
from azure.storage.blob import BlobServiceClient

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.test_reliability import assert_never_concurrent
from tests.support.azurite import start_azurite
from tests.support.service import running_service, wait_job

JOBS = 200
WORKERS = 3  # each runs 4 jobs at once; 200 one-second jobs keep them busy through the chaos


def test_kill_storm_and_emulator_restart_lose_nothing(tmp_path: Path) -> None:
    markers_dir = tmp_path / "markers"
    markers_dir.mkdir()
    rng = random.Random(2026)
    suffix = uuid.uuid4().hex[:8]
    with start_azurite(tmp_path / "azurite", in_memory=False) as azurite:
        env = {
            "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "PRAISONAI_QUEUE_NAME": f"rel-{suffix}", "PRAISONAI_TABLE_NAME": f"rel{suffix}",
            "PRAISONAI_CONTAINER_NAME": f"rel-{suffix}", "PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "3",
            "PRAISONAI_MAX_RETRY_COUNT": "10", "PRAISONAI_WORKER_CONCURRENCY": "4",
        }
        with running_service(HANDLERS, env, tmp_path / "logs", workers=WORKERS) as svc, svc.client() as client:
            ids = [_submit(client, i, markers_dir) for i in range(JOBS)]
            chaos = threading.Thread(target=_chaos, args=(svc, azurite, rng), daemon=True)
            chaos.start()
            chaos.join(timeout=120)
            finished = [wait_job(client, job_id, timeout=240) for job_id in ids]
            assert [j["job_id"] for j in finished if j["status"] != "done"] == []
            retried = sum(1 for j in finished if j["attempts"] > 1)
            assert retried >= 3, f"the chaos should have interrupted running jobs (only {retried} retried)"
            logs = svc.logs()
        blobs = _output_blobs(azurite.connection_string, f"rel-{suffix}")
    for index, job_id in enumerate(ids):
        assert blobs.get(job_id) == 1, f"{job_id} has {blobs.get(job_id, 0)} output blobs"
        assert_never_concurrent(markers_dir, job_id)
        ends = [m for m in _markers(markers_dir, job_id) if m["event"] == "end"]
        assert ends, f"job {index} finished without its handler completing"
    assert "worker started" in logs


def _submit(client: httpx.Client, index: int, markers_dir: Path) -> str:
    body = {"payload": {"i": index, "mode": "sleep", "seconds": 1.0, "marker_dir": str(markers_dir)}}
    for _ in range(50):  # the emulator restart may make a submission answer 503: retry as a client should
        response = client.post("/jobs", json=body)
        if response.status_code in (200, 202):
            return str(response.json()["job_id"])
        assert response.status_code == 503, response.text
        time.sleep(float(response.headers.get("retry-after", "1")))
    raise AssertionError("submission kept failing")


def _chaos(svc, azurite, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    """Kill a random worker every ~1-2 s (and start a replacement); restart the emulator once, midway."""
    for round_ in range(8):
        time.sleep(rng.uniform(1.0, 2.0))
        alive = [w for w in svc.workers if w.poll() is None]
        if alive:
            rng.choice(alive).send_signal(signal.SIGKILL)
        svc.start_worker()
        if round_ == 3:
            azurite.restart()


def _output_blobs(connection_string: str, container: str) -> dict[str, int]:
    service = BlobServiceClient.from_connection_string(connection_string, api_version="2021-12-02")
    counts: dict[str, int] = {}
    for blob in service.get_container_client(container).list_blobs(name_starts_with="work/"):
        job_id = blob.name.split("/")[1]
        counts[job_id] = counts.get(job_id, 0) + 1
    return counts


def _markers(marker_dir: Path, job_id: str) -> list[dict[str, object]]:
    path = marker_dir / job_id
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
