"""The *desired* state of every service, shared by every process through the record store.

One record per service (kind ``service_control``, id = the service name) holds what operators asked for:
``running`` or ``stopped``, and settings sent with ``POST /services/{name}/configure``. A service without a
record wants what praisonai.yaml says (``autostart``). Every process keeps a :class:`ControlView`, a cached copy
read with **one** request (a list of the kind), once per heartbeat interval; a worker also refreshes it when a
poll has brought jobs and its copy is older than :data:`BUSY_MAX_AGE_SECONDS`, before it starts them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from praisonai_svc.errors import RecordExists, StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore, update_record

KIND = "service_control"
# The oldest control state a worker may act on when it takes a job: a stop reaches every worker within this
# (plus one receive), which keeps "stop → no new start anywhere" under 5 s.
BUSY_MAX_AGE_SECONDS = 4.0
Desired = Literal["running", "stopped"]
log = get_logger("services")


@dataclass(frozen=True)
class Control:
    """What operators asked of one service (None: nothing yet, praisonai.yaml decides)."""

    desired: Desired | None = None
    config: dict[str, Any] | None = None
    changed_by: str | None = None
    changed_utc: str | None = None

    @classmethod
    def from_record(cls, record: Record) -> Control:
        body = record.body
        desired = body.get("desired")
        return cls(desired=desired if desired in ("running", "stopped") else None, config=body.get("config"),
                   changed_by=body.get("changed_by"), changed_utc=body.get("changed_utc"))

    def body(self) -> dict[str, Any]:
        return {"desired": self.desired, "config": self.config, "changed_by": self.changed_by,
                "changed_utc": self.changed_utc}


class ControlStore:
    """Reads and writes control records (conditional writes, so concurrent operators never lose a change)."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    async def read_all(self) -> dict[str, Control]:
        """Every service's control record, in one storage request."""
        page = await self.records.list(KIND, limit=1000)
        return {record.id: Control.from_record(record) for record in page.records}

    async def read(self, service: str) -> Control:
        record = await self.records.find(KIND, service)
        return Control.from_record(record) if record is not None else Control()

    async def change(self, service: str, who: str, **changes: Any) -> Control:
        """Set ``desired`` and/or ``config`` of ``service``, recording who and when."""
        stamp = {"changed_by": who, "changed_utc": utcnow().isoformat()}
        fresh = Control(**{**Control().body(), **changes, **stamp})
        try:
            await self.records.create(Record(KIND, service, fresh.body()))
            return fresh
        except RecordExists:
            pass

        def apply(current: Record) -> Record:
            return current.evolve(body={**current.body, **changes, **stamp})

        updated = await update_record(self.records, KIND, service, apply)
        assert updated is not None
        return Control.from_record(updated)


class ControlView:
    """This process's cached copy of the control state, refreshed only when older than asked."""

    def __init__(self, store: ControlStore) -> None:
        self.store = store
        self._controls: dict[str, Control] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self._change = asyncio.Event()
        self.reads = 0

    @property
    def age(self) -> float:
        return float("inf") if self._read_at is None else time.monotonic() - self._read_at

    def get(self, service: str) -> Control:
        return self._controls.get(service, Control())

    def snapshot(self) -> Mapping[str, Control]:
        return dict(self._controls)

    def next_change(self) -> asyncio.Event:
        """An event set at the next change of the copy (each change sets the current one and makes a new one)."""
        return self._change

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def put(self, service: str, control: Control) -> None:
        """Take a change this process just wrote (no need to read it back)."""
        if self._controls.get(service) != control:
            self._controls[service] = control
            self._changed()

    async def refresh(self, max_age: float) -> None:
        """Read the control state again if the copy is older than ``max_age`` seconds.

        A storage failure keeps the last copy (logged): a worker keeps its last instructions rather than stop.
        """
        if self.age <= max_age:
            return
        async with self._lock:
            if self.age <= max_age:
                return
            try:
                controls = await self.store.read_all()
            except StorageError as exc:
                log.warning("control state read failed; keeping the last one", extra={"error": str(exc)})
                self._read_at = time.monotonic() - max_age / 2  # retry soon, not on every call
                return
            self.reads += 1
            self._read_at = time.monotonic()
            if controls != self._controls:
                self._controls = controls
                self._changed()
