"""The benchmark's trivial service for the upstream package praisonai-svc==1.2.0.

Imported only by the interpreter in bench/.venvs/upstream (see setup_upstream.sh), never by our package or its
tests. It is the upstream README's ``app.py`` with the handler of bench/noop_service.py:

* ``app``: upstream's ``ServiceApp``, configured from the environment (``PRAISONAI_AZURE_STORAGE_CONNECTION_STRING``,
  ``PRAISONAI_QUEUE_NAME``, ``PRAISONAI_POISON_QUEUE_NAME``, ``PRAISONAI_TABLE_NAME``,
  ``PRAISONAI_BLOB_CONTAINER_NAME``, ``PRAISONAI_WORKER_POLL_INTERVAL_MIN/MAX`` …). Building it creates the
  table, the container and both queues (upstream does that in its constructors).
* ``api``: its FastAPI application, for ``uvicorn handlers:api`` (upstream's own ``app.run()`` serves the same
  object, with the worker in a thread of the same process).
"""

from praisonai_svc import ServiceApp

app = ServiceApp("Bench")


@app.job
def noop(payload: dict) -> tuple[bytes, str, str]:
    return b"ok", "text/plain", "ok.txt"


api = app.get_app()
