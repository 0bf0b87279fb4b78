"""Issue 11, "also found": each attack performed against the CLI-started service, and the safe outcome asserted.

* a JWT whose ``sub`` is literally ``#<hash>`` of another subject must not get that subject's jobs;
* a handler's bad content type fails the job with a clear message (it used to break the download);
* a body that never arrives is answered 408 instead of holding the connection forever;
* a client that disconnects mid-body is one info line in the log, not an "unhandled error" traceback;
* ``/ready`` tells storage error details (paths, hosts) only to the admin key;
* IPv6 clients are limited per network of PRAISONAI_RATE_LIMIT_IPV6_PREFIX bits (default /64);
* ``/openapi.json`` lists the admin routes only when an admin key is configured and sent.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import time
from pathlib import Path

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import bearer, secured, token, wait_for_fresh_minute
from tests.support.service import running_service, wait_job

ADMIN_KEY = "extras-admin-key-5b1e"


def local(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), **extra}


def test_a_subject_named_like_a_hashed_subject_does_not_get_its_scope(tmp_path: Path) -> None:
    victim = "vérène@example.com"  # not printable ASCII: stored by its hash
    forged = "#" + hashlib.sha256(victim.encode()).hexdigest()[:32]  # what that hash looked like
    env = secured(local(tmp_path))
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        job = client.post("/jobs", json={"payload": {"who": "victim"}}, headers=bearer(token(sub=victim))).json()
        assert client.get(f"/jobs/{job['job_id']}", headers=bearer(token(sub=victim))).status_code == 200
        attacker = bearer(token(sub=forged))
        assert client.get(f"/jobs/{job['job_id']}", headers=attacker).status_code == 404
        assert client.get("/jobs", headers=attacker).json()["jobs"] == []
        assert client.get(f"/jobs/{job['job_id']}/download", headers=attacker).status_code == 404


def test_a_handler_returning_a_bad_content_type_fails_the_job_clearly(tmp_path: Path) -> None:
    with running_service(HANDLERS, local(tmp_path), tmp_path / "logs") as svc, svc.client() as client:
        outcomes = {}
        for content_type in ("text/plain\r\nSet-Cookie: x=1", "not a type", "text/", "text/plain; charset=utf-8"):
            job = client.post("/jobs", json={"payload": {"content_type": content_type}}).json()
            outcomes[content_type] = wait_job(client, job["job_id"])
        for bad in ("text/plain\r\nSet-Cookie: x=1", "not a type", "text/"):
            assert outcomes[bad]["status"] == "error", bad
            assert "is not a valid media type" in outcomes[bad]["error_msg"], bad
            assert outcomes[bad]["retry_count"] <= 1, "a bad result is not retried"
        good = outcomes["text/plain; charset=utf-8"]
        assert good["status"] == "done"
        download = client.get(f"/jobs/{good['job_id']}/download", follow_redirects=True)
        assert download.status_code == 200 and download.headers["content-type"] == "text/plain; charset=utf-8"


def _raw_request(port: int, head: bytes, body_part: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head + body_part)
    return sock


def _head(port: int, length: int) -> bytes:
    return (f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_a_body_that_never_arrives_gets_408(tmp_path: Path) -> None:
    env = local(tmp_path, PRAISONAI_BODY_READ_TIMEOUT_SECONDS="1")
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        sock = _raw_request(svc.port, _head(svc.port, 1000), b'{"payload": {')  # and then nothing
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        sock.close()
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 408"), answer
        assert b"connection: close" in rest.lower()
        assert client.get("/jobs").json()["jobs"] == []


def test_a_client_disconnecting_mid_body_is_one_info_line(tmp_path: Path) -> None:
    with running_service(HANDLERS, local(tmp_path), tmp_path / "logs", workers=0) as svc:
        _raw_request(svc.port, _head(svc.port, 1000), b'{"payload": {"a"').close()
        deadline = time.monotonic() + 30
        while "client disconnected" not in svc.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        logs = svc.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    [disconnect] = [line for line in lines if "client disconnected" in line.get("msg", "")]
    assert disconnect["level"].upper() == "INFO" and disconnect["path"] == "/jobs"
    assert "unhandled error" not in logs and "Traceback" not in logs


def test_ready_tells_storage_details_only_to_the_admin_key(tmp_path: Path) -> None:
    env = local(tmp_path, PRAISONAI_ADMIN_KEY=ADMIN_KEY)
    with running_service(HANDLERS, env, tmp_path / "logs", workers=0) as svc, svc.client() as client:
        # (no /ready before: a success is cached for 30 s)
        outputs = [path for path in (tmp_path / "data").iterdir() if path.is_dir()]
        assert outputs
        for path in outputs:  # storage breaks: its directories vanish
            shutil.rmtree(path)
        anonymous = client.get("/ready")
        assert anonymous.status_code == 503
        assert anonymous.json()["checks"]["storage"] == "unavailable"
        assert str(tmp_path) not in anonymous.text
        wrong = client.get("/ready", headers={"X-Admin-Key": "guess"})
        assert wrong.json()["checks"]["storage"] == "unavailable"
        admin = client.get("/ready", headers={"X-Admin-Key": ADMIN_KEY})
        assert admin.status_code == 503 and str(tmp_path) in admin.json()["checks"]["storage"]
        assert str(tmp_path) in svc.logs(), "the operator's log always has the details"


def test_ipv6_clients_are_limited_per_network_of_the_configured_prefix(tmp_path: Path) -> None:
    def statuses(prefix: str, addresses: list[str]) -> list[int]:
        env = local(tmp_path / prefix, PRAISONAI_TRUSTED_PROXY_HOPS="1", PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE="2",
                    PRAISONAI_RATE_LIMIT_IPV6_PREFIX=prefix)
        with running_service(HANDLERS, env, tmp_path / prefix / "logs", workers=0) as svc, svc.client() as client:
            wait_for_fresh_minute(need=10)
            return [client.post("/jobs", json={"payload": {"n": n}}, headers={"X-Forwarded-For": address}
                                ).status_code for n, address in enumerate(addresses)]

    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:3::1"]
    # Default /64: three addresses of one /64 share its limit of 2; the next /64 has its own.
    assert statuses("64", same_64) == [202, 202, 429, 202]
    # /48: all four are one network.
    assert statuses("48", same_64) == [202, 202, 429, 429]


def test_openapi_lists_admin_routes_only_to_the_admin_key(tmp_path: Path) -> None:
    with running_service(HANDLERS, local(tmp_path), tmp_path / "logs", workers=0) as svc, svc.client() as client:
        unconfigured = client.get("/openapi.json", headers={"X-Admin-Key": "anything"}).json()
        assert not [path for path in unconfigured["paths"] if path.startswith("/admin")]
    env = local(tmp_path / "keyed", PRAISONAI_ADMIN_KEY=ADMIN_KEY)
    with running_service(HANDLERS, env, tmp_path / "keyed-logs", workers=0) as svc, svc.client() as client:
        anonymous = client.get("/openapi.json").json()
        wrong = client.get("/openapi.json", headers={"X-Admin-Key": "guess"}).json()
        admin = client.get("/openapi.json", headers={"X-Admin-Key": ADMIN_KEY}).json()
    for schema in (anonymous, wrong):
        assert not [path for path in schema["paths"] if path.startswith("/admin")]
        assert "PoisonQueueBody" not in schema["components"]["schemas"]
        assert "/jobs" in schema["paths"] and "JobResponse" in schema["components"]["schemas"]
    assert "/admin/poison-queue" in admin["paths"] and "PoisonQueueBody" in admin["components"]["schemas"]
