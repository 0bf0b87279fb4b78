"""POST /jobs/batch and the in-process producer (app.submit / submit_many and their sync twins), in-process on
the memory backend."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import ConfigError, PayloadError, PayloadTooLarge, UnknownService
from praisonai_svc.job_service import Submission
from praisonai_svc.settings import Settings


class Deck(BaseModel):
    title: str = Field(min_length=1)


def make_app(**settings: Any) -> ServiceApp:
    app = ServiceApp("Unit", settings=Settings(worker_poll_interval_min=0.01, worker_poll_interval_max=0.05,
                                               **settings), backend=memory_backend())

    @app.job("deck")
    def deck(payload: Deck) -> tuple[bytes, str, str]:
        return payload.title.encode(), "text/plain", "deck.txt"

    return app


@pytest.fixture
def client() -> Any:
    with TestClient(create_api(make_app(max_batch_size=10), embedded_worker=True)) as test_client:
        yield test_client


def test_batch_answers_one_result_per_item_in_order_and_bad_items_do_not_sink_the_others(client: TestClient) -> None:
    first = client.post("/jobs", json={"payload": {"title": "already"}}).json()
    items = [{"payload": {"title": "a"}}, {"payload": {"title": ""}}, {"payload": {"title": "already"}},
             {"nope": 1}, {"payload": {"title": "b"}, "service": "missing"}, {"payload": {"title": "c"}}]
    response = client.post("/jobs/batch", json={"jobs": items})
    assert response.status_code == 207
    body = response.json()
    assert [r["index"] for r in body["results"]] == list(range(6))
    assert [r["status"] for r in body["results"]] == [202, 400, 200, 400, 400, 202]
    assert (body["queued"], body["existing"], body["failed"]) == (2, 1, 3)
    assert "payload.title" in body["results"][1]["detail"]
    assert '"payload"' in body["results"][3]["detail"]
    assert "missing" in body["results"][4]["detail"]
    assert body["results"][2]["job"]["job_id"] == first["job_id"]  # each item is idempotent on its own
    for index in (0, 5):
        job_id = body["results"][index]["job"]["job_id"]
        assert client.get(f"/jobs/{job_id}").status_code == 200
    again = client.post("/jobs/batch", json={"jobs": [items[0]]}).json()
    assert again["results"][0]["status"] == 200
    assert again["results"][0]["job"]["job_id"] == body["results"][0]["job"]["job_id"]


def test_batch_refuses_a_body_that_is_not_a_batch_or_too_big(client: TestClient) -> None:
    assert client.post("/jobs/batch", json={"payload": {}}).status_code == 400
    assert client.post("/jobs/batch", json={"jobs": []}).status_code == 400
    too_many = client.post("/jobs/batch", json={"jobs": [{"payload": {"title": str(i)}} for i in range(11)]})
    assert too_many.status_code == 400 and "PRAISONAI_MAX_BATCH_SIZE" in too_many.json()["detail"]
    assert client.get("/jobs").json()["jobs"] == []  # nothing queued


def test_the_submit_rate_limit_counts_items_not_requests() -> None:
    app = make_app(rate_limit_submit_per_minute=5)
    with TestClient(create_api(app, embedded_worker=False)) as client:
        ok = client.post("/jobs/batch", json={"jobs": [{"payload": {"title": str(i)}} for i in range(4)]})
        assert ok.status_code == 207
        assert client.post("/jobs", json={"payload": {"title": "fifth"}}).status_code == 202
        refused = client.post("/jobs/batch", json={"jobs": [{"payload": {"title": "x"}}, {"payload": {"title": "y"}}]})
        assert refused.status_code == 429 and refused.headers["Retry-After"]


def test_app_submit_shares_validation_and_idempotency_with_http() -> None:
    app = make_app()
    with TestClient(create_api(app, embedded_worker=False)) as client:
        over_http = client.post("/jobs", json={"payload": {"title": "same"}}).json()
        backend = client.app.state.job_service.backend  # type: ignore[attr-defined]

        async def scenario() -> tuple[Submission, Submission]:
            app.backend = backend
            same = await app.submit({"title": "same"})
            new = await app.submit({"title": "new"}, service="deck")
            with pytest.raises(PayloadError, match=r"payload\.title"):
                await app.submit({"title": ""})
            with pytest.raises(UnknownService):
                await app.submit({"title": "x"}, service="nope")
            with pytest.raises(PayloadTooLarge):
                await app.submit({"title": "x" * (app.settings.max_payload_size + 1)})
            return same, new

        same, new = client.portal.call(scenario)  # type: ignore[union-attr]
        assert (same.created, same.job.job_id) == (False, over_http["job_id"])
        assert new.created and client.get(f"/jobs/{new.job.job_id}").json()["status"] == "queued"


def test_submit_many_returns_one_outcome_per_item_and_tenants_do_not_share_jobs() -> None:
    app = make_app()

    async def scenario() -> None:
        outcomes = await app.submit_many([{"title": "a"}, {"title": ""}, "not a dict", {"title": "a"}])  # type: ignore[list-item]
        first, bad, not_dict, duplicate = outcomes
        assert isinstance(first, Submission) and first.created
        assert isinstance(bad, PayloadError) and isinstance(not_dict, PayloadError)
        assert isinstance(duplicate, Submission) and duplicate.job.job_id == first.job.job_id
        mine = await app.submit({"title": "a"}, tenant="t1")
        assert mine.created and mine.job.tenant == "t1" and mine.job.job_id != first.job.job_id

    asyncio.run(scenario())


def test_sync_twins_work_outside_an_event_loop_and_refuse_inside_one() -> None:
    app = make_app()
    submission = app.submit_sync({"title": "sync"})
    assert submission.created
    outcomes = app.submit_many_sync([{"title": "sync"}, {"title": "other"}])
    assert [o.created for o in outcomes if isinstance(o, Submission)] == [False, True]

    async def inside() -> None:
        with pytest.raises(ConfigError, match=r"await app\.submit"):
            app.submit_sync({"title": "x"})

    asyncio.run(inside())


def test_jobs_submitted_in_process_run_on_the_worker(client: TestClient) -> None:
    response = client.post("/jobs/batch", json={"jobs": [{"payload": {"title": f"t{i}"}} for i in range(5)]})
    ids = [r["job"]["job_id"] for r in response.json()["results"]]
    for job_id in ids:
        for _ in range(500):
            if client.get(f"/jobs/{job_id}").json()["status"] == "done":
                break
            time.sleep(0.01)
        assert client.get(f"/jobs/{job_id}").json()["status"] == "done"


def test_a_batch_counts_each_item_against_the_per_key_limit_and_the_tenant_quota(tmp_path: Any) -> None:
    quotas = tmp_path / "quotas.yaml"
    quotas.write_text("tenants:\n  acme:\n    max_jobs_per_day: 3\n")
    app = make_app(rate_limit_submit_per_minute=0, rate_limit_submit_per_key_per_minute=4, api_key=["op"],
                   tenant_keys="acme:ka", quotas_file=quotas)
    with TestClient(create_api(app, embedded_worker=False)) as client:
        acme = {"X-API-Key": "ka"}
        batch = client.post("/jobs/batch", json={"jobs": [{"payload": {"title": str(i)}} for i in range(4)]},
                            headers=acme)
        assert batch.status_code == 207
        assert [r["status"] for r in batch.json()["results"]] == [202, 202, 202, 429]  # the quota, per item
        assert "max_jobs_per_day" in batch.json()["results"][3]["detail"]
        # The key has used its 4 submissions this minute (items count): the next request is refused whole.
        assert client.post("/jobs/batch", json={"jobs": [{"payload": {"title": "x"}}]}, headers=acme).status_code == 429
        assert client.post("/jobs/batch", json={"jobs": [{"payload": {"title": "op"}}]},
                           headers={"X-API-Key": "op"}).status_code == 207


def test_quota_admit_many_admits_exactly_what_remains() -> None:
    from praisonai_svc.adapters.memory import MemoryRateLimiter
    from praisonai_svc.errors import QuotaExceeded
    from praisonai_svc.records import RecordStore
    from praisonai_svc.usage.quotas import QuotaGuard, TenantQuota

    records: RecordStore = memory_backend().records
    guard = QuotaGuard({"acme": TenantQuota(max_jobs_per_day=3), "globex": TenantQuota(max_output_bytes_per_day=0)},
                       MemoryRateLimiter(), records)

    async def scenario() -> None:
        assert await guard.admit_many(None, 3) == [None] * 3
        assert await guard.admit_many("other", 2) == [None, None]
        first = await guard.admit_many("acme", 2)
        assert first == [None, None]
        second = await guard.admit_many("acme", 3)
        assert second[0] is None and all(isinstance(e, QuotaExceeded) for e in second[1:])
        used_up = await guard.admit_many("globex", 2)
        assert all(isinstance(e, QuotaExceeded) and e.quota == "max_output_bytes_per_day" for e in used_up)
        assert await guard.admit_many("acme", 0) == []

    asyncio.run(scenario())


def test_submit_many_publishes_its_queued_events_at_once_and_meters_every_item() -> None:
    from praisonai_svc.events.bus import Event
    from praisonai_svc.hashing import payload_hash
    from praisonai_svc.job_service import JobService
    from praisonai_svc.models.job import JobRequest
    from praisonai_svc.usage.meter import Meter

    app = make_app(rate_limit_submit_per_minute=0)
    calls: list[list[Event]] = []

    async def batch(events: list[Event]) -> None:
        calls.append(events)

    app.events.subscribe_batches("job.queued", batch)

    async def scenario() -> None:
        outcomes = await app.submit_many([{"title": str(i)} for i in range(5)] + [{"title": "0"}], service="deck")
        submissions = [o for o in outcomes if isinstance(o, Submission)]
        assert [s.created for s in submissions] == [True] * 5 + [False]
        assert len(calls) == 1 and [e.subject for e in calls[0]] == [s.job.job_id for s in submissions[:5]]
        ids = [s.job.job_id for s in submissions[:5]]
        assert len(set(ids)) == 5 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
        for submission in submissions:  # the producer's canonical JSON was hashed: the same hash as made anew
            assert submission.job.payload_hash == payload_hash(submission.job.payload, scope="deck")

        backend = app.backend
        assert backend is not None
        service = JobService(app, backend, meter=Meter(backend.records, enabled=True))

        await service.submit_many([JobRequest(payload={"title": f"m{i}"}) for i in range(4)], tenant="t", size=400)
        totals = list(service.meter._totals.values())
        assert totals and all(t.jobs_submitted == 4 and t.bytes_in == 400 and t.storage_requests == 8 for t in totals)

    asyncio.run(scenario())
