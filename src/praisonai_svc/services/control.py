"""The *desired* state of every service, shared by every process through the record store.

One record per service (kind ``cluster``, id ``control:<service>``) holds what operators asked for:
``running`` or ``stopped``, and settings sent with ``POST /services/{name}/configure``. A service without a
record wants what praisonai.yaml says (``autostart``). Every process keeps a :class:`ControlView`, a copy taken
from its view of the cluster partition (:mod:`praisonai_svc.cluster`), so the control state costs no request of
its own: it comes with the read a process makes anyway, once per idle poll cycle in a worker, once per
heartbeat interval elsewhere; a worker also refreshes it when a poll has brought jobs and its copy is older
than :data:`BUSY_MAX_AGE_SECONDS`, before it starts them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from praisonai_svc.cluster import CONTROL, KIND, ClusterSnapshot, ClusterView, read_partition, record_id
from praisonai_svc.errors import RecordExists, StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.records import Record, RecordStore, update_record

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
        """Every service's control record, in one storage request (the cluster partition)."""
        return controls_of(await read_partition(self.records))

    async def read(self, service: str) -> Control:
        record = await self.records.find(KIND, record_id(CONTROL, service))
        return Control.from_record(record) if record is not None else Control()

    async def change(self, service: str, who: str, **changes: Any) -> Control:
        """Set ``desired`` and/or ``config`` of ``service``, recording who and when."""
        stamp = {"changed_by": who, "changed_utc": utcnow().isoformat()}
        fresh = Control(**{**Control().body(), **changes, **stamp})
        try:
            await self.records.create(Record(KIND, record_id(CONTROL, service), fresh.body()))
            return fresh
        except RecordExists:
            pass

        def apply(current: Record) -> Record:
            return current.evolve(body={**current.body, **changes, **stamp})

        updated = await update_record(self.records, KIND, record_id(CONTROL, service), apply)
        assert updated is not None
        return Control.from_record(updated)


def controls_of(snapshot: ClusterSnapshot) -> dict[str, Control]:
    """The control records in a read of the cluster partition, by service."""
    return {name: Control.from_record(record) for name, record in snapshot.of(CONTROL).items()}


class ControlView:
    """This process's copy of the control state, taken from its cluster view, refreshed only when older than
    asked (and then together with everything else the process watches)."""

    def __init__(self, cluster: ClusterView) -> None:
        self.cluster = cluster
        self._controls: dict[str, Control] = {}
        self._change = asyncio.Event()
        self._failed_at = float("-inf")
        cluster.subscribe(self._take)

    @property
    def reads(self) -> int:
        return self.cluster.reads

    @property
    def age(self) -> float:
        return self.cluster.age

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

    def _take(self, snapshot: ClusterSnapshot) -> None:
        controls = controls_of(snapshot)
        if controls != self._controls:
            self._controls = controls
            self._changed()

    def put(self, service: str, control: Control) -> None:
        """Take a change this process just wrote (no need to read it back)."""
        if self._controls.get(service) != control:
            self._controls = {**self._controls, service: control}
            self._changed()

    async def refresh(self, max_age: float) -> None:
        """Read the cluster partition again if the copy is older than ``max_age`` seconds.

        A storage failure keeps the last copy (logged): a worker keeps its last instructions rather than stop,
        and asks again only after ``max_age / 2``, not on every call.
        """
        if time.monotonic() - self._failed_at < max_age / 2:
            return
        try:
            await self.cluster.refresh(max_age)
        except StorageError as exc:
            log.warning("control state read failed; keeping the last one", extra={"error": str(exc)})
            self._failed_at = time.monotonic()
