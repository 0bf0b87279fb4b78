"""The service's side of the WordPress modes, in process: submission receipts (mode B) and site keys whose
forwarded visitor address gets its own rate-limit bucket (mode A). The end-to-end attacks against a real
WordPress are in tests/integration/test_wordpress_plugin.py."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import ConfigError
from praisonai_svc.security.forwarded import VISITOR_HEADER, visitor_bucket
from praisonai_svc.security.receipts import (
    RECEIPT_HEADER,
    RECEIPT_TYPE,
    InvalidReceipt,
    ReceiptSigner,
    receipt_key,
)
from praisonai_svc.settings import Settings, load_settings

SECRET = "wordpress-modes-secret-" + "z" * 40
SITE_KEY = "site-key-" + "s" * 32
OPERATOR_KEY = "operator-key-" + "o" * 32


def make_api(**settings: Any) -> TestClient:
    app = ServiceApp("Unit", settings=Settings(_env_file=None, worker_poll_interval_min=0.01,  # type: ignore[call-arg]
                                               worker_poll_interval_max=0.05, **settings), backend=memory_backend())

    @app.job("echo")
    def echo(payload: dict) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    return TestClient(create_api(app, embedded_worker=True))


def bearer(secret: str = SECRET, **claims: Any) -> dict[str, str]:
    body = {"exp": int(time.time()) + 60, "aud": "praisonai-svc", "sub": "42", "iss": "https://wp.example", **claims}
    return {"Authorization": "Bearer " + jwt.encode(body, secret, algorithm="HS256")}


# --- receipts -------------------------------------------------------------------------------------------------


def test_a_bearer_submission_gets_a_receipt_naming_job_subject_and_issuer() -> None:
    with make_api(jwt_secret=SECRET) as client:
        answer = client.post("/jobs", json={"payload": {"n": 1}}, headers=bearer())
        assert answer.status_code == 202
        body = answer.json()
        assert body["receipt"] and answer.headers[RECEIPT_HEADER] == body["receipt"]
        receipt = ReceiptSigner.from_secret(SECRET).verify(body["receipt"])
        assert (receipt.job_id, receipt.service, receipt.subject, receipt.issuer, receipt.tenant) == (
            body["job_id"], "echo", "42", "https://wp.example", None)
        assert 590 <= receipt.expires - time.time() <= 600
        assert jwt.get_unverified_header(body["receipt"])["typ"] == RECEIPT_TYPE

        again = client.post("/jobs", json={"payload": {"n": 1}}, headers=bearer())  # idempotent hit: 200
        assert again.status_code == 200 and again.json()["job_id"] == body["job_id"]
        assert ReceiptSigner.from_secret(SECRET).verify(again.json()["receipt"]).job_id == body["job_id"]
        # Reads never carry one: a receipt is proof of submitting, not of knowing a job id.
        assert client.get(f"/jobs/{body['job_id']}", headers=bearer()).json()["receipt"] is None


def test_api_key_submissions_get_no_receipt() -> None:
    with make_api(jwt_secret=SECRET, api_key=[OPERATOR_KEY]) as client:
        answer = client.post("/jobs", json={"payload": {"n": 2}}, headers={"X-API-Key": OPERATOR_KEY})
        assert answer.status_code == 202 and answer.json()["receipt"] is None
        assert RECEIPT_HEADER not in answer.headers


def test_a_receipt_is_not_a_bearer_token_and_a_token_is_not_a_receipt() -> None:
    with make_api(jwt_secret=SECRET) as client:
        receipt = client.post("/jobs", json={"payload": {"n": 3}}, headers=bearer()).json()["receipt"]
        refused = client.get("/jobs", headers={"Authorization": f"Bearer {receipt}"})
        assert refused.status_code == 401  # signed with the derived key, not the secret
    token = bearer()["Authorization"].removeprefix("Bearer ")
    with pytest.raises(InvalidReceipt):
        ReceiptSigner.from_secret(SECRET).verify(token)
    assert receipt_key(SECRET.encode()) != SECRET.encode()


def test_receipt_verification_refuses_tampering_expiry_and_other_keys() -> None:
    signer = ReceiptSigner.from_secret(SECRET)
    receipt = signer.issue(job_id="a" * 32, service="ppt", subject="42", issuer="https://wp.example", tenant=None,
                           now=1_700_000_000)
    assert signer.verify(receipt, now=1_700_000_100).subject == "42"
    with pytest.raises(InvalidReceipt, match="expired"):
        signer.verify(receipt, now=1_700_000_000 + 600)
    with pytest.raises(InvalidReceipt, match="signature"):
        ReceiptSigner.from_secret("another-secret-" + "q" * 40).verify(receipt, now=1_700_000_100)
    header, claims, signature = receipt.split(".")
    forged_claims = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(claims).replace(b'"42"', b'"43"')).decode()
    with pytest.raises(InvalidReceipt):
        signer.verify(f"{header}.{forged_claims}.{signature}", now=1_700_000_100)
    plain = jwt.encode({"job": "a" * 32, "exp": 1_700_000_600}, signer.key, algorithm="HS256")
    with pytest.raises(InvalidReceipt, match="not a submission receipt"):
        signer.verify(plain, now=1_700_000_100)


def test_no_jwt_secret_means_no_receipts() -> None:
    with make_api() as client:
        assert client.post("/jobs", json={"payload": {"n": 4}}).json()["receipt"] is None


# --- site keys and forwarded visitors --------------------------------------------------------------------------


def spam(client: TestClient, key: str, visitor: str | None, count: int) -> list[int]:
    headers = {"X-API-Key": key, **({VISITOR_HEADER: visitor} if visitor is not None else {})}
    return [client.post("/jobs", content=b"payload: [unclosed", headers={**headers, "Content-Type": "application/yaml"}
                        ).status_code for _ in range(count)]


def test_a_site_visitor_has_a_bucket_of_its_own() -> None:
    with make_api(site_keys=SITE_KEY, rate_limit_submit_per_minute=3) as client:
        # Junk counts: three malformed submissions fill the spammer's bucket, the fourth is 429.
        assert spam(client, SITE_KEY, "198.51.100.7", 4) == [400, 400, 400, 429]
        served = client.post("/jobs", json={"payload": {"n": 5}},
                             headers={"X-API-Key": SITE_KEY, VISITOR_HEADER: "203.0.113.9"})
        assert served.status_code == 202, "another visitor of the same site is still served"
        # The site's own calls (no visitor named) count against its address, untouched by the spammer.
        assert client.post("/jobs", json={"payload": {"n": 6}}, headers={"X-API-Key": SITE_KEY}).status_code == 202
        # IPv6 visitors are counted by network, like direct clients: a fresh address in the same /64 is no escape.
        assert spam(client, SITE_KEY, "2001:db8::1", 3) == [400, 400, 400]
        assert spam(client, SITE_KEY, "[2001:db8::2]:5555", 1) == [429]


def test_the_visitor_header_is_ignored_without_a_site_key() -> None:
    with make_api(api_key=[OPERATOR_KEY], site_keys=SITE_KEY, rate_limit_submit_per_minute=3) as client:
        # An operator key (or anyone) naming a new visitor on each request still shares one address bucket.
        statuses = [spam(client, OPERATOR_KEY, f"198.51.100.{i}", 1)[0] for i in range(4)]
        assert statuses == [400, 400, 400, 429]


def test_an_unreadable_visitor_value_counts_against_the_site_address() -> None:
    with make_api(site_keys=SITE_KEY, rate_limit_submit_per_minute=2) as client:
        assert spam(client, SITE_KEY, "not an address", 1) + spam(client, SITE_KEY, "10.0.0.1, 10.0.0.2", 1) == [
            400, 400]
        assert spam(client, SITE_KEY, None, 1) == [429]  # those two were the site's own
        assert spam(client, SITE_KEY, "10.0.0.1", 1) == [400]


def test_reads_through_a_site_are_counted_per_visitor_too() -> None:
    with make_api(site_keys=SITE_KEY, rate_limit_read_per_minute=2) as client:
        poller = {"X-API-Key": SITE_KEY, VISITOR_HEADER: "198.51.100.7"}
        assert [client.get("/jobs", headers=poller).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/jobs", headers={"X-API-Key": SITE_KEY, VISITOR_HEADER: "203.0.113.9"}).status_code == 200


def test_visitor_bucket_values() -> None:
    assert visitor_bucket("key-ab", "198.51.100.7") == "site-key-ab/198.51.100.7"
    assert visitor_bucket("key-ab", "2001:db8::1") == "site-key-ab/2001:db8::/64"
    assert visitor_bucket("key-ab", "::ffff:198.51.100.7") == "site-key-ab/198.51.100.7"
    for bad in ("", "unknown", "1.2.3.4, 5.6.7.8", "x" * 100, "300.1.1.1"):
        assert visitor_bucket("key-ab", bad) is None


def test_site_keys_are_keys_and_must_be_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    with make_api(site_keys=SITE_KEY) as client:
        assert client.get("/jobs").status_code == 401, "a site key alone turns authentication on"
        assert client.get("/jobs", headers={"X-API-Key": SITE_KEY}).status_code == 200
    monkeypatch.setenv("PRAISONAI_API_KEY", SITE_KEY)
    monkeypatch.setenv("PRAISONAI_SITE_KEYS", SITE_KEY)
    with pytest.raises(ConfigError, match="PRAISONAI_SITE_KEYS"):
        load_settings(_env_file=None)
