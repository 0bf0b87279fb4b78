"""Workflow benchmarks (issue 15): scheduler lateness, the scheduler's idle storage cost, a workflow's overhead.

    .venv/bin/python bench/bench_workflows.py            # 100 due times (about 4 minutes in all)
    .venv/bin/python bench/bench_workflows.py --quick    # 25 due times

[1] Lateness: 2 API processes and 2 worker processes on one local backend, one workflow with an every-2-seconds
    cron (``* * * * * */2``, overlap allow); the scheduler runs in the one process elected leader. For N due
    times it prints p50/p99/max of (execution created - due time) and of (execution started - due time),
    duplicates (executions sharing a due time; target 0) and misses (due times between the first and the last
    without an execution; target 0).
[2] Idle cost on Azure (Azurite): storage requests per minute of one worker process's services runtime hosting
    the elected workflow-scheduler (leader lease renewals, the runtime's heartbeat and control reads, the
    scheduler's refresh every 30 s and its heartbeat once per 60 s), one scheduled workflow that is not due, with
    the default 30 s leader lease and with 120 s (server.leader_lease_seconds in praisonai.yaml). Aim: <= 4.
[3] Overhead: a 10-step ``log`` workflow, triggered and waited for, against 10 no-op jobs submitted and waited
    for one after another, on one API + one worker (local backend); median of several runs, ratio printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from common import BENCH, REPO, env_with, free_port, process, python

sys.path.insert(0, str(REPO))

NOOP = str(BENCH / "noop_service.py")
FINISHED = ("completed", "failed", "cancelled", "timeout")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def lateness(due_times: int) -> None:
    print(f"[1] Scheduler lateness over {due_times} due times (every-2-seconds cron, 2 API + 2 worker processes)")
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data, PRAISONAI_WORKFLOW_SCHEDULE_REFRESH_SECONDS="2",
                       PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05",
                       PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.5")
        ports = [free_port(), free_port()]
        with process([python(), "-m", "praisonai_svc", "api", NOOP, "--port", str(ports[0])], env,
                     f"http://127.0.0.1:{ports[0]}/live"), \
             process([python(), "-m", "praisonai_svc", "api", NOOP, "--port", str(ports[1])], env,
                     f"http://127.0.0.1:{ports[1]}/live"), \
             process([python(), "-m", "praisonai_svc.worker", NOOP], env), \
             process([python(), "-m", "praisonai_svc.worker", NOOP], env), \
             httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as client:
            workflow = client.post("/workflows", json={
                "name": "tick", "overlap": "allow", "triggers": [{"type": "cron", "expression": "* * * * * */2"}],
                "steps": [{"id": "tick", "type": "log", "message": "{{ trigger.due_at }}"}]}).json()
            time.sleep(due_times * 2 + 6)
            client.put(f"/workflows/{workflow['id']}", json={"status": "paused"})
            time.sleep(4)
            other = httpx.get(f"http://127.0.0.1:{ports[1]}/workflows/{workflow['id']}/executions",
                              params={"limit": 500}).json()
        executions = other["executions"]
    dues = sorted(datetime.fromisoformat(e["due_at"]) for e in executions)
    created = [(datetime.fromisoformat(e["created_at"]) - datetime.fromisoformat(e["due_at"])).total_seconds()
               for e in executions]
    started = [(datetime.fromisoformat(e["started_at"]) - datetime.fromisoformat(e["due_at"])).total_seconds()
               for e in executions if e["started_at"]]
    duplicates = len(dues) - len(set(dues))
    expected = int((dues[-1] - dues[0]).total_seconds() // 2) + 1 if dues else 0
    misses = expected - len(set(dues))
    print(f"    executions {len(executions)} for {expected} due times: duplicates {duplicates}, misses {misses}")
    print(f"    created - due: p50 {percentile(created, 0.5) * 1000:.0f} ms, p99 {percentile(created, 0.99) * 1000:.0f}"
          f" ms, max {max(created) * 1000:.0f} ms (target p99 <= 1000 ms)")
    if started:
        print(f"    started - due: p50 {percentile(started, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(started, 0.99) * 1000:.0f} ms (includes the worker picking the execution's job up)")
    print(f"    {load()}")


SETTLE_SECONDS = 75


def idle_cost(seconds: float, lease: float) -> None:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import open_backend
    from praisonai_svc.services.runtime import ServiceRuntime
    from praisonai_svc.settings import Settings
    from praisonai_svc.workflows.use_cases import WorkflowService
    from tests.support.azurite import start_azurite

    print(f"[2] Idle scheduler on Azure (Azurite): storage requests over {seconds:g} s after {SETTLE_SECONDS} s of "
          f"start-up, one workflow not due, leader lease {lease:g} s")
    with tempfile.TemporaryDirectory() as tmp:
        azurite = start_azurite(Path(tmp))
        config = Path(tmp) / "praisonai.yaml"
        config.write_text(f"server: {{leader_lease_seconds: {lease}}}\n")
        try:
            settings = Settings(_env_file=None, azure_storage_connection_string=azurite.connection_string,  # type: ignore[call-arg]
                                data_dir=Path(tmp) / "data", config_file=config)
            app = ServiceApp("bench", settings=settings)

            async def run() -> int:
                backend = await open_backend(settings)
                runtime = ServiceRuntime(app, backend, "worker")  # hosts only the built-in workflow-scheduler
                try:
                    await WorkflowService(app, backend).create({
                        "name": "yearly", "triggers": [{"type": "cron", "expression": "0 0 1 1 *"}],
                        "steps": [{"id": "a", "type": "log", "message": "m"}]}, tenant=None)
                    await runtime.start()
                    # Start-up is not idle cost: election, the first reads, the outbox sweep and the pruner's first
                    # run (which then backs off towards an hour). bench_services.py settles as long.
                    await asyncio.sleep(SETTLE_SECONDS)
                    mark = azurite.log_mark()
                    await asyncio.sleep(seconds)
                    return len(azurite.requests_since(mark))
                finally:
                    await runtime.close()
                    await backend.close()

            requests = asyncio.run(run())
        finally:
            azurite.stop()
    print(f"    {requests} requests in {seconds:g} s = {requests / (seconds / 60):.1f} requests/min, everything of "
          f"the process's services runtime included (lease renewals, heartbeat, control reads; aim <= 4)")
    print(f"    {load()}")


def overhead(repeats: int) -> None:
    print(f"[3] A 10-step log workflow vs 10 no-op jobs one after another (median of {repeats}, one worker)")
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data, PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.01",
                       PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.05")
        port = free_port()
        with process([python(), "-m", "praisonai_svc", "api", NOOP, "--port", str(port)], env,
                     f"http://127.0.0.1:{port}/live"), \
             process([python(), "-m", "praisonai_svc.worker", NOOP], env), \
             httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            workflow = client.post("/workflows", json={"name": "ten logs", "steps": [
                {"id": f"s{i}", "type": "log", "message": f"step {i}"} for i in range(10)]}).json()
            flows, jobs, inside = [], [], []
            for run in range(repeats + 1):
                began = time.perf_counter()
                execution = client.post(f"/workflows/{workflow['id']}/trigger", json={}).json()
                while execution["status"] not in FINISHED:
                    time.sleep(0.005)
                    execution = client.get(f"/executions/{execution['id']}").json()
                flow_time = time.perf_counter() - began
                began = time.perf_counter()
                for i in range(10):
                    job = client.post("/jobs", json={"payload": {"run": run, "i": i, "t": time.time_ns()}}).json()
                    while job["status"] not in ("done", "error"):
                        time.sleep(0.005)
                        job = client.get(f"/jobs/{job['job_id']}").json()
                if run:  # the first round warms both paths up
                    flows.append(flow_time)
                    jobs.append(time.perf_counter() - began)
                    inside.append(execution["execution_time_ms"] / 1000)
    flow, plain = statistics.median(flows), statistics.median(jobs)
    print(f"    workflow {flow * 1000:.0f} ms (of which inside the execution {statistics.median(inside) * 1000:.0f} ms)"
          f" vs 10 jobs {plain * 1000:.0f} ms: ratio workflow/jobs {flow / plain:.2f}")
    print(f"    {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="25 due times, a 60 s idle window, 5 repeats")
    parser.add_argument("--only", choices=["lateness", "idle", "overhead"], default=None)
    args = parser.parse_args()
    os.chdir(BENCH)
    print(load())
    if args.only in (None, "lateness"):
        lateness(25 if args.quick else 100)
    if args.only in (None, "idle"):
        idle_cost(60 if args.quick else 180, lease=30)
        idle_cost(60 if args.quick else 180, lease=120)
    if args.only in (None, "overhead"):
        overhead(5 if args.quick else 15)


if __name__ == "__main__":
    main()


