"""Issue 18 by doing the thing: a batch of 500 over HTTP, in-process submits from a second process, kill -9 and
SIGSTOP/SIGCONT of a worker mid-job with a lease far longer than the recovery time (so only the heartbeats can
explain a fast recovery)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.test_job_lifecycle import _wait_marker, submit
from tests.support.service import markers, running_service, wait_job

LONG_LEASE = {"PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "120", "PRAISONAI_WORKER_HEARTBEAT_SECONDS": "1",
              "PRAISONAI_WORKER_CONCURRENCY": "1"}


def test_batch_of_500_with_3_bad_items_queues_497_and_names_each_error(backend_env, tmp_path):
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        items = [{"payload": {"n": i}} for i in range(500)]
        items[10] = {"payload": "not an object"}
        items[250] = {"payload": {"n": 250}, "service": "no-such-service"}
        items[499] = {"payload": {"n": 499}, "extra": True}
        response = client.post("/jobs/batch", json={"jobs": items})
        assert response.status_code == 207, response.text
        body = response.json()
        results = body["results"]
        assert [r["index"] for r in results] == list(range(500))
        assert (body["queued"], body["existing"], body["failed"]) == (497, 0, 3)
        errors = {r["index"]: r for r in results if r["status"] >= 400}
        assert set(errors) == {10, 250, 499}
        assert errors[10]["status"] == 400 and '"payload" must be an object' in errors[10]["detail"]
        assert errors[250]["status"] == 400 and "no-such-service" in errors[250]["detail"]
        assert errors[499]["status"] == 400 and "extra" in errors[499]["detail"]
        queued = [r["job"]["job_id"] for r in results if r["status"] == 202]
        assert len(set(queued)) == 497
        for job_id in queued[::50]:
            assert wait_job(client, job_id)["status"] == "done"


SECOND_PROCESS = """
import json, sys
sys.path.insert(0, {svc_dir!r})
from handlers import app
one = app.submit_sync({{"from": "both"}}, service="work")
many = app.submit_many_sync([{{"from": "python", "i": i}} for i in range(20)] + [{{"from": "both"}}], service="work")
print(json.dumps({{"one": [one.job.job_id, one.created],
                  "many": [[m.job.job_id, m.created] for m in many]}}))
"""


def test_in_process_submit_from_a_second_process_shares_idempotency_with_http(backend_env, tmp_path):
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        over_http = submit(client, {"from": "both"}, service="work")
        script = SECOND_PROCESS.format(svc_dir=str(Path(HANDLERS).parent))
        done = subprocess.run([sys.executable, "-c", script], env=svc.env, capture_output=True, timeout=120,
                              cwd=tmp_path, check=False)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
        assert answer["one"] == [over_http["job_id"], False]  # the same job as the HTTP submission
        created = [job_id for job_id, new in answer["many"] if new]
        assert len(created) == 20 and answer["many"][-1] == [over_http["job_id"], False]
        for job_id in created:
            assert wait_job(client, job_id)["status"] == "done"  # the service's worker runs them


def _running_pid(markers_dir: Path, job_id: str) -> int:
    _wait_marker(markers_dir, job_id, "start")
    return int(markers(markers_dir, job_id)[0]["pid"])


def _peer_runs_a_job(client, markers_dir: Path, busy_pid: int) -> None:
    """Let the other worker run a job while ``busy_pid`` holds its one slot: from then on that peer watches the
    busy worker's heartbeats every beat (an idle worker that saw no peer busy looks only once a minute)."""
    filler = submit(client, {"mode": "sleep", "seconds": 2.5, "marker_dir": str(markers_dir)})
    assert wait_job(client, filler["job_id"], timeout=60)["status"] == "done"
    assert int(markers(markers_dir, filler["job_id"])[0]["pid"]) != busy_pid


def test_kill_9_mid_job_runs_again_within_15_seconds_not_after_the_lease(backend_env, tmp_path, markers_dir):
    env = {**backend_env, **LONG_LEASE}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=2) as svc, svc.client() as client:
        job = submit(client, {"mode": "sleep", "seconds": 30, "marker_dir": str(markers_dir)})
        pid = _running_pid(markers_dir, job["job_id"])
        _peer_runs_a_job(client, markers_dir, pid)  # its worker has written heartbeats by now
        victim = next(w for w in svc.workers if w.pid == pid)
        victim.send_signal(signal.SIGKILL)
        killed = time.time()
        victim.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(markers(markers_dir, job["job_id"])) < 2:
            time.sleep(0.05)
        starts = [m for m in markers(markers_dir, job["job_id"]) if m["event"] == "start"]
        assert len(starts) == 2, "the job never ran again"
        assert starts[1]["attempt"] == 2 and starts[1]["pid"] != pid
        assert starts[1]["t"] - killed < 15, f"recovered after {starts[1]['t'] - killed:.1f} s (lease: 120 s)"


def test_sigstop_then_sigcont_never_gives_a_job_two_results(backend_env, tmp_path, markers_dir):
    env = {**backend_env, **LONG_LEASE}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=2) as svc, svc.client() as client:
        job = submit(client, {"mode": "sleep", "seconds": 20, "marker_dir": str(markers_dir)})
        pid = _running_pid(markers_dir, job["job_id"])
        _peer_runs_a_job(client, markers_dir, pid)
        paused = next(w for w in svc.workers if w.pid == pid)
        paused.send_signal(signal.SIGSTOP)
        try:
            done = wait_job(client, job["job_id"], timeout=60)  # recovered and finished by the other worker
        finally:
            paused.send_signal(signal.SIGCONT)
        assert done["status"] == "done" and done["attempts"] == 2
        # The resumed process finishes its (stale) attempt: it must not store a second outcome.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(m["event"] == "end" for m in markers(
                markers_dir, job["job_id"])) < 2:
            time.sleep(0.1)
        time.sleep(2.0)  # time for its result write (which must be refused)
        after = client.get(f"/jobs/{job['job_id']}").json()
        assert after["status"] == "done" and after["attempts"] == 2
        assert after["finished_utc"] == done["finished_utc"] and after["updated_utc"] == done["updated_utc"]
        ends = [m for m in markers(markers_dir, job["job_id"]) if m["event"] == "end"]
        assert {m["attempt"] for m in ends} == {1, 2}
        assert "result discarded: this attempt was taken over by another worker" in svc.logs()
