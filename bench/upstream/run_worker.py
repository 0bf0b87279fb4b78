"""Run upstream praisonai-svc 1.2.0's worker on its own, with the handler of handlers.py.

Upstream ships no way to start only a worker: its CLI has ``run`` (API + worker thread in one process, loading
``./app.py``) and nothing else, and ``praisonai_svc/worker.py`` has no ``__main__`` block, so
``python -m praisonai_svc.worker`` imports the module and exits. Its ``app.run()`` starts the worker with
``asyncio.run(run_worker(self.config, self.job_handler))`` in a daemon thread; this launcher makes exactly that
call in the main thread of its own process, so the API and the worker get a process each, as ours do.
Stopped by SIGTERM (upstream installs no handler, so the default action ends the process).
"""

import asyncio

from handlers import app

from praisonai_svc.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(app.config, app.job_handler))
