"""Ours vs dramatiq and huey on this machine: end-to-end jobs/s of N no-op jobs, one worker process each.

Every side enqueues N jobs from Python (ours: ``app.submit_many`` in process into the local backend; dramatiq:
``actor.send``; huey: calling the task) while its one worker process, started beforehand, runs them; time = first
enqueue -> last job done. Sides alternate in one run (two rounds, the second in reverse order); the best run of
each side counts. dramatiq runs ``-p 1 -t 8`` (one process, 8 threads), huey one thread, both on the machine's
Redis (127.0.0.1:6379); they live in their own virtualenv (bench/peers/setup_peers.sh), never in ours.

Run: .venv/bin/python bench/bench_peers.py [--jobs 5000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from common import BENCH, env_with, python

PEERS = BENCH / "peers"
PEERS_BIN = BENCH / ".venvs" / "peers" / "bin"
TUNED = {"PRAISONAI_WORKER_CONCURRENCY": "32", "PRAISONAI_WORKER_POLL_INTERVAL_MIN": "0.05",
         "PRAISONAI_WORKER_POLL_INTERVAL_MAX": "0.5"}


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _timed(worker: list[str], driver: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    proc = _start(worker, env, cwd)
    try:
        time.sleep(2.0)  # the worker is up and polling
        if proc.poll() is not None:
            raise RuntimeError(f"{worker} exited with {proc.returncode}")
        out = subprocess.run(driver, env=env, cwd=cwd, capture_output=True, timeout=600, check=True)
        enqueue_s, total_s = (float(x) for x in out.stdout.decode().split()[-2:])
        return enqueue_s, total_s
    finally:
        _stop(proc)


def ours(jobs: int, tuned: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as data:
        env = env_with(PRAISONAI_DATA_DIR=data, **(TUNED if tuned else {}))
        worker = [python(), "-m", "praisonai_svc", "worker", "noop_service.py"]
        return _timed(worker, [python(), str(PEERS / "run_ours.py"), str(jobs)], env, BENCH)


def _redis_cleanup(namespace: str) -> None:
    script = f"import redis; r = redis.Redis(); keys = r.keys('{namespace}*'); keys and r.delete(*keys)"
    subprocess.run([str(PEERS_BIN / "python"), "-c", script], check=True)


def peer(kind: str, jobs: int) -> tuple[float, float]:
    namespace = f"bench-{kind}-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "BENCH_NAMESPACE": namespace}
    if kind == "dramatiq":
        worker = [str(PEERS_BIN / "dramatiq"), "dramatiq_app", "-p", "1", "-t", "8"]
    else:
        worker = [str(PEERS_BIN / "huey_consumer"), "huey_app.huey", "-w", "1", "-k", "thread"]
    try:
        return _timed(worker, [str(PEERS_BIN / "python"), "run_peer.py", kind, str(jobs), namespace], env, PEERS)
    finally:
        _redis_cleanup(namespace)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    subprocess.run(["bash", str(PEERS / "setup_peers.sh")], check=True)
    sides: dict[str, Callable[[], tuple[float, float]]] = {
        "praisonai-svc tuned": lambda: ours(args.jobs, tuned=True),
        "dramatiq -p 1 -t 8": lambda: peer("dramatiq", args.jobs),
        "praisonai-svc defaults": lambda: ours(args.jobs, tuned=False),
        "huey 1 thread": lambda: peer("huey", args.jobs),
    }
    best: dict[str, float] = {}
    print(f"bench_peers: {args.jobs} no-op jobs per run, one worker process per side, {os.cpu_count()} CPUs, "
          f"{load()} at start")
    for round_no in range(args.rounds):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            enqueue_s, total_s = sides[name]()
            rate = args.jobs / total_s
            best[name] = max(best.get(name, 0.0), rate)
            print(f"  {name:24} {rate:8,.0f} jobs/s end to end (enqueue {args.jobs / enqueue_s:8,.0f} jobs/s) "
                  f"[{load()}]", flush=True)
    dramatiq = best["dramatiq -p 1 -t 8"]
    tuned, default = best["praisonai-svc tuned"], best["praisonai-svc defaults"]
    print(f"best of {args.rounds}, {load()}:")
    print("| side | end-to-end jobs/s | vs dramatiq |\n|---|---|---|")
    for name, rate in sorted(best.items(), key=lambda item: -item[1]):
        print(f"| {name} | {rate:,.0f} | {rate / dramatiq:.2f}x |")
    print(f"ours tuned / dramatiq = {tuned / dramatiq:.2f} (target >= 1.0: {'met' if tuned >= dramatiq else 'MISSED'})")
    print(f"ours defaults / dramatiq = {default / dramatiq:.2f} "
          f"(target >= 0.8: {'met' if default >= 0.8 * dramatiq else 'MISSED'})")
    print(f"ours defaults / tuned = {default / tuned:.2f} "
          f"(target >= 0.8: {'met' if default >= 0.8 * tuned else 'MISSED'})")
    print(f"local end to end {tuned:,.0f} jobs/s (target >= 2,000: {'met' if tuned >= 2000 else 'MISSED'})")


if __name__ == "__main__":
    main()
