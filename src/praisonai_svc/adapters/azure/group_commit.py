"""Group commit for Table Storage: the writes of concurrent callers share one entity group transaction.

Each caller hands over a *unit*: the operations of one logical write (a job's claim + entity + list entry, or
its entity + list entry), which must succeed or fail together. Units that arrive while a transaction is on its
way wait for the next one, so under load a transaction carries many units (one request and one multipart body
instead of dozens), and with a single caller nothing waits: a unit alone is sent at once, exactly as before.

Why: on the client, building and parsing a transaction's multipart body costs more than the request itself,
and each request costs the storage account (and Azurite on a laptop) far more than one more entity in a batch.
A two-entity transaction costs ~4.6 ms of client CPU; fifty of them batched cost ~0.7 ms each.

Rules the service imposes, kept here: at most 100 operations and 4 MiB per transaction, one partition, and an
entity may appear only once (a unit touching a RowKey already in the batch waits for the next transaction).

A transaction is atomic, so when one operation is refused (a 404, 409 or 412 reported with its index) nothing
was written: the unit owning that operation gets the refusal (with the index translated to its own operations)
and the others are sent again at once. Any other failure (storage down) reaches every unit of the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from praisonai_svc.adapters.azure.errors import TransactionRejected
from praisonai_svc.adapters.waiters import fail_all

Operation = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], dict[str, Any]]
Results = list[Mapping[str, Any]]
Submit = Callable[[list[Operation]], Awaitable[Results]]

MAX_OPERATIONS = 100  # the service's limit per entity group transaction
# The service allows 4 MiB of request body; sizes below are estimates (see _estimate), so stay well under it.
MAX_BATCH_BYTES = 3 * 1024 * 1024
_PER_PROPERTY_BYTES = 48  # name, quotes, type annotation and separators of one JSON property, roughly
_PER_OPERATION_BYTES = 600  # the multipart headers of one operation


def _value_bytes(value: Any) -> int:
    if isinstance(value, str):
        # JSON escapes every non-ASCII character (\uXXXX, or two of them): assume the worst for such text.
        return len(value) if value.isascii() else 12 * len(value)
    return 32


def _estimate(operations: Sequence[Operation]) -> int:
    """An upper estimate of the operations' share of the request body, in bytes."""
    total = 0
    for operation in operations:
        entity = operation[1]
        total += _PER_OPERATION_BYTES + sum(_PER_PROPERTY_BYTES + len(k) + _value_bytes(v) for k, v in entity.items())
    return total


@dataclass(eq=False)
class _Unit:
    operations: list[Operation]
    future: asyncio.Future[Results]
    row_keys: frozenset[str]
    size: int = field(default=0)


class GroupCommit:
    """Batches concurrent :meth:`submit` calls into shared transactions sent through ``submit``.

    ``submit`` sends one transaction and raises :class:`TransactionRejected` naming the refused operation's
    index (or any other error). At most ``max_in_flight`` transactions are on their way at once.
    """

    def __init__(self, submit: Submit, *, max_in_flight: int = 2) -> None:
        self._submit = submit
        self._max_in_flight = max_in_flight
        self._pending: list[_Unit] = []
        self._in_flight = 0
        self._gathering = False  # a flush has started but not yet taken its batch
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, operations: list[Operation]) -> Results:
        """Commit ``operations`` atomically (perhaps beside other callers'); return their results in order.

        Raises :class:`TransactionRejected` with ``index`` counted within ``operations``, or the error that
        failed the whole transaction.
        """
        if not 0 < len(operations) <= MAX_OPERATIONS:
            raise ValueError(f"a transaction holds 1 to {MAX_OPERATIONS} operations, not {len(operations)}")
        future: asyncio.Future[Results] = asyncio.get_running_loop().create_future()
        keys = frozenset(str(operation[1]["RowKey"]) for operation in operations)
        self._pending.append(_Unit(operations, future, keys, _estimate(operations)))
        self._start_flush()
        return await future

    def _start_flush(self) -> None:
        if self._pending and not self._gathering and self._in_flight < self._max_in_flight:
            self._gathering = True
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[_Unit]:
        """The next batch: pending units in arrival order that fit together; the others keep waiting."""
        batch: list[_Unit] = []
        keys: set[str] = set()
        operations = size = 0
        waiting: list[_Unit] = []
        for unit in self._pending:
            if unit.future.done():  # its caller was cancelled before anything was sent: drop it
                continue
            if (operations + len(unit.operations) <= MAX_OPERATIONS
                    and (not batch or size + unit.size <= MAX_BATCH_BYTES) and keys.isdisjoint(unit.row_keys)):
                batch.append(unit)
                keys |= unit.row_keys
                operations += len(unit.operations)
                size += unit.size
            else:
                waiting.append(unit)
        self._pending = waiting
        return batch

    async def _flush(self) -> None:
        batch: list[_Unit] = []
        try:
            try:
                await asyncio.sleep(0)  # callers of this same event-loop turn join the batch
            finally:
                self._gathering = False
            batch = self._take()
            self._start_flush()  # what did not fit may go in a second transaction at once
            while batch:
                batch = await self._send(batch)
        except BaseException as exc:
            fail_all((unit.future for unit in batch), exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._in_flight -= 1
            with contextlib.suppress(RuntimeError):  # the loop is closing: nothing left to flush into
                self._start_flush()

    async def _send(self, batch: list[_Unit]) -> list[_Unit]:
        """Send one transaction; return the units that must be sent again (empty when done)."""
        operations = [operation for unit in batch for operation in unit.operations]
        try:
            results = await self._submit(operations)
        except TransactionRejected as exc:
            culprit, offset = _owner(batch, exc.index)
            if culprit is None:
                raise
            if not culprit.future.done():
                culprit.future.set_exception(TransactionRejected(exc.index - offset, exc.status, exc.code))
            return [unit for unit in batch if unit is not culprit]
        start = 0
        for unit in batch:
            end = start + len(unit.operations)
            if not unit.future.done():
                unit.future.set_result(list(results[start:end]))
            start = end
        return []


def _owner(batch: list[_Unit], index: int) -> tuple[_Unit | None, int]:
    """The unit holding operation ``index`` of the batch, and the index of that unit's first operation."""
    start = 0
    for unit in batch:
        if start <= index < start + len(unit.operations):
            return unit, start
        start += len(unit.operations)
    return None, 0
