"""Start the real CLI as subprocesses (API, workers) against a backend, and talk to it over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "praisonai_svc"]

FAST = {
    "PRAISONAI_WORKER_POLL_INTERVAL_MIN": "0.05",
    "PRAISONAI_WORKER_POLL_INTERVAL_MAX": "0.5",
    "PRAISONAI_RETRY_BACKOFF_SECONDS": "0.2",
    "PRAISONAI_QUEUE_VISIBILITY_TIMEOUT": "3",
    "PRAISONAI_SHUTDOWN_GRACE_SECONDS": "10",
    "PRAISONAI_LOG_FORMAT": "json",
    # Tests submit many jobs quickly from 127.0.0.1: limits high enough never to bite (the limiter still counts);
    # tests of the limits themselves set their own values.
    "PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE": "1000000",
    "PRAISONAI_RATE_LIMIT_READ_PER_MINUTE": "1000000",
    "PRAISONAI_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "1000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAISONAI_")}
    env.update(FAST)
    env.update(extra)
    return env


@dataclass
class Service:
    """A running service: one API process and any number of worker processes sharing one backend."""

    target: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        return subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.log_dir)

    def start_api(self) -> None:
        self.api = self._spawn([*CLI, "api", self.target, "--port", str(self.port)], "api")
        try:
            wait_http(self.url + "/live", self.api)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n--- service logs ---\n{self.logs()[-4000:]}") from exc

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        proc = self._spawn([sys.executable, "-m", "praisonai_svc.worker", self.target, *extra], "worker")
        self.workers.append(proc)
        return proc

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, **kwargs)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for proc in [*self.workers, *([self.api] if self.api else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, *([self.api] if self.api else [])]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def running_service(target: Path, env: dict[str, str], log_dir: Path, workers: int = 1) -> Iterator[Service]:
    log_dir.mkdir(parents=True, exist_ok=True)
    service = Service(str(target), clean_env(env), log_dir)
    try:
        service.start_api()
        for _ in range(workers):
            service.start_worker()
        yield service
    finally:
        service.stop()


def wait_job(client: httpx.Client, job_id: str, timeout: float = 60, until: tuple[str, ...] = ("done", "error")
             ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in until:
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")


def markers(marker_dir: Path, job_id: str) -> list[dict[str, Any]]:
    import json

    path = marker_dir / job_id
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def backend_counts(env: dict[str, str], queue_name: str | None = None) -> tuple[int, int]:
    """(queue length, poison length) of the first service's queue, read through the port, whatever the backend."""
    queue_name = queue_name or env.get("PRAISONAI_QUEUE_NAME", "praison-jobs")
    from praisonai_svc.backend import open_backend
    from praisonai_svc.settings import Settings

    async def read() -> tuple[int, int]:
        overrides = {k[len("PRAISONAI_"):].lower(): v for k, v in env.items() if k.startswith("PRAISONAI_")}
        backend = await open_backend(Settings(**overrides))
        try:
            queue = backend.queue(queue_name)
            return await queue.length(), await queue.poison_length()
        finally:
            await backend.close()

    return asyncio.run(read())
