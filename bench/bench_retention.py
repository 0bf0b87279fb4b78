"""Retention benchmarks (issue 19): storage that levels off, the pruner's cost to POST /jobs, and its idle cost.

    .venv/bin/python bench/bench_retention.py            # 10-minute soak (100,000 jobs), then the other two
    .venv/bin/python bench/bench_retention.py --quick    # 3-minute soak at the same rate

[1] Soak: one API and one worker on the local backend with a 1-minute retention and the pruner on (its leader
    runs every PRAISONAI_PRUNE_INTERVAL=20s), no-op jobs submitted at a steady rate. Every minute it prints the
    data dir's size (SQLite + WAL + outputs) and the processes' RSS; at the end the slope of the last half
    (MB/min; ~0 means it levelled off) against the first half's, and the disk used per 1,000 retained jobs.
[2] POST /jobs rate (wrk, unique payloads) while a pruner removes 40,000 expired jobs from the same SQLite file
    in another process, against the same run with no pruner. One run, ratio printed (target >= 0.9).
[3] Azure (Azurite): storage requests of one pruner run with nothing to prune, and so requests per minute at the
    default 5-minute interval (budget: <= 4 per process per minute, everything included).
[4] Azure (Azurite): storage used per 1,000 retained no-op jobs: 1,000 jobs submitted in-process and run by an
    in-process worker, then every table entity is sized with Azure's billing formula for entities, every blob by
    its length, and the queues are counted. (The local backend's figure is [1]'s last line.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from common import BENCH, REPO, env_with, free_port, process, python, wrk

sys.path.insert(0, str(REPO))
from praisonai_svc.backend import open_backend
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models.job import Job, JobResult, JobStatus, utcnow
from praisonai_svc.settings import Settings

MB = 1024 * 1024
MAX_IN_FLIGHT = 64  # submissions waiting for an answer at once; beyond it the soak sends less than its rate


def dir_size(path: Path) -> tuple[float, float, float]:
    """(database MB, WAL MB, outputs MB) of a local data dir."""
    db = path / "praisonai.sqlite3"
    wal = path / "praisonai.sqlite3-wal"
    outputs = sum(f.stat().st_size for f in (path / "blobs").rglob("*") if f.is_file())
    return (db.stat().st_size / MB if db.exists() else 0.0, wal.stat().st_size / MB if wal.exists() else 0.0,
            outputs / MB)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (y per x) of (x, y) points."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    denominator = sum((x - mean_x) ** 2 for x in xs) or 1.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / denominator


async def submit_steadily(url: str, rate: float, seconds: float, tick: object) -> int:
    """POST unique no-op jobs at ``rate`` per second for ``seconds``; call ``tick(elapsed)`` every second."""
    sent = 0
    started = time.perf_counter()
    next_tick = 1.0
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        pending: set[asyncio.Task[httpx.Response]] = set()
        while (elapsed := time.perf_counter() - started) < seconds:
            due = min(int(elapsed * rate) - sent, MAX_IN_FLIGHT - len(pending))  # a slow API slows the sender
            for _ in range(max(due, 0)):
                payload = {"payload": {"n": sent, "run": started}}
                pending.add(asyncio.create_task(client.post("/jobs", json=payload)))
                sent += 1
            done = {t for t in pending if t.done()}
            for task in done:
                if task.result().status_code >= 400:
                    raise RuntimeError(f"submission failed: {task.result().status_code} {task.result().text}")
            pending -= done
            if elapsed >= next_tick:
                tick(elapsed)  # type: ignore[operator]
                next_tick += 1.0
            await asyncio.sleep(0.005)
        await asyncio.gather(*pending)
    return sent


def soak(minutes: float, rate: float) -> None:
    print(f"[1] soak: {minutes:g} min at {rate:g} jobs/s, retention 1m, pruner every 20 s (local backend)")
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data, PRAISONAI_JOB_RETENTION="1m", PRAISONAI_IDEMPOTENCY_WINDOW="1m",
                       PRAISONAI_PRUNE_INTERVAL="20s", PRAISONAI_WORKER_CONCURRENCY="32",
                       PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05", PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.5")
        api = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
        worker = [python(), "-m", "praisonai_svc", "worker", "noop_service.py"]
        with process(api, env, f"http://127.0.0.1:{port}/live") as api_proc, process(worker, env) as worker_proc:
            time.sleep(1.0)
            start_rss = rss_mb(api_proc.pid), rss_mb(worker_proc.pid)
            samples: list[tuple[float, float]] = []
            print("    minute   jobs sent   sqlite MB   wal MB   outputs MB   total MB   api RSS   worker RSS")
            sent_box = [0]

            def tick(elapsed: float) -> None:
                if int(elapsed) % 60 != 0:
                    return
                db, wal, outputs = dir_size(Path(data))
                total = db + wal + outputs
                samples.append((elapsed / 60, total))
                print(f"    {elapsed / 60:6.0f}   {int(elapsed * rate):9d}   {db:9.1f}   {wal:6.1f}   {outputs:10.1f}"
                      f"   {total:8.1f}   {rss_mb(api_proc.pid):7.0f}   {rss_mb(worker_proc.pid):10.0f}",
                      flush=True)

            sent_box[0] = asyncio.run(submit_steadily(f"http://127.0.0.1:{port}", rate, minutes * 60 + 0.5, tick))
            end_rss = rss_mb(api_proc.pid), rss_mb(worker_proc.pid)
            jobs = int(subprocess.run(["sqlite3", str(Path(data) / "praisonai.sqlite3"), "SELECT count(*) FROM jobs"],
                                      capture_output=True, text=True).stdout.strip() or 0)
    half = len(samples) // 2
    first, last = samples[: max(half, 2)], samples[half:]
    print(f"    jobs submitted {sent_box[0]:,}; rows kept at the end {jobs:,} (retention 1 minute)")
    if len(last) >= 2 and len(first) >= 2:
        print(f"    growth: first half {slope(first):+.2f} MB/min, last half {slope(last):+.2f} MB/min "
              f"(levelled off when the last is ~0)")
    if jobs:
        print(f"    disk per 1,000 retained jobs: {samples[-1][1] / jobs * 1000:.2f} MB (SQLite + WAL + outputs)")
    print(f"    RSS start -> end: API {start_rss[0]:.0f} -> {end_rss[0]:.0f} MB, "
          f"worker {start_rss[1]:.0f} -> {end_rss[1]:.0f} MB")


async def seed_expired(settings: Settings, count: int) -> None:
    backend = await open_backend(settings)
    old = utcnow() - timedelta(days=60)
    try:
        for start in range(0, count, 500):
            async def one(index: int) -> None:
                payload = {"seed": index}
                job = Job(job_id=f"{index:032x}", service="noop", payload=payload,
                          payload_hash=payload_hash(payload, "noop"), created_utc=old, updated_utc=old)
                stored = await backend.jobs.create(job)
                await backend.jobs.update(stored.model_copy(update={
                    "status": JobStatus.DONE,
                    "result": JobResult(blob_name=f"noop/{job.job_id}/ok.txt", content_type="text/plain",
                                        filename="ok.txt", size=2)}))
            await asyncio.gather(*(one(i) for i in range(start, min(start + 500, count))))
    finally:
        await backend.close()


def post_rate_with_pruner(seconds: int, expired: int) -> None:
    print(f"[2] POST /jobs rate (wrk -c32, {seconds} s) with and without a pruner removing {expired:,} expired jobs")
    rates: dict[str, float] = {}
    for mode in ("without pruner", "with pruner"):
        port = free_port()
        with tempfile.TemporaryDirectory() as data:
            env = env_with(PRAISONAI_DATA_DIR=data, PRAISONAI_PRUNE_INTERVAL="1d")
            asyncio.run(seed_expired(Settings(_env_file=None, data_dir=Path(data)), expired))  # type: ignore[call-arg]
            api = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
            with process(api, env, f"http://127.0.0.1:{port}/live"):
                wrk(f"http://127.0.0.1:{port}", 2)  # warm-up
                pruner = None
                if mode == "with pruner":
                    pruner = subprocess.Popen([python(), "-m", "praisonai_svc", "prune", "--app", "noop_service.py"],
                                              env=env, cwd=BENCH, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                    time.sleep(1.5)  # past its start-up, into the deleting
                rates[mode] = wrk(f"http://127.0.0.1:{port}", seconds)
                if pruner is not None:
                    still_running = pruner.poll() is None
                    out = pruner.communicate(timeout=600)[0].decode()
                    print(f"    pruner: {out.strip().splitlines()[0] if out.strip() else '(no output)'}; "
                          f"{'still pruning when wrk ended' if still_running else 'FINISHED BEFORE wrk ENDED'}")
        print(f"    {mode}: {rates[mode]:,.0f} req/s")
    print(f"    ratio with/without pruner: {rates['with pruner'] / rates['without pruner']:.2f} (target >= 0.9)")


def azure_idle_cost() -> None:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.retention import Pruner
    from tests.support.azurite import start_azurite

    print("[3] Azure (Azurite): storage requests of an idle pruner run")
    with tempfile.TemporaryDirectory() as tmp:
        azurite = start_azurite(Path(tmp))
        try:
            settings = Settings(_env_file=None, azure_storage_connection_string=azurite.connection_string,  # type: ignore[call-arg]
                                data_dir=Path(tmp) / "data")
            app = ServiceApp("bench", settings=settings)
            for kind in ("file", "execution", "webhook_delivery", "usage_hour", "usage_day"):
                app.retention.track(kind)

            async def run() -> int:
                backend = await open_backend(settings)
                try:
                    mark = azurite.log_mark()
                    await Pruner(app, backend).run_once()
                    return len(azurite.requests_since(mark))
                finally:
                    await backend.close()

            requests = asyncio.run(run())
        finally:
            azurite.stop()
    interval = Settings(_env_file=None).prune_interval.total_seconds() / 60  # type: ignore[call-arg]
    print(f"    one run with nothing to prune (jobs + 5 record kinds): {requests} requests; at one run every "
          f"{interval:g} min: {requests / interval:.1f} requests/min (whole budget: 4 per process per minute)")


def entity_bytes(entity: dict[str, object]) -> int:
    """Azure's billed size of one table entity: 4 bytes + 2 per character of PartitionKey and RowKey + 2, and per
    property 8 bytes + 2 per character of its name + its value (string 4 + 2 per character, 64-bit 8, bool 1,
    binary 4 + its length; the service stores Timestamp too)."""
    size = 4 + 2 * (len(str(entity.get("PartitionKey", ""))) + len(str(entity.get("RowKey", "")))) + 2
    size += 8 + 2 * len("Timestamp") + 8
    for name, value in entity.items():
        if name in ("PartitionKey", "RowKey"):
            continue
        size += 8 + 2 * len(name)
        if isinstance(value, bool):
            size += 1
        elif isinstance(value, (int, float)):
            size += 8
        elif isinstance(value, (bytes, bytearray)):
            size += 4 + len(value)
        else:
            size += 4 + 2 * len(str(value))
    return size


def _run_noop_jobs(settings: Settings, jobs: int) -> None:
    """``jobs`` no-op jobs submitted in-process and run to ``done`` by an in-process worker."""
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.worker import Worker

    app = ServiceApp("bench", settings=settings)

    @app.job("noop")
    def noop(payload: dict[str, object]) -> tuple[bytes, str, str]:
        return b"ok", "text/plain", "ok.txt"

    async def done(backend: object) -> int:
        counts = await backend.jobs.count_by_status(limit=jobs * 2)  # type: ignore[attr-defined]
        return int(counts.get(JobStatus.DONE, 0))

    async def run() -> None:
        for start in range(0, jobs, 500):
            await app.submit_many([{"i": i} for i in range(start, min(start + 500, jobs))])
        worker = Worker(app)
        task = asyncio.create_task(worker.run())
        backend = await open_backend(settings)
        try:
            deadline = time.monotonic() + 600
            while await done(backend) < jobs and time.monotonic() < deadline:  # noqa: ASYNC110 - polls storage
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # the last acks and event writes
        finally:
            worker.stop()
            await task
            await backend.close()
            if app.backend is not None:
                await app.backend.close()

    asyncio.run(run())


def _azure_usage(conn: str) -> tuple[dict[str, list[int]], int, int, int]:
    """Billed bytes of every table entity (by table and record kind), blob bytes and count, queued messages."""
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    table_bytes: dict[str, list[int]] = {}
    tables = TableServiceClient.from_connection_string(conn)
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            kind = str(entity.get("kind") or entity["PartitionKey"]).split(":")[0][:24]
            table_bytes.setdefault(f"{table.name}/{kind}", []).append(entity_bytes(dict(entity)))
    blobs = BlobServiceClient.from_connection_string(conn)
    sizes = [blob.size for container in blobs.list_containers()
             for blob in blobs.get_container_client(container.name).list_blobs()]
    queues = QueueServiceClient.from_connection_string(conn)
    waiting = sum(queues.get_queue_client(q.name).get_queue_properties().approximate_message_count
                  for q in queues.list_queues())
    return table_bytes, sum(sizes), len(sizes), waiting


def azure_storage_per_1000_jobs(jobs: int = 1000) -> None:
    from tests.support.azurite import start_azurite

    print(f"[4] Azure (Azurite): storage used by {jobs:,} retained no-op jobs (2-byte outputs)")
    with tempfile.TemporaryDirectory() as tmp:
        azurite = start_azurite(Path(tmp))
        try:
            settings = Settings(_env_file=None, azure_storage_connection_string=azurite.connection_string,  # type: ignore[call-arg]
                                data_dir=Path(tmp) / "data", worker_concurrency=32,
                                worker_poll_interval_min=0.05, worker_poll_interval_max=0.5)
            _run_noop_jobs(settings, jobs)
            table_bytes, blob_bytes, blob_count, waiting = _azure_usage(azurite.connection_string)
        finally:
            azurite.stop()
    total_table = sum(sum(sizes) for sizes in table_bytes.values())
    for name, sizes in sorted(table_bytes.items(), key=lambda item: -sum(item[1])):
        print(f"    table {name:<40} {len(sizes):6,} entities {sum(sizes) / 1024:8.1f} KiB")
    print(f"    per 1,000 jobs: tables {total_table / jobs * 1000 / MB:.2f} MB, blobs "
          f"{blob_bytes / jobs * 1000 / MB:.3f} MB ({blob_count:,} blobs), queue messages left {waiting}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 3-minute soak and shorter wrk runs")
    parser.add_argument("--minutes", type=float, default=None, help="soak length (default 10, quick 3)")
    parser.add_argument("--rate", type=float, default=167.0, help="soak submissions per second (default 167)")
    parser.add_argument("--skip-soak", action="store_true", help="only [2], [3] and [4]")
    parser.add_argument("--only-azure-size", action="store_true", help="only [4]")
    args = parser.parse_args()
    os.chdir(BENCH)
    print(f"machine load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if not (args.skip_soak or args.only_azure_size):
        soak(args.minutes or (3 if args.quick else 10), args.rate)
    if not args.only_azure_size:
        post_rate_with_pruner(5 if args.quick else 10, 40_000)
        azure_idle_cost()
    azure_storage_per_1000_jobs()


if __name__ == "__main__":
    main()
