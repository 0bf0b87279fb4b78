"""Helpers shared by the benchmarks: start servers, run wrk, print results."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def exit_on_sigterm(name: str) -> None:
    """On SIGTERM, leave through the ``finally`` blocks (which stop every process and emulator the benchmark
    started, and remove what it made), keeping the output short."""

    def leave(*_: object) -> None:
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # a submit in flight would log its SystemExit
        print(f"{name}: SIGTERM, stopping everything it started", file=sys.stderr)
        sys.exit(143)

    signal.signal(signal.SIGTERM, leave)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAISONAI_")}
    # Benchmarks submit thousands of jobs from 127.0.0.1: per-client rate limits (0 = off) would turn them into 429s.
    env.update(PRAISONAI_LOG_LEVEL="WARNING", PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE="0",
               PRAISONAI_RATE_LIMIT_READ_PER_MINUTE="0", **extra)
    return env


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=BENCH)
    try:
        if ready_url:
            wait_http(ready_url, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)


def wrk(url: str, seconds: int, connections: int = 32) -> float:
    """Requests per second of POST /jobs with unique payloads (wrk, one thread).

    Each call passes the script a fresh run id, so payloads are unique across calls too: a warm-up run would
    otherwise make the measured run's first requests idempotent hits.
    """
    run_id = f"{time.time_ns():x}"
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(BENCH / "post_unique.lua"), url, "--", run_id],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"RESULT requests=(\d+) seconds=([\d.]+) errors=(\d+)", out)
    if not match:
        raise RuntimeError(out)
    requests, elapsed, errors = int(match[1]), float(match[2]), int(match[3])
    if errors:
        raise RuntimeError(f"wrk saw {errors} errors:\n{out}")
    return requests / elapsed


def python() -> str:
    return sys.executable
