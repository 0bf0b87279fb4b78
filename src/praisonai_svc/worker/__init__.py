"""The job worker. ``python -m praisonai_svc.worker [TARGET]`` runs one (the seed's container command)."""

from praisonai_svc.worker.runner import Worker, WorkerStats, run_worker

__all__ = ["Worker", "WorkerStats", "run_worker"]
