"""Plugins: image-compress throughput against a seed-style endpoint, health latency under that load, and the
overhead of one synchronous request above the bare Pillow work.

    .venv/bin/python bench/bench_plugins.py [--quick]

1. Throughput: a 1920x1080 JPEG (served by a local HTTP server) compressed to WebP q80, by 4 concurrent clients
   for 20 s (8 s with --quick), against ``naive_capability.py`` (Pillow inside the handler, one uvicorn process)
   and against our service (``praisonai-svc api plugin_service.py``: the image-compress plugin, its process
   pool sized to the cores). Target: ours >= 1.6x.
2. ``GET /api/v1/health`` every 50 ms during each load: p50 / p99 latency. Target: ours p99 < 50 ms.
3. One request at a time (15 of them, median) minus the bare Pillow time of the same work in this process
   (median of 15): our overhead per synchronous request.

The two services alternate (naive, ours, naive, ours) and the best figure of each is kept, so that a burst of
load from elsewhere on the machine does not decide the comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH, env_with, free_port, process

CONCURRENCY = 4
HEALTH_EVERY = 0.05


def photo_like_jpeg() -> bytes:
    """1920x1080, gradients plus blurred noise: WebP has real work to do, as with a photo."""
    noise = Image.effect_noise((1920, 1080), 64).filter(ImageFilter.GaussianBlur(2))
    gradient = Image.linear_gradient("L").resize((1920, 1080))
    image = Image.merge("RGB", (noise, gradient, ImageOps.invert(gradient)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def bare_pillow(data: bytes) -> float:
    started = time.perf_counter()
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80, method=4)
    return time.perf_counter() - started


async def load(url: str, image_url: str, seconds: float) -> tuple[float, list[float]]:
    """(completed requests per second, health latencies in seconds) over ``seconds`` of load."""
    body = {"image_url": image_url, "options": {"quality": 80, "format": "webp"}}
    done = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def compressor() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                response = await client.post("/api/v1/image/compress", json=body)
                response.raise_for_status()
                done += 1

        async def prober() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    (await probe.get("/api/v1/health")).raise_for_status()
                    latencies.append(time.perf_counter() - started)
                    await asyncio.sleep(HEALTH_EVERY)

        started = time.monotonic()
        await asyncio.gather(prober(), *(compressor() for _ in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
    return done / elapsed, latencies


async def one_at_a_time(url: str, image_url: str, count: int = 15) -> float:
    body = {"image_url": image_url, "options": {"quality": 80, "format": "webp"}}
    times = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for _ in range(count):
            started = time.perf_counter()
            (await client.post("/api/v1/image/compress", json=body)).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(name: str, url: str, image_url: str, seconds: float) -> tuple[float, float, float]:
    asyncio.run(load(url, image_url, 2))  # warm-up
    rate, latencies = asyncio.run(load(url, image_url, seconds))
    print(f"  {name:<6} {rate:6.2f} images/s   /api/v1/health p50 {p(latencies, 0.5):6.1f} ms  "
          f"p99 {p(latencies, 0.99):6.1f} ms  ({len(latencies)} probes)")
    return rate, p(latencies, 0.99), asyncio.run(one_at_a_time(url, image_url))


def run_naive(image_url: str, port: int, out: str, seconds: float) -> tuple[float, float, float]:
    command = [sys.executable, "-m", "uvicorn", "naive_capability:app", "--port", str(port), "--log-level",
               "warning", "--no-access-log"]
    with process(command, env_with(NAIVE_OUT=out), f"http://127.0.0.1:{port}/api/v1/health"):
        return measure("naive", f"http://127.0.0.1:{port}", image_url, seconds)


def run_ours(image_url: str, port: int, files_port: int, data_dir: str, seconds: float) -> tuple[float, float, float]:
    command = [sys.executable, "-m", "praisonai_svc", "api", str(BENCH / "plugin_service.py"), "--port", str(port)]
    env = env_with(PRAISONAI_DATA_DIR=data_dir, PRAISONAI_FETCH_ALLOWED_HOSTS=f"127.0.0.1:{files_port}")
    with process(command, env, f"http://127.0.0.1:{port}/live"):
        return measure("ours", f"http://127.0.0.1:{port}", image_url, seconds)


def best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The best figure of each kind over the runs (highest rate, lowest p99, lowest single-request time)."""
    return max(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 s of load instead of 20 s, one round")
    quick = parser.parse_args().quick
    seconds, rounds = (8.0, 1) if quick else (20.0, 2)
    image = photo_like_jpeg()
    pillow = statistics.median(bare_pillow(image) for _ in range(15))
    print(f"bench_plugins: 1920x1080 JPEG ({len(image)} bytes) -> WebP q80; bare Pillow {pillow * 1000:.1f} ms; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; naive and ours alternate, "
          f"{rounds} round(s), best of each")
    naive_runs, our_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "photo.jpg").write_bytes(image)
        files_port = free_port()
        image_url = f"http://127.0.0.1:{files_port}/photo.jpg"
        server = [sys.executable, "-m", "http.server", str(files_port), "--bind", "127.0.0.1", "--directory", tmp]
        with process(server, env_with(), f"http://127.0.0.1:{files_port}/"):
            for round_number in range(rounds):
                naive_runs.append(run_naive(image_url, free_port(), f"{tmp}/naive", seconds))
                our_runs.append(run_ours(image_url, free_port(), files_port, f"{tmp}/ours{round_number}", seconds))
    naive, ours = best(naive_runs), best(our_runs)
    ratio = ours[0] / naive[0]
    print(f"  throughput ours / naive: {ours[0]:.2f} / {naive[0]:.2f} = {ratio:.2f}x "
          f"(target >= 1.6x: {'met' if ratio >= 1.6 else 'MISSED'})")
    print(f"  health p99 during load: ours {ours[1]:.1f} ms (target < 50 ms: {'met' if ours[1] < 50 else 'MISSED'}), "
          f"naive {naive[1]:.1f} ms")
    print(f"  one sync request: ours {ours[2] * 1000:.1f} ms, naive {naive[2] * 1000:.1f} ms, bare Pillow "
          f"{pillow * 1000:.1f} ms -> our overhead {(ours[2] - pillow) * 1000:.1f} ms")
    print(f"  load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
