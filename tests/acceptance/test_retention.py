"""Retention on the CLI-started service, on local and on Azurite: ``prune --dry-run`` and ``prune`` remove what is
past retention (jobs, outputs, claims) and nothing else, a payload submitted again then makes a new job, and a
pruner killed with ``kill -9`` mid-batch and run again leaves no orphan output and removes nothing twice."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from praisonai_svc.backend import Backend, open_backend
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, JobResult, JobStatus, utcnow
from praisonai_svc.settings import Settings
from tests.acceptance.conftest import HANDLERS
from tests.support.service import CLI, Service, clean_env, running_service, wait_job

# The built-in pruner service is switched off here: these tests drive the pruner from the CLI themselves.
RETENTION = {"PRAISONAI_JOB_RETENTION": "6s", "PRAISONAI_IDEMPOTENCY_WINDOW": "6s",
             "PRAISONAI_SERVICES__PRUNER__ENABLED": "false"}


def prune_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "prune", "--app", str(HANDLERS), *args], env=clean_env(env), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def short_retention(backend_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Service, dict[str, str]]]:
    env = {**backend_env, **RETENTION}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=1) as svc:
        yield svc, env


def test_prune_dry_run_then_prune_removes_expired_jobs_outputs_and_claims(
    short_retention: tuple[Service, dict[str, str]],
) -> None:
    svc, env = short_retention
    with svc.client() as client:
        # Two jobs report progress (so they have an event log of their own), one is short (its events are in the
        # feed only: its record implies them).
        payloads = [{"mode": "sleep", "seconds": 0.3, "n": 0}, {"mode": "sleep", "seconds": 0.3, "n": 1},
                    {"mode": "echo", "n": 2}]
        ids = [client.post("/jobs", json={"payload": payload}).json()["job_id"] for payload in payloads]
        for job_id in ids:
            assert wait_job(client, job_id)["status"] == "done"
        link = client.get(f"/jobs/{ids[0]}/download", headers={"Accept": "application/json"}).json()["download_url"]
        link = link if link.startswith("http") else svc.url + link
        assert httpx.get(link).status_code == 200
        time.sleep(6.5)  # past the 6-second retention (waiting, not measuring)

        dry = prune_cli(env, "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        planned = json.loads(dry.stdout)
        assert planned["dry_run"] is True and planned["removed"]["job"] == 3 and planned["outputs"] == 3
        # Each job's event log (and its feed entries) expires with the job, not PRAISONAI_EVENTS_RETENTION_HOURS later.
        assert planned["removed"]["job_events"] == 2 and set(planned["removed"]) == {"job", "job_events", "job_feed"}
        assert client.get(f"/jobs/{ids[0]}").status_code == 200  # a dry run removes nothing
        assert httpx.get(link).status_code == 200

        done = prune_cli(env)
        assert done.returncode == 0, done.stderr
        assert "Removed 3 job record(s) past retention" in done.stdout and "Removed 3 output file(s)" in done.stdout
        for job_id in ids:
            assert client.get(f"/jobs/{job_id}").status_code == 404
        assert httpx.get(link).status_code in (403, 404)  # the output itself is gone, not only its row
        assert all(job["job_id"] not in ids for job in client.get("/jobs").json()["jobs"])

        again = client.post("/jobs", json={"payload": {"mode": "echo", "n": 0}})
        assert again.status_code == 202 and again.json()["job_id"] not in ids  # the claim went with the job
        assert "Nothing older than 1h to remove" in prune_cli(env, "--older-than", "1h").stdout


def test_same_payload_after_the_idempotency_window_is_a_new_job(
    short_retention: tuple[Service, dict[str, str]],
) -> None:
    svc, _env = short_retention
    with svc.client() as client:
        first = client.post("/jobs", json={"payload": {"mode": "echo", "text": "window"}})
        same = client.post("/jobs", json={"payload": {"mode": "echo", "text": "window"}})  # well within 6 s
        assert first.status_code == 202
        assert same.status_code == 200 and same.json()["job_id"] == first.json()["job_id"]
        wait_job(client, first.json()["job_id"])
        time.sleep(6.5)
        later = client.post("/jobs", json={"payload": {"mode": "echo", "text": "window"}})
        assert later.status_code == 202 and later.json()["job_id"] != first.json()["job_id"]


def _settings(env: dict[str, str]) -> Settings:
    overrides = {k[len("PRAISONAI_"):].lower(): v for k, v in env.items() if k.startswith("PRAISONAI_")}
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


async def _seed(backend: Backend, count: int, *, days_old: int) -> list[Job]:
    """Done jobs with outputs, created ``days_old`` days ago, written through the ports as a worker would."""
    created = utcnow() - timedelta(days=days_old)
    jobs = []
    for index in range(count):
        payload = {"seed": index, "age": days_old}
        job = Job(job_id=f"{days_old:04d}{index:028x}", service="work", payload=payload,
                  payload_hash=payload_hash(payload, "work"), created_utc=created, updated_utc=created)
        stored = await backend.jobs.create(job)
        name = f"work/{job.job_id}/out.txt"
        await backend.blobs.put(name, b"output", content_type="text/plain", filename="out.txt")
        jobs.append(await backend.jobs.update(stored.model_copy(update={
            "status": JobStatus.DONE, "result": JobResult(blob_name=name, content_type="text/plain",
                                                          filename="out.txt", size=6)})))
    return jobs


async def _state(backend: Backend, jobs: list[Job]) -> tuple[set[str], set[str]]:
    """(ids whose row still exists, ids whose output still exists)."""
    rows, outputs = set(), set()
    for job in jobs:
        if await backend.jobs.find_by_hash(job.payload_hash) is not None:
            rows.add(job.job_id)
        assert job.result is not None
        if await backend.blobs.exists(job.result.blob_name):
            outputs.add(job.job_id)
    return rows, outputs


def test_a_pruner_killed_mid_batch_and_run_again_leaves_no_orphan_and_removes_nothing_twice(
    backend_env: dict[str, str], tmp_path: Path,
) -> None:
    # Small batches, each followed by the pruner's pause: the run lasts seconds, so the kill lands mid-run.
    env = {**backend_env, "PRAISONAI_PRUNE_BATCH_SIZE": "10"}
    count = 1000 if "PRAISONAI_DATA_DIR" in backend_env else 300
    env.setdefault("PRAISONAI_DATA_DIR", str(tmp_path / "data"))

    async def seed() -> tuple[list[Job], list[Job]]:
        backend = await open_backend(_settings(env))
        try:
            return await _seed(backend, count, days_old=60), await _seed(backend, 5, days_old=1)
        finally:
            await backend.close()

    old, young = asyncio.run(seed())
    first = subprocess.Popen([*CLI, "prune", "--app", str(HANDLERS), "--json"], env=clean_env(env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    async def removed_so_far() -> int:
        backend = await open_backend(_settings(env))
        try:
            return count - len((await _state(backend, old[:: max(count // 50, 1)]))[0]) * max(count // 50, 1)
        finally:
            await backend.close()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None and asyncio.run(removed_so_far()) <= 0:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()

    async def after_crash() -> tuple[set[str], set[str]]:
        backend = await open_backend(_settings(env))
        try:
            return await _state(backend, old)
        finally:
            await backend.close()

    rows, outputs = asyncio.run(after_crash())
    assert 0 < len(rows) < count, "the kill must land mid-run (neither before nor after the pruning)"
    assert outputs <= rows, "an output whose row is gone would be an orphan"
    # The pruner deletes a batch's outputs, then the batch's rows: at most one batch is caught in between.
    assert len(rows - outputs) <= 10, "at most the batch in flight lost its outputs before its rows"

    second = prune_cli(env, "--json")
    assert second.returncode == 0, second.stderr
    report: dict[str, Any] = json.loads(second.stdout)
    assert report["removed"] == {"job": len(rows)}, "the second run removes exactly what the first left"

    async def final() -> tuple[tuple[set[str], set[str]], tuple[set[str], set[str]]]:
        backend = await open_backend(_settings(env))
        try:
            return await _state(backend, old), await _state(backend, young)
        finally:
            await backend.close()

    (old_rows, old_outputs), (young_rows, young_outputs) = asyncio.run(final())
    assert old_rows == set() and old_outputs == set()
    assert young_rows == young_outputs == {job.job_id for job in young}
