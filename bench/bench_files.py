"""Files benchmarks on the embedded (local) backend, measured in one run on this machine.

1. Upload: MB/s of a 10 MB upload through the API (multipart, streamed into the blob store, hashed and checked)
   vs writing the same bytes to a local file from Python; prints the ratio (target >= 0.5).
2. Extraction: pages/s on a 200-page text PDF as the worker extracts it (child process, limits) vs pypdf called
   directly in this process (our overhead target <= 15 %); rows/s on a 1000 x 20 XLSX vs openpyxl directly;
   and, for information, pages/s end to end (upload -> processed through API + worker).
3. Memory: peak RSS of the API process during ten concurrent 10 MB uploads, above its idle RSS (target < 100 MB).

Run: .venv/bin/python bench/bench_files.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from common import BENCH, REPO, env_with, free_port, process, python

sys.path.insert(0, str(REPO))  # tests.support.documents writes the documents

from praisonai_svc.files.extractors import Limits
from praisonai_svc.files.sandbox import extract_isolated
from tests.support import documents as docs

MB = 1024 * 1024
UPLOAD_BYTES = 10 * MB


def text_payload(size: int) -> bytes:
    line = b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrstuvwxyz.\n"
    return (line * (size // len(line) + 1))[:size]


def median_seconds(action: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def upload_once(url: str, data: bytes, name: str = "bench.txt") -> None:
    response = httpx.post(f"{url}/files/upload", params={"process": "false"}, files={"file": (name, data)},
                          timeout=120)
    response.raise_for_status()


def write_once(folder: Path, data: bytes) -> None:
    target = folder / "copy.bin"
    with open(target, "wb") as handle:
        handle.write(data)
    target.unlink()


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def upload_and_memory(runs: int) -> tuple[float, float, int, int]:
    """(upload MB/s, local write MB/s, idle RSS KB, peak RSS KB during 10 concurrent uploads) of one API process."""
    data = text_payload(UPLOAD_BYTES)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as root:
        env = env_with(PRAISONAI_DATA_DIR=str(Path(root) / "data"), PRAISONAI_FILES_MAX_SIZE="20MB")
        command = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
        with process(command, env, f"{url}/live") as api:
            upload_once(url, data)  # warm-up: first request, imports, blob directory
            upload_seconds = median_seconds(lambda: upload_once(url, data), runs)
            write_seconds = median_seconds(lambda: write_once(Path(root), data), runs)
            time.sleep(1)
            idle = rss_kb(api.pid)
            peak = concurrent_peak(api.pid, url, data, uploads=10)
    return UPLOAD_BYTES / MB / upload_seconds, UPLOAD_BYTES / MB / write_seconds, idle, peak


def concurrent_peak(pid: int, url: str, data: bytes, uploads: int) -> int:
    """The API's peak RSS (sampled every 5 ms, and the kernel's high-water mark reset first) during the uploads."""
    clear = Path(f"/proc/{pid}/clear_refs")
    if clear.exists():
        with contextlib.suppress(OSError):
            clear.write_text("5")  # reset VmHWM, so it measures only what follows
    peak = rss_kb(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kb(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(uploads) as pool:
        list(pool.map(lambda i: upload_once(url, data, f"c{i}.txt"), range(uploads)))
    done.set()
    sampler.join()
    return max(peak, rss_kb(pid, "VmHWM"))


def pypdf_direct(data: bytes) -> int:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return sum(len(page.extract_text() or "") for page in reader.pages)


def openpyxl_direct(data: bytes) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows = sum(1 for sheet in workbook.worksheets for _row in sheet.iter_rows(values_only=True))
    workbook.close()
    return rows


def ours(extension: str, data: bytes) -> None:
    asyncio.run(extract_isolated(extension, data, Limits(), timeout=600, memory_mb=1024))


def extraction(runs: int) -> dict[str, float]:
    pdf = docs.text_pdf(pages=200)
    xlsx = docs.big_xlsx(rows=1000, columns=20)
    ours("pdf", pdf)  # warm-up: starts the forkserver with the parsers imported
    figures = {
        "pdf_direct": 200 / median_seconds(lambda: pypdf_direct(pdf), runs),
        "pdf_ours": 200 / median_seconds(lambda: ours("pdf", pdf), runs),
        "xlsx_direct": 1000 / median_seconds(lambda: openpyxl_direct(xlsx), runs),
        "xlsx_ours": 1000 / median_seconds(lambda: ours("xlsx", xlsx), runs),
    }
    figures["pdf_e2e"] = 200 / end_to_end(pdf)
    return figures


def end_to_end(pdf: bytes) -> float:
    """Seconds from the start of an upload to the file being processed, API + one worker on the local backend."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as root:
        env = env_with(PRAISONAI_DATA_DIR=str(Path(root) / "data"), PRAISONAI_WORKER_POLL_INTERVAL_MIN="0.05",
                      PRAISONAI_WORKER_POLL_INTERVAL_MAX="0.2")
        api_cmd = [python(), "-m", "praisonai_svc", "api", "noop_service.py", "--port", str(port)]
        worker_cmd = [python(), "-m", "praisonai_svc.worker", "noop_service.py"]
        with process(api_cmd, env, f"{url}/live"), process(worker_cmd, env):
            warm = upload_e2e(url, docs.text_pdf(pages=1))  # the worker's forkserver starts on its first file
            del warm
            return upload_e2e(url, pdf)


def upload_e2e(url: str, data: bytes) -> float:
    started = time.perf_counter()
    response = httpx.post(f"{url}/files/upload", files={"file": ("bench.pdf", data)}, timeout=120)
    response.raise_for_status()
    file_id = response.json()["file"]["id"]
    while True:
        status = httpx.get(f"{url}/files/{file_id}", timeout=30).json()["file"]["status"]
        if status in ("processed", "failed"):
            if status == "failed":
                raise RuntimeError(f"extraction failed: {httpx.get(f'{url}/files/{file_id}').text}")
            return time.perf_counter() - started
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (3 instead of 7)")
    runs = 3 if parser.parse_args().quick else 7
    os.chdir(BENCH)
    print(f"bench_files: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, {runs} runs per figure")

    upload_mbs, write_mbs, idle, peak = upload_and_memory(runs)
    ratio = upload_mbs / write_mbs
    print(f"\n1. Upload of 10 MB: {upload_mbs:.1f} MB/s through the API vs {write_mbs:.1f} MB/s writing a local file"
          f" -> ratio {ratio:.2f} (target >= 0.5: {verdict(ratio >= 0.5)})")

    figures = extraction(runs)
    overhead = figures["pdf_direct"] / figures["pdf_ours"] - 1
    print(f"\n2. 200-page text PDF: {figures['pdf_ours']:.0f} pages/s as the worker extracts it vs "
          f"{figures['pdf_direct']:.0f} pages/s with pypdf directly -> overhead {overhead * 100:.1f} % "
          f"(target <= 15 %: {verdict(overhead <= 0.15)})")
    xlsx_overhead = figures["xlsx_direct"] / figures["xlsx_ours"] - 1
    print(f"   1000 x 20 XLSX: {figures['xlsx_ours']:.0f} rows/s vs {figures['xlsx_direct']:.0f} rows/s with openpyxl "
          f"directly -> overhead {xlsx_overhead * 100:.1f} %")
    print(f"   end to end (upload -> processed, API + worker): {figures['pdf_e2e']:.0f} pages/s")

    above = (peak - idle) / 1024
    print(f"\n3. API RSS: idle {idle / 1024:.0f} MB, peak during ten concurrent 10 MB uploads {peak / 1024:.0f} MB "
          f"-> {above:.0f} MB above idle (target < 100 MB: {verdict(above < 100)})")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
