"""The batching rules of the Azure adapter's group commit and batched reads, without storage.

The transaction sender and the reads are in-process recorders here: what is under test is only how concurrent
callers are grouped and how one refusal or failure is handed back. The same code runs against the real SDK on
Azurite in ``tests/contract/test_azure_adapter_specific.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from praisonai_svc.adapters.azure.batched_reads import BatchedReads
from praisonai_svc.adapters.azure.errors import TransactionRejected
from praisonai_svc.adapters.azure.group_commit import MAX_OPERATIONS, GroupCommit, Operation
from praisonai_svc.errors import StorageUnavailable


def unit(*keys: str) -> list[Operation]:
    return [("upsert", {"PartitionKey": "p", "RowKey": key}) for key in keys]


class Recorder:
    """Answers each transaction with one result per operation; refuses operations on ``refuse`` keys once."""

    def __init__(self, refuse: set[str] | None = None, fail: BaseException | None = None) -> None:
        self.batches: list[list[str]] = []
        self.refuse = refuse or set()
        self.fail = fail

    async def __call__(self, operations: list[Operation]) -> list[dict[str, Any]]:
        keys = [str(op[1]["RowKey"]) for op in operations]
        self.batches.append(keys)
        await asyncio.sleep(0.001)
        if self.fail is not None:
            raise self.fail
        for index, key in enumerate(keys):
            if key in self.refuse:
                raise TransactionRejected(index, 412, "UpdateConditionNotSatisfied")
        return [{"etag": f"etag-{key}"} for key in keys]


async def test_concurrent_units_share_a_transaction_and_get_their_own_results() -> None:
    send = Recorder()
    commit = GroupCommit(send)
    results = await asyncio.gather(*(commit.submit(unit(f"job{i}", f"list{i}")) for i in range(10)))
    assert len(send.batches) == 1 and len(send.batches[0]) == 20
    for i, result in enumerate(results):
        assert [r["etag"] for r in result] == [f"etag-job{i}", f"etag-list{i}"]


async def test_a_lone_unit_is_sent_at_once() -> None:
    send = Recorder()
    assert await GroupCommit(send).submit(unit("a")) == [{"etag": "etag-a"}]
    assert send.batches == [["a"]]


async def test_a_refused_operation_fails_its_unit_only_with_its_own_index() -> None:
    send = Recorder(refuse={"job3-list"})
    commit = GroupCommit(send)
    outcomes = await asyncio.gather(
        *(commit.submit(unit(f"job{i}", f"job{i}-list")) for i in range(6)), return_exceptions=True
    )
    refused = outcomes[3]
    assert isinstance(refused, TransactionRejected) and refused.index == 1 and refused.status == 412
    assert all(isinstance(o, list) for i, o in enumerate(outcomes) if i != 3)
    assert len(send.batches) == 2 and "job3" not in send.batches[1] and len(send.batches[1]) == 10


async def test_units_touching_the_same_row_never_share_a_transaction() -> None:
    send = Recorder()
    commit = GroupCommit(send, max_in_flight=1)
    await asyncio.gather(commit.submit(unit("claim", "a")), commit.submit(unit("claim", "b")),
                         commit.submit(unit("c")))
    assert all(batch.count("claim") <= 1 for batch in send.batches)
    assert sorted(key for batch in send.batches for key in batch) == ["a", "b", "c", "claim", "claim"]


async def test_no_transaction_exceeds_the_operation_limit() -> None:
    send = Recorder()
    commit = GroupCommit(send)
    await asyncio.gather(*(commit.submit(unit(f"j{i}", f"l{i}", f"h{i}")) for i in range(70)))
    assert all(len(batch) <= MAX_OPERATIONS for batch in send.batches)
    assert sum(len(batch) for batch in send.batches) == 210
    assert len(send.batches) <= 4


async def test_a_failed_transaction_reaches_every_unit_in_it() -> None:
    commit = GroupCommit(Recorder(fail=StorageUnavailable("down")))
    outcomes = await asyncio.gather(*(commit.submit(unit(f"k{i}")) for i in range(5)), return_exceptions=True)
    assert all(isinstance(o, StorageUnavailable) for o in outcomes)


async def test_a_caller_cancelled_before_sending_is_left_out() -> None:
    send = Recorder()
    commit = GroupCommit(send, max_in_flight=1)
    first = asyncio.ensure_future(commit.submit(unit("first")))
    await asyncio.sleep(0)  # "first" is on its way; the next ones wait for the following transaction
    cancelled = asyncio.ensure_future(commit.submit(unit("gone")))
    kept = asyncio.ensure_future(commit.submit(unit("kept")))
    await asyncio.sleep(0)
    cancelled.cancel()
    assert await first == [{"etag": "etag-first"}] and await kept == [{"etag": "etag-kept"}]
    assert "gone" not in [key for batch in send.batches for key in batch]


async def test_an_empty_or_oversized_unit_is_refused() -> None:
    commit = GroupCommit(Recorder())
    with pytest.raises(ValueError):
        await commit.submit([])
    with pytest.raises(ValueError):
        await commit.submit(unit(*(f"k{i}" for i in range(MAX_OPERATIONS + 1))))


# --- batched reads --------------------------------------------------------------------------------------------


class Table:
    def __init__(self, keys: list[str], page: int | None = None) -> None:
        self.rows = {key: {"RowKey": key} for key in keys}
        self.page = page
        self.queries: list[tuple[str, str, int]] = []
        self.point_reads: list[str] = []

    async def query_range(self, lowest: str, highest: str, limit: int) -> tuple[list[Any], bool]:
        self.queries.append((lowest, highest, limit))
        inside = [self.rows[k] for k in sorted(self.rows) if lowest <= k <= highest]
        cut = min(limit, self.page or limit)
        return inside[:cut], len(inside) <= cut

    async def read_one(self, key: str) -> Any:
        self.point_reads.append(key)
        return self.rows.get(key)


async def test_concurrent_reads_are_one_range_query_and_missing_ids_are_none() -> None:
    table = Table([f"{i:04d}" for i in range(0, 40, 2)])
    reads = BatchedReads(table.query_range, table.read_one)
    asked = ["0002", "0010", "0011", "0030", "0002"]
    found = await asyncio.gather(*(reads.read(key) for key in asked))
    assert [row and row["RowKey"] for row in found] == ["0002", "0010", None, "0030", "0002"]
    assert table.queries == [("0002", "0030", 2 * 4 + 16)] and table.point_reads == []


async def test_ids_beyond_a_partial_page_fall_back_to_point_reads() -> None:
    table = Table([f"{i:04d}" for i in range(100)], page=5)
    reads = BatchedReads(table.query_range, table.read_one)
    found = await asyncio.gather(*(reads.read(key) for key in ("0001", "0050", "0099", "9999")))
    assert [row and row["RowKey"] for row in found] == ["0001", "0050", "0099", None]
    assert sorted(table.point_reads) == ["0050", "0099", "9999"]


async def test_a_lone_read_is_a_point_read() -> None:
    table = Table(["a"])
    assert (await BatchedReads(table.query_range, table.read_one).read("a")) == {"RowKey": "a"}
    assert table.queries == [] and table.point_reads == ["a"]
