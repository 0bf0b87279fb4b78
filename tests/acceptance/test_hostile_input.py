"""Malformed and hostile requests are refused with a clear 4xx and nothing is stored or queued."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import pytest

from tests.acceptance.conftest import HANDLERS
from tests.support.service import backend_counts, running_service, wait_job

ALIAS_BOMB = b"""payload:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""

CASES = [
    ("malformed json", b'{"payload": {"a": 1', "application/json", 400, "Malformed JSON"),
    ("malformed yaml", b"payload: [unclosed\n  - x: :", "application/yaml", 400, "Malformed YAML"),
    ("alias bomb", ALIAS_BOMB, "application/yaml", 400, "aliases"),
    ("list payload", b'{"payload": [1, 2]}', "application/json", 400, "must be an object"),
    ("string payload", b'{"payload": "x"}', "application/json", 400, "must be an object"),
    ("body not an object", b"[1, 2]", "application/json", 400, "must be an object"),
    ("no payload field", b'{"data": {}}', "application/json", 400, "no \"payload\""),
    ("extra field", b'{"payload": {}, "evil": 1}', "application/json", 400, "evil"),
    ("empty body", b"", "application/json", 400, "Empty body"),
    ("NaN", b'{"payload": {"x": NaN}}', "application/json", 400, "NaN"),
    ("deep json", b'{"payload": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "application/json", 400, "nested"),
    ("deep yaml", b"payload:\n  x: " + b"[" * 5_000 + b"]" * 5_000, "application/yaml", 400, "nested"),
    ("binary", b"\xff\xfe\x00garbage", "application/json", 400, "UTF-8"),
    ("yaml python tag", b"payload: !!python/object/apply:os.system ['true']", "application/yaml", 400, "YAML"),
]


@pytest.fixture
def local_service(tmp_path):
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_DOWNLOAD_URL_EXPIRY_SECONDS": "1"}
    with running_service(HANDLERS, env, tmp_path / "logs") as svc:
        yield svc, env


@pytest.mark.parametrize(("name", "body", "ctype", "status", "says"), CASES, ids=[c[0] for c in CASES])
def test_rejected_and_nothing_queued(service, backend_env, name, body, ctype, status, says):
    with service.client() as client:
        response = client.post("/jobs", content=body, headers={"Content-Type": ctype})
        assert response.status_code == status, response.text
        assert says in response.json()["detail"]
        assert client.get("/jobs").json()["jobs"] == []
    assert backend_counts(backend_env) == (0, 0)


def test_two_megabyte_bodies_are_413_with_and_without_content_length(service, backend_env):
    big = b'{"payload": {"x": "' + b"a" * 2_000_000 + b'"}}'
    with service.client() as client:
        sized = client.post("/jobs", content=big, headers={"Content-Type": "application/json"})
        assert sized.status_code == 413

        def chunks():
            for start in range(0, len(big), 64 * 1024):
                yield big[start:start + 64 * 1024]

        chunked = client.post("/jobs", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        assert "limit" in chunked.json()["detail"]
        assert client.get("/jobs").json()["jobs"] == []
    assert backend_counts(backend_env) == (0, 0)


def test_tampered_and_expired_download_links_are_refused(local_service):
    svc, _env = local_service
    with svc.client() as client:
        job = client.post("/jobs", json={"payload": {"secret": 1}}).json()
        wait_job(client, job["job_id"])
        url = client.get(f"/jobs/{job['job_id']}/download").headers["location"]
        parts = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for field, value in [("sig", query["sig"][:-2] + "AA"), ("exp", str(int(query["exp"]) + 3600)),
                             ("fn", "other.txt"), ("ct", "text/html")]:
            forged = urlunparse(parts._replace(query=urlencode({**query, field: value})))
            assert client.get(forged).status_code == 403, field
        other_path = urlunparse(parts._replace(path=parts.path.replace("result.txt", "../../signing.key")))
        assert client.get(other_path).status_code in (403, 404)
        assert client.get(url).status_code == 200
        time.sleep(2.2)
        expired = client.get(url)
        assert expired.status_code == 403 and "expired" in expired.json()["detail"]
        fresh = client.get(f"/jobs/{job['job_id']}/download", follow_redirects=True)
        assert fresh.status_code == 200
