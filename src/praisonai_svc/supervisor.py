"""``run``: the API in this process, workers as child processes, one process tree that stops together."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

from praisonai_svc.app import ServiceApp
from praisonai_svc.logs import get_logger

log = get_logger("run")
EXIT_ABANDONED = 3  # a process's exit code when a service did not stop within closing_timeout_seconds


def _caller_target(app: ServiceApp) -> str:
    if app.target:
        return app.target
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main_file:
        return str(Path(main_file).resolve())
    raise RuntimeError("Cannot tell which file defines this app; use `praisonai-svc run path/to/handlers.py`.")


class WorkerProcesses:
    """Worker child processes, restarted if they die, stopped with SIGTERM (grace) then SIGKILL."""

    def __init__(self, target: str, count: int, env: dict[str, str]) -> None:
        self.target = target
        self.count = count
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self._last_restart = 0.0

    def _start_one(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "praisonai_svc", "worker", self.target], env=self.env)

    def start(self) -> None:
        self.procs = [self._start_one() for _ in range(self.count)]
        log.info("workers started", extra={"pids": [p.pid for p in self.procs]})

    def alive(self) -> bool:
        """True when every worker runs; dead ones are restarted (at most one restart a second)."""
        healthy = True
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                healthy = False
                if time.monotonic() - self._last_restart > 1.0:
                    log.warning("worker exited; restarting", extra={"pid": proc.pid, "code": proc.returncode})
                    self.procs[index] = self._start_one()
                    self._last_restart = time.monotonic()
        return healthy or all(p.poll() is None for p in self.procs)

    def stop(self, grace: float) -> int:
        """SIGTERM every worker, SIGKILL those still running after ``grace`` (+5 s); the worst exit code."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace + 5
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        codes = [proc.returncode for proc in self.procs]
        return EXIT_ABANDONED if any(code != 0 for code in codes) else 0


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def serve_http(api: object, host: str, port: int, *, access_log: bool = False) -> None:
    """Serve until SIGTERM/SIGINT, then return normally (exit code 0) after uvicorn's graceful shutdown.

    ``access_log`` (PRAISONAI_ACCESS_LOG): uvicorn's line per request, at INFO. Off, uvicorn does not even
    format the line's fields (it does whenever its access logger has a handler, whatever its level).
    """
    # uvicorn re-raises the signal after shutting down, with the handlers installed before it started; ours
    # turns that into a return, so callers can clean up (stop worker children) and exit with 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    with contextlib.suppress(SystemExit):
        # proxy_headers=False: uvicorn would otherwise trust X-Forwarded-For from 127.0.0.1 and overwrite the peer
        # address; the client address is derived once, with PRAISONAI_TRUSTED_PROXY_HOPS (security/client_ip.py).
        uvicorn.run(api, host=host, port=port, log_config=uvicorn_logging(access_log), log_level=None,  # type: ignore[arg-type]
                    access_log=access_log, timeout_graceful_shutdown=5, proxy_headers=False)


def uvicorn_logging(access_log: bool) -> dict[str, Any]:
    """uvicorn's own logging setup, at WARNING (as ``log_level="warning"`` set it), with its access log at INFO
    when it is on."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for name in ("uvicorn", "uvicorn.error"):
        config["loggers"].setdefault(name, {})["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    config["loggers"].setdefault("uvicorn.asgi", {})["level"] = "WARNING"
    return config


def run_service(app: ServiceApp, *, host: str | None = None, port: int | None = None, workers: int = 1) -> int:
    """Serve the API; run ``workers`` worker processes beside it (0: a worker inside the API process).

    Returns the exit code: 0, or :data:`EXIT_ABANDONED` when a service of any process had to be abandoned at
    shutdown (or a worker did not exit cleanly).
    """
    from praisonai_svc.api.factory import create_api

    settings = app.settings
    host = host or settings.host
    port = port or settings.port
    api = create_api(app, embedded_worker=workers == 0)
    group = None
    if workers > 0:
        group = WorkerProcesses(_caller_target(app), workers, dict(os.environ))
        group.start()
        api.state.worker_probe = group.alive
    log.info("serving", extra={"url": f"http://{host}:{port}", "docs": f"http://{host}:{port}/docs",
                               "workers": workers})
    code = 0
    try:
        serve_http(api, host, port, access_log=settings.access_log)
    finally:
        if group is not None:
            # a worker drains its jobs (the grace), then stops its services (closing_timeout_seconds)
            code = group.stop(settings.shutdown_grace_seconds + app.config.server.closing_timeout_seconds)
    return EXIT_ABANDONED if getattr(api.state, "abandoned", None) else code
