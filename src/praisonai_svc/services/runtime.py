"""``ServiceRuntime``: what one process (API, worker, or both) does for the services it hosts.

* keeps a copy of the desired states (:class:`~praisonai_svc.services.control.ControlView`) and applies it:
  starts and stops its background services, tells the worker which job services may take jobs;
* runs one leader loop for all its ``runs_on="one"`` services, on one lease (:mod:`praisonai_svc.services.leader`):
  the process holding it runs them all;
* writes this process's heartbeat every ``heartbeat_seconds`` (the leader's lease renewals carry it instead);
* at shutdown stops its services in reverse registration order within ``closing_timeout_seconds``.

Idle cost: one heartbeat per heartbeat interval (none of its own in the leader, whose renewals carry it), and
one read of the cluster partition per interval in a process that hosts a background service (a worker reads
it with its idle poll cycle instead). That one read covers the control state and a follower's look at the
lease, so a follower pays no lease request while the leader renews in time; the leader pays one renewal per
``lease - 15 s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from praisonai_svc.errors import StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.models.job import utcnow
from praisonai_svc.services import heartbeat
from praisonai_svc.services.control import ControlView
from praisonai_svc.services.heartbeat import Instance
from praisonai_svc.services.leader import ALL_LEADER_SERVICES, LeaderLease
from praisonai_svc.services.lifecycle import start_service, stop_service
from praisonai_svc.services.registry import BackgroundSpec, Role, hosted_by
from praisonai_svc.services.state import STOPPABLE, ServiceState

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend

log = get_logger("services")
JobStates = Callable[[], dict[str, ServiceState]]
LEASE_RETRY_SECONDS = 1.0  # after a failed lease claim; the lease still has (lease / 2 - skew margin) to go


class ServiceRuntime:
    """The services of one process. ``await start()``, then ``await close()`` (returns what was abandoned)."""

    def __init__(self, app: ServiceApp, backend: Backend, role: Role) -> None:
        self.app = app
        self.backend = backend
        self.role = role
        self.config = app.config
        self.control = ControlView(backend.cluster)
        self.instance = Instance.this_process(role)
        self.hosted: dict[str, BackgroundSpec] = {
            name: spec for name, spec in app.background.items() if hosted_by(role, spec.runs_on)
        }
        for spec in self.hosted.values():  # built-in services that need this process's storage (workflow-scheduler)
            bind = getattr(spec.service, "bind", None)
            if callable(bind):
                bind(app, backend)
        # One lease for every runs_on="one" service: the process holding it runs them all (one renewal for all).
        self.lease = LeaderLease(backend.records, ALL_LEADER_SERVICES, self.instance.instance_id,
                                 self.config.server.leader_lease_seconds, cluster=backend.cluster,
                                 heartbeat=self._heartbeat_body)
        self.leases = {name: self.lease for name, spec in self.hosted.items() if spec.is_leader_service}
        self.job_states: JobStates | None = None  # set by the worker of this process
        self._tasks: list[asyncio.Task[None]] = []
        self._attempted: dict[str, str | None] = {}  # control stamp of each service's last start attempt
        self._applied_config: dict[str, Any] = {}
        self._last_beat = 0.0
        self._beat_later: asyncio.Task[None] | None = None

    @property
    def heartbeat_seconds(self) -> float:
        return self.config.server.heartbeat_seconds

    # --- what services want -------------------------------------------------------------------------------
    def enabled(self, name: str) -> bool:
        return self.config.options(name).enabled

    def wants_running(self, name: str) -> bool:
        """Desired state: the operators' switch when flipped, else praisonai.yaml's ``autostart``."""
        options = self.config.options(name)
        if not options.enabled:
            return False
        desired = self.control.get(name).desired
        return desired == "running" if desired is not None else options.autostart

    accepts_jobs = wants_running

    async def refresh_control(self, max_age: float) -> None:
        """Re-read the desired states if older than ``max_age`` (the worker calls this with its poll)."""
        await self.control.refresh(max_age)

    def service_config(self, name: str) -> Any:
        """The service's settings: configured through the API if so, else from praisonai.yaml."""
        override = self.control.get(name).config
        if override is None:
            return self.config.options(name).config
        model = self.config_model(name)
        try:
            return model.model_validate(override) if model is not None else override
        except ValidationError:
            log.warning("stored configuration no longer valid; using praisonai.yaml's", extra={"service": name})
            return self.config.options(name).config

    def config_model(self, name: str) -> type[BaseModel] | None:
        """The config model ``name`` declares (None: it takes no settings of its own)."""
        if name in self.app.background:
            return self.app.background[name].service.config_model
        return self.app.services[name].config_model if name in self.app.services else None

    # --- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the desired states, start this process's services, and begin heartbeats and leader loops."""
        with contextlib.suppress(StorageError):
            await heartbeat.prune_instances(self.backend.records)
        await self.control.refresh(0)
        for name, spec in self.hosted.items():
            self._configure(spec)
            if not spec.is_leader_service:
                await self._converge(name, spec)
        if self.leases:
            self._tasks.append(asyncio.create_task(self._lead(), name="leader"))
        await self._beat()
        self._tasks.append(asyncio.create_task(self._presence(), name="services-presence"))
        log.info("services started", extra={"role": self.role, "instance": self.instance.instance_id,
                                            "hosted": list(self.hosted)})

    def _configure(self, spec: BackgroundSpec) -> None:
        config = self.service_config(spec.name)
        if spec.name in self._applied_config and self._applied_config[spec.name] == config:
            return
        self._applied_config[spec.name] = config
        if config is not None:
            try:
                spec.service.configure(config)
            except (ValidationError, ValueError) as exc:
                spec.service.set_error(f"configuration refused: {exc}")

    async def _converge(self, name: str, spec: BackgroundSpec, *, may_run: bool = True) -> None:
        """Start or stop ``spec`` so that it matches its desired state (and, for leaders, the lease)."""
        service = spec.service
        want = self.wants_running(name) and may_run
        stamp = self.control.get(name).changed_utc
        if want and service.state not in (ServiceState.RUNNING, ServiceState.STARTING, ServiceState.STOPPING):
            if service.state == ServiceState.ERROR and self._attempted.get(name, "") == stamp:
                return  # failed already; an operator's new start (a new stamp) tries again
            self._attempted[name] = stamp
            await start_service(service)
            await self._beat(soon=True)
        elif not want and service.state in STOPPABLE:
            await stop_service(service, self.config.server.closing_timeout_seconds)
            await self._beat(soon=True)

    async def apply(self) -> None:
        """Bring every hosted service in line with the current control copy (no storage request)."""
        for name, spec in self.hosted.items():
            self._configure(spec)
            if not spec.is_leader_service:
                await self._converge(name, spec)

    # --- loops --------------------------------------------------------------------------------------------
    async def _presence(self) -> None:
        while True:
            change = self.control.next_change()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), self.heartbeat_seconds)
            if self._acts_on_control():
                await self.control.refresh(self.heartbeat_seconds * 0.9)
            await self.apply()
            if time.monotonic() - self._last_beat >= self.heartbeat_seconds * 0.95 and not self.leading:
                await self._beat()  # the leader's renewals carry its heartbeat

    def _acts_on_control(self) -> bool:
        """Whether this process needs a fresh control copy every heartbeat: it reports its job services' states
        (a worker), runs background services (its own, or the leader services while it holds the lease), or must
        notice that a leader service is started again. An API that only competes for the leader lease reads the
        control state once it wins the lease (:meth:`_lead`)."""
        if self.job_states is not None or any(not spec.is_leader_service for spec in self.hosted.values()):
            return True
        return bool(self.leases) and (self.lease.held or not any(self.wants_running(n) for n in self.leases))

    @property
    def leading(self) -> bool:
        """Whether this process holds the leader lease now (then its renewals are its heartbeat)."""
        return bool(self.leases) and self.lease.held

    async def _lead(self) -> None:
        """Claim, renew or watch the leader lease, and run the leader services while this process holds it.

        A follower claims only when its copy of the lease says it expired or is free: that copy comes with the
        reads of the cluster partition the process makes anyway, so watching a live leader costs nothing."""
        lease = self.lease
        while True:
            sighting = lease.next_sighting()
            change = self.control.next_change()
            if any(self.wants_running(name) for name in self.leases):
                if lease.next_claim_in() <= 0:
                    delay = await self._claim_lease()
                else:
                    delay = lease.next_claim_in()
                for name in self.leases:
                    await self._converge(name, self.hosted[name], may_run=lease.held)
                if lease.held:  # wake when the lease stops being trustworthy, should renewals keep failing
                    delay = min(delay, max(lease.trusted_for(), 0.0) + 0.01)
            else:
                delay = self.heartbeat_seconds
                for name in self.leases:
                    await self._converge(name, self.hosted[name], may_run=False)
                with contextlib.suppress(StorageError):
                    await lease.release()
            waiters = [asyncio.ensure_future(change.wait()), asyncio.ensure_future(sighting.wait())]
            await asyncio.wait(waiters, timeout=max(delay, 0.2), return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def _claim_lease(self) -> float:
        """One claim (or renewal); the seconds until the next one."""
        lease = self.lease
        was_held = lease.held
        try:
            await lease.claim()
        except StorageError as exc:
            log.warning("lease renewal failed", extra={"services": list(self.leases), "error": str(exc)})
            return LEASE_RETRY_SECONDS
        if lease.held:  # a new leader acts on the current control state, not on its copy from the start
            await self.control.refresh(self.heartbeat_seconds * 0.9)
        elif was_held:
            await self._beat()  # no renewal carries this process's heartbeat any more
        return lease.next_claim_in()

    # --- heartbeats ---------------------------------------------------------------------------------------
    def states(self) -> dict[str, dict[str, Any]]:
        """This process's view of each service it hosts or runs jobs of: state and last error."""
        found: dict[str, dict[str, Any]] = {}
        for name, state in (self.job_states() if self.job_states else {}).items():
            found[name] = {"state": state.value, "error": None}
        for name, spec in self.hosted.items():
            status = spec.service.status
            found[name] = {"state": status.state.value, "error": status.error}
            if spec.is_leader_service:
                found[name]["leader"] = self.leases[name].held
            details = spec.service.details() if status.state == ServiceState.RUNNING else None
            if details is not None:
                found[name]["details"] = details
        return found

    def _heartbeat_body(self) -> dict[str, Any]:
        """This process's heartbeat as the lease renewals carry it."""
        self.instance.services = self.states()
        self.instance.last_seen_utc = utcnow()
        self._last_beat = time.monotonic()
        return self.instance.body()

    async def _beat(self, *, soon: bool = False) -> None:
        wait = self._last_beat + 1.0 - time.monotonic()
        if soon and wait > 0:  # state changes report at most once a second: this one a little later
            if self._beat_later is None or self._beat_later.done():
                self._beat_later = asyncio.create_task(self._beat_after(wait), name="services-heartbeat-soon")
            return
        self._last_beat = time.monotonic()
        try:
            if self.leading:
                await self.lease.claim()  # a renewal: it carries the heartbeat
                if self.lease.held:
                    return
            self.instance.services = self.states()
            await heartbeat.beat(self.backend.records, self.instance)
        except StorageError as exc:
            log.warning("heartbeat failed", extra={"error": str(exc)})

    async def _beat_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self._beat()

    # --- shutdown -----------------------------------------------------------------------------------------
    async def close(self, timeout: float | None = None) -> list[str]:
        """Stop every hosted service in reverse registration order within ``timeout`` (default
        ``closing_timeout_seconds``); return the names of those that had to be abandoned."""
        tasks = [*self._tasks, *([self._beat_later] if self._beat_later is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        deadline = time.monotonic() + (timeout or self.config.server.closing_timeout_seconds)
        abandoned: list[str] = []
        for name in reversed(self.app.registration_order):
            spec = self.hosted.get(name)
            if spec is None:
                continue
            remaining = max(deadline - time.monotonic(), 0.01)
            if not await stop_service(spec.service, remaining):
                abandoned.append(name)
        if self.leases:
            with contextlib.suppress(StorageError):
                await self.lease.release()
        with contextlib.suppress(StorageError):
            await heartbeat.remove(self.backend.records, self.instance)
        if abandoned:
            log.error("services abandoned at shutdown", extra={"services": abandoned})
        return abandoned
