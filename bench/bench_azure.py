"""Azure Storage benchmarks on the Azurite emulator, measured in one run on this machine.

1. End-to-end jobs/s of ours vs the upstream ``praisonai-svc==1.2.0`` from PyPI (its own virtualenv, installed by
   ``bench/upstream/setup_upstream.sh``): same Azurite, same no-op handler, one API + one worker process each,
   fresh queue/table/container names per side (target: ours >= 5x). Also the CPU each process spent per job, and
   the same race again with a network round trip added to every storage request (a delaying TCP proxy in front
   of Azurite), because on loopback the emulator answers far faster than Azure Storage does.
2. Storage requests per job, counted from Azurite's ``--debug`` log, for ours and upstream (target <= 8).
3. Idle worker: storage requests per minute once backed off, and their monthly price (target <= 4/minute, the
   services' heartbeat and control-state read included; docs/services.md).

The benchmark's own reads of storage (waiting for jobs to finish) carry the user agent ``HARNESS_AGENT`` and are
left out of every count; it never polls job status through either API. Every process it starts (APIs, workers,
proxy, three Azurite emulators) runs in its own process group and is stopped on exit, also on failure or SIGTERM.

Run: .venv/bin/python bench/bench_azure.py [--quick] [--jobs N] [--round-trip-ms MS]
(it runs bench/upstream/setup_upstream.sh first, which does nothing once upstream is installed)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient
from common import BENCH, REPO, env_with, exit_on_sigterm, free_port, python

sys.path.insert(0, str(REPO))
from tests.support.azurite import SERVICES, AzuriteHandle, start_azurite

UPSTREAM_VERSION = "1.2.0"
UPSTREAM_DIR = BENCH / "upstream"
UPSTREAM_PYTHON = BENCH / ".venvs" / "upstream" / "bin" / "python"
HARNESS_AGENT = "praisonai-bench-harness"
SUBMIT_CONCURRENCY = 32
WARMUP_JOBS = 10
COUNTED_JOBS = 20
IDLE_SETTLE_SECONDS = 70.0  # 1+2+4+8+16+30 s: the default back-off has reached its maximum
IDLE_TARGET_PER_MINUTE = 4  # 2 queue polls + the services' heartbeat and control-state read (issue 12)
PRICE_PER_10K = 0.004  # USD per 10,000 operations: Azure Queue Storage list price (Standard GPv2, LRS)
MINUTES_PER_MONTH = 30 * 24 * 60

OURS_FAST = {  # throughput settings for our worker
    "PRAISONAI_WORKER_CONCURRENCY": "32",  # one receive takes at most 32 messages
    "PRAISONAI_WORKER_POLL_INTERVAL_MIN": "0.05",
    "PRAISONAI_WORKER_POLL_INTERVAL_MAX": "1",
}
# The benchmark submits every job from one address: our per-address rate limits would answer 429.
OURS_NO_RATE_LIMITS = {"PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE": "0", "PRAISONAI_RATE_LIMIT_READ_PER_MINUTE": "0"}
# Upstream's poll intervals are ints (pydantic rejects 0.05). 0 is its fastest: its back-off doubles 0, so an idle
# worker polls without pause (nobody would deploy that), but it picks work up at once; with 1 it measured ~15-20%
# slower here. It takes one message per receive and runs one job at a time: it has no concurrency setting.
UPSTREAM_FAST = {"PRAISONAI_WORKER_POLL_INTERVAL_MIN": "0", "PRAISONAI_WORKER_POLL_INTERVAL_MAX": "1"}
RACE_ROUNDS = 2  # runs per side and setting, alternating who goes first; the best run of each side counts


# --- processes -------------------------------------------------------------------------------------------------


class Processes:
    """Every process the benchmark starts, each in its own process group, with its output in a log file."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._running[name] = proc
        return proc

    def pid(self, name: str) -> int:
        return self._running[name].pid

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, name: str) -> None:
        proc = self._running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # the whole group: nothing a process forked outlives the benchmark
            try:
                proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self) -> None:
        for name in list(self._running):
            self.stop(name)

    def check_alive(self, *names: str) -> None:
        for name in names:
            proc = self._running.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def wait_http(self, name: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive(name)
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{name} did not answer {url} within {timeout:.0f} s:\n{self.tail(name)}")


def cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of one process group."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# --- the two services ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    queue: str
    table: str
    container: str

    @classmethod
    def fresh(cls, prefix: str) -> Names:
        """Unique names, so that no two runs (or sides) ever share a queue, table or container."""
        tag = uuid.uuid4().hex[:10]
        return cls(f"{prefix}-{tag}", f"{prefix.replace('-', '')}{tag}", f"{prefix}-{tag}")

    def own(self, url: str) -> bool:
        """Whether a request URL names one of these resources (every request of an idle worker does)."""
        path = url.split("?", 1)[0]
        return any(f"/{name}" in path for name in (self.queue, self.table, self.container))


@dataclass(frozen=True)
class Side:
    """How to run one implementation: its commands, its environment and where its job entities are."""

    label: str
    names: Names
    settings: dict[str, str]
    upstream: bool = False

    def env(self, connection_string: str) -> dict[str, str]:
        names = self.names
        env = env_with(PRAISONAI_AZURE_STORAGE_CONNECTION_STRING=connection_string,
                       PRAISONAI_QUEUE_NAME=names.queue, PRAISONAI_TABLE_NAME=names.table, **self.settings)
        if self.upstream:
            env.pop("PYTHONPATH", None)
            env.pop("VIRTUAL_ENV", None)
            env.update(PRAISONAI_POISON_QUEUE_NAME=f"{names.queue}-poison",
                       PRAISONAI_BLOB_CONTAINER_NAME=names.container)
        else:
            env.update(PRAISONAI_CONTAINER_NAME=names.container, **OURS_NO_RATE_LIMITS)
        return env

    @property
    def cwd(self) -> Path:
        return UPSTREAM_DIR if self.upstream else BENCH

    def api_command(self, port: int) -> list[str]:
        if self.upstream:
            return [str(UPSTREAM_PYTHON), "-m", "uvicorn", "handlers:api", "--host", "127.0.0.1",
                    "--port", str(port), "--log-level", "warning"]
        return [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]

    def worker_command(self) -> list[str]:
        if self.upstream:
            return [str(UPSTREAM_PYTHON), "run_worker.py"]
        return [python(), "-m", "praisonai_svc", "worker", "noop_service.py"]

    @property
    def ready_path(self) -> str:
        return "/health" if self.upstream else "/live"

    @property
    def job_filter(self) -> str | None:
        # Ours keeps list entries and hash claims beside the job entities; upstream's table holds only jobs.
        return None if self.upstream else "Kind eq 'job'"

    def describe(self) -> str:
        shown = {k.removeprefix("PRAISONAI_").lower(): v for k, v in self.settings.items()}
        if self.upstream:
            shown = {**shown, "queue_visibility_timeout": "5 (default)", "messages_per_receive": "1 (fixed)",
                     "concurrency": "1 (fixed)"}
        return ", ".join(f"{k}={v}" for k, v in shown.items()) or "defaults"


def ours(settings: dict[str, str], prefix: str = "ours") -> Side:
    return Side("ours", Names.fresh(prefix), settings)


def upstream(settings: dict[str, str], prefix: str = "upstream") -> Side:
    return Side(f"upstream {UPSTREAM_VERSION}", Names.fresh(prefix), settings, upstream=True)


@dataclass(frozen=True)
class Serving:
    base_url: str
    api: str
    worker: str
    processes: Processes

    def check(self) -> None:
        self.processes.check_alive(self.api, self.worker)


@contextlib.contextmanager
def serving(processes: Processes, side: Side, connection_string: str, tag: str) -> Iterator[Serving]:
    """Start the side's API and worker; yield how to reach and watch them; stop both."""
    port = free_port()
    env = side.env(connection_string)
    running = Serving(f"http://127.0.0.1:{port}", f"{tag}-api", f"{tag}-worker", processes)
    try:
        processes.start(running.api, side.api_command(port), env, side.cwd)
        processes.wait_http(running.api, f"{running.base_url}{side.ready_path}")
        processes.start(running.worker, side.worker_command(), env, side.cwd)
        yield running
        running.check()
    finally:
        processes.stop(running.worker)
        processes.stop(running.api)


# --- a network round trip in front of Azurite ------------------------------------------------------------------


async def _delayed_pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy bytes, each chunk ``delay`` seconds after it arrived, in order (delays overlap, never add up)."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def pump() -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(1 << 16):
                chunks.put_nowait((loop.time() + delay, data))
        chunks.put_nowait((loop.time() + delay, b""))

    pumping = asyncio.create_task(pump())
    try:
        while True:
            due, data = await chunks.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                return
            writer.write(data)
            await writer.drain()
    finally:
        pumping.cancel()
        writer.close()


async def _serve_proxy(routes: list[tuple[int, int]], delay: float) -> None:
    async def connect(target: int, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_delayed_pipe(client_reader, server_writer, delay),
                             _delayed_pipe(server_reader, client_writer, delay), return_exceptions=True)

    servers = [await asyncio.start_server(lambda r, w, t=target: connect(t, r, w), "127.0.0.1", port)
               for port, target in routes]
    await asyncio.gather(*(server.serve_forever() for server in servers))


def start_proxy(processes: Processes, azurite: AzuriteHandle, round_trip_ms: float) -> str:
    """Start the delaying proxy for Azurite's three services; return a connection string through it."""
    ports = {service: free_port() for service in SERVICES}
    routes = ",".join(f"{ports[s]}:{azurite.ports[s]}" for s in SERVICES)
    processes.start("proxy", [python(), __file__, "--serve-proxy", routes, "--delay-ms", str(round_trip_ms / 2)],
                    env_with(), BENCH)
    deadline = time.monotonic() + 15
    while not all(_accepts(port) for port in ports.values()):
        processes.check_alive("proxy")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the proxy did not listen:\n{processes.tail('proxy')}")
        time.sleep(0.05)
    conn = azurite.connection_string
    for service in SERVICES:
        conn = conn.replace(f":{azurite.ports[service]}/", f":{ports[service]}/")
    return conn


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def added_round_trip_ms(direct: str, proxied: str, samples: int = 30) -> float:
    """What the proxy really adds to one small request (median of ``samples``), in milliseconds."""
    medians = []
    for conn in (direct, proxied):
        with QueueClient.from_connection_string(conn, "bench-latency-probe", user_agent=HARNESS_AGENT) as queue:
            with contextlib.suppress(Exception):
                queue.create_queue()
            times = []
            for _ in range(samples):
                clock = time.perf_counter()
                queue.get_queue_properties()
                times.append(time.perf_counter() - clock)
        medians.append(sorted(times)[samples // 2])
    return (medians[1] - medians[0]) * 1000


# --- submitting and waiting ------------------------------------------------------------------------------------


def payloads(count: int) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex  # unique payloads: identical ones would be idempotent hits on both sides
    return [{"deck": "azure-bench", "run": run, "n": n, "slides": [1, 2, 3]} for n in range(count)]


async def _submit(base_url: str, bodies: list[dict[str, Any]], concurrency: int) -> list[str]:
    # aiohttp rather than httpx: the submitting client shares the machine's CPUs with both services, and aiohttp
    # spends about a third of httpx's CPU per request, so less of the measurement is the harness itself.
    pending = iter([json.dumps({"payload": body}).encode() for body in bodies])
    job_ids: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:

        async def sender() -> None:
            for body in pending:
                async with client.post("/jobs", data=body, headers=headers) as response:
                    text = await response.text()
                    if response.status not in (200, 202):
                        raise RuntimeError(f"POST /jobs answered {response.status}: {text[:500]}")
                    job_ids.append(json.loads(text)["job_id"])

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return job_ids


def submit(base_url: str, count: int, concurrency: int = SUBMIT_CONCURRENCY) -> list[str]:
    """POST ``count`` unique jobs as fast as ``concurrency`` connections allow; return their ids."""
    return asyncio.run(_submit(base_url, payloads(count), concurrency))


class Harness:
    """Reads a side's queue and table directly, with a user agent that the request counts leave out."""

    def __init__(self, connection_string: str, side: Side) -> None:
        self.side = side
        self.queue = QueueClient.from_connection_string(connection_string, side.names.queue, user_agent=HARNESS_AGENT)
        self.table = TableClient.from_connection_string(connection_string, side.names.table, user_agent=HARNESS_AGENT)

    def close(self) -> None:
        self.queue.close()
        self.table.close()

    def states(self) -> dict[str, tuple[str, datetime]]:
        """job id → (status, server time of the entity's last write)."""
        query = self.table.query_entities(self.side.job_filter) if self.side.job_filter else self.table.list_entities()
        return {str(e["RowKey"]): (str(e["Status"]), e.metadata["timestamp"]) for e in query}

    def wait_done(self, job_ids: list[str], check: Callable[[], None], timeout: float = 300) -> datetime:
        """Wait until every job is terminal; return the server time of the last job's final write.

        The queue length (visible and leased messages) is the cheap signal: both sides delete a message only
        after the job's final write, so the table is read only once the queue looks empty.
        """
        deadline = time.monotonic() + timeout
        unfinished = list(job_ids)
        states: dict[str, tuple[str, datetime]] = {}
        while unfinished:
            check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.side.label}: {len(unfinished)} of {len(job_ids)} jobs unfinished, "
                                   f"e.g. {[states.get(j) for j in unfinished[:3]]}")
            if self.queue.get_queue_properties().approximate_message_count == 0:
                states = self.states()
                unfinished = [j for j in job_ids if states.get(j, ("missing",))[0] not in ("done", "error")]
            if unfinished:
                time.sleep(0.1)
        failed = {j: states[j][0] for j in job_ids if states[j][0] != "done"}
        if failed:
            raise RuntimeError(f"{self.side.label}: {len(failed)} jobs did not end done: {list(failed.items())[:3]}")
        return max(states[j][1] for j in job_ids)


# --- 1. end-to-end throughput ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    side: Side
    jobs: int
    seconds: float  # first POST → final write of the last job (the entity's server timestamp)
    submit_seconds: float
    cpu_ms: dict[str, float]  # process → CPU milliseconds per job over the timed run

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def submit_rate(self) -> float:
        return self.jobs / self.submit_seconds


@dataclass(frozen=True)
class Storage:
    """Where the sides connect (directly or through the proxy) and the emulator process behind it."""

    azurite: AzuriteHandle
    connection_string: str

    @property
    def pgid(self) -> int:
        process = self.azurite._process  # started with start_new_session: its pid is its process group
        assert process is not None
        return process.pid


def throughput(processes: Processes, storage: Storage, side: Side, jobs: int) -> Throughput:
    harness = Harness(storage.azurite.connection_string, side)
    try:
        with serving(processes, side, storage.connection_string, f"e2e-{side.names.queue}") as running:
            harness.wait_done(submit(running.base_url, WARMUP_JOBS), running.check)  # connections open
            groups = {"azurite": storage.pgid, "api": processes.pid(running.api),
                      "worker": processes.pid(running.worker)}
            cpu_before = {name: cpu_seconds(pgid) for name, pgid in groups.items()}
            started, clock = datetime.now(UTC), time.perf_counter()
            job_ids = submit(running.base_url, jobs)
            submitted = time.perf_counter() - clock
            finished = harness.wait_done(job_ids, running.check)
            cpu_ms = {name: (cpu_seconds(pgid) - cpu_before[name]) * 1000 / jobs for name, pgid in groups.items()}
    finally:
        harness.close()
    return Throughput(side, jobs, (finished - started).total_seconds(), submitted, cpu_ms)


# --- Azurite's debug log ---------------------------------------------------------------------------------------

_REQUEST = re.compile(
    r"^(?P<at>\S+) (?P<id>\S+) \w+: (?P<service>Blob|Queue|Table)StorageContextMiddleware: "
    r"RequestMethod=(?P<method>\w+) RequestURL=(?P<url>\S+) RequestHeaders:(?P<headers>.*)$"
)
_OPERATION = re.compile(r"^\S+ (?P<id>\S+) \w+: DispatchMiddleware: Operation=(?P<operation>\w+)")
_EMPTY_RECEIVE = re.compile(r"^\S+ (?P<id>\S+) \w+: Serializer: Raw response body string is .*<QueueMessagesList/>")
_AGENT = re.compile(r'"user-agent":"([^"]*)"')
_STATUS = re.compile(
    r"^\S+ (?P<id>\S+) \w+: EndMiddleware: End response\. TotalTimeInMS=\d+ StatusCode=(?P<status>\d+)")
_RESPONSE_BODY = re.compile(r"^\S+ (?P<id>\S+) \w+: Serializer: Raw response body string is (?P<body>.*)$")
_TABLE_BODY = re.compile(r"^\S+ (?P<id>\S+) \w+: (?:deserialize\(\): Raw request body|TableHandler:batch\(\) "
                         r"Raw request) string is (?P<body>.*)$")
_BATCH_PART = re.compile(r"(?:POST|PUT|MERGE|PATCH|DELETE|GET) (?P<url>http\S+) HTTP/1\.1")
# In a URL: (PartitionKey='p',...) or $filter=PartitionKey eq 'p'; in a body: "PartitionKey":"p" (maybe escaped)
_URL_PARTITION = re.compile(r"PartitionKey(?:=|%20eq%20)'(?P<pk>[^']*)'")
_BODY_PARTITION = re.compile(r'PartitionKey\\?"\s*:\s*\\?"(?P<pk>[^"\\]*)')


@dataclass
class StorageRequest:
    at: datetime
    service: str
    url: str
    agent: str
    operation: str = "?"
    empty_receive: bool = False
    status: int = 0  # the HTTP status Azurite answered (0: not logged yet)
    partition: str = ""  # table requests: the PartitionKey named in the URL, the filter or the (first) entity
    messages: int = 0  # queue receives: messages returned
    batch_ops: int = 0  # table batch transactions: operations in the batch
    batch_url: str = ""  # table batch transactions: the URL of the first operation (names the table)

    @property
    def harness(self) -> bool:
        return HARNESS_AGENT in self.agent

    @property
    def kind(self) -> str:
        return f"{self.service}:{self.operation}"


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def read_requests(path: Path, start: int = 0, end: int | None = None) -> list[StorageRequest]:
    """The storage requests Azurite logged in bytes [start, end) of its ``--debug`` log, one per HTTP request."""
    with path.open("rb") as handle:
        handle.seek(start)
        text = handle.read(-1 if end is None else end - start).decode("utf-8", "replace")
    requests: dict[str, StorageRequest] = {}
    for line in text.splitlines():
        if match := _REQUEST.match(line):
            agent = _AGENT.search(match["headers"])
            partition = _URL_PARTITION.search(match["url"])
            requests[match["id"]] = StorageRequest(
                at=datetime.fromisoformat(match["at"]), service=match["service"].lower(), url=match["url"],
                agent=agent[1] if agent else "", partition=partition["pk"] if partition else "")
        elif (match := _OPERATION.match(line)) and match["id"] in requests:
            request = requests[match["id"]]
            request.operation = request.operation if request.operation != "?" else match["operation"]
        elif (match := _EMPTY_RECEIVE.match(line)) and match["id"] in requests:
            requests[match["id"]].empty_receive = True
        elif (match := _STATUS.match(line)) and match["id"] in requests:
            requests[match["id"]].status = int(match["status"])
        elif (match := _RESPONSE_BODY.match(line)) and match["id"] in requests:
            requests[match["id"]].messages = match["body"].count("<QueueMessage>")
        elif (match := _TABLE_BODY.match(line)) and match["id"] in requests:
            request = requests[match["id"]]
            if parts := _BATCH_PART.findall(match["body"]):
                request.batch_ops, request.batch_url = len(parts), parts[0]
            if not request.partition and (partition := _BODY_PARTITION.search(match["body"])):
                request.partition = partition["pk"]
    return list(requests.values())


def settle(path: Path, quiet: float = 0.5) -> int:
    """Wait until the log stops growing for ``quiet`` seconds (Azurite logs a response after sending it)."""
    size = -1
    while (current := log_size(path)) != size:
        size = current
        time.sleep(quiet)
    return size


# --- 2. storage requests per job -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerJob:
    side: Side
    jobs: int
    work: Counter[str]  # operation → requests (empty receives excluded)
    empty_receives: int

    @property
    def per_job(self) -> float:
        return sum(self.work.values()) / self.jobs


def requests_per_job(processes: Processes, azurite: AzuriteHandle, debug_log: Path, side: Side) -> PerJob:
    conn = azurite.connection_string
    harness = Harness(conn, side)
    try:
        with serving(processes, side, conn, f"count-{side.names.queue}") as running:
            time.sleep(2.0)  # the worker's start-up requests (create queue/table/container) stay before the mark
            mark = settle(debug_log)
            harness.wait_done(submit(running.base_url, COUNTED_JOBS, concurrency=4), running.check)
            end = settle(debug_log)
    finally:
        harness.close()
    requests = [r for r in read_requests(debug_log, mark, end) if not r.harness]
    work = Counter(r.kind for r in requests if not r.empty_receive)
    return PerJob(side, COUNTED_JOBS, work, sum(r.empty_receive for r in requests))


# --- 3. idle workers -------------------------------------------------------------------------------------------


@dataclass
class IdleProbe:
    """Our worker and upstream's, default poll settings, each on an empty queue of a dedicated Azurite."""

    azurite: AzuriteHandle
    debug_log: Path
    window_seconds: float
    sides: list[Side] = field(default_factory=list)

    def start(self, processes: Processes) -> None:
        conn = self.azurite.connection_string
        self.sides = [ours({}, "idle-ours"), upstream({}, "idle-up")]
        for side in self.sides:
            processes.start(self._name(side), side.worker_command(), side.env(conn), side.cwd)

    @staticmethod
    def _name(side: Side) -> str:
        return f"idle-{side.names.queue}"

    def finish(self, processes: Processes) -> list[tuple[Side, Counter[str]]]:
        """Wait for the window to end; per side, the requests its worker made in the window, by operation."""
        requests = self._requests(processes)
        first = {side.label: min(r.at for r in requests if side.names.own(r.url)) for side in self.sides}
        window_end = max(first.values()) + timedelta(seconds=IDLE_SETTLE_SECONDS + self.window_seconds)
        while datetime.now(UTC) < window_end + timedelta(seconds=1):
            processes.check_alive(*(self._name(side) for side in self.sides))
            time.sleep(1)
        requests = self._requests(processes)
        results = []
        for side in self.sides:
            opens = first[side.label] + timedelta(seconds=IDLE_SETTLE_SECONDS)
            closes = opens + timedelta(seconds=self.window_seconds)
            counted = [r for r in requests if side.names.own(r.url) and opens <= r.at < closes]
            results.append((side, Counter(r.kind for r in counted)))
        return results

    def _requests(self, processes: Processes) -> list[StorageRequest]:
        deadline = time.monotonic() + 60
        while True:  # both workers create their queues at start; wait until both have shown up
            processes.check_alive(*(self._name(side) for side in self.sides))
            requests = [r for r in read_requests(self.debug_log) if not r.harness]
            if all(any(s.names.own(r.url) for r in requests) for s in self.sides):
                return requests
            if time.monotonic() > deadline:
                raise TimeoutError("an idle worker made no storage request within 60 s")
            time.sleep(0.5)


# --- report ----------------------------------------------------------------------------------------------------


def verdict(value: float, target: float, *, at_least: bool, unit: str = "") -> str:
    met = value >= target if at_least else value <= target
    return f"target {'>=' if at_least else '<='} {target:g}{unit}: {'met' if met else 'MISSED'}"


def breakdown(counter: Counter[str], per: float) -> str:
    return ", ".join(f"{kind} {n / per:.2g}" for kind, n in counter.most_common())


def monthly_cost(per_minute: float) -> float:
    return per_minute * MINUTES_PER_MONTH / 10_000 * PRICE_PER_10K


def report_run(result: Throughput) -> None:
    cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in result.cpu_ms.items())
    print(f"    {result.side.label:<15} {result.jobs} jobs in {result.seconds:6.2f} s -> {result.rate:6.1f} jobs/s end "
          f"to end (its POSTs: {result.submit_rate:.0f}/s); CPU ms per job: {cpu}")


def report_per_job(results: list[PerJob]) -> None:
    for result in results:
        print(f"    {result.side.label:<15} {result.per_job:.2f} storage requests per job over {result.jobs} jobs "
              f"(+{result.empty_receives} empty receives while waiting, not counted)")
        print(f"    {'':<15} per job: {breakdown(result.work, result.jobs)}")
    print(f"    ours: {verdict(results[0].per_job, 8, at_least=False)}")


def report_idle(results: list[tuple[Side, Counter[str]]], window: float) -> list[float]:
    rates = []
    for side, counter in results:
        per_minute = sum(counter.values()) * 60 / window
        rates.append(per_minute)
        print(f"    {side.label:<15} {per_minute:.2f} requests/minute ({breakdown(counter, 1) or 'none'} in "
              f"{window:.0f} s) -> ${monthly_cost(per_minute):.4f} a month")
    print(f"    ours: {rates[0]:.2f}/minute, {verdict(rates[0], IDLE_TARGET_PER_MINUTE, at_least=False)}. "
          f"Price assumed: ${PRICE_PER_10K} per 10,000 operations (Azure Queue Storage list price, Standard GPv2 "
          "LRS), 30-day month. Not in the "
          "window: our worker's stuck-job sweep, one table query per PRAISONAI_REAPER_INTERVAL_SECONDS (300 s) = "
          "0.2/minute")
    return rates


# --- main ------------------------------------------------------------------------------------------------------


@dataclass
class Options:
    jobs: int
    latency_jobs: int
    round_trip_ms: float
    idle_window: float


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer jobs and a 60 s idle window")
    parser.add_argument("--jobs", type=int, help="jobs per side, Azurite on loopback (default 400, quick 200)")
    parser.add_argument("--round-trip-ms", type=float, default=10.0,
                        help="network round trip added to each storage request in the second race; 0 skips it")
    parser.add_argument("--serve-proxy", help=argparse.SUPPRESS)  # internal: run the delaying proxy
    parser.add_argument("--delay-ms", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        routes = [(int(a), int(b)) for a, b in (route.split(":") for route in args.serve_proxy.split(","))]
        asyncio.run(_serve_proxy(routes, args.delay_ms / 1000))
        sys.exit(0)
    jobs = args.jobs or (200 if args.quick else 400)
    return Options(jobs=jobs, latency_jobs=max(jobs // 2, 50), round_trip_ms=args.round_trip_ms,
                   idle_window=60.0 if args.quick else 120.0)


def main() -> None:
    options = parse_options()
    subprocess.run(["bash", str(UPSTREAM_DIR / "setup_upstream.sh")], check=True)  # idempotent: quick when there
    exit_on_sigterm("bench_azure")
    with tempfile.TemporaryDirectory(prefix="bench-azure-") as tmp:
        Run(Path(tmp), options).run()


class Run:
    def __init__(self, tmp: Path, options: Options) -> None:
        self.tmp = tmp
        self.options = options
        self.processes = Processes(tmp)
        self.emulators: list[AzuriteHandle] = []
        self.summary: list[str] = []

    def emulator(self, name: str, *, debug: bool) -> tuple[AzuriteHandle, Path]:
        debug_log = self.tmp / name / "debug.log"
        # The race needs no access log (Azure has none to write); the counting emulators use the debug log.
        self.emulators.append(start_azurite(self.tmp / name, debug_log=debug_log if debug else None,
                                            access_log=debug))
        return self.emulators[-1], debug_log

    def run(self) -> None:
        print(f"bench_azure: measured in one run on this machine ({os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} at start), Azure Storage emulated by Azurite")
        try:
            idle_azurite, idle_log = self.emulator("azurite-idle", debug=True)
            idle = IdleProbe(idle_azurite, idle_log, self.options.idle_window)
            idle.start(self.processes)  # backs off while [1] and [2] run
            self.race()
            self.count()
            print(f"[3] idle worker, default poll settings (1 s doubling to 30 s), empty queue: requests counted "
                  f"over {self.options.idle_window:.0f} s after {IDLE_SETTLE_SECONDS:.0f} s of back-off")
            rates = report_idle(idle.finish(self.processes), self.options.idle_window)
            self.summary.append(f"idle worker: ours {rates[0]:.2f} requests/minute "
                                f"({verdict(rates[0], IDLE_TARGET_PER_MINUTE, at_least=False)}) = "
                                f"${monthly_cost(rates[0]):.4f} a month; upstream {rates[1]:.2f}/minute "
                                f"(at ${PRICE_PER_10K} per 10,000 operations)")
        finally:
            self.processes.stop_all()
            for handle in self.emulators:
                handle.stop()
        print(f"summary (load average {os.getloadavg()[0]:.1f} at the end)")
        for line in self.summary:
            print(f"    {line}")

    def race(self) -> None:
        jobs, round_trip = self.options.jobs, self.options.round_trip_ms
        print(f"[1] end to end: no-op jobs, one API + one worker process per side, the same Azurite; POSTs from "
              f"{SUBMIT_CONCURRENCY} connections; time = first POST -> last job done")
        print(f"    worker settings: ours {ours(OURS_FAST).describe()}; upstream {upstream(UPSTREAM_FAST).describe()}")
        azurite, _ = self.emulator("azurite-e2e", debug=False)
        print(f"  a) Azurite on loopback, {jobs} jobs per side")
        self.compare("Azurite on loopback", Storage(azurite, azurite.connection_string), jobs)
        if round_trip > 0:
            proxied = Storage(azurite, start_proxy(self.processes, azurite, round_trip))
            added = added_round_trip_ms(azurite.connection_string, proxied.connection_string)
            jobs = self.options.latency_jobs
            print(f"  b) Azurite behind a proxy delaying each storage round trip by {round_trip:g} ms (assumed: about "
                  f"what a container sees from Storage in its Azure region; measured {added:+.1f} ms per small "
                  f"request), {jobs} jobs per side")
            self.compare(f"+{round_trip:g} ms per storage round trip", proxied, jobs)
            self.processes.stop("proxy")
        azurite.stop()

    def compare(self, title: str, storage: Storage, jobs: int) -> None:
        best: dict[bool, Throughput] = {}
        for round_ in range(RACE_ROUNDS):
            order = (True, False) if round_ % 2 == 0 else (False, True)  # upstream first, then ours first
            for is_upstream in order:
                side = upstream(UPSTREAM_FAST) if is_upstream else ours(OURS_FAST)
                result = throughput(self.processes, storage, side, jobs)
                report_run(result)
                if is_upstream not in best or result.rate > best[is_upstream].rate:
                    best[is_upstream] = result
        mine, theirs = best[False], best[True]
        ratio = mine.rate / theirs.rate
        print(f"    best of {RACE_ROUNDS}: ours {mine.rate:.1f} jobs/s, upstream {theirs.rate:.1f} jobs/s -> ratio "
              f"{ratio:.2f}x ({verdict(ratio, 5, at_least=True, unit='x')})")
        self.summary.append(f"end to end, {title}: ours {mine.rate:.1f} jobs/s, upstream {theirs.rate:.1f} jobs/s "
                            f"-> {ratio:.2f}x ({verdict(ratio, 5, at_least=True, unit='x')})")

    def count(self) -> None:
        print(f"[2] storage requests per job: {COUNTED_JOBS} short jobs per side, worker defaults, counted in "
              "Azurite's --debug log (the benchmark's own reads excluded)")
        azurite, debug_log = self.emulator("azurite-count", debug=True)
        results = [requests_per_job(self.processes, azurite, debug_log, side) for side in (ours({}), upstream({}))]
        report_per_job(results)
        self.summary.append(f"storage requests per job: ours {results[0].per_job:.2f} "
                            f"({verdict(results[0].per_job, 8, at_least=False)}), upstream {results[1].per_job:.2f}")
        azurite.stop()


if __name__ == "__main__":
    main()
