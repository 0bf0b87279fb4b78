"""Leader election for ``runs_on="one"`` services: a lease record that exactly one process holds.

The lease is a record (kind ``lease``, id ``service:<name>``) with its holder and an expiry. The services runtime
uses one lease for all the ``runs_on="one"`` services of an app (:data:`ALL_LEADER_SERVICES`, id ``service:*``):
one process of the deployment leads them all, and leading costs one renewal per half lease however many there
are. A process takes a
free lease with ``create`` (exactly one of N concurrent creates wins, on every backend), renews its own with a
conditional replace on the ETag it last saw, and takes over an *expired* one the same way: if two processes
see the same expired lease, one replace wins and the other gets a conflict. So two holders never coexist in
storage.

Clocks: the expiry is wall-clock time written by the holder and compared by the others with their own clocks.
We assume clocks agree within :data:`SKEW_MARGIN_SECONDS` (NTP-synchronised hosts, as on Azure). The holder
renews at half the lease (retrying every second after a failure) and stops trusting its lease that much
*before* the expiry, measured on its own monotonic clock from the moment it sent the renewal: if it could not
renew by then, it stops the service before anyone may take over.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from praisonai_svc.errors import ConcurrencyConflict, RecordExists, RecordNotFound
from praisonai_svc.records import Record, RecordStore

KIND = "lease"
SKEW_MARGIN_SECONDS = 2.0
ALL_LEADER_SERVICES = "*"  # the lease name covering every runs_on="one" service of an app (never a service name)


def lease_id(service: str) -> str:
    return f"service:{service}"


@dataclass(frozen=True)
class LeaseState:
    """The lease as last read: who holds it and until when (epoch seconds, the holder's clock)."""

    holder: str | None
    expires_at: float


class LeaderLease:
    """One process's claim on one service's lease. :meth:`claim` is the only call a loop needs."""

    def __init__(self, records: RecordStore, service: str, holder: str, ttl: float) -> None:
        self.records = records
        self.service = service
        self.holder = holder
        self.ttl = ttl
        self._etag: str | None = None
        self._valid_until = 0.0  # monotonic; past it this process must not act as leader
        self.seen = LeaseState(None, 0.0)

    @property
    def held(self) -> bool:
        """Whether this process may act as leader right now (its lease is fresh on its own clock)."""
        return self._etag is not None and time.monotonic() < self._valid_until

    @property
    def renew_every(self) -> float:
        """Half the lease: with the skew margin, a failed renewal still leaves time for quick retries."""
        return self.ttl / 2

    def _record(self, etag: str | None) -> Record:
        body = {"holder": self.holder, "expires_at": time.time() + self.ttl}
        return Record(KIND, lease_id(self.service), body, fields={"service": self.service}, etag=etag)

    def _won(self, stored: Record, sent_at: float) -> bool:
        self._etag = stored.etag
        self._valid_until = sent_at + self.ttl - SKEW_MARGIN_SECONDS
        self.seen = LeaseState(self.holder, float(stored.body["expires_at"]))
        return True

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
        sent_at = time.monotonic()
        if self._etag is not None:
            try:
                return self._won(await self.records.replace(self._record(self._etag)), sent_at)
            except (ConcurrencyConflict, RecordNotFound):
                self._etag = None  # someone took it after it expired, or an operator removed it: look again
        if self.seen.holder in (None, self.holder):  # free (or ours) when last seen: try to create it first
            try:
                return self._won(await self.records.create(self._record(None)), sent_at)
            except RecordExists:
                pass
        # A follower reads first: one request per look while another process holds the lease.
        current = await self.records.find(KIND, lease_id(self.service))
        if current is None:
            self.seen = LeaseState(None, 0.0)
            try:
                return self._won(await self.records.create(self._record(None)), sent_at)
            except RecordExists:
                return self._lost(LeaseState(None, 0.0))  # created just now by another; look again soon
        state = LeaseState(current.body.get("holder"), float(current.body.get("expires_at", 0.0)))
        if state.holder != self.holder and time.time() < state.expires_at:
            return self._lost(state)
        try:  # expired (or ours from before a restart of this object): take it over, exactly one wins
            return self._won(await self.records.replace(self._record(current.etag)), sent_at)
        except (ConcurrencyConflict, RecordNotFound):
            return self._lost(state)

    def next_claim_in(self) -> float:
        """Seconds until the next :meth:`claim`: renew at half the lease; else look again at its expiry."""
        if self._etag is not None:
            return self.renew_every
        wait = self.seen.expires_at - time.time()
        return min(max(wait + 0.2, 0.2), self.ttl)

    async def release(self) -> None:
        """Give the lease up (a clean stop), so another process can take it at once."""
        etag, self._etag, self._valid_until = self._etag, None, 0.0
        if etag is None:
            return
        with contextlib.suppress(ConcurrencyConflict):  # not ours any more
            await self.records.delete(KIND, lease_id(self.service), etag=etag)
