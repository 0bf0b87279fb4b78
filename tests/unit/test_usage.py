"""Metering, usage reads and quotas on the in-memory record store and rate limiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from praisonai_svc.adapters.memory import MemoryRateLimiter
from praisonai_svc.adapters.memory_records import MemoryRecordStore
from praisonai_svc.errors import ConfigError, PayloadError, QuotaExceeded
from praisonai_svc.records import Record
from praisonai_svc.usage import Meter
from praisonai_svc.usage.buckets import KIND_DAY, KIND_HOUR
from praisonai_svc.usage.cost import AZURE_LIST_PRICES
from praisonai_svc.usage.counts import UsageCounts
from praisonai_svc.usage.query import UsageQuery, read_usage, to_csv, totals_by_tenant
from praisonai_svc.usage.quotas import QuotaGuard, TenantQuota, load_quotas_file, next_reset, quotas_from_tenants

NOON = datetime(2026, 12, 3, 12, 30, tzinfo=UTC)


class CountingStore(MemoryRecordStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[Record] = []

    async def replace(self, record: Record) -> Record:
        self.writes.append(record)
        return await super().replace(record)


async def test_one_write_per_bucket_per_flush_however_many_jobs():
    store = CountingStore()
    meter = Meter(store, instance="proc-a")
    for _ in range(500):
        meter.record("acme", "ppt", at=NOON, jobs_done=1, handler_seconds=0.5, bytes_out=10)
    meter.record(None, "ppt", at=NOON + timedelta(hours=1), jobs_submitted=1)
    assert await meter.flush() == 4  # (hour, day) for acme at 12:00, (hour, day) for the untenanted at 13:00
    assert {(r.kind, r.id) for r in store.writes} == {
        (KIND_HOUR, "2026120312:acme:ppt:proc-a"), (KIND_DAY, "20261203:acme:ppt:proc-a"),
        (KIND_HOUR, "2026120313:-:ppt:proc-a"), (KIND_DAY, "20261203:-:ppt:proc-a")}
    hour = await store.get(KIND_HOUR, "2026120312:acme:ppt:proc-a")
    assert hour.body["jobs_done"] == 500 and hour.body["handler_seconds"] == 250.0
    assert hour.expires_utc is not None and hour.expires_utc < (await store.get(KIND_DAY, "20261203:-:ppt:proc-a")
                                                                 ).expires_utc  # type: ignore[operator]
    assert await meter.flush() == 0  # nothing changed: nothing written


async def test_readers_add_every_process_up_and_filter_by_tenant():
    store = MemoryRecordStore()
    for instance, done in (("proc-a", 2), ("proc-b", 3)):
        meter = Meter(store, instance=instance)
        meter.record("acme", "ppt", at=NOON, jobs_done=done, bytes_out=100)
        meter.record("globex", "ppt", at=NOON, jobs_failed=1)
        await meter.flush()
    day = UsageQuery(NOON.replace(hour=0, minute=0), NOON + timedelta(hours=1))
    rows = await read_usage(store, day)
    totals = totals_by_tenant(rows)
    assert totals["acme"].jobs_done == 5 and totals["acme"].bytes_out == 200 and totals["globex"].jobs_failed == 2
    only = await read_usage(store, UsageQuery(day.start, day.end, tenant="acme", granularity="hour"))
    assert {row.tenant for row in only} == {"acme"} and only[0].period == "2026-12-03T12:00:00+00:00"
    before = await read_usage(store, UsageQuery(day.start, NOON.replace(minute=0), granularity="hour"))
    assert before == []  # the 12:00 hour starts where this range ends
    assert to_csv(rows).splitlines()[0].startswith("period,tenant,service,jobs_submitted")


def test_ranges_are_checked():
    with pytest.raises(PayloadError, match="after"):
        UsageQuery(NOON, NOON).check()
    with pytest.raises(PayloadError, match="31 days"):
        UsageQuery(NOON - timedelta(days=40), NOON, granularity="hour").check()


def test_quota_config_from_the_tenants_mapping(tmp_path: Path):
    quotas = quotas_from_tenants({"acme": {"max_jobs_per_day": 5, "webhook": "x"},
                                  "globex": {"quotas": {"max_output_bytes_per_day": 10}}, "free": {}, "none": None})
    assert quotas == {"acme": TenantQuota(max_jobs_per_day=5), "globex": TenantQuota(max_output_bytes_per_day=10)}
    with pytest.raises(ConfigError, match=r"tenants\.acme: max_jobs_per_day"):
        quotas_from_tenants({"acme": {"max_jobs_per_day": -1}})
    path = tmp_path / "app.yaml"
    path.write_text("tenants:\n  acme:\n    max_handler_seconds_per_day: 60\n")
    assert load_quotas_file(path) == {"acme": TenantQuota(max_handler_seconds_per_day=60)}
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="PRAISONAI_QUOTAS_FILE"):
        load_quotas_file(path)


def test_quotas_come_from_the_app_yaml_tenants_section(tmp_path: Path):
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.settings import Settings
    from praisonai_svc.usage.runtime import configured_quotas

    (tmp_path / "praisonai.yaml").write_text(
        "tenants:\n  acme:\n    max_jobs_per_day: 5\n  globex:\n    quotas:\n      max_output_bytes_per_day: 9\n")

    def app_with(**values: object) -> ServiceApp:
        app = ServiceApp("quotas", settings=Settings(_env_file=None, data_dir=tmp_path, **values))  # type: ignore[call-arg]
        app.root_dir = tmp_path  # praisonai.yaml beside the handlers file, as the loader sets it
        return app

    assert configured_quotas(app_with()) == {"acme": TenantQuota(max_jobs_per_day=5),
                                             "globex": TenantQuota(max_output_bytes_per_day=9)}
    other = tmp_path / "quotas.yaml"  # PRAISONAI_QUOTAS_FILE, when set, is read instead
    other.write_text("tenants:\n  initech:\n    max_handler_seconds_per_day: 60\n")
    assert configured_quotas(app_with(quotas_file=other)) == {"initech": TenantQuota(max_handler_seconds_per_day=60)}
    (tmp_path / "praisonai.yaml").write_text("tenants:\n  acme:\n    max_jobs_per_day: lots\n")
    with pytest.raises(ConfigError, match=r"praisonai\.yaml:3: tenants\.acme: max_jobs_per_day"):
        configured_quotas(app_with())


async def test_quota_guard_counts_jobs_exactly_and_reads_usage_for_the_rest():
    store = MemoryRecordStore()
    guard = QuotaGuard({"acme": TenantQuota(max_jobs_per_day=2), "globex": TenantQuota(max_output_bytes_per_day=100)},
                       MemoryRateLimiter(), store)
    await guard.admit("acme")
    await guard.admit("acme")
    with pytest.raises(QuotaExceeded) as refused:
        await guard.admit("acme")
    assert refused.value.quota == "max_jobs_per_day" and refused.value.details()["limit"] == 2
    await guard.admit("other")  # no quota
    await guard.admit(None)
    await guard.admit("globex")
    meter = Meter(store, instance="w")
    meter.record("globex", "ppt", bytes_out=100)
    await meter.flush()
    guard._cache.clear()  # the 2-second cache: a fresh read, as the next request after it expires would make
    with pytest.raises(QuotaExceeded, match="max_output_bytes_per_day"):
        await guard.admit("globex")


def test_reset_is_the_next_utc_midnight():
    midnight, seconds = next_reset(NOON)
    assert midnight == datetime(2026, 12, 4, tzinfo=UTC) and seconds == 11 * 3600 + 30 * 60 + 1


def test_cost_estimate_adds_its_parts():
    estimate = AZURE_LIST_PRICES.estimate(UsageCounts(handler_seconds=1000, storage_requests=10_000,
                                                      bytes_out=1024**3))
    assert estimate["compute_usd"] == pytest.approx(1000 * (0.5 * 0.000024 + 0.000003))
    assert estimate["total_usd"] == pytest.approx(sum(v for k, v in estimate.items() if k != "total_usd"), abs=1e-5)


async def test_disabled_meter_writes_nothing():
    store = CountingStore()
    meter = Meter(store, enabled=False)
    meter.record("acme", "ppt", jobs_done=1)
    assert await meter.flush() == 0 and store.writes == []


async def test_bucket_records_expire_by_the_meters_retention():
    store = MemoryRecordStore()
    meter = Meter(store, instance="p", retention=(timedelta(hours=5), timedelta(days=3)))
    meter.record("acme", "ppt", at=NOON, jobs_done=1)
    await meter.flush()
    hour = await store.get(KIND_HOUR, "2026120312:acme:ppt:p")
    day = await store.get(KIND_DAY, "20261203:acme:ppt:p")
    assert hour.expires_utc == NOON.replace(minute=0) + timedelta(hours=5)
    assert day.expires_utc == NOON.replace(hour=0, minute=0) + timedelta(days=3)
