"""Issue 18's enqueue and recovery figures, measured in one run on this machine (load average with every figure).

1. Batch enqueue: POST /jobs/batch (500 jobs per request, 2 client connections) against one API process on the
   local backend (target >= 10,000 jobs/s).
2. In-process ``app.submit_many`` (chunks of 500) into the local backend (target >= 20,000 jobs/s).
3. Single POST /jobs vs a bare FastAPI endpoint with wrk at -c16 and -c32 (target >= 0.6 at both), with each
   server's CPU microseconds per request (from /proc: what explains the ratio when the machine is not busy).
4. Recovery: seconds from ``kill -9`` of a worker mid-job to the job running again on another worker, with a
   120 s lease (so only heartbeats can explain a fast recovery), local and Azurite, p100 over N trials (target
   <= 15 s).

Run: .venv/bin/python bench/bench_throughput.py [--trials 10] [--skip-recovery] [--skip-azure]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from common import BENCH, REPO, env_with, free_port, process, python, wrk

sys.path.insert(0, str(REPO))
from tests.support.azurite import start_azurite


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def batch_enqueue(batches: int) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        api = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
        with process(api, env_with(PRAISONAI_DATA_DIR=data), f"http://127.0.0.1:{port}/live"):
            run = uuid.uuid4().hex

            async def post_all() -> float:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                    async def one(b: int) -> None:
                        jobs = [{"payload": {"run": run, "b": b, "i": i}} for i in range(500)]
                        response = await client.post("/jobs/batch", json={"jobs": jobs})
                        assert response.status_code == 207 and response.json()["queued"] == 500, response.text
                    await one(-1)  # warm-up
                    started = time.perf_counter()
                    for start in range(0, batches, 2):
                        await asyncio.gather(*(one(b) for b in range(start, min(start + 2, batches))))
                    return time.perf_counter() - started

            return batches * 500 / asyncio.run(post_all())


def submit_many(jobs: int) -> float:
    with tempfile.TemporaryDirectory() as data:
        os.environ["PRAISONAI_DATA_DIR"] = data
        sys.path.insert(0, str(BENCH))
        from noop_service import app

        async def run() -> float:
            await app.submit_many([{"warm": i} for i in range(500)])
            started = time.perf_counter()
            for start in range(0, jobs, 500):
                await app.submit_many([{"i": i} for i in range(start, start + 500)])
            elapsed = time.perf_counter() - started
            assert app.backend is not None
            await app.backend.close()
            return elapsed

        return jobs / asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url: str, pid: int, seconds: int, connections: int) -> tuple[float, float]:
    """wrk's request rate against ``url``, and the server's CPU microseconds per request meanwhile."""
    wrk(url, 2, connections)  # warm-up
    before = cpu_seconds(pid)
    rate = wrk(url, seconds, connections)
    return rate, (cpu_seconds(pid) - before) / (rate * seconds) * 1e6


def post_ratio(seconds: int, connections: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(rate, CPU µs per request) of the bare endpoint, then of ours."""
    bare_port, ours_port = free_port(), free_port()
    bare_cmd = [python(), "-m", "uvicorn", "bare_fastapi:app", "--port", str(bare_port), "--log-level", "warning"]
    with process(bare_cmd, env_with(), f"http://127.0.0.1:{bare_port}/docs") as bare_server:
        bare = measured(f"http://127.0.0.1:{bare_port}", bare_server.pid, seconds, connections)
    with tempfile.TemporaryDirectory() as data:
        ours_cmd = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(ours_port)]
        with process(ours_cmd, env_with(PRAISONAI_DATA_DIR=data), f"http://127.0.0.1:{ours_port}/live") as server:
            ours = measured(f"http://127.0.0.1:{ours_port}", server.pid, seconds, connections)
    return bare, ours


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=BENCH, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _starts(markers: Path, job_id: str) -> list[dict[str, float]]:
    path = markers / job_id
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def recovery(env: dict[str, str], trials: int) -> list[float]:
    """kill -9 the worker running a job; seconds until another worker starts it again, per trial."""
    env = env_with(PRAISONAI_QUEUE_VISIBILITY_TIMEOUT="120", PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05",
                   PRAISONAI_WORKER_POLL_INTERVAL_MAX="1", **env)
    worker_cmd = [python(), "-m", "praisonai_svc", "worker", "recovery_service.py"]
    port = free_port()
    api = [python(), "-m", "praisonai_svc", "api", "recovery_service.py", "--port", str(port)]
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as markers_dir, process(api, env, f"http://127.0.0.1:{port}/live"), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        markers = Path(markers_dir)
        workers = [_start(worker_cmd, env), _start(worker_cmd, env)]
        try:
            for trial in range(trials):
                job = client.post("/jobs", json={"payload": {"marker_dir": markers_dir, "seconds": 4, "n": trial}})
                job_id = job.json()["job_id"]
                while not _starts(markers, job_id):
                    time.sleep(0.02)
                time.sleep(1.5)  # mid-job, after its worker wrote a heartbeat
                victim = next(w for w in workers if w.pid == _starts(markers, job_id)[0]["pid"])
                os.killpg(victim.pid, signal.SIGKILL)
                killed = time.time()
                victim.wait()
                workers.remove(victim)
                workers.append(_start(worker_cmd, env))  # keep two workers for the next trial
                deadline = time.monotonic() + 150
                while len(_starts(markers, job_id)) < 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                again = _starts(markers, job_id)
                assert len(again) >= 2, f"job {job_id} never ran again"
                seconds.append(again[1]["t"] - killed)
                print(f"    trial {trial + 1}: {seconds[-1]:.1f} s [{load()}]", flush=True)
                while client.get(f"/jobs/{job_id}").json()["status"] != "done":
                    time.sleep(0.1)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGTERM)
                    worker.wait(timeout=30)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-recovery", action="store_true")
    parser.add_argument("--skip-azure", action="store_true")
    args = parser.parse_args()
    print(f"bench_throughput: measured in one run on this machine ({os.cpu_count()} CPUs, {load()} at start)")
    rate = batch_enqueue(20)
    print(f"[1] POST /jobs/batch: {rate:,.0f} jobs/s (20 x 500 jobs, 2 connections) "
          f"(target >= 10,000: {'met' if rate >= 10_000 else 'MISSED'}) [{load()}]", flush=True)
    for connections in (16, 32):
        (bare, bare_cpu), (ours, ours_cpu) = post_ratio(args.seconds, connections)
        print(f"[3] POST /jobs wrk -c{connections}: bare FastAPI {bare:,.0f} req/s, praisonai-svc {ours:,.0f} req/s "
              f"-> {ours / bare:.2f} (target >= 0.6: {'met' if ours >= 0.6 * bare else 'MISSED'}); server CPU per "
              f"request: bare {bare_cpu:.0f} µs, ours {ours_cpu:.0f} µs [{load()}]", flush=True)
    if not args.skip_recovery:
        for name in ("local", "azurite"):
            if name == "azurite" and args.skip_azure:
                continue
            print(f"[4] recovery after kill -9, {name}, {args.trials} trials:", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                if name == "local":
                    times = recovery({"PRAISONAI_DATA_DIR": str(Path(tmp) / "data")}, args.trials)
                else:
                    with start_azurite(Path(tmp) / "azurite", access_log=False) as emulator:
                        suffix = uuid.uuid4().hex[:8]
                        times = recovery({"PRAISONAI_AZURE_STORAGE_CONNECTION_STRING": emulator.connection_string,
                                          "PRAISONAI_QUEUE_NAME": f"rec-{suffix}",
                                          "PRAISONAI_TABLE_NAME": f"rec{suffix}",
                                          "PRAISONAI_CONTAINER_NAME": f"rec-{suffix}"}, args.trials)
            print(f"    {name}: p100 {max(times):.1f} s, median {sorted(times)[len(times) // 2]:.1f} s "
                  f"(target <= 15: {'met' if max(times) <= 15 else 'MISSED'}) [{load()}]", flush=True)
    # Last: it imports the app into this process (PRAISONAI_DATA_DIR set for it).
    rate = submit_many(5000)
    print(f"[2] in-process app.submit_many: {rate:,.0f} jobs/s (5,000 jobs, chunks of 500) "
          f"(target >= 20,000: {'met' if rate >= 20_000 else 'MISSED'}) [{load()}]", flush=True)


if __name__ == "__main__":
    main()
