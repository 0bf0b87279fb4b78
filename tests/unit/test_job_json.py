"""api/job_json.py writes a queued job's answer from a template: it must be byte for byte what pydantic writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from praisonai_svc.api import job_json as module
from praisonai_svc.api.job_json import is_as_queued, job_json
from praisonai_svc.models.job import (
    Job,
    JobOutcome,
    JobResponse,
    JobResult,
    JobStatus,
    StoredOutput,
)

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # no lone surrogates: never stored
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), None])
STAMPS = st.builds(lambda d, z: d.replace(tzinfo=z), st.datetimes(min_value=datetime(1970, 1, 1)), ZONES)


def pydantic_json(job: Job, receipt: str | None, download_url: str | None = None, exclude_none: bool = False
                  ) -> bytes:
    body = JobResponse.from_job(job, download_url=download_url)
    body.receipt = receipt
    return body.model_dump_json(exclude_none=exclude_none).encode()


def test_the_templates_are_in_use() -> None:
    assert module._template() is not None
    assert module._template(True, True) is not None and module._template(True, False) is not None


@settings(max_examples=300, deadline=None)
@given(job_id=TEXT, service=TEXT, created=STAMPS, updated=STAMPS, receipt=st.none() | TEXT,
       tenant=st.none() | TEXT, callback=st.none() | TEXT, exclude_none=st.booleans())
def test_a_queued_job_renders_as_pydantic_renders_it(job_id: str, service: str, created: datetime,
                                                     updated: datetime, receipt: str | None, tenant: str | None,
                                                     callback: str | None, exclude_none: bool) -> None:
    job = Job(job_id=job_id, service=service, payload={"a": [1, "x"]}, payload_hash="h", created_utc=created,
              updated_utc=updated, tenant=tenant, callback_url=callback, message_id="m", worker="w")
    assert is_as_queued(job)
    assert job_json(job, receipt, exclude_none=exclude_none) == pydantic_json(job, receipt, None, exclude_none)


def test_any_other_job_is_rendered_by_pydantic() -> None:
    now = datetime.now(UTC)
    base = Job(job_id="j", service="s", payload={}, payload_hash="h", created_utc=now, updated_utc=now)
    output = StoredOutput(filename="a.txt", content_type="text/plain", size=1, sha256="0" * 64, blob_name="b")
    changed = [
        {"status": JobStatus.PROCESSING}, {"status": JobStatus.DONE}, {"attempts": 1}, {"error_msg": "e"},
        {"started_utc": now}, {"finished_utc": now}, {"progress": 0.5}, {"progress_msg": "half"},
        {"result": JobResult(blob_name="b", content_type="text/plain", filename="a.txt", size=1)},
        {"outputs": [output]}, {"cancel_requested_utc": now},
        {"history": [JobOutcome(status=JobStatus.ERROR, requeued_utc=now)]},
    ]
    for update in changed:
        job = base.model_copy(update=update)
        assert not is_as_queued(job), update
        for receipt in (None, "r"):
            assert job_json(job, receipt) == pydantic_json(job, receipt), update
            assert job_json(job, receipt, exclude_none=True) == pydantic_json(job, receipt, None, True), update
    done = base.model_copy(update={"status": JobStatus.DONE, "outputs": [output]})
    assert job_json(done, None, "https://x/jobs/j/download") == pydantic_json(done, None, "https://x/jobs/j/download")


def test_a_template_that_does_not_match_pydantic_is_never_used() -> None:
    patch = pytest.MonkeyPatch()
    try:
        patch.setattr(module.QueuedJobTemplate, "render", lambda self, job, receipt: b"{}")
        module._template.cache_clear()
        assert module._template() is None
        now = datetime.now(UTC)
        job = Job(job_id="j", service="s", payload={}, payload_hash="h", created_utc=now, updated_utc=now)
        assert job_json(job, None) == pydantic_json(job, None)
    finally:
        patch.undo()
        module._template.cache_clear()
    assert module._template() is not None


def test_the_batch_answer_is_what_pydantic_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /jobs/batch with every kind of item (new, existing, existing and done, refused), with and without
    receipts, against the same batches answered by pydantic's models (api/batch.py's fallback)."""
    import time as clock

    import jwt
    from fastapi.testclient import TestClient

    from praisonai_svc import ServiceApp
    from praisonai_svc.api import batch
    from praisonai_svc.api.factory import create_api
    from praisonai_svc.backend import memory_backend
    from praisonai_svc.settings import Settings

    secret = "batch-json-secret-" + "q" * 48
    token = {"Authorization": "Bearer " + jwt.encode(
        {"exp": int(clock.time()) + 60, "aud": "praisonai-svc", "sub": "v", "tenant": "acme"}, secret,
        algorithm="HS256")}

    def client() -> TestClient:
        app = ServiceApp("B", settings=Settings(_env_file=None, rate_limit_submit_per_minute=0,  # type: ignore[call-arg]
                                                jwt_secret=secret, api_key=["op"]), backend=memory_backend())

        @app.job("echo")
        def echo(payload: dict) -> tuple[bytes, str, str]:
            return b"", "text/plain", "x"

        return TestClient(create_api(app, embedded_worker=True))

    def answers(test_client: TestClient) -> list[Any]:
        out = []
        for headers in ({"X-API-Key": "op"}, token):
            done = test_client.post("/jobs", json={"payload": {"done": 1}}, headers=headers).json()["job_id"]
            for _ in range(500):
                if test_client.get(f"/jobs/{done}", headers=headers).json()["status"] == "done":
                    break
                clock.sleep(0.01)
            jobs = [{"payload": {"done": 1}}, {"payload": {"n": 1}}, {"payload": {"n": 1}}, {"payload": [1]},
                    {"payload": {}, "service": "nope \"x\""}, "not an item", {"payload": {"n": 2}}]
            response = test_client.post("/jobs/batch", json={"jobs": jobs}, headers=headers)
            assert response.status_code == 207
            out.append(normal(response.text))
        return out

    with client() as fast:
        ours = answers(fast)
    monkeypatch.setattr(batch, "_envelope_matches", lambda: False)
    with client() as slow:
        theirs = answers(slow)
    assert ours == theirs
    assert '"download_url":"http' in ours[0] and '"receipt":' in ours[1] and '"receipt":' not in ours[0]


def normal(text: str) -> str:
    import re

    text = re.sub(r'"receipt":"[^"]+"', '"receipt":"<r>"', text)
    text = re.sub(r"[0-9a-f]{32}", "<id>", text)
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<t>", text)
