"""What is counted: the metered quantities of one bucket, and how buckets add up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class UsageCounts:
    """The metered quantities of one tenant and service over one period."""

    jobs_submitted: int = 0
    jobs_done: int = 0
    jobs_failed: int = 0
    handler_seconds: float = 0.0
    bytes_in: int = 0  # payload bytes accepted
    bytes_out: int = 0  # output bytes stored
    storage_requests: int = 0  # the storage requests of each job's own lifecycle (an estimate; docs/usage.md)

    def add(self, other: UsageCounts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["handler_seconds"] = round(self.handler_seconds, 3)
        return values

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> UsageCounts:
        """Counts from a stored body (unknown keys ignored, missing ones 0: records written by other versions)."""
        counts = cls()
        for name in COUNT_NAMES:
            value = body.get(name) or 0
            setattr(counts, name, float(value) if name == "handler_seconds" else int(value))
        return counts


COUNT_NAMES: tuple[str, ...] = tuple(item.name for item in fields(UsageCounts))  # in declaration order
