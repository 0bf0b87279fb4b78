"""Azure Storage under load, before and after: a baseline git ref vs the current checkout, on Azurite (issue 18).

1. End-to-end jobs/s through the delaying proxy of ``bench_azure.py`` (default +10 ms per storage round trip):
   N no-op jobs (``noop_service.py``), one API process + one worker process, POSTed from 32 connections (the API
   is not the limit: its POSTs finish well before the worker does), time = first POST -> the last job's final
   write. Two worker configurations: ``tuned`` (concurrency 32, poll 0.05 -> 1 s: bench_azure's settings) and
   ``defaults`` (no worker setting at all). Baseline and current alternate in one run, two rounds, the second in
   the other order; the best run of each counts. Printed: jobs/s of each run and the best, current/baseline
   (target: no regression), the load average. Default N = 500: Azurite answers a table query by scanning the
   whole table, so its CPU per job grows with the jobs a run has stored (2,000 per run took 8 minutes on 2 CPUs,
   with the emulator's CPU per job doubled); ``--jobs 2000 --rounds 1`` for the issue's size.
2. Storage requests per job under load: the same kind of run (same proxy, all jobs in flight at once) against an
   Azurite that writes its ``--debug`` log, counted between the first POST and the moment every job was done,
   by role (the API and the worker send distinct user agents: ``AZURE_HTTP_USER_AGENT``, which the Azure SDK
   appends to its own) and by kind (queue put/get/delete/update, table point read/query/insert/merge/batch, blob
   put ...; a failed request counts under its kind with its status, e.g. ``[409]``). The benchmark's own reads
   (user agent ``praisonai-bench-harness``) are left out. Target: current < 4 requests per job.

The baseline is built from ``--baseline-ref`` (default 96542c4, the commit before issue 18's worker work) in a
temporary ``git worktree add --detach``, removed on exit; its processes run with this checkout's .venv and that
worktree's ``src`` first on PYTHONPATH (the current side gets this checkout's ``src`` the same way). Every API and
worker process prints which ``praisonai_svc`` it imported, and the benchmark checks it. Every process it starts
runs in its own process group and is stopped on exit, also on failure or SIGTERM.

Run: .venv/bin/python bench/bench_azure_load.py [--quick] [--jobs N] [--count-jobs N] [--rounds R]
     [--baseline-ref REF] [--round-trip-ms MS] [--configs tuned,defaults]
(about 4-5 minutes on 2 CPUs, --quick under 2)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench_azure import (
    OURS_FAST,
    WARMUP_JOBS,
    Harness,
    Names,
    Processes,
    Side,
    Storage,
    StorageRequest,
    added_round_trip_ms,
    cpu_seconds,
    log_size,
    read_requests,
    serving,
    start_proxy,
    submit,
)
from common import REPO, exit_on_sigterm, python

sys.path.insert(0, str(REPO))
from tests.support.azurite import AzuriteHandle, start_azurite

CONFIGS: dict[str, dict[str, str]] = {"tuned": OURS_FAST, "defaults": {}}
API_AGENT = "bench-role-api"
WORKER_AGENT = "bench-role-worker"
TARGET_PER_JOB = 4.0  # storage requests per job under load, current (issue 18)
WARM_UP_JOBS = 100  # one untimed run on a fresh emulator before the race
DETAIL_MIN = 0.02  # per job: smaller rows of the detailed breakdown are summed into one
NO_REGRESSION = 0.95  # current/baseline jobs/s at or above this is "not regressed" (a run's noise is ~5 %)
IMPORTED = "bench_azure_load: praisonai_svc imported from "
# Each API and worker process runs the CLI through this: it sets the role's user agent (read by the Azure SDK
# at every request) and prints where praisonai_svc came from, so that the benchmark can check the build.
LAUNCHER = (
    "import os, runpy, sys\n"
    "os.environ['AZURE_HTTP_USER_AGENT'] = sys.argv[1]\n"
    "import praisonai_svc\n"
    f"print({IMPORTED!r} + praisonai_svc.__file__, flush=True)\n"
    "sys.argv = ['praisonai-svc', *sys.argv[2:]]\n"
    "runpy.run_module('praisonai_svc', run_name='__main__', alter_sys=True)\n"
)
# Azurite's operation names → what they are, in the words of the issue.
KINDS = {
    "Messages_Enqueue": "queue put", "Messages_Dequeue": "queue get", "MessageId_Delete": "queue delete",
    "MessageId_Update": "queue update", "Messages_Peek": "queue peek", "Messages_Clear": "queue clear",
    "Queue_GetProperties": "queue properties", "Queue_Create": "queue create",
    "Table_QueryEntitiesWithPartitionAndRowKey": "table point read", "Table_QueryEntities": "table query",
    "Table_InsertEntity": "table insert", "Table_MergeEntity": "table merge (MERGE)",
    "Table_UpdateEntity": "table update (PUT)", "Table_DeleteEntity": "table delete",
    "Table_Batch": "table batch transaction", "Table_Create": "table create", "Table_Query": "table list tables",
    "BlockBlob_Upload": "blob put", "Blob_Download": "blob get", "Blob_GetProperties": "blob properties",
    "Blob_Delete": "blob delete", "Container_Create": "container create",
    "Container_GetProperties": "container properties",
}


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


# --- the two builds --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    label: str  # "baseline" or "current"
    ref: str  # what it is built from, for the output
    src: Path  # put first on PYTHONPATH


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def current_build() -> Build:
    dirty = " + uncommitted changes" if _git("status", "--porcelain", "--", "src") else ""
    return Build("current", f"{_git('rev-parse', '--short', 'HEAD')}{dirty}", REPO / "src")


@contextlib.contextmanager
def baseline_build(ref: str, parent: Path) -> Iterator[Build]:
    """``ref`` checked out in a temporary detached worktree under ``parent``, removed on exit."""
    try:
        sha = _git("rev-parse", "--short", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"bench_azure_load: --baseline-ref {ref!r} names no commit in {REPO}") from None
    tree = parent / f"baseline-{sha}"
    _git("worktree", "add", "--detach", "--quiet", str(tree), sha)
    try:
        yield Build("baseline", sha if sha.startswith(ref) else f"{ref} = {sha}", tree / "src")
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(tree, ignore_errors=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            _git("worktree", "prune")


@dataclass(frozen=True)
class LoadSide(Side):
    """One build with one worker configuration, its API and worker started through the launcher."""

    build: Build | None = None
    config: str = ""

    @classmethod
    def of(cls, build: Build, config: str) -> LoadSide:
        prefix = f"load-{build.label[0]}-{config[0]}"
        return cls(f"{build.label} {config}", Names.fresh(prefix), CONFIGS[config], build=build, config=config)

    def env(self, connection_string: str) -> dict[str, str]:
        assert self.build is not None
        env = super().env(connection_string)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.build.src), env.get("PYTHONPATH")) if p)
        return env

    def api_command(self, port: int) -> list[str]:
        return [python(), "-c", LAUNCHER, API_AGENT, "api", "noop_service.py", "--port", str(port)]

    def worker_command(self) -> list[str]:
        return [python(), "-c", LAUNCHER, WORKER_AGENT, "worker", "noop_service.py"]


def check_import(processes: Processes, name: str, build: Build, timeout: float = 60) -> Path:
    """Where process ``name`` imported praisonai_svc from; raises unless it is ``build``'s src."""
    deadline = time.monotonic() + timeout
    while not (lines := [line for line in processes.tail(name, 1 << 20).splitlines() if line.startswith(IMPORTED)]):
        processes.check_alive(name)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} never said where it imported praisonai_svc from:\n{processes.tail(name)}")
        time.sleep(0.1)
    path = Path(lines[0].removeprefix(IMPORTED)).resolve()
    if not path.is_relative_to(build.src.resolve()):
        raise RuntimeError(f"{name} ({build.label}) imported praisonai_svc from {path}, not from {build.src}")
    return path


# --- one run ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    side: LoadSide
    jobs: int
    seconds: float  # first POST → the last job's final write (server time stamp)
    submit_seconds: float  # first POST → last POST answered
    cpu_ms: dict[str, float]  # process group → CPU milliseconds per job over the timed run
    requests: list[StorageRequest]  # empty without a debug log
    load: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


def measure(processes: Processes, storage: Storage, side: LoadSide, jobs: int, debug_log: Path | None,
            imports: dict[str, set[Path]]) -> Result:
    assert side.build is not None
    harness = Harness(storage.azurite.connection_string, side)
    try:
        with serving(processes, side, storage.connection_string, f"{side.names.queue}") as running:
            for name in (running.api, running.worker):
                imports.setdefault(side.build.label, set()).add(check_import(processes, name, side.build))
            harness.wait_done(submit(running.base_url, WARMUP_JOBS), running.check)  # connections open
            groups = {"azurite": storage.pgid, "api": processes.pid(running.api),
                      "worker": processes.pid(running.worker)}
            cpu_before = {group: cpu_seconds(pgid) for group, pgid in groups.items()}
            mark = log_size(debug_log) if debug_log else 0
            started, clock = datetime.now(UTC), time.perf_counter()
            job_ids = submit(running.base_url, jobs)
            submitted = time.perf_counter() - clock
            finished = harness.wait_done(job_ids, running.check, timeout=900)
            observed = datetime.now(UTC)  # every job done and every message deleted
            cpu_ms = {group: (cpu_seconds(pgid) - cpu_before[group]) * 1000 / jobs for group, pgid in groups.items()}
            if debug_log:
                time.sleep(1.0)  # Azurite logs a request as it arrives, its status as it answers
                end = log_size(debug_log)
    finally:
        harness.close()
    requests = []
    if debug_log:
        requests = [r for r in read_requests(debug_log, mark, end) if not r.harness and started <= r.at <= observed]
    return Result(side, jobs, (finished - started).total_seconds(), submitted, cpu_ms, requests,
                  os.getloadavg()[0])


def report_run(result: Result) -> None:
    cpu = ", ".join(f"{group} {ms:.1f}" for group, ms in result.cpu_ms.items())
    print(f"    {result.side.label:<18} {result.jobs} jobs in {result.seconds:6.2f} s -> {result.rate:6.1f} jobs/s "
          f"(POSTs done after {result.submit_seconds:5.1f} s); CPU ms per job: {cpu} [load {result.load:.1f}]",
          flush=True)


# --- request kinds ---------------------------------------------------------------------------------------------


def role(request: StorageRequest) -> str:
    return "api" if API_AGENT in request.agent else "worker" if WORKER_AGENT in request.agent else "other"


def kind(request: StorageRequest) -> str:
    name = KINDS.get(request.operation, f"{request.service} {request.operation}")
    if request.empty_receive:
        name += " (empty)"
    if request.status >= 400:
        name += f" [{request.status}]"
    return name


def where(request: StorageRequest, names: Names) -> str:
    """The queue, table (and partition) or container a request is about, without the run's unique prefix."""
    url = request.batch_url or request.url
    resource = urlsplit(url).path.split("/")[2:3] or [""]
    name = resource[0].split("(")[0]
    if request.service == "queue":
        place = "jobs queue" if name == names.queue else f"{name.removeprefix(names.queue + '-')} queue"
    elif request.service == "table":  # "<table>/<partition>": the jobs table, or e.g. "records" (<jobs table>records)
        place = "(tables)" if name == "Tables" else "jobs" if name == names.table else name.removeprefix(names.table)
        place += f"/{request.partition}" if request.partition else ""
    else:
        place = "outputs container" if name == names.container else name
    return place


@dataclass
class Tally:
    """One counted run: requests per (role, kind, where), table batch sizes, messages per receive."""

    jobs: int
    places: Counter[tuple[str, str, str]]
    batch_ops: Counter[tuple[str, str]]  # (role, where) → operations in its batches
    receives: int  # receives that returned messages
    received: int  # messages they returned

    @classmethod
    def of(cls, result: Result) -> Tally:
        places: Counter[tuple[str, str, str]] = Counter()
        batch_ops: Counter[tuple[str, str]] = Counter()
        receives = received = 0
        for request in result.requests:
            key = (role(request), kind(request), where(request, result.side.names))
            places[key] += 1
            if request.batch_ops:
                batch_ops[(key[0], key[2])] += request.batch_ops
            if request.operation == "Messages_Dequeue" and request.messages:
                receives, received = receives + 1, received + request.messages
        return cls(result.jobs, places, batch_ops, receives, received)

    def kinds(self) -> Counter[tuple[str, str]]:
        out: Counter[tuple[str, str]] = Counter()
        for (role_, kind_, _), n in self.places.items():
            out[(role_, kind_)] += n
        return out

    def per_job(self, n: float) -> float:
        return n / self.jobs

    @property
    def total(self) -> float:
        return sum(self.places.values()) / self.jobs


# --- main ------------------------------------------------------------------------------------------------------


@dataclass
class Options:
    jobs: int
    count_jobs: int
    rounds: int
    baseline_ref: str
    round_trip_ms: float
    configs: list[str]
    quick: bool


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer jobs and runs (150 timed, one round; 120 counted per run)")
    parser.add_argument("--jobs", type=int, help="jobs per timed run in [1] (default 500, quick 150)")
    parser.add_argument("--count-jobs", type=int, help="jobs per counted run in [2] (default 400, quick 120)")
    parser.add_argument("--rounds", type=int,
                        help="timed runs per build and configuration in [1], alternating which build goes first; "
                             "the best counts (default 2, quick 1)")
    parser.add_argument("--baseline-ref", default="96542c4", help="git ref of the 'before' build (default 96542c4)")
    parser.add_argument("--round-trip-ms", type=float, default=10.0,
                        help="network round trip the proxy adds to every storage request (default 10; 0: none)")
    parser.add_argument("--configs", default="tuned,defaults", help="worker configurations (tuned,defaults)")
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    if unknown := [c for c in configs if c not in CONFIGS]:
        parser.error(f"unknown configuration(s) {unknown}; known: {', '.join(CONFIGS)}")
    return Options(jobs=args.jobs or (150 if args.quick else 500),
                   count_jobs=args.count_jobs or (120 if args.quick else 400),
                   rounds=max(1, args.rounds or (1 if args.quick else 2)),
                   baseline_ref=args.baseline_ref, round_trip_ms=args.round_trip_ms, configs=configs,
                   quick=args.quick)


def main() -> None:
    options = parse_options()
    exit_on_sigterm("bench_azure_load")
    with tempfile.TemporaryDirectory(prefix="bench-azure-load-") as tmp, \
            baseline_build(options.baseline_ref, Path(tmp)) as baseline:
        Bench(Path(tmp), options, [baseline, current_build()]).run()


class Bench:
    def __init__(self, tmp: Path, options: Options, builds: list[Build]) -> None:
        self.tmp = tmp
        self.options = options
        self.builds = builds
        self.processes = Processes(tmp)
        self.emulators: list[AzuriteHandle] = []
        self.imports: dict[str, set[Path]] = {}
        self.clock = time.monotonic()

    def emulator(self, name: str, *, debug: bool) -> tuple[AzuriteHandle, Path]:
        debug_log = self.tmp / name / "debug.log"
        self.emulators.append(start_azurite(self.tmp / name, debug_log=debug_log if debug else None,
                                            access_log=debug))
        return self.emulators[-1], debug_log

    def storage(self, azurite: AzuriteHandle) -> Storage:
        """Azurite, behind the delaying proxy unless the round trip is 0; prints what the proxy adds."""
        if self.options.round_trip_ms <= 0:
            return Storage(azurite, azurite.connection_string)
        proxied = Storage(azurite, start_proxy(self.processes, azurite, self.options.round_trip_ms))
        added = added_round_trip_ms(azurite.connection_string, proxied.connection_string)
        print(f"    proxy: +{self.options.round_trip_ms:g} ms per storage round trip asked, {added:+.1f} ms measured "
              "per small request")
        return proxied

    def order(self, round_: int) -> list[tuple[Build, str]]:
        """Alternate: within a round each configuration swaps which build goes first, and so does each round."""
        runs = []
        for index, config in enumerate(self.options.configs):
            builds = self.builds if (index + round_) % 2 == 0 else list(reversed(self.builds))
            runs += [(build, config) for build in builds]
        return runs

    def run(self) -> None:
        options = self.options
        print(f"bench_azure_load: Azure backend on Azurite, baseline vs current, {os.cpu_count()} CPUs, {load()} at "
              "start")
        for build in self.builds:
            print(f"    {build.label:<8} {build.ref:<32} src {build.src}")
        for config in options.configs:
            shown = ", ".join(f"{k.removeprefix('PRAISONAI_').lower()}={v}" for k, v in CONFIGS[config].items())
            print(f"    worker config {config}: {shown or 'no worker setting (the product defaults)'}")
        try:
            rates = self.race()
            counts = self.count()
        finally:
            self.processes.stop_all()
            for handle in self.emulators:
                handle.stop()
        for label, paths in self.imports.items():
            print(f"    praisonai_svc imported by every {label} API and worker from: "
                  f"{', '.join(str(p) for p in sorted(paths))}")
        self.summary(rates, counts)

    def race(self) -> dict[tuple[str, str], list[Result]]:
        options = self.options
        print(f"[1] end to end: {options.jobs} no-op jobs per run, one API + one worker process, POST /jobs from 32 "
              f"connections, time = first POST -> last job's final write; {options.rounds} run(s) per build and "
              "configuration, alternating; Azurite without a debug log", flush=True)
        azurite, _ = self.emulator("azurite-race", debug=False)
        storage = self.storage(azurite)
        warm_up = measure(self.processes, storage, LoadSide.of(self.builds[-1], options.configs[0]), WARM_UP_JOBS,
                          None, self.imports)  # a fresh emulator is slower at first: nobody's timed run pays that
        print(f"    (warm-up, not counted: {warm_up.side.label}, {warm_up.jobs} jobs, {warm_up.rate:.1f} jobs/s)")
        results: dict[tuple[str, str], list[Result]] = {}
        for round_ in range(options.rounds):
            for build, config in self.order(round_):
                result = measure(self.processes, storage, LoadSide.of(build, config), options.jobs, None,
                                 self.imports)
                report_run(result)
                results.setdefault((build.label, config), []).append(result)
        self.processes.stop("proxy")
        azurite.stop()
        return results

    def count(self) -> dict[tuple[str, str], Result]:
        options = self.options
        print(f"[2] storage requests per job under load: {options.count_jobs} no-op jobs per run, POSTed from 32 "
              "connections, same proxy, Azurite with --debug; requests counted from the first POST until every job "
              "was done and its message deleted (harness reads excluded)", flush=True)
        azurite, debug_log = self.emulator("azurite-count", debug=True)
        storage = self.storage(azurite)
        results = {}
        for build, config in self.order(0):
            result = measure(self.processes, storage, LoadSide.of(build, config), options.count_jobs, debug_log,
                             self.imports)
            report_run(result)
            results[(build.label, config)] = result
        self.processes.stop("proxy")
        azurite.stop()
        return results

    def summary(self, rates: dict[tuple[str, str], list[Result]], counts: dict[tuple[str, str], Result]) -> None:
        options = self.options
        base, cur = (b.label for b in self.builds)
        minutes = (time.monotonic() - self.clock) / 60
        print(f"summary ({load()} at the end, {minutes:.1f} min; baseline {self.builds[0].ref}, current "
              f"{self.builds[1].ref})")
        print(f"  [1] jobs/s end to end, best of {options.rounds}, +{options.round_trip_ms:g} ms per storage round "
              f"trip, {options.jobs} jobs")
        print(f"    {'config':<9} {'baseline':>9} {'current':>9} {'current/baseline':>17}  no regression "
              f"(>= {NO_REGRESSION:g})")
        for config in options.configs:
            before = max(r.rate for r in rates[(base, config)])
            after = max(r.rate for r in rates[(cur, config)])
            ratio = after / before
            print(f"    {config:<9} {before:9.1f} {after:9.1f} {ratio:16.2f}x  "
                  f"{'MET' if ratio >= NO_REGRESSION else 'MISSED'}")
        columns = [(label, config) for config in options.configs for label in (base, cur)]
        tallies = [Tally.of(counts[column]) for column in columns]
        header = "".join(f"{f'{label[:4]} {config[:4]}':>11}" for label, config in columns)
        print(f"  [2] storage requests per job under load ({options.count_jobs} jobs per run), by role and kind")
        print_kinds(tallies, header)
        for config in options.configs:
            before, after = (tallies[columns.index((label, config))].total for label in (base, cur))
            print(f"    {config}: {before:.2f} -> {after:.2f} requests per job (target current < {TARGET_PER_JOB:g}: "
                  f"{'MET' if after < TARGET_PER_JOB else 'MISSED'})")
        print(f"  [2] the same requests by what they touch (rows under {DETAIL_MIN:g} per job in every column summed)")
        print_places(tallies, header)
        print("  [2] operations per table batch transaction, and messages per receive that returned any")
        print_sizes(tallies)


def _row(name: str, values: list[float], digits: int = 3) -> None:
    print(f"    {name:<56}{''.join(f'{v:11.{digits}f}' for v in values)}")


def print_kinds(tallies: list[Tally], header: str) -> None:
    print(f"    {'role    kind':<56}{header}")
    kinds = [tally.kinds() for tally in tallies]
    for role_ in ("api", "worker", "other"):
        order = Counter[str]()
        for tally, counter in zip(tallies, kinds, strict=True):
            for (r, k), n in counter.items():
                if r == role_:
                    order[k] += n / tally.jobs
        if not order:
            continue
        for kind_, _ in order.most_common():
            _row(f"{role_:<7} {kind_}", [t.per_job(c[(role_, kind_)]) for t, c in zip(tallies, kinds, strict=True)])
        _row(f"{role_:<7} = {role_} total",
             [t.per_job(sum(n for (r, _), n in c.items() if r == role_)) for t, c in zip(tallies, kinds, strict=True)])
    _row("all     = TOTAL requests per job", [tally.total for tally in tallies])


def print_places(tallies: list[Tally], header: str) -> None:
    print(f"    {'role    kind, where':<56}{header}")
    places = Counter[tuple[str, str, str]]()
    for tally in tallies:
        for key, n in tally.places.items():
            places[key] += n / tally.jobs
    rest = [0.0] * len(tallies)
    for key, _ in sorted(places.items(), key=lambda item: (item[0][0], -item[1])):
        values = [tally.per_job(tally.places[key]) for tally in tallies]
        if max(values) < DETAIL_MIN:
            rest = [a + b for a, b in zip(rest, values, strict=True)]
        else:
            _row(f"{key[0]:<7} {key[1]}, {key[2]}", values)
    _row("(rest)", rest)


def print_sizes(tallies: list[Tally]) -> None:
    for role_, place in sorted({key for tally in tallies for key in tally.batch_ops}):
        values = []
        for tally in tallies:
            batches = sum(n for (r, k, w), n in tally.places.items()
                          if (r, w) == (role_, place) and k.startswith("table batch"))
            values.append(tally.batch_ops[(role_, place)] / batches if batches else 0.0)
        _row(f"{role_:<7} ops per batch, {place}", values, 1)
    _row("worker  messages per non-empty receive",
         [tally.received / tally.receives if tally.receives else 0.0 for tally in tallies], 1)


if __name__ == "__main__":
    main()
