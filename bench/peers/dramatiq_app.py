"""dramatiq's side of bench_peers.py: a no-op actor on the machine's Redis (namespace from BENCH_NAMESPACE)."""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(host="127.0.0.1", port=6379, namespace=os.environ.get("BENCH_NAMESPACE", "bench-dramatiq"))
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)
def noop(i: int) -> None:
    return None
