"""What a handler gets as its optional second argument."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from praisonai_svc.errors import JobCancelled
from praisonai_svc.logs import JobLogger

ProgressSink = Callable[[float | None, str | None], None]


@dataclass
class JobContext:
    """The running job: its id, attempt (1-based), service, a logger, its service's config, a progress reporter.

    ``progress`` is safe to call from any thread and as often as you like: updates are coalesced so at most one
    storage write a second happens, and the last one always lands.
    """

    job_id: str
    attempt: int
    max_attempts: int
    service: str
    logger: JobLogger
    config: Any = None  # the service's own settings (its config model) from praisonai.yaml or the API
    _sink: ProgressSink | None = field(default=None, repr=False)
    tenant: str | None = None  # the tenant that submitted the job (None: untenanted)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _backend: Any = field(default=None, repr=False)  # the worker's backend, for built-in inline services only

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled or ran out of time: a sync handler should stop at its next check."""
        return self._stop.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~praisonai_svc.errors.JobCancelled` if :attr:`cancelled` (call it between steps)."""
        if self._stop.is_set():
            raise JobCancelled()

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def progress(self, fraction: float | None = None, message: str | None = None) -> None:
        """Report progress: ``fraction`` in 0..1 (clamped) and/or a short message shown to clients."""
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
        if self._sink is None:
            return
        self._sink(fraction, message[:200] if message else message)
