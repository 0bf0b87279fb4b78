"""Services benchmarks (issue 12), measured in one run on this machine; figures are printed, never asserted.

1. Idle cost on Azurite: storage requests per minute of each idle process, counted from Azurite's access log,
   split into the records table (the cluster partition: control state, heartbeats, leases, submit hints; the
   leader's scheduler and pruner) and the job queue polls. Four processes run at once, each on its own
   table/queue names so that every request is attributable (so each also leads its own deployment: the built-in
   pruner and workflow-scheduler are runs_on="one"): an API hosting a background service, workers with one and
   with two job services, and a worker that also runs a ``runs_on="one"`` ticker. Target: <= 4 requests per
   minute per process.
2. Stop latency: ``run --workers 2`` on the local backend, ``ppt`` jobs arriving steadily; seconds from
   ``POST /services/ppt/stop`` to the last ``started_utc`` of any ppt job. p100 over 20 trials (target <= 5 s).
3. Leader takeover after ``kill -9`` of the leader (an API and two workers compete), on local and on Azurite,
   from the kill to the successor's first tick, with the default 30 s lease.
4. Idle pickup on Azurite: an API and one worker; the worker backs off fully, then one job is submitted; seconds
   from the POST to the job's ``started_utc`` (the submit hint's doorbell; bound: one poll cycle, 30 s).

Run: .venv/bin/python bench/bench_services.py [--quick] [--trials N] [--lease SECONDS]
     [--only idle,stop,takeover,pickup] [--breakdown] [--window SECONDS]   (idle: requests per minute by
     operation, table or queue, and record kind; the counting window, 180 s by default)
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
from common import BENCH, REPO, env_with, free_port, python

sys.path.insert(0, str(REPO))
from tests.support.azurite import AzuriteHandle, start_azurite

APP = BENCH / "services_app" / "handlers.py"
IDLE_TARGET_PER_MINUTE = 4.0
STOP_TARGET_SECONDS = 5.0
IDLE_SETTLE_SECONDS = 75.0  # the worker back-off (1+2+4+8+16+30 s) has reached its maximum, first beats are out


@contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=BENCH,
                                start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_live(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def verdict(value: float, target: float) -> str:
    return f"target <= {target:g}: {'met' if value <= target else 'MISSED'}"


def azure_env(azurite: AzuriteHandle, tag: str, **extra: str) -> dict[str, str]:
    return env_with(PRAISONAI_AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string,
                    PRAISONAI_QUEUE_NAME=f"q{tag}", PRAISONAI_TABLE_NAME=f"t{tag}", PRAISONAI_CONTAINER_NAME=f"c{tag}",
                    **extra)


# --- 1. idle cost ----------------------------------------------------------------------------------------------
def request_kind(line: str, tag: str) -> str:
    """``METHOD resource[kind]`` of one access-log line: which table or queue, and the record kind (PartitionKey)."""
    match = re.search(r'"(\w+) (\S+) HTTP', line)
    if not match:
        return "?"
    method, url = match.group(1), unquote(unquote(match.group(2)))
    resource = url.split("?")[0].split("/")[2] if url.count("/") >= 2 else url
    resource = resource.replace(tag, "").split("(")[0]
    kind = re.search(r"PartitionKey( eq |=)'([^']*)'", url)
    row = re.search(r"RowKey( eq |=)'([^':]*)", url)  # cluster records: the sort of record (lease, instance, ...)
    detail = kind.group(2) + (f":{row.group(2)}" if row and kind.group(2) == "cluster" else "") if kind else ""
    return f"{method} {resource}" + (f"[{detail}]" if detail else "")


def idle_cost(workdir: Path, window: float, breakdown: bool = False) -> None:
    print("== 1. Idle storage requests per minute per process (Azurite access log)")
    with start_azurite(workdir / "azurite-idle") as azurite, ExitStack() as stack:
        roles = {  # label: (command, where the ticker runs, job services)
            "api (hosts a background service)": ("api", "api", "1"),
            "worker (one job service)": ("worker", "api", "0"),
            "worker (two job services)": ("worker", "api", "1"),
            "worker leading a runs_on='one' service": ("worker", "one", "0"),
        }
        tags: dict[str, str] = {}
        for label, (command, runs_on, second) in roles.items():
            tag = uuid.uuid4().hex[:10]
            tags[label] = tag
            env = azure_env(azurite, tag, BENCH_TICKER_RUNS_ON=runs_on, BENCH_SECOND_SERVICE=second)
            args = [python(), "-m", "praisonai_svc", command, str(APP)]
            if command == "api":
                args += ["--port", str(free_port())]
            stack.enter_context(started(args, env, workdir / f"idle-{tag}.log"))
        print(f"   settling {IDLE_SETTLE_SECONDS:.0f} s, then counting for {window:.0f} s ...", flush=True)
        time.sleep(IDLE_SETTLE_SECONDS)
        mark = azurite.log_mark()
        time.sleep(window)
        lines = azurite.requests_since(mark)
    minutes = window / 60
    print(f"   {'process':42} {'total/min':>9} {'services/min':>12} {'queue/min':>9}")
    for label, tag in tags.items():
        mine = [line for line in lines if tag in line]
        services = [line for line in mine if re.search(rf"/t{tag}records", line)]
        queue = [line for line in mine if f"/q{tag}" in line]
        total = len(mine) / minutes
        print(f"   {label:42} {total:9.1f} {len(services) / minutes:12.1f} {len(queue) / minutes:9.1f}   "
              f"{verdict(total, IDLE_TARGET_PER_MINUTE)}")
        if breakdown:
            for kind, count in sorted(Counter(request_kind(line, tag) for line in mine).items()):
                print(f"      {count / minutes:6.1f}/min  {kind}")
    print("   (services = control-state reads, heartbeats, lease renewals; queue = the worker's job polls)")


# --- 2. stop latency -------------------------------------------------------------------------------------------
class Submitter(threading.Thread):
    """POSTs a ppt job every ``period`` seconds, remembering when each was sent."""

    def __init__(self, url: str, period: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.period = period
        self.sent: list[tuple[float, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.halt.is_set():
                payload = {"seconds": 0.05, "nonce": uuid.uuid4().hex}
                response = client.post("/jobs?service=ppt", json={"payload": payload})
                if response.status_code in (200, 202):
                    self.sent.append((time.time(), response.json()["job_id"]))
                self.halt.wait(self.period)


def last_start_after(client: httpx.Client, job_ids: list[str], since: float) -> float | None:
    starts = []
    for job_id in job_ids:
        started = client.get(f"/jobs/{job_id}").json().get("started_utc")
        if started:
            starts.append(datetime.fromisoformat(started).timestamp())
    later = [s for s in starts if s >= since]
    return max(later) if later else None


def wait_drained(client: httpx.Client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/services/ppt").json().get("queue_depth") == 0:
            return
        time.sleep(0.5)
    raise TimeoutError("the ppt backlog did not drain")


def stop_latency(workdir: Path, trials: int) -> None:
    print(f"\n== 2. Stop latency: POST /services/ppt/stop → last new ppt start anywhere ({trials} trials, "
          "run --workers 2, local backend)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_with(PRAISONAI_DATA_DIR=str(workdir / "latency-data"), BENCH_TICKER_RUNS_ON="api")
    log = workdir / "latency.log"
    latencies: list[float] = []
    args = [python(), "-m", "praisonai_svc", "run", str(APP), "--port", str(port), "--workers", "2"]
    with started(args, env, log) as proc, httpx.Client(base_url=url, timeout=30) as client:
        wait_live(url, proc, log)
        for trial in range(trials):
            submitter = Submitter(url, period=0.025)
            submitter.start()
            time.sleep(2.0)
            stopped_at = time.time()
            assert client.post("/services/ppt/stop").status_code == 200
            time.sleep(6.5)
            submitter.halt.set()
            submitter.join()
            recent = [job_id for sent, job_id in submitter.sent if sent >= stopped_at - 3]
            last = last_start_after(client, recent, stopped_at)
            latencies.append(max(0.0, (last or stopped_at) - stopped_at))
            assert client.post("/services/ppt/start").status_code == 200
            wait_drained(client)
            print(f"   trial {trial + 1:2}: {latencies[-1]:.2f} s", flush=True)
    ordered = sorted(latencies)
    print(f"   p50 {ordered[len(ordered) // 2]:.2f} s   p100 {ordered[-1]:.2f} s   "
          f"(p100 {verdict(ordered[-1], STOP_TARGET_SECONDS)})")


# --- 4. idle pickup ---------------------------------------------------------------------------------------------
def idle_pickup(workdir: Path, trials: int) -> None:
    print(f"\n== 4. Idle pickup: POST /jobs → started, the worker fully backed off (Azurite, API + 1 worker, "
          f"{trials} trials)")
    waits: list[float] = []
    with start_azurite(workdir / "azurite-pickup", access_log=False) as azurite, ExitStack() as stack:
        tag = uuid.uuid4().hex[:10]
        env = azure_env(azurite, tag, BENCH_TICKER_RUNS_ON="api", BENCH_SECOND_SERVICE="0")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api_log = workdir / f"pickup-api-{tag}.log"
        api = stack.enter_context(started([python(), "-m", "praisonai_svc", "api", str(APP), "--port", str(port)],
                                          env, api_log))
        wait_live(url, api, api_log)
        stack.enter_context(started([python(), "-m", "praisonai_svc", "worker", str(APP)], env,
                                    workdir / f"pickup-worker-{tag}.log"))
        with httpx.Client(base_url=url, timeout=30) as client:
            for trial in range(trials):
                time.sleep(IDLE_SETTLE_SECONDS)  # the back-off (1+2+...+30 s) reaches its maximum again
                sent = time.time()
                job_id = client.post("/jobs?service=ppt", json={"payload": {"seconds": 0, "n": trial}}).json()["job_id"]
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    begun = client.get(f"/jobs/{job_id}").json().get("started_utc")
                    if begun:
                        waits.append(datetime.fromisoformat(begun).timestamp() - sent)
                        break
                    time.sleep(0.1)
                else:
                    raise TimeoutError(f"job {job_id} never started")
                print(f"   trial {trial + 1}: started {waits[-1]:.1f} s after the POST", flush=True)
    print(f"   max {max(waits):.1f} s (bound: one idle poll cycle, PRAISONAI_WORKER_POLL_INTERVAL_MAX = 30 s; "
          "before submit hints: 30 s for a user service, 60 s for a built-in one)")


# --- 3. leader takeover ----------------------------------------------------------------------------------------
def ticks(directory: Path) -> dict[int, list[float]]:
    found = {}
    for path in directory.iterdir():
        found[int(path.name)] = [float(t) for t in path.read_text().split()]
    return found


def current_leader(directory: Path, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recent = {pid: times[-1] for pid, times in ticks(directory).items() if times and time.time() - times[-1] < 1}
        if len(recent) == 1:
            return next(iter(recent))
        time.sleep(0.2)
    raise TimeoutError("no single leader ticking")


def takeover(workdir: Path, backend: str, azurite: AzuriteHandle | None, lease: float, trial: int) -> float:
    tag = uuid.uuid4().hex[:10]
    tick_dir = workdir / f"ticks-{backend}-{trial}"
    tick_dir.mkdir()
    extra = {"BENCH_TICK_DIR": str(tick_dir), "BENCH_TICKER_RUNS_ON": "one",
             "PRAISONAI_LEADER_LEASE_SECONDS": str(lease)}
    env = azure_env(azurite, tag, **extra) if azurite else env_with(PRAISONAI_DATA_DIR=str(workdir / f"d{tag}"),
                                                                     **extra)
    port = free_port()
    with ExitStack() as stack:
        api_log = workdir / f"takeover-api-{tag}.log"
        api = stack.enter_context(started([python(), "-m", "praisonai_svc", "api", str(APP), "--port", str(port)],
                                          env, api_log))
        wait_live(f"http://127.0.0.1:{port}", api, api_log)
        for index in range(2):
            stack.enter_context(started([python(), "-m", "praisonai_svc", "worker", str(APP)], env,
                                        workdir / f"takeover-worker{index}-{tag}.log"))
        leader = current_leader(tick_dir)
        time.sleep(1.0)
        killed_at = time.time()
        os.kill(leader, signal.SIGKILL)
        deadline = time.monotonic() + lease * 3 + 30
        while time.monotonic() < deadline:
            successors = {pid: [t for t in times if t > killed_at] for pid, times in ticks(tick_dir).items()
                          if pid != leader}
            firsts = [times[0] for times in successors.values() if times]
            if firsts:
                overlap = any(t > killed_at + 0.5 for t in ticks(tick_dir)[leader])
                return min(firsts) - killed_at if not overlap else float("nan")
            time.sleep(0.1)
    raise TimeoutError(f"no takeover on {backend} within {lease * 3 + 30:.0f} s")


def leader_takeover(workdir: Path, trials: int, lease: float) -> None:
    print(f"\n== 3. Leader takeover after kill -9 (lease {lease:g} s; API + 2 workers compete; {trials} trial(s) each)")
    with start_azurite(workdir / "azurite-leader", access_log=False) as azurite:
        for backend, handle in (("local", None), ("azure", azurite)):
            figures = [takeover(workdir, backend, handle, lease, trial) for trial in range(trials)]
            shown = ", ".join("OVERLAP: two leaders" if math.isnan(f) else f"{f:.1f} s" for f in figures)
            overlap = "two leaders at once!" if any(math.isnan(f) for f in figures) else "never two at once"
            print(f"   {backend:6} {shown}   (bound: the lease, {lease:g} s, after the dead leader's last renewal; "
                  f"{overlap})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs (less stable figures)")
    parser.add_argument("--trials", type=int, default=None, help="stop-latency trials (default 20; quick 5)")
    parser.add_argument("--lease", type=float, default=30.0, help="leader lease seconds (default 30)")
    parser.add_argument("--breakdown", action="store_true", help="idle: requests per minute by operation and kind")
    parser.add_argument("--window", type=float, default=None,
                        help="idle: seconds to count (default 180; quick 60). 900 or more also catches the slow "
                             "periodic requests: the safety poll (5 min), the pruner and the scheduler's re-read")
    parser.add_argument("--only", default="idle,stop,takeover,pickup",
                        help="comma-separated parts to run (default: all)")
    args = parser.parse_args()
    trials = args.trials or (5 if args.quick else 20)
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-services-") as tmp:
        workdir = Path(tmp)
        if "idle" in parts:
            idle_cost(workdir, window=args.window or (60.0 if args.quick else 180.0), breakdown=args.breakdown)
        if "stop" in parts:
            stop_latency(workdir, trials)
        if "takeover" in parts:
            leader_takeover(workdir, 1 if args.quick else 2, args.lease)
        if "pickup" in parts:
            idle_pickup(workdir, 2 if args.quick else 4)


if __name__ == "__main__":
    main()
