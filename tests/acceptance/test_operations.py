"""Operations with the real CLI as separate processes: metrics across processes, and the poison CLI.

* the worker's own metrics port (``worker --metrics-port``) next to the API's ``/metrics``;
* ``run`` with worker children and PROMETHEUS_MULTIPROC_DIR: the API's ``/metrics`` adds up every process;
* ``praisonai-svc poison list | show | requeue | purge`` on each real backend (local, azure on Azurite).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.conftest import HANDLERS
from tests.support.service import CLI, Service, clean_env, free_port, wait_http, wait_job


def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def run_jobs(client: httpx.Client, tmp_path: Path) -> list[dict[str, Any]]:
    ids = [client.post("/jobs", json={"payload": payload}).json()["job_id"]
           for payload in ({"n": 1}, {"n": 2}, {"mode": "fail", "n": 3})]
    return [wait_job(client, job_id) for job_id in ids]


def test_worker_serves_its_own_metrics_beside_the_api(tmp_path: Path) -> None:
    env = clean_env({"PRAISONAI_DATA_DIR": str(tmp_path / "data")})
    (tmp_path / "logs").mkdir()
    service = Service(str(HANDLERS), env, tmp_path / "logs")
    metrics_port = free_port()
    try:
        service.start_api()
        worker = service.start_worker("--metrics-port", str(metrics_port))
        wait_http(f"http://127.0.0.1:{metrics_port}/live", worker)
        with service.client() as client:
            jobs = run_jobs(client, tmp_path)
            assert [j["status"] for j in jobs] == ["done", "done", "error"]
            api = samples_of(client.get("/metrics").text)
        worker_metrics = samples_of(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
    finally:
        service.stop()
    assert value(worker_metrics, "praisonai_jobs_finished_total", service="work", status="done") == 2
    assert value(worker_metrics, "praisonai_jobs_finished_total", service="work", status="error") == 1
    assert value(worker_metrics, "praisonai_job_retries_total", service="work") == 2  # 3 attempts, 2 retries
    assert value(worker_metrics, "praisonai_jobs_poisoned_total", service="work") == 1
    # The API process ran no job: its own job counters are absent, its storage gauges are not.
    assert value(api, "praisonai_jobs_finished_total", service="work", status="done") == 0
    assert value(api, "praisonai_poison_queue_depth", service="work", queue="praison-jobs") == 1
    assert value(api, "praisonai_jobs", status="done") == 2 and value(api, "praisonai_jobs", status="error") == 1
    assert value(api, "praisonai_http_requests_total", method="POST", route="/jobs", status="202") == 3


def test_run_with_multiprocess_dir_adds_up_every_process(tmp_path: Path) -> None:
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    (multiproc / "stale_123.db").write_bytes(b"old run")  # `run` empties the directory first
    port = free_port()
    env = clean_env({"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
                     "PRAISONAI_WORKERS": "2"})
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([*CLI, "run", str(HANDLERS), "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/live", proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            jobs = run_jobs(client, tmp_path)
            assert [j["status"] for j in jobs] == ["done", "done", "error"]
            samples = samples_of(client.get("/metrics").text)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert not (multiproc / "stale_123.db").exists()
    assert value(samples, "praisonai_jobs_finished_total", service="work", status="done") == 2
    assert value(samples, "praisonai_jobs_finished_total", service="work", status="error") == 1
    assert value(samples, "praisonai_jobs_poisoned_total", service="work") == 1
    assert value(samples, "praisonai_http_requests_total", method="POST", route="/jobs", status="202") == 3


def poison_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "praisonai_svc", "poison", *args, "--app", str(HANDLERS)],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_poison_cli_lists_shows_requeues_with_history_and_purges(service: Service, tmp_path: Path) -> None:
    env = service.env
    with service.client() as client:
        failed = wait_job(client, client.post("/jobs", json={"payload": {"mode": "fail"}}).json()["job_id"])
        assert failed["status"] == "error"
        job_id = failed["job_id"]

        listed = poison_cli("list", "--json", env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        document = json.loads(listed.stdout)
        [entry] = document["messages"]
        assert entry["job_id"] == job_id and entry["job_status"] == "error" and entry["service"] == "work"
        assert "this handler always fails" in entry["reason"]
        assert document["queues"][0]["service"] == "work" and document["queues"][0]["poison_depth"] == 1

        text = poison_cli("list", env=env, cwd=tmp_path).stdout
        assert job_id in text and "poison queue 1" in text

        shown = json.loads(poison_cli("show", job_id, env=env, cwd=tmp_path).stdout)
        assert shown["status"] == "error" and shown["payload"] == {"mode": "fail"}
        assert [m["job_id"] for m in shown["poison_messages"]] == [job_id]

        requeued = poison_cli("requeue", job_id, env=env, cwd=tmp_path)
        assert requeued.returncode == 0, requeued.stderr
        assert "earlier outcomes kept: 1" in requeued.stdout
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = client.get(f"/jobs/{job_id}").json()
            if job["status"] == "error" and job["history"]:
                break
            time.sleep(0.1)
        assert job["status"] == "error" and job["attempts"] == 3  # ran again with a fresh budget
        [earlier] = job["history"]
        assert earlier["status"] == "error" and earlier["attempts"] == 3
        assert "this handler always fails" in earlier["error_msg"]

        again = poison_cli("requeue", job_id, env=env, cwd=tmp_path)  # fails again: poisoned again
        assert again.returncode == 0
        done = wait_job(client, client.post("/jobs", json={"payload": {"n": "ok"}}).json()["job_id"])
        refused = poison_cli("requeue", done["job_id"], env=env, cwd=tmp_path)
        assert refused.returncode == 1 and "only a job in error" in refused.stderr
        missing = poison_cli("requeue", "no-such-job", env=env, cwd=tmp_path)
        assert missing.returncode == 1 and "No job with that id" in missing.stderr

        deadline = time.monotonic() + 60
        while json.loads(poison_cli("list", "--json", env=env, cwd=tmp_path).stdout)["messages"] == []:
            assert time.monotonic() < deadline, "the requeued job never reached the poison queue again"
            time.sleep(0.2)
        purged = poison_cli("purge", "--yes", env=env, cwd=tmp_path)
        assert purged.returncode == 0 and "Deleted 1 poison message" in purged.stdout
        assert json.loads(poison_cli("list", "--json", env=env, cwd=tmp_path).stdout)["messages"] == []
        assert client.get(f"/jobs/{job_id}").json()["status"] == "error"  # the job record stays
