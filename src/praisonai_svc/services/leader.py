"""Leader election for ``runs_on="one"`` services: a lease record that exactly one process holds.

The lease is a record (kind ``cluster``, id ``lease:service:<name>``) with its holder and an expiry. The services
runtime uses one lease for all the ``runs_on="one"`` services of an app (:data:`ALL_LEADER_SERVICES`, id
``lease:service:*``): one process of the deployment leads them all, and leading costs one renewal per
:attr:`LeaderLease.renew_every` however many there are. Each renewal also carries the leader's heartbeat
(``instance`` in the body), so the leader writes no heartbeat record of its own. A process takes a free lease
with ``create`` (exactly one of N concurrent creates wins, on every backend), renews its own with a conditional
replace on the ETag it last saw, and takes over an *expired* one the same way: if two processes see the same
expired lease, one replace wins and the other gets a conflict. So two holders never coexist in storage.

Followers look at the lease in their copy of the cluster partition (:mod:`praisonai_svc.cluster`), which they
read anyway once per poll cycle or heartbeat; they need a read of their own only when the lease they saw
should have expired and no later copy shows it renewed.

Clocks: the expiry is wall-clock time written by the holder and compared by the others with their own clocks.
We assume clocks agree within :data:`SKEW_MARGIN_SECONDS` (NTP-synchronised hosts, as on Azure). The holder
renews :data:`RENEW_MARGIN_SECONDS` before the expiry (at half the lease for leases under twice that),
retrying every second after a failure, and stops trusting its lease :data:`SKEW_MARGIN_SECONDS` *before* the
expiry, measured on its own monotonic clock from the moment it sent the renewal: if it could not renew by then,
it stops the service before anyone may take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from praisonai_svc.cluster import KIND, LEASE, ClusterSnapshot, ClusterView, record_id
from praisonai_svc.errors import ConcurrencyConflict, RecordExists, RecordNotFound
from praisonai_svc.records import Record, RecordStore

SKEW_MARGIN_SECONDS = 2.0
RENEW_MARGIN_SECONDS = 15.0  # renew this long before the expiry: time for retries if storage hiccups
ALL_LEADER_SERVICES = "*"  # the lease name covering every runs_on="one" service of an app (never a service name)


def lease_id(service: str) -> str:
    """The cluster record id of ``service``'s lease."""
    return record_id(LEASE, f"service:{service}")


@dataclass(frozen=True)
class LeaseState:
    """The lease as last read: who holds it and until when (epoch seconds, the holder's clock)."""

    holder: str | None
    expires_at: float


class LeaderLease:
    """One process's claim on one service's lease. :meth:`claim` is the only call a loop needs."""

    def __init__(self, records: RecordStore, service: str, holder: str, ttl: float, *,
                 cluster: ClusterView | None = None, heartbeat: Callable[[], dict[str, Any]] | None = None) -> None:
        self.records = records
        self.service = service
        self.holder = holder
        self.ttl = ttl
        self.cluster = cluster or ClusterView(records)
        self.heartbeat = heartbeat  # the holder's heartbeat, written into the lease with every renewal
        self._etag: str | None = None
        self._valid_until = 0.0  # monotonic; past it this process must not act as leader
        self._renew_at = 0.0  # monotonic; when the holder renews next
        self._look_after = 0.0  # wall clock: a copy of the lease read before this is known to be stale
        self._lock = asyncio.Lock()  # one claim at a time (a renewal racing another would lose to it)
        self._sighting = asyncio.Event()
        self.seen = LeaseState(None, 0.0)
        self.cluster.subscribe(self._observe)

    @property
    def held(self) -> bool:
        """Whether this process may act as leader right now (its lease is fresh on its own clock)."""
        return self._etag is not None and time.monotonic() < self._valid_until

    def trusted_for(self) -> float:
        """Seconds this process may still act as leader without another renewal (negative: not at all)."""
        return self._valid_until - time.monotonic()

    @property
    def renew_every(self) -> float:
        """RENEW_MARGIN_SECONDS before the expiry (half the lease if that is later): with the skew margin, a
        failed renewal still leaves time for quick retries."""
        return max(self.ttl / 2, self.ttl - RENEW_MARGIN_SECONDS)

    def _record(self, etag: str | None) -> Record:
        body: dict[str, Any] = {"holder": self.holder, "expires_at": time.time() + self.ttl}
        if self.heartbeat is not None:
            body["instance"] = self.heartbeat()
        return Record(KIND, lease_id(self.service), body, fields={"service": self.service}, etag=etag)

    def _won(self, stored: Record, sent_at: float) -> bool:
        self._etag = stored.etag
        self._valid_until = sent_at + self.ttl - SKEW_MARGIN_SECONDS
        self._renew_at = sent_at + self.renew_every
        self.seen = LeaseState(self.holder, float(stored.body["expires_at"]))
        self.cluster.put(stored)
        return True

    @staticmethod
    def _state(record: Record | None) -> LeaseState:
        if record is None:
            return LeaseState(None, 0.0)
        return LeaseState(record.body.get("holder"), float(record.body.get("expires_at", 0.0)))

    def _observe(self, snapshot: ClusterSnapshot) -> None:
        """A follower follows the lease in every new copy of the cluster partition, whoever read it."""
        if self._etag is not None:
            return  # the holder trusts its own renewals (a takeover shows as a conflict when it renews)
        state = self._state(snapshot.records.get(lease_id(self.service)))
        if state != self.seen:
            self.seen = state
            self._sighting.set()

    def next_sighting(self) -> asyncio.Event:
        """An event set when a new copy of the cluster partition shows the lease changed (a follower's loop
        waits on it as well as on :meth:`next_claim_in`, so a released or expired lease is taken at once)."""
        self._sighting = asyncio.Event()
        return self._sighting

    def _lost(self, state: LeaseState) -> bool:
        self._etag = None
        self._valid_until = 0.0
        self.seen = state
        return False

    async def claim(self) -> bool:
        """Take the lease if it is free or expired, renew it if it is ours; True when this process leads.

        Raises StorageError when storage cannot be reached (the caller decides; :attr:`held` still says
        whether the last renewal is fresh enough to go on).
        """
        async with self._lock:
            return await self._claim()

    async def _claim(self) -> bool:
        sent_at = time.monotonic()
        if self._etag is not None:
            try:
                return self._won(await self.records.replace(self._record(self._etag)), sent_at)
            except (ConcurrencyConflict, RecordNotFound):
                self._etag = None  # someone took it after it expired, or an operator removed it: look again
                self._look_after = time.time()
        if self.seen.holder in (None, self.holder):  # free (or ours) when last seen: try to create it first
            try:
                return self._won(await self.records.create(self._record(None)), sent_at)
            except RecordExists:
                self._look_after = time.time()
        return await self._look(sent_at)

    async def _look(self, sent_at: float) -> bool:
        """A follower's look. A copy of the partition read after the expiry it waited for may show the lease
        free or expired, and then it tries at once; to give up, it wants a copy read after this call began."""
        began = time.time() - (time.monotonic() - sent_at)
        trusted_after = max(self._look_after, min(self.seen.expires_at, began))
        cached = self.cluster.snapshot
        current = cached.records.get(lease_id(self.service))
        state = self._state(current)
        if cached.read_wall < trusted_after or not self._may_take(state):
            snapshot = await self.cluster.refresh(float("inf"), newer_than=began)
            current = snapshot.records.get(lease_id(self.service))
            state = self._state(current)
        if current is None:
            try:
                return self._won(await self.records.create(self._record(None)), sent_at)
            except RecordExists:
                self._look_after = time.time()
                return self._lost(LeaseState(None, 0.0))  # created just now by another; look again soon
        if not self._may_take(state):
            return self._lost(state)
        try:  # expired (or ours from before a restart of this object): take it over, exactly one wins
            return self._won(await self.records.replace(self._record(current.etag)), sent_at)
        except (ConcurrencyConflict, RecordNotFound):
            self._look_after = time.time()
            return self._lost(state)

    def _may_take(self, state: LeaseState) -> bool:
        return state.holder in (None, self.holder) or time.time() >= state.expires_at

    def next_claim_in(self) -> float:
        """Seconds until the next :meth:`claim` is due: the holder renews :attr:`renew_every` after its last
        renewal was sent; a follower looks when the lease it saw expires (at once if it saw it free)."""
        if self._etag is not None:
            return max(self._renew_at - time.monotonic(), 0.0)
        if self.seen.holder is None:
            return 0.0
        return min(max(self.seen.expires_at + 0.2 - time.time(), 0.0), self.ttl)

    async def release(self) -> None:
        """Give the lease up (a clean stop), so another process can take it at once."""
        etag, self._etag, self._valid_until = self._etag, None, 0.0
        if etag is None:
            return
        with contextlib.suppress(ConcurrencyConflict):  # not ours any more
            await self.records.delete(KIND, lease_id(self.service), etag=etag)
        self.seen = LeaseState(None, 0.0)
