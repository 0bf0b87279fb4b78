"""``python -m praisonai_svc.healthcheck``: the container image's HEALTHCHECK (exit 0 healthy, 1 not).

One image runs either side, so the check looks at what PID 1 is: the API must answer ``GET /live`` on
PRAISONAI_PORT; a worker has no HTTP port unless PRAISONAI_WORKER_METRICS_PORT is set (then that must answer),
otherwise it is healthy while it runs — if its process dies, the container exits anyway. Standard library only:
it runs every 30 s and must start fast.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 3.0


def pid1_is_worker(cmdline_path: Path = Path("/proc/1/cmdline")) -> bool:
    try:
        words = cmdline_path.read_bytes().split(b"\0")
    except OSError:
        return False
    return any(word == b"worker" or word.endswith(b"praisonai_svc.worker") for word in words)


def probe_port(worker: bool, environ: dict[str, str]) -> str | None:
    """The port to probe, or None when there is nothing to ask (a worker without a metrics port)."""
    if worker:
        return environ.get("PRAISONAI_WORKER_METRICS_PORT") or None
    return environ.get("PRAISONAI_PORT") or "8080"


def healthy(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/live", timeout=TIMEOUT_SECONDS) as response:
            return bool(200 <= response.status < 300)
    except OSError:
        return False


def main() -> int:
    port = probe_port(pid1_is_worker(), dict(os.environ))
    return 0 if port is None or healthy(port) else 1


if __name__ == "__main__":
    sys.exit(main())
