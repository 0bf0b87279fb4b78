"""What a handler gets as its optional second argument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from praisonai_svc.logs import JobLogger

if TYPE_CHECKING:
    from praisonai_svc.backend import Backend

ProgressSink = Callable[[float | None, str | None], None]


@dataclass
class JobContext:
    """The running job: its id, attempt (1-based), service, a logger, and a progress reporter.

    ``progress`` is safe to call from any thread and as often as you like: updates are coalesced so at most one
    storage write a second happens, and the last one always lands.
    """

    job_id: str
    attempt: int
    max_attempts: int
    service: str
    logger: JobLogger
    _sink: ProgressSink | None = field(default=None, repr=False)
    tenant: str | None = None  # the tenant that submitted the job (None: untenanted)
    # The worker's storage, for built-in services (e.g. file extraction), which run on the worker's event loop.
    backend: Backend | None = field(default=None, repr=False)

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
