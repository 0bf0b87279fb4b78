"""Issue 11, finding 3: the admin key could be guessed without limit, and a blocked address still got 200 from
the admin routes (that one differing answer leaks the right guess).

Against the CLI-started service: wrong X-Admin-Key values count in the same failed-authentication counter as
wrong API keys; once an address is over the limit, every request from it that could reveal anything is 429
(admin routes with the right key, job routes with the right key, downloads, the schema, metrics), while the
anonymous probes still answer and other addresses are untouched. Addresses are told apart through one trusted
proxy hop (X-Forwarded-For), as behind Azure Container Apps' ingress.
"""

from __future__ import annotations

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import OPERATOR_KEY, key, secured, stored_jobs, wait_for_fresh_minute
from tests.support.service import running_service

ADMIN_KEY = "admin-key-3e8d01f5c2"
ATTACKER = {"X-Forwarded-For": "198.51.100.7"}
VICTIM = {"X-Forwarded-For": "203.0.113.5"}
LIMIT = 5


def admin_env(backend_env: dict[str, str]) -> dict[str, str]:
    return secured(backend_env, PRAISONAI_ADMIN_KEY=ADMIN_KEY, PRAISONAI_TRUSTED_PROXY_HOPS="1",
                   PRAISONAI_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE=str(LIMIT))


def test_admin_key_guesses_are_limited_and_a_blocked_address_gets_429_everywhere(backend_env, tmp_path):
    env = admin_env(backend_env)
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        wait_for_fresh_minute(need=20)
        job = client.post("/jobs", json={"payload": {"n": 1}}, headers={**key(OPERATOR_KEY), **VICTIM}).json()
        guesses = [client.get("/admin/poison-queue", headers={"X-Admin-Key": f"guess-{n}", **ATTACKER}).status_code
                   for n in range(LIMIT + 3)]
        assert guesses == [401] * LIMIT + [429] * 3

        right_admin = {"X-Admin-Key": ADMIN_KEY, **ATTACKER}
        right_key = {**key(OPERATOR_KEY), **ATTACKER}
        refused = {
            "admin route, right admin key": client.get("/admin/poison-queue", headers=right_admin),
            "admin requeue, right admin key": client.post(f"/admin/poison-queue/{job['job_id']}/requeue",
                                                          headers=right_admin),
            "job list, right API key": client.get("/jobs", headers=right_key),
            "submit, right API key": client.post("/jobs", json={"payload": {"n": 2}}, headers=right_key),
            "download, right API key": client.get(f"/jobs/{job['job_id']}/download", headers=right_key),
            "schema": client.get("/openapi.json", headers=ATTACKER),
            "schema with the admin key": client.get("/openapi.json", headers=right_admin),
            "metrics": client.get("/metrics", headers=ATTACKER),
            "readiness details with the admin key": client.get("/ready", headers=right_admin),
            "unknown path": client.get("/nothing-here", headers=ATTACKER),
        }
        for what, response in refused.items():
            assert response.status_code == 429, f"{what}: {response.status_code} {response.text}"
            assert 1 <= int(response.headers["retry-after"]) <= 60, what
            assert "failed authentication" in response.json()["detail"], what
            assert response.headers["x-content-type-options"] == "nosniff", what  # security headers too

        for probe in ("/live", "/health", "/ready"):  # anonymous probes check nothing and leak nothing
            assert client.get(probe, headers=ATTACKER).status_code == 200, probe
        # Another address is not affected, with the admin key or an API key.
        assert client.get("/admin/poison-queue", headers={"X-Admin-Key": ADMIN_KEY, **VICTIM}).status_code == 200
        assert client.get("/jobs", headers={**key(OPERATOR_KEY), **VICTIM}).status_code == 200
        metrics = client.get("/metrics", headers=VICTIM).text
    assert 'praisonai_auth_failures_total{kind="admin_key"} 5.0' in metrics
    assert len(stored_jobs(env)) == 1  # the refused submission stored nothing


def test_admin_and_api_key_failures_share_one_counter(tmp_path):
    env = admin_env({"PRAISONAI_DATA_DIR": str(tmp_path / "data")})
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        wait_for_fresh_minute(need=15)
        answers = [client.get("/jobs", headers={**key(f"guess-{n}"), **ATTACKER}).status_code for n in range(3)]
        answers += [client.get("/admin/poison-queue", headers={"X-Admin-Key": f"guess-{n}", **ATTACKER}).status_code
                    for n in range(2)]
        answers.append(client.get("/admin/poison-queue", headers={"X-Admin-Key": "guess-x", **ATTACKER}).status_code)
        assert answers == [401] * LIMIT + [429]
        assert client.get("/jobs", headers={**key(OPERATOR_KEY), **ATTACKER}).status_code == 429
