"""The hostile-input suite, continued: forged credentials, other tenants' ids, spoofed addresses, floods.

Every attack gets the expected status, and nothing is stored or queued because of it (checked through the
ports, not only through the API). Runs on each real backend.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import (
    ACME_KEY,
    GLOBEX_KEY,
    JWT_SECRET,
    OPERATOR_KEY,
    bearer,
    key,
    secured,
    stored_jobs,
    token,
    wait_for_fresh_minute,
)
from tests.support.service import backend_counts, running_service, wait_job

PAYLOAD = {"payload": {"report": "q3"}}


def test_a_tenant_never_sees_another_tenants_jobs(backend_env, tmp_path):
    env = secured(backend_env)
    with running_service(HANDLERS, env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        acme = client.post("/jobs", json=PAYLOAD, headers=key(ACME_KEY))
        globex = client.post("/jobs", json=PAYLOAD, headers=key(GLOBEX_KEY))
        assert acme.status_code == 202 and globex.status_code == 202, (acme.text, globex.text)
        acme_id, globex_id = acme.json()["job_id"], globex.json()["job_id"]
        assert acme_id != globex_id, "idempotency is scoped per tenant"
        again = client.post("/jobs", json=PAYLOAD, headers=key(ACME_KEY))
        assert again.status_code == 200 and again.json()["job_id"] == acme_id
        with svc.client(headers=key(ACME_KEY)) as acme_client:
            wait_job(acme_client, acme_id)

        missing = client.get("/jobs/0123456789abcdef0123456789abcdef", headers=key(GLOBEX_KEY))
        for path in (f"/jobs/{acme_id}", f"/jobs/{acme_id}/download", f"/jobs/{acme_id}/download?format=json"):
            foreign = client.get(path, headers=key(GLOBEX_KEY))
            assert foreign.status_code == 404, (path, foreign.text)
            assert foreign.json() == missing.json(), "another tenant's id must look exactly like a missing one"
            by_token = client.get(path, headers=bearer(token(tenant="globex")))
            assert by_token.status_code == 404, path
            assert client.get(path, headers=key(ACME_KEY)).status_code in (200, 307)
            assert client.get(path, headers=bearer(token(tenant="acme"))).status_code in (200, 307)

        def listed(headers: dict[str, str]) -> set[str]:
            response = client.get("/jobs", headers=headers)
            assert response.status_code == 200, response.text
            return {job["job_id"] for job in response.json()["jobs"]}

        assert listed(key(ACME_KEY)) == {acme_id}
        assert listed(key(GLOBEX_KEY)) == {globex_id}
        assert listed(bearer(token(tenant="globex"))) == {globex_id}
        assert listed(key(OPERATOR_KEY)) == {acme_id, globex_id}, "an operator key sees every job"
        assert listed(bearer(token())) == set(), "a token without a tenant claim sees only its subject's jobs"
        assert client.get(f"/jobs/{acme_id}", headers=bearer(token())).status_code == 404
    assert {job.job_id: job.tenant for job in stored_jobs(env)} == {acme_id: "acme", globex_id: "globex"}


BAD_TOKENS = [
    ("expired", lambda: token(exp=int(time.time()) - 120), "expired"),
    ("wrong audience", lambda: token(aud="someone-else"), "audience"),
    ("wrong issuer", lambda: token(iss="https://evil.example"), "issuer"),
    ("wrong signature", lambda: token(secret="another-secret-another-secret-0123"), "signature"),
    ("no expiry", lambda: token(exp=None), "'exp'"),
    ("no audience", lambda: token(aud=None), "'aud'"),
    ("no issuer", lambda: token(iss=None), "'iss'"),
    ("HS512", lambda: token(algorithm="HS512"), "HS256"),
    ("alg none", lambda: token(algorithm="none", secret=""), "HS256"),  # type: ignore[arg-type]
    ("bad tenant claim", lambda: token(tenant="../acme"), "tenant"),
    ("not before in the future", lambda: token(nbf=int(time.time()) + 600), "not valid yet"),
    ("garbage", lambda: "not.a.jwt", "malformed"),
]


def test_forged_expired_and_misaddressed_tokens_are_401_and_nothing_is_stored(backend_env, tmp_path):
    env = secured(backend_env)
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        for name, make, says in BAD_TOKENS:
            for method, path in (("POST", "/jobs"), ("GET", "/jobs")):
                response = client.request(method, path, json=PAYLOAD, headers=bearer(make()))
                assert response.status_code == 401, (name, method, response.text)
                assert says in response.json()["detail"], (name, response.json())
                assert response.headers["www-authenticate"]
        assert client.post("/jobs", json=PAYLOAD, headers={"Authorization": "Bearer"}).status_code == 401
        assert client.post("/jobs", json=PAYLOAD, headers={"Authorization": "Basic b3A6b3A="}).status_code == 401
        assert stored_jobs(env) == [] and backend_counts(env) == (0, 0)
        # The same request with a sound token (30 s of clock skew allowed) is accepted: only the defects failed.
        within_leeway = client.post("/jobs", json=PAYLOAD, headers=bearer(token(exp=int(time.time()) - 10)))
        assert within_leeway.status_code == 202, within_leeway.text
    assert len(stored_jobs(env)) == 1 and backend_counts(env) == (1, 0)


def test_a_hundred_wrong_keys_in_a_row_end_in_429_and_nothing_is_stored(backend_env, tmp_path):
    env = secured(backend_env, PRAISONAI_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE="20")
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        wait_for_fresh_minute(need=15)
        answers = []
        for attempt in range(100):
            response = client.post("/jobs", json=PAYLOAD, headers=key(f"guess-{attempt:03d}"))
            answers.append(response.status_code)
            if response.status_code == 429:
                assert 1 <= int(response.headers["retry-after"]) <= 60
                assert "failed authentication" in response.json()["detail"]
        assert answers == [401] * 20 + [429] * 80
        # Now even the right key is refused from this address: otherwise the one non-429 answer would tell a
        # brute-force attacker which guess was right.
        assert client.post("/jobs", json=PAYLOAD, headers=key(OPERATOR_KEY)).status_code == 429
        assert client.get("/health").status_code == 200, "probes are never limited"
        logs = svc.logs()
    assert stored_jobs(env) == [] and backend_counts(env) == (0, 0)
    assert OPERATOR_KEY not in logs and ACME_KEY not in logs and JWT_SECRET not in logs


def test_spoofed_forwarded_for_cannot_dodge_the_submit_limit(backend_env, tmp_path):
    """hops = 0 (default): X-Forwarded-For is ignored, every request counts against the TCP peer's address."""
    env = {**backend_env, "PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE": "3"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        wait_for_fresh_minute(need=10)
        for i in range(3):
            spoofed = {"X-Forwarded-For": f"198.51.100.{i}"}
            response = client.post("/jobs", json={"payload": {"i": i}}, headers=spoofed)
            assert response.status_code == 202, response.text
        refused = client.post("/jobs", json={"payload": {"i": 3}}, headers={"X-Forwarded-For": "198.51.100.99"})
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "at most 3" in refused.json()["detail"]
        assert client.get("/jobs").status_code == 200, "reads have their own budget"
    assert len(stored_jobs(env)) == 3 and backend_counts(env) == (3, 0)


def test_with_one_trusted_hop_only_the_proxy_appended_address_counts(backend_env, tmp_path):
    """hops = 1 (Azure Container Apps): the last entry is the proxy's; anything left of it is the client's lie."""
    env = {**backend_env, "PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE": "3", "PRAISONAI_TRUSTED_PROXY_HOPS": "1"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        wait_for_fresh_minute(need=10)
        statuses = [
            client.post("/jobs", json={"payload": {"i": i}},
                        headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"}).status_code
            for i in range(5)
        ]
        assert statuses == [202, 202, 202, 429, 429]
        other_client = client.post("/jobs", json={"payload": {"i": 10}},
                                   headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.8"})
        assert other_client.status_code == 202, "another real address has its own budget"
        two_headers = client.post("/jobs", json={"payload": {"i": 11}},
                                  headers=[("X-Forwarded-For", "203.0.113.8"), ("X-Forwarded-For", "203.0.113.7")])
        assert two_headers.status_code == 429, "repeated headers are one list; the last entry counts"
    assert len(stored_jobs(env)) == 4 and backend_counts(env) == (4, 0)


def test_reads_have_their_own_limit_and_polling_every_5s_is_never_throttled(tmp_path):
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_RATE_LIMIT_READ_PER_MINUTE": "12"}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        wait_for_fresh_minute(need=10)
        job = client.post("/jobs", json=PAYLOAD).json()
        # A widget polling every 5 s makes 12 reads a minute: exactly this limit (the default is 600).
        assert [client.get(f"/jobs/{job['job_id']}").status_code for _ in range(12)] == [200] * 12
        refused = client.get(f"/jobs/{job['job_id']}")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert client.post("/jobs", json={"payload": {"other": 1}}).status_code == 202, "submissions count apart"


def test_security_headers_on_every_response(tmp_path):
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_API_KEY": OPERATOR_KEY}
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        for path in ("/jobs", "/jobs/nope", "/jobs/nope/download", "/health", "/ready", "/openapi.json", "/nowhere"):
            for headers in ({}, key(OPERATOR_KEY)):
                response = client.get(path, headers=headers)
                assert response.headers["x-content-type-options"] == "nosniff", path
                assert response.headers["x-frame-options"] == "DENY"
                assert response.headers["referrer-policy"] == "no-referrer"
                assert response.headers["cache-control"] == "no-store"
                assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
                assert "default-src 'none'" in response.headers["content-security-policy"]
                assert "Traceback" not in response.text and OPERATOR_KEY not in response.text
        preflight = client.options("/jobs", headers={"Origin": "https://wp.example",
                                                     "Access-Control-Request-Method": "POST"})
        assert preflight.headers["x-frame-options"] == "DENY"
        assert "access-control-allow-credentials" not in preflight.headers
        docs = client.get("/docs")
        assert docs.status_code == 200 and "script-src 'self';" in docs.headers["content-security-policy"]
        assert "http" not in docs.headers["content-security-policy"] and "cdn" not in docs.text
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


TRAVERSAL_NAMES = [
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "/absolute/path.txt", "....//....//x.txt",
    "evil\r\nSet-Cookie: a=b.txt", "nul\u0000byte.txt", "..", "%2e%2e%2fescape.txt", "ü/../../ß.txt",
]


def test_path_traversal_filenames_stay_inside_the_blob_store(backend_env, tmp_path):
    with running_service(HANDLERS, backend_env, tmp_path / "logs", workers=1) as svc, svc.client() as client:
        for index, name in enumerate(TRAVERSAL_NAMES):
            job = client.post("/jobs", json={"payload": {"i": index, "filename": name}}).json()
            done = wait_job(client, job["job_id"])
            assert done["status"] == "done", done
            assert "/" not in done["filename"] and "\\" not in done["filename"] and ".." not in done["filename"]
            file = client.get(f"/jobs/{job['job_id']}/download", follow_redirects=True)
            assert file.status_code == 200
            disposition = file.headers["content-disposition"]
            assert "\r" not in disposition and "\n" not in disposition
            fallback = disposition.split('filename="')[1].split('"')[0]
            assert "/" not in fallback and "\\" not in fallback and not fallback.startswith(".")
    for job in stored_jobs(backend_env):
        assert job.result is not None
        assert job.result.blob_name == f"{job.service}/{job.job_id}/{job.result.filename}"
    if "PRAISONAI_DATA_DIR" in backend_env:
        data = Path(backend_env["PRAISONAI_DATA_DIR"]).resolve()
        outside = [p for p in tmp_path.rglob("*") if p.is_file() and data not in p.resolve().parents
                   and "logs" not in p.parts]
        assert outside == [], outside
