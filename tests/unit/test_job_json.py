"""api/job_json.py writes a queued job's answer from a template: it must be byte for byte what pydantic writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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


def pydantic_json(job: Job, receipt: str | None, download_url: str | None = None) -> bytes:
    body = JobResponse.from_job(job, download_url=download_url)
    body.receipt = receipt
    return body.model_dump_json().encode()


def test_the_template_is_in_use() -> None:
    assert module._template() is not None


@settings(max_examples=300, deadline=None)
@given(job_id=TEXT, service=TEXT, created=STAMPS, updated=STAMPS, receipt=st.none() | TEXT,
       tenant=st.none() | TEXT, callback=st.none() | TEXT)
def test_a_queued_job_renders_as_pydantic_renders_it(job_id: str, service: str, created: datetime,
                                                     updated: datetime, receipt: str | None, tenant: str | None,
                                                     callback: str | None) -> None:
    job = Job(job_id=job_id, service=service, payload={"a": [1, "x"]}, payload_hash="h", created_utc=created,
              updated_utc=updated, tenant=tenant, callback_url=callback, message_id="m", worker="w")
    assert is_as_queued(job)
    assert job_json(job, receipt) == pydantic_json(job, receipt)


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
