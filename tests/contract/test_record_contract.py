"""RecordStore contract (see ``praisonai_svc.records``), checked against every adapter: memory, local, Azurite."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from praisonai_svc.backend import Backend
from praisonai_svc.errors import ConcurrencyConflict, ConfigError, RecordExists, RecordNotFound, RecordTooLarge
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import (
    MAX_BODY_BYTES,
    Record,
    newest_first_id,
    oldest_first_id,
    update_record,
)


def new_id() -> str:
    return uuid.uuid4().hex


async def test_create_then_get_round_trips_body_fields_and_expiry(backend: Backend) -> None:
    expires = utcnow().replace(microsecond=0) + timedelta(days=1)
    body = {"name": "ключ 🚀", "n": 3, "nested": {"list": [1, 2.5, None, True]}}
    created = await backend.records.create(
        Record("file", "f1", body, {"tenant": "acme", "status": "uploaded"}, expires)
    )
    assert created.etag
    got = await backend.records.get("file", "f1")
    assert got.body == body
    assert dict(got.fields) == {"tenant": "acme", "status": "uploaded"}
    assert got.expires_utc == expires
    assert got.etag == created.etag


async def test_create_refuses_an_existing_id_and_exactly_one_concurrent_create_wins(backend: Backend) -> None:
    await backend.records.create(Record("lease", "one", {"holder": "a"}))
    with pytest.raises(RecordExists):
        await backend.records.create(Record("lease", "one", {"holder": "b"}))
    outcomes = await asyncio.gather(
        *(backend.records.create(Record("lease", "race", {"holder": str(i)})) for i in range(8)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, RecordExists) for o in outcomes if isinstance(o, BaseException))


async def test_same_id_in_two_kinds_are_two_records(backend: Backend) -> None:
    await backend.records.create(Record("file", "x", {"a": 1}))
    await backend.records.create(Record("workflow", "x", {"a": 2}))
    assert (await backend.records.get("file", "x")).body == {"a": 1}
    assert (await backend.records.get("workflow", "x")).body == {"a": 2}


async def test_get_and_find_of_a_missing_record(backend: Backend) -> None:
    with pytest.raises(RecordNotFound):
        await backend.records.get("file", "missing")
    assert await backend.records.find("file", "missing") is None


async def test_conditional_replace_detects_a_concurrent_change(backend: Backend) -> None:
    first = await backend.records.create(Record("control", "svc", {"desired": "running"}))
    second = await backend.records.replace(first.evolve(body={"desired": "stopped"}))
    assert second.etag != first.etag
    with pytest.raises(ConcurrencyConflict):
        await backend.records.replace(first.evolve(body={"desired": "running"}))
    assert (await backend.records.get("control", "svc")).body == {"desired": "stopped"}
    with pytest.raises(RecordNotFound):
        await backend.records.replace(Record("control", "nope", {}, etag=first.etag))


async def test_unconditional_replace_upserts_and_rewrites_fields(backend: Backend) -> None:
    await backend.records.replace(Record("heartbeat", "i1", {"n": 1}, {"role": "api"}))
    await backend.records.replace(Record("heartbeat", "i1", {"n": 2}, {"role": "worker"}))
    got = await backend.records.get("heartbeat", "i1")
    assert got.body == {"n": 2}
    assert (await backend.records.list("heartbeat", where={"role": "api"})).records == []
    assert [r.id for r in (await backend.records.list("heartbeat", where={"role": "worker"})).records] == ["i1"]


async def test_delete_is_idempotent_and_conditional_when_asked(backend: Backend) -> None:
    created = await backend.records.create(Record("file", "d", {}))
    changed = await backend.records.replace(created.evolve(body={"v": 2}))
    with pytest.raises(ConcurrencyConflict):
        await backend.records.delete("file", "d", etag=created.etag)
    await backend.records.delete("file", "d", etag=changed.etag)
    assert await backend.records.find("file", "d") is None
    await backend.records.delete("file", "d")  # again: no error


async def test_list_filters_on_fields_in_id_order_with_cursors(backend: Backend) -> None:
    for index in range(7):
        await backend.records.create(
            Record("file", f"id{index:02d}", {"i": index},
                   {"tenant": "a" if index % 2 == 0 else "b", "status": "done" if index < 4 else "new"})
        )
    await backend.records.create(Record("other", "id00", {}, {"tenant": "a"}))
    everything = await backend.records.list("file", limit=100)
    assert [r.id for r in everything.records] == [f"id{i:02d}" for i in range(7)]
    assert everything.next_cursor is None
    tenant_a = await backend.records.list("file", where={"tenant": "a"}, limit=100)
    assert [r.body["i"] for r in tenant_a.records] == [0, 2, 4, 6]
    both = await backend.records.list("file", where={"tenant": "a", "status": "done"}, limit=100)
    assert [r.body["i"] for r in both.records] == [0, 2]
    seen, cursor = [], None
    while True:
        page = await backend.records.list("file", where={"tenant": "a"}, limit=3, cursor=cursor)
        seen += [r.body["i"] for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [0, 2, 4, 6]
    assert await backend.records.count("file", where={"status": "new"}) == 3
    assert await backend.records.count("file") == 7


async def test_expired_lists_only_records_past_their_expiry(backend: Backend) -> None:
    now = utcnow()
    await backend.records.create(Record("exe", "old1", {}, expires_utc=now - timedelta(hours=2)))
    await backend.records.create(Record("exe", "old2", {}, expires_utc=now - timedelta(minutes=1)))
    await backend.records.create(Record("exe", "fresh", {}, expires_utc=now + timedelta(hours=1)))
    await backend.records.create(Record("exe", "forever", {}))
    await backend.records.create(Record("other", "old3", {}, expires_utc=now - timedelta(hours=2)))
    due = await backend.records.expired("exe", before=now)
    assert sorted(r.id for r in due) == ["old1", "old2"]
    assert len(await backend.records.expired("exe", before=now, limit=1)) == 1


async def test_large_bodies_up_to_the_limit_round_trip_and_larger_ones_are_refused(backend: Backend) -> None:
    text = "é🚀x" * ((MAX_BODY_BYTES - 1000) // 8)
    stored = await backend.records.create(Record("extract", "big", {"text": text}))
    assert (await backend.records.get("extract", "big")).body["text"] == text
    assert stored.body["text"] == text
    with pytest.raises(RecordTooLarge):
        await backend.records.create(Record("extract", "huge", {"text": "x" * (MAX_BODY_BYTES + 1)}))


@pytest.mark.parametrize("bad", [
    Record("Bad Kind", "x", {}), Record("file", "a/b", {}), Record("file", "a#b", {}), Record("file", "", {}),
    Record("file", "x", {}, {"Bad": "v"}), Record("file", "x", {}, {"f": "v" * 300}),
    Record("file", "x", {"n": float("nan")}),
])
async def test_unusable_records_are_refused_before_storage(backend: Backend, bad: Record) -> None:
    with pytest.raises(ConfigError):
        await backend.records.create(bad)


async def test_update_record_retries_optimistic_writes_until_every_change_lands(backend: Backend) -> None:
    await backend.records.create(Record("usage", "bucket", {"jobs": 0}))

    def bump(record: Record) -> Record:
        return record.evolve(body={"jobs": record.body["jobs"] + 1})

    await asyncio.gather(*(update_record(backend.records, "usage", "bucket", bump, attempts=50) for _ in range(10)))
    assert (await backend.records.get("usage", "bucket")).body == {"jobs": 10}


async def test_two_processes_share_records(backend: Backend, twin_backend: Backend) -> None:
    created = await backend.records.create(Record("control", "ppt", {"desired": "stopped"}, {"kind": "job"}))
    seen = await twin_backend.records.get("control", "ppt")
    assert seen.body == {"desired": "stopped"} and seen.etag == created.etag
    await twin_backend.records.replace(seen.evolve(body={"desired": "running"}))
    with pytest.raises(ConcurrencyConflict):
        await backend.records.replace(created.evolve(body={"desired": "x"}))


def test_id_helpers_sort_by_creation_time_as_promised() -> None:
    oldest = [oldest_first_id() for _ in range(50)]
    newest = [newest_first_id() for _ in range(50)]
    assert sorted(oldest) == oldest
    assert sorted(newest) == newest[::-1]
