"""Idle polling backoff: min → doubling → max, reset as soon as work arrives."""

from __future__ import annotations

FAST_POLL_SECONDS = 0.05


class PollBackoff:
    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.current = minimum

    def next_delay(self) -> float:
        """The delay to wait now; the following one doubles, up to the maximum."""
        delay: float = self.current
        self.current = min(self.current * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.current = self.minimum

    def after_work(self) -> None:
        """Work just arrived: poll again soon (FAST_POLL_SECONDS, doubling up to the usual delays), since more
        is likely to follow; an idle queue still backs off to the maximum within a few polls."""
        self.current = min(FAST_POLL_SECONDS, self.minimum)


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Delay before attempt ``attempt + 1`` after attempt ``attempt`` failed: base * 2**(attempt-1), capped."""
    return float(min(base * 2.0 ** max(attempt - 1, 0), cap))
