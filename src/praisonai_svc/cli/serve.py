"""``run``, ``api`` and ``worker``: start the service, one side, or the other."""

from __future__ import annotations

from pathlib import Path

import click

from praisonai_svc.cli.options import F, env_option, export_overrides, load, target_argument
from praisonai_svc.observability.process import reset_multiprocess_dir, start_observability
from praisonai_svc.supervisor import EXIT_ABANDONED, serve_http


def storage_options(func: F) -> F:
    func = env_option("--config", setting="config_file", type=click.Path(dir_okay=False))(func)
    func = env_option("--data-dir", setting="data_dir", type=click.Path(file_okay=False))(func)
    return env_option("--concurrency", setting="worker_concurrency", type=int)(func)


def http_options(func: F) -> F:
    func = env_option("--host", setting="host")(func)
    return env_option("--port", setting="port", type=int)(func)


@click.command()
@target_argument()
@http_options
@storage_options
@env_option("--workers", setting="workers", type=int)
def run(target: str | None, host: str | None, port: int | None, config_file: str | None, data_dir: str | None,
        worker_concurrency: int | None, workers: int | None) -> None:
    """Start the API and the worker(s): the whole service in one process tree.

    TARGET is a handlers file or module:attr; default: handlers.py or app.py in this directory.
    """
    export_overrides(host=host, port=port, data_dir=data_dir, worker_concurrency=worker_concurrency, workers=workers,
                     config_file=_absolute(config_file))
    app = load(target)
    reset_multiprocess_dir()
    start_observability(app)
    from praisonai_svc.supervisor import run_service

    code = run_service(app, workers=app.settings.workers)
    if code:
        raise SystemExit(code)


@click.command()
@target_argument()
@http_options
@storage_options
def api(target: str | None, host: str | None, port: int | None, config_file: str | None, data_dir: str | None,
        worker_concurrency: int | None) -> None:
    """Start only the HTTP API (run workers elsewhere with `praisonai-svc worker`).

    Exits with 3 when a service had to be abandoned at shutdown (it did not stop within
    closing_timeout_seconds).
    """
    export_overrides(host=host, port=port, data_dir=data_dir, worker_concurrency=worker_concurrency,
                     config_file=_absolute(config_file))
    app = load(target)
    start_observability(app)
    settings = app.settings
    api_app = app.app
    serve_http(api_app, settings.host, settings.port, access_log=settings.access_log)
    if getattr(api_app.state, "abandoned", None):
        raise SystemExit(EXIT_ABANDONED)


@click.command()
@target_argument()
@storage_options
@env_option("--metrics-port", setting="worker_metrics_port", type=int)
def worker(target: str | None, config_file: str | None, data_dir: str | None, worker_concurrency: int | None,
           worker_metrics_port: int | None) -> None:
    """Start only a worker: it runs queued jobs until SIGTERM, then finishes or releases the running ones.

    Exits with 3 when a service had to be abandoned at shutdown.
    """
    export_overrides(data_dir=data_dir, worker_concurrency=worker_concurrency,
                     worker_metrics_port=worker_metrics_port, config_file=_absolute(config_file))
    app = load(target)
    start_observability(app, worker=True)
    from praisonai_svc.event_loop import run
    from praisonai_svc.worker import run_worker

    if run(run_worker(app)):
        raise SystemExit(EXIT_ABANDONED)


def _absolute(path: str | None) -> str | None:
    """Worker processes may start elsewhere: hand them an absolute path."""
    return str(Path(path).resolve()) if path else None
