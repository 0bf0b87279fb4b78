"""Rate-limit counters in their own Azure table, updated with ETag-conditional writes.

One entity per (key, window length): ``PartitionKey`` = a digest of the key (so counters spread over
partitions and any key text is a valid key), ``RowKey`` = ``w<window seconds>``, properties ``WindowStart``,
``Count`` and ``Key`` (the readable key). A hit reads the entity, then writes ``Count + 1`` (or 1 in a new
window) conditional on the ETag it read; a 412 or 409 means another process counted first, so it reads again.
Refused hits write nothing. Exactly ``limit`` hits per window succeed however many replicas race.

The last entity this process wrote for a key is kept in a small memo, so a client that only this replica
serves costs one storage request per hit (the conditional write), and two when another replica counted too.
Concurrent hits of this process on one counter are batched into one write (like SQLite's group commit), so
they never race each other for the ETag: 50 requests at once cost a handful of writes, not 50 retry loops.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import EdmType, EntityProperty, UpdateMode
from azure.data.tables.aio import TableClient

from praisonai_svc.adapters.azure.errors import is_missing_item, status_of, storage_errors
from praisonai_svc.adapters.waiters import fail_all
from praisonai_svc.adapters.windows import current_window, decide, key_digest
from praisonai_svc.ports import RateDecision, RateLimiter

ROUNDS = 16  # conflicts in a row before giving up (and refusing: a counter this contended is under attack)
_MEMO_SIZE = 4096
_KEY_TEXT_LIMIT = 512


def limits_table_name(jobs_table: str) -> str:
    """The counters' table: the jobs table's name + ``limits`` (within Azure's 63 characters)."""
    return jobs_table[:57] + "limits"


@dataclass(frozen=True)
class _Counter:
    window_start: int
    count: int
    etag: str


class _Conflict(Exception):
    """Someone else wrote the counter between our read and our write."""


def _int(value: Any) -> int:
    return int(value.value if isinstance(value, EntityProperty) else value)


class AzureRateLimiter(RateLimiter):
    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._memo: OrderedDict[tuple[str, str], _Counter] = OrderedDict()
        self._waiting: dict[tuple[str, str], list[asyncio.Future[int]]] = {}
        self._flushers: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def hit(self, key: str, window_seconds: int, limit: int) -> RateDecision:
        _start, retry_after = current_window(window_seconds)
        slot = (key_digest(key), f"w{window_seconds}")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(slot, []).append(future)
        flusher = self._flushers.get(slot)
        if flusher is None or flusher.done():  # a running flusher takes this hit into its next batch
            self._flushers[slot] = asyncio.create_task(self._flush(slot, key, window_seconds, limit))
        try:
            return decide(await future, limit, retry_after)
        finally:
            done = self._flushers.get(slot)
            if done is not None and done.done():
                del self._flushers[slot]

    async def _flush(self, slot: tuple[str, str], key: str, window_seconds: int, limit: int) -> None:
        """Count the hits waiting on ``slot`` in batches: one conditional write per batch, not per hit.

        Hits of one process on one counter would otherwise race each other for its ETag; batched, only other
        replicas can make a write conflict.
        """
        while self._waiting.get(slot):
            batch = self._waiting.pop(slot)
            try:
                first = await self._count(slot, key, window_seconds, limit, len(batch))
            except BaseException as exc:
                fail_all(batch, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for offset, future in enumerate(batch):
                if not future.done():
                    future.set_result(first + offset)

    async def _count(self, slot: tuple[str, str], key: str, window_seconds: int, limit: int, hits: int) -> int:
        """Add ``hits`` to the counter; the count of the first of them (the others follow it)."""
        start, _retry_after = current_window(window_seconds)
        counter = self._memo.get(slot)
        for _ in range(ROUNDS):
            if counter is None:
                counter = await self._read(slot)
            same_window = counter is not None and counter.window_start >= start
            base = counter.count if counter is not None and same_window else 0
            if base >= limit:
                return base + 1  # all refused; counts never fall within a window, so nothing to write
            window = counter.window_start if counter is not None and same_window else start
            try:
                written = await self._write(slot, key, _Counter(window, base + hits, ""), counter)
            except _Conflict:
                self._memo.pop(slot, None)
                counter = None
                continue
            self._remember(slot, written)
            return base + 1
        return limit + 1  # a counter this contended is under attack: refuse rather than count blindly

    def _remember(self, slot: tuple[str, str], counter: _Counter) -> None:
        self._memo[slot] = counter
        self._memo.move_to_end(slot)
        while len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)

    async def _read(self, slot: tuple[str, str]) -> _Counter | None:
        with storage_errors("read a rate-limit counter"):
            try:
                entity = await self._table.get_entity(*slot)
            except HttpResponseError as exc:
                if is_missing_item(exc):
                    return None
                raise
        return _Counter(_int(entity["WindowStart"]), _int(entity["Count"]), str(entity.metadata["etag"]))

    async def _write(
        self, slot: tuple[str, str], key: str, new: _Counter, previous: _Counter | None,
    ) -> _Counter:
        entity = {
            "PartitionKey": slot[0], "RowKey": slot[1], "Key": key[:_KEY_TEXT_LIMIT],
            "WindowStart": EntityProperty(new.window_start, EdmType.INT64), "Count": new.count,
        }
        with storage_errors("count a rate-limit hit"):
            try:
                if previous is None:
                    metadata = await self._table.create_entity(entity)
                else:
                    metadata = await self._table.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=previous.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except HttpResponseError as exc:
                if status_of(exc) in (409, 412) or is_missing_item(exc):
                    raise _Conflict() from exc
                raise
        return _Counter(new.window_start, new.count, str(metadata["etag"]))
