"""Run with the peers venv: enqueue N no-op jobs into dramatiq or huey, wait until the worker finished them.

Prints one line: ``<enqueue seconds> <first enqueue -> last done seconds>``. Done = dramatiq's pending-message
hash is empty (every message acked) / huey's queue is empty (a no-op ends microseconds after its dequeue).
"""

import sys
import time

import redis

kind, count, namespace = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = redis.Redis(host="127.0.0.1", port=6379)
started = time.perf_counter()
if kind == "dramatiq":
    from dramatiq_app import noop as dramatiq_noop

    for i in range(count):
        dramatiq_noop.send(i)
    enqueued = time.perf_counter() - started
    while client.hlen(f"{namespace}:default.msgs") or client.llen(f"{namespace}:default"):
        time.sleep(0.005)
else:
    from huey_app import huey
    from huey_app import noop as huey_noop

    for i in range(count):
        huey_noop(i)
    enqueued = time.perf_counter() - started
    while huey.pending_count():
        time.sleep(0.005)
print(enqueued, time.perf_counter() - started)
