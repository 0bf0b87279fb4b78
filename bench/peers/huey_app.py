"""huey's side of bench_peers.py: a no-op task on the machine's Redis (queue name from BENCH_NAMESPACE)."""

import os

from huey import RedisHuey

huey = RedisHuey(os.environ.get("BENCH_NAMESPACE", "bench-huey"), host="127.0.0.1", port=6379, results=False)


@huey.task()
def noop(i: int) -> None:
    return None
