"""Outputs, metering and client benchmarks on the embedded (local) backend, measured in one run.

1. The ZIP of 20 x 5 MB outputs streamed by GET /jobs/{id}/download, against reading the same 20 files from
   disk (target: >= 0.5 of the read rate), and the API's peak RSS above idle during the download (< 50 MB).
2. POST /jobs rate with usage metering on against off (target >= 0.95), runs interleaved in one run.
3. praisonai_svc.client.Client.get against raw httpx GETs of the same job, 1,000 each (overhead <= 10 %).

Run: .venv/bin/python bench/bench_outputs.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import env_with, free_port, process, python, wrk

from praisonai_svc.client import Client

COUNT, SIZE = 20, 5 * 1024 * 1024
CHUNK = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRss(threading.Thread):
    """Samples a process's RSS every 5 ms until stopped; ``peak`` is the largest sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.005)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def read_rate(paths: list[Path], direct: bool) -> float:
    """Bytes per second reading ``paths`` whole; ``direct``: O_DIRECT, past the page cache (the disk itself)."""
    import mmap

    buffer = mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT requires
    total, started = 0, time.perf_counter()
    for path in paths:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECT if direct else 0))
        try:
            while read := os.readv(fd, [buffer]):
                total += read
        finally:
            os.close(fd)
    return total / (time.perf_counter() - started)


def zip_download(repeats: int) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data, PRAISONAI_WORKERS="0", PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05",
                       PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.2")
        api = [python(), "-m", "praisonai_svc", "api", "outputs_service.py", "--port", str(port)]
        worker = [python(), "-m", "praisonai_svc", "worker", "outputs_service.py"]
        url = f"http://127.0.0.1:{port}"
        with process(api, env, f"{url}/live") as api_proc, process(worker, env), Client(url) as client:
            job = client.submit({"count": COUNT, "size": SIZE}, service="files", wait=True, timeout=300)
            assert job.status.value == "done", job.error_msg
            paths = sorted(Path(data).rglob("part-*.bin"))
            assert len(paths) == COUNT, paths
            cached = max(read_rate(paths, direct=False) for _ in range(repeats))
            disk = max(read_rate(paths, direct=True) for _ in range(repeats))
            with httpx.Client(base_url=url, timeout=60) as raw:
                raw.get("/live")
                idle = rss_bytes(api_proc.pid)
                rates, peaks = [], []
                for _ in range(repeats):
                    sampler = PeakRss(api_proc.pid)
                    sampler.start()
                    received, started = 0, time.perf_counter()
                    with raw.stream("GET", f"/jobs/{job.job_id}/download") as response:
                        assert response.headers["content-type"] == "application/zip"
                        for chunk in response.iter_raw(CHUNK):
                            received += len(chunk)
                    rates.append(received / (time.perf_counter() - started))
                    peaks.append(sampler.stop())
                    assert received > COUNT * SIZE
    return {"zip": max(rates), "cached": cached, "disk": disk, "idle": idle, "peak": max(peaks)}


def metering_ratio(seconds: int, rounds: int) -> tuple[float, float]:
    """POST /jobs per second with metering on and off: two API processes, wrk runs interleaved."""
    rates: dict[str, list[float]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        ports = {"on": free_port(), "off": free_port()}
        envs = {"on": env_with(PRAISONAI_DATA_DIR=on_dir, PRAISONAI_USAGE_METERING="true"),
                "off": env_with(PRAISONAI_DATA_DIR=off_dir, PRAISONAI_USAGE_METERING="false")}
        cmds = {mode: [python(), "-m", "praisonai_svc", "api", "outputs_service.py", "--port", str(port)]
                for mode, port in ports.items()}
        with process(cmds["on"], envs["on"], f"http://127.0.0.1:{ports['on']}/live"), \
                process(cmds["off"], envs["off"], f"http://127.0.0.1:{ports['off']}/live"):
            for mode in ("on", "off"):
                wrk(f"http://127.0.0.1:{ports[mode]}", 2)  # warm-up
            for _ in range(rounds):
                for mode in ("off", "on"):
                    rates[mode].append(wrk(f"http://127.0.0.1:{ports[mode]}", seconds))
    return statistics.median(rates["on"]), statistics.median(rates["off"])


def client_overhead(requests: int, rounds: int) -> tuple[float, float]:
    """Seconds for ``requests`` GET /jobs/{id}: (our Client, raw httpx), best of ``rounds`` each, interleaved."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data)
        cmd = [python(), "-m", "praisonai_svc", "api", "outputs_service.py", "--port", str(port)]
        url = f"http://127.0.0.1:{port}"
        with process(cmd, env, f"{url}/live"), Client(url) as client, httpx.Client(base_url=url) as raw:
            job_id = client.submit({"n": 1}, service="noop").job_id
            ours, theirs = [], []
            for _ in range(rounds):
                started = time.perf_counter()
                for _ in range(requests):
                    raw.get(f"/jobs/{job_id}").raise_for_status()
                theirs.append(time.perf_counter() - started)
                started = time.perf_counter()
                for _ in range(requests):
                    client.get(job_id)
                ours.append(time.perf_counter() - started)
    return min(ours), min(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs, less stable figures")
    quick = parser.parse_args().quick
    mb = 1024 * 1024

    z = zip_download(repeats=2 if quick else 3)
    print(f"1. ZIP of {COUNT} x {SIZE // mb} MB streamed: {z['zip'] / mb:,.0f} MB/s")
    print(f"   reading the same files: {z['disk'] / mb:,.0f} MB/s from the disk (O_DIRECT), "
          f"{z['cached'] / mb:,.0f} MB/s from the page cache")
    print(f"   ratio to the disk read rate: {z['zip'] / z['disk']:.2f} (target >= 0.5); "
          f"to the page cache: {z['zip'] / z['cached']:.2f}")
    print(f"   API RSS: idle {z['idle'] / mb:.1f} MB, peak during the download {z['peak'] / mb:.1f} MB, "
          f"+{(z['peak'] - z['idle']) / mb:.1f} MB (target < 50 MB)")

    on, off = metering_ratio(seconds=3 if quick else 8, rounds=2 if quick else 3)
    print(f"2. POST /jobs with metering on: {on:,.0f}/s, off: {off:,.0f}/s, ratio {on / off:.3f} (target >= 0.95)")

    ours, raw = client_overhead(1000, rounds=2 if quick else 3)
    print(f"3. 1,000 GET /jobs/{{id}}: Client {ours:.3f} s, raw httpx {raw:.3f} s, "
          f"overhead {(ours / raw - 1) * 100:+.1f} % (target <= 10 %)")


if __name__ == "__main__":
    main()
