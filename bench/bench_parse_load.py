"""``/live`` latency while clients flood the API with large YAML (and JSON) bodies; the largest legal documents.

Issue 11, finding 1: a 1 MB YAML body (``payload: {a: [1,1,1,... 500,000 times]}``) used to freeze the event
loop for ~20 s. Now bodies are parsed off the loop (api/parse_pool.py) with limits counted while parsing
(yaml_limits.py, safe_parse.py), so the body is refused (400: more than 200,000 nodes) and the loop stays free.

1. ``/live`` alone: one probe every 20 ms on a fresh connection (as an orchestrator's probe does) → p50/p99/max.
2. The same while 4 client *processes* (so their CPU is not this process's GIL) each POST that YAML body in a
   loop; prints the p99 (target < 50 ms) and how the flood was answered (expected: 400, or 503 when the parse
   pool's queue is full).
3. The same with the JSON form of that body.
4. The largest legal documents still parse: a YAML body of exactly the node limit, and a ~1 MB YAML body
   (largest by size), each submitted on an idle API → status and time.

Run: .venv/bin/python bench/bench_parse_load.py [--quick]   (--quick: 8 s floods instead of 20 s)
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import tempfile
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import httpx
from common import env_with, free_port, process, python

from praisonai_svc.safe_parse import MAX_NODES

CLIENTS = 4
TARGET_P99_MS = 50.0
FLOOD_ITEMS = 500_000
YAML_FLOOD = ("payload: {a: [" + ",".join(["1"] * FLOOD_ITEMS) + "]}").encode()
JSON_FLOOD = ('{"payload": {"a": [' + ",".join(["1"] * FLOOD_ITEMS) + "]}}").encode()


def client_loop(url: str, body: bytes, content_type: str, seconds: float, results: Any) -> None:
    """One flooding client (its own process): POST ``body`` until ``seconds`` pass; report status counts."""
    counts: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < deadline:
            try:
                counts[client.post(url + "/jobs", content=body, headers={"Content-Type": content_type})
                       .status_code] += 1
            except httpx.HTTPError:
                counts[0] += 1
    results.put(dict(counts))


def probe(url: str, seconds: float, interval: float = 0.02) -> list[float]:
    """Milliseconds per ``GET /live``, each on a new connection, one every ``interval`` seconds (``http.client``:
    an httpx client per probe would add ~30 ms of its own set-up to every figure)."""
    parts = urlsplit(url)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        connection.request("GET", "/live")
        response = connection.getresponse()
        response.read()
        connection.close()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"/live answered {response.status}")
        time.sleep(interval)
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered):6.1f} ms, p99 {p99:6.1f} ms, max {ordered[-1]:6.1f} ms "
            f"over {len(ordered)} probes")


def p99_of(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def flood(url: str, body: bytes, content_type: str, seconds: float) -> tuple[list[float], Counter[int]]:
    results: Any = multiprocessing.Queue()
    clients = [multiprocessing.Process(target=client_loop, args=(url, body, content_type, seconds, results))
               for _ in range(CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(1.0)  # let every client have a body in flight
    latencies = probe(url, seconds - 1.5)
    answers: Counter[int] = Counter()
    for _ in clients:
        answers.update(results.get(timeout=120))
    for client in clients:
        client.join()
    return latencies, answers


def largest_legal(url: str) -> list[str]:
    lines = []
    items = MAX_NODES - 5  # the root mapping, "payload", its mapping, "a" and the list are 5 nodes
    by_nodes = ("payload: {a: [" + ",".join(["1"] * items) + "]}").encode()
    per_item = 11  # `"01234567",`: a body just under 1 MiB of short strings, far below the node limit
    by_size = ("payload: {a: [" + ",".join([f'"{i:08d}"' for i in range(1_040_000 // per_item)]) + "]}").encode()
    for name, body in (("node limit", by_nodes), ("~1 MB", by_size)):
        started = time.perf_counter()
        response = httpx.post(url + "/jobs", content=body, headers={"Content-Type": "application/yaml"}, timeout=60)
        took = time.perf_counter() - started
        lines.append(f"    {name:10s}: {len(body):>9,} bytes, {body.count(b',') + 5:>7,} nodes -> HTTP "
                     f"{response.status_code} in {took:.2f} s")
        if response.status_code not in (200, 202):
            raise RuntimeError(f"the largest legal document ({name}) was refused: {response.text[:300]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s floods instead of 20 s")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 20.0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"bench_parse_load: measured in one run on this machine ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start); {CLIENTS} client processes, one API process (local backend, "
          "default PRAISONAI_PARSE_THREADS and PRAISONAI_PARSE_TIME_BUDGET_SECONDS)")
    with tempfile.TemporaryDirectory() as data:
        api = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
        with process(api, env_with(PRAISONAI_DATA_DIR=data), url + "/live"):
            print(f"[1] /live, idle API:                        {summary(probe(url, 3.0))}")
            results = []
            for label, body, content_type in (("YAML", YAML_FLOOD, "application/yaml"),
                                              ("JSON", JSON_FLOOD, "application/json")):
                latencies, answers = flood(url, body, content_type, seconds)
                p99 = p99_of(latencies)
                results.append((label, p99))
                print(f"[{len(results) + 1}] /live, {CLIENTS} clients POSTing {len(body):,}-byte {label} bodies "
                      f"({FLOOD_ITEMS:,} items) in a loop for {seconds:g} s: {summary(latencies)}")
                print(f"    the flood was answered: {dict(sorted(answers.items()))} (0 = connection error); "
                      f"p99 target < {TARGET_P99_MS:g} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'}")
            print("[4] the largest legal YAML documents, on the idle API:")
            for line in largest_legal(url):
                print(line)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
