"""Two API processes on one backend share their rate-limit counts (replicas behind one load balancer)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import OPERATOR_KEY, key, secured, stored_jobs, wait_for_fresh_minute
from tests.support.service import Service, backend_counts, clean_env


def test_two_api_processes_share_the_submit_and_failed_auth_limits(backend_env, tmp_path: Path):
    env = clean_env(secured(
        backend_env, PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE="5", PRAISONAI_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE="4",
    ))
    replicas = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        replicas.append(Service(str(HANDLERS), env, tmp_path / name))
    try:
        for replica in replicas:
            replica.start_api()
        wait_for_fresh_minute(need=15)
        clients = [replica.client(headers=key(OPERATOR_KEY)) for replica in replicas]
        statuses = [
            clients[i % 2].post("/jobs", json={"payload": {"i": i}}).status_code for i in range(12)
        ]
        assert Counter(statuses) == {202: 5, 429: 7}, statuses
        assert statuses[:5] == [202] * 5, "both replicas count into one window"

        anonymous = [replica.client() for replica in replicas]
        failures = [anonymous[i % 2].get("/jobs", headers=key(f"wrong-{i}")).status_code for i in range(6)]
        assert failures == [401, 401, 401, 401, 429, 429], failures
        for client in clients + anonymous:
            client.close()
    finally:
        for replica in replicas:
            replica.stop()
    assert len(stored_jobs(env)) == 5 and backend_counts(env) == (5, 0)
