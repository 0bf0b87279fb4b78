"""Live job updates: delivery latency, the cost of 1,000 watchers, webhook latency (local and Azurite).

1. Latency from ``context.progress()`` in a worker process to an SSE client of the API process: p50/p99 over
   1,000 progress events (20 jobs x 50 events, 250 ms apart so that none is coalesced), on the embedded backend and
   on Azurite (aims: p99 <= 200 ms local, <= 1 s Azurite).
2. 1,000 concurrent SSE clients watching 100 running jobs (each reporting progress every second) on one API
   process: the API's CPU and its storage reads per second (the watcher's, from /metrics), against 1,000 clients
   polling ``GET /jobs/{id}`` every 5 s (one job read per request) of the same running jobs.
3. Webhook delivery latency after ``done`` (finished_utc of the job → the receiver has the POST): p50/p99, for
   200 jobs submitted 10 a second with a callback_url to a receiver in the benchmark.

Figures only, no assertions. Run: .venv/bin/python bench/bench_live.py [--quick] [--backend local|azurite|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from bench_azure import Processes, cpu_seconds
from common import BENCH, REPO, env_with, free_port, python

sys.path.insert(0, str(REPO))
from tests.support.azurite import start_azurite

SECRET = "bench-webhook-secret-0123456789abcdef"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def service(processes: Processes, backend_env: dict[str, str], tag: str) -> Iterator[str]:
    port = free_port()
    env = env_with(PRAISONAI_WORKER_CONCURRENCY="128", PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05",
                   PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.5", PRAISONAI_WEBHOOK_SECRET=SECRET,
                   PRAISONAI_FETCH_ALLOWED_HOSTS="127.0.0.1", **backend_env)
    processes.start(f"api-{tag}", [python(), "-m", "praisonai_svc", "api", "live_service.py", "--port", str(port)],
                    env, BENCH)
    processes.start(f"worker-{tag}", [python(), "-m", "praisonai_svc", "worker", "live_service.py"], env, BENCH)
    try:
        processes.wait_http(f"api-{tag}", f"http://127.0.0.1:{port}/live")
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop(f"worker-{tag}")
        processes.stop(f"api-{tag}")


async def submit(session: aiohttp.ClientSession, url: str, service_name: str, payload: dict[str, Any],
                 **extra: Any) -> str:
    async with session.post(f"{url}/jobs", json={"payload": payload, "service": service_name, **extra}) as answer:
        body = await answer.json()
        assert answer.status in (200, 202), body
        return str(body["job_id"])


async def sse(session: aiohttp.ClientSession, url: str, job_id: str, on_event: Any) -> None:
    """Read the job's SSE stream to its end, calling ``on_event(event_dict)`` for each event."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with session.get(f"{url}/jobs/{job_id}/events", timeout=timeout) as response:
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data:"):
                event = json.loads(line[5:])
                on_event(event)
                if event["type"] in ("done", "error", "cancelled"):
                    return


async def latency(url: str, jobs: int, per_job: int) -> list[float]:
    delays: list[float] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "progress":
            delays.append((time.time_ns() - int(event["message"])) / 1e6)

    async with aiohttp.ClientSession() as session:
        ids = [await submit(session, url, "ticker", {"steps": per_job, "gap": 0.25, "run": uuid.uuid4().hex})
               for _ in range(jobs)]
        await asyncio.gather(*(sse(session, url, job_id, on_event) for job_id in ids))
    return delays


async def metric(session: aiohttp.ClientSession, url: str, name: str) -> float:
    async with session.get(f"{url}/metrics") as answer:
        text = await answer.text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


async def fanout(url: str, api_pid: int, clients: int, jobs: int, seconds: float) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        run_for = int(2 * seconds + 60)
        ids = [await submit(session, url, "ticker", {"steps": run_for, "gap": 1.0, "run": uuid.uuid4().hex})
               for _ in range(jobs)]
        await asyncio.sleep(3)  # every job started
        received = 0

        def on_event(event: dict[str, Any]) -> None:
            nonlocal received
            received += 1

        streams = [asyncio.create_task(sse(session, url, ids[i % jobs], on_event)) for i in range(clients)]
        await asyncio.sleep(5)  # every stream open and replayed
        reads0, cpu0, events0, t0 = (await metric(session, url, "praisonai_event_storage_reads_total"),
                                     cpu_seconds(api_pid), received, time.monotonic())
        await asyncio.sleep(seconds)
        reads1, cpu1, events1, t1 = (await metric(session, url, "praisonai_event_storage_reads_total"),
                                     cpu_seconds(api_pid), received, time.monotonic())
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        sse_figures = {"sse_cpu": (cpu1 - cpu0) / (t1 - t0), "sse_reads": (reads1 - reads0) / (t1 - t0),
                       "sse_events": (events1 - events0) / (t1 - t0)}

        polls = 0
        stop = asyncio.Event()

        async def poller(index: int) -> None:
            nonlocal polls
            await asyncio.sleep(5 * index / clients)  # spread over the period, as real clients are
            while not stop.is_set():
                async with session.get(f"{url}/jobs/{ids[index % jobs]}") as answer:
                    await answer.read()
                polls += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5)

        pollers = [asyncio.create_task(poller(i)) for i in range(clients)]
        await asyncio.sleep(6)
        cpu0, polls0, t0 = cpu_seconds(api_pid), polls, time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, polls1, t1 = cpu_seconds(api_pid), polls, time.monotonic()
        stop.set()
        await asyncio.gather(*pollers, return_exceptions=True)
        for job_id in ids:
            async with session.post(f"{url}/jobs/{job_id}/cancel") as answer:
                await answer.read()
    return {**sse_figures, "poll_cpu": (cpu1 - cpu0) / (t1 - t0), "poll_reads": (polls1 - polls0) / (t1 - t0)}


async def webhook_latency(url: str, jobs: int) -> list[float]:
    delays: list[float] = []
    done = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        finished = datetime.fromisoformat(body["finished_utc"])
        delays.append((time.time() - finished.timestamp()) * 1000)
        if len(delays) >= jobs:
            done.set()
        return web.Response(status=204)

    server = web.Application()
    server.router.add_post("/hook", hook)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(jobs):
                await submit(session, url, "quick", {"run": uuid.uuid4().hex},
                             callback_url=f"http://127.0.0.1:{port}/hook")
                await asyncio.sleep(0.1)  # 10 a second: latency, not the worker's throughput
        await asyncio.wait_for(done.wait(), 120)
    finally:
        await runner.cleanup()
    return delays


def report(label: str, values: list[float], unit: str = "ms") -> None:
    print(f"  {label}: p50 {percentile(values, 0.5):.0f} {unit}, p99 {percentile(values, 0.99):.0f} {unit}, "
          f"max {max(values):.0f} {unit} over {len(values)} (mean {statistics.fmean(values):.0f})")


def run_backend(name: str, backend_env: dict[str, str], processes: Processes, quick: bool) -> None:
    print(f"\n== {name} ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}: every process shares them)")
    with service(processes, backend_env, name) as url:
        delays = asyncio.run(latency(url, 4 if quick else 20, 50))
        report("context.progress() -> SSE client", delays)
        hooks = asyncio.run(webhook_latency(url, 20 if quick else 200))
        report("webhook after done (finished_utc -> receiver)", hooks)
        clients, jobs, seconds = (200, 20, 10.0) if quick else (1000, 100, 20.0)
        figures = asyncio.run(fanout(url, processes.pid(f"api-{name}"), clients, jobs, seconds))
        print(f"  {clients} SSE clients on {jobs} running jobs: API CPU {figures['sse_cpu'] * 100:.0f}% of a core, "
              f"{figures['sse_reads']:.1f} storage reads/s, {figures['sse_events']:.0f} events/s delivered")
        print(f"  {clients} clients polling every 5 s:     API CPU {figures['poll_cpu'] * 100:.0f}% of a core, "
              f"{figures['poll_reads']:.1f} storage reads/s (one job read per poll)")
        print(f"  load average at the end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer events, clients and jobs")
    parser.add_argument("--backend", choices=["local", "azurite", "both"], default="both")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))  # 1,000 streams each side
    with tempfile.TemporaryDirectory() as tmp:
        processes = Processes(Path(tmp))
        try:
            if args.backend in ("local", "both"):
                run_backend("local", {"PRAISONAI_DATA_DIR": str(Path(tmp) / "data")}, processes, args.quick)
            if args.backend in ("azurite", "both"):
                with start_azurite(Path(tmp) / "azurite", access_log=False) as azurite:
                    suffix = uuid.uuid4().hex[:8]
                    run_backend("azurite", {"PRAISONAI_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
                                            "PRAISONAI_QUEUE_NAME": f"live-{suffix}",
                                            "PRAISONAI_TABLE_NAME": f"live{suffix}",
                                            "PRAISONAI_CONTAINER_NAME": f"live-{suffix}"}, processes, args.quick)
        finally:
            processes.stop_all()


if __name__ == "__main__":
    main()
