"""Reliability by doing the bad thing: kill -9 workers, long jobs past the lease, several workers at once."""

from __future__ import annotations

import itertools
import json
import signal
import time

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.test_job_lifecycle import _wait_marker, submit
from tests.support.service import markers, running_service, wait_job


def test_kill_9_mid_job_finishes_once_after_the_lease_expires(backend_env, tmp_path, markers_dir):
    env = {**backend_env, "PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "2"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        victim = svc.start_worker()
        job = submit(client, {"mode": "sleep", "seconds": 1.5, "marker_dir": str(markers_dir)})
        _wait_marker(markers_dir, job["job_id"], "start")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert client.get(f"/jobs/{job['job_id']}").json()["status"] == "processing"
        svc.start_worker()
        done = wait_job(client, job["job_id"], timeout=60)
    assert done["status"] == "done"
    assert done["attempts"] == 2, "the crash counts as an attempt"
    events = [(m["event"], m["attempt"]) for m in markers(markers_dir, job["job_id"])]
    assert events == [("start", 1), ("start", 2), ("end", 2)], "finished exactly once"


def test_job_longer_than_the_lease_never_runs_twice(backend_env, tmp_path, markers_dir):
    env = {**backend_env, "PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "1"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=3) as svc, svc.client() as client:
        job = submit(client, {"mode": "sleep", "seconds": 4, "marker_dir": str(markers_dir)})
        done = wait_job(client, job["job_id"], timeout=60)
    assert done["status"] == "done" and done["attempts"] == 1
    assert [m["event"] for m in markers(markers_dir, job["job_id"])] == ["start", "end"]


def test_three_workers_share_a_backend_without_duplicates_or_losses(backend_env, tmp_path, markers_dir):
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=3) as svc, svc.client() as client:
        ids = [submit(client, {"i": i, "mode": "sleep", "seconds": 0.2, "marker_dir": str(markers_dir)})["job_id"]
               for i in range(60)]
        finished = [wait_job(client, job_id, timeout=120) for job_id in ids]
    assert all(job["status"] == "done" for job in finished)
    pids = set()
    for job_id in ids:
        events = markers(markers_dir, job_id)
        assert [m["event"] for m in events] == ["start", "end"], job_id
        pids.add(events[0]["pid"])
    assert len(pids) >= 2, "work should spread over the workers"


def assert_never_concurrent(marker_dir, job_id):
    """Attempts of one job never overlap: each start comes after the previous attempt ended (or was killed).

    A kill -9 after the handler returned but before the result was recorded legitimately runs the job again
    (at-least-once); two attempts running at the same time would be a lease bug.
    """
    events = markers(marker_dir, job_id)
    by_attempt: dict[int, dict[str, float]] = {}
    for event in events:
        by_attempt.setdefault(event["attempt"], {})[event["event"]] = event["t"]
    attempts = sorted(by_attempt)
    for earlier, later in itertools.pairwise(attempts):
        end = by_attempt[earlier].get("end")
        if end is not None:
            assert by_attempt[later]["start"] >= end, f"{job_id}: attempts {earlier} and {later} overlapped"


def test_random_kill_9_storm_loses_no_job(backend_env, tmp_path, markers_dir):
    """Jobs keep flowing while workers are SIGKILLed at random moments: every job ends done with one result,
    and no job ever runs twice at the same time."""
    import random

    rng = random.Random(7)
    env = {**backend_env, "PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "2", "PRAISONAI_MAX_RETRY_COUNT": "5"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=2) as svc, svc.client() as client:
        ids = [submit(client, {"i": i, "mode": "sleep", "seconds": 0.3, "marker_dir": str(markers_dir)})["job_id"]
               for i in range(30)]
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 1.5))
            alive = [w for w in svc.workers if w.poll() is None]
            rng.choice(alive).send_signal(signal.SIGKILL)
            svc.start_worker()
        finished = [wait_job(client, job_id, timeout=120) for job_id in ids]
        assert all(job["status"] == "done" for job in finished), [j for j in finished if j["status"] != "done"]
        for index, job_id in enumerate(ids):
            result = client.get(f"/jobs/{job_id}/download", follow_redirects=True)
            assert result.status_code == 200 and json.loads(result.content)["i"] == index
            assert_never_concurrent(markers_dir, job_id)
