"""The management use cases behind ``/services``: describe every service cluster-wide, start, stop, configure.

A service's ``state`` is what its processes report (the most telling one: RUNNING anywhere means it runs),
with this process's own report taken live rather than from its last heartbeat; ``desired_state`` is the switch
operators flip. Changes are conditional writes of the control record, logged with who made them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from praisonai_svc.cluster import read_partition
from praisonai_svc.errors import PayloadError, ServiceNotFound, StorageError
from praisonai_svc.logs import get_logger
from praisonai_svc.services.control import Control, ControlStore, controls_of
from praisonai_svc.services.heartbeat import Instance, instances_of, split_instances
from praisonai_svc.services.state import IllegalTransition, ServiceState, most_telling

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp
    from praisonai_svc.backend import Backend
    from praisonai_svc.services.runtime import ServiceRuntime

log = get_logger("services")


class ServiceDirectory:
    """What ``GET /services`` shows and what ``POST /services/{name}/...`` does, for one app."""

    def __init__(self, app: ServiceApp, backend: Backend, runtime: ServiceRuntime) -> None:
        self.app = app
        self.backend = backend
        self.runtime = runtime
        self.store = ControlStore(backend.records)

    def _check(self, name: str) -> str:
        if name not in self.app.services and name not in self.app.background:
            hosted = ", ".join(self.app.registration_order) or "none"
            raise ServiceNotFound(f"Unknown service '{name}'. This app hosts: {hosted}.")
        return name

    def _desired(self, name: str, control: Control) -> str:
        options = self.runtime.config.options(name)
        if not options.enabled:
            return "disabled"
        if control.desired is not None:
            return control.desired
        return "running" if options.autostart else "stopped"

    def _instances(self, name: str, live: list[Instance]) -> list[dict[str, Any]]:
        found = []
        own = self.runtime.instance.instance_id
        # This process answers, so it is alive whatever the age of its last heartbeat (a loaded machine).
        others = [instance for instance in live if instance.instance_id != own]
        for instance in [self.runtime.instance, *others]:
            report = self.runtime.states().get(name) if instance.instance_id == own else instance.services.get(name)
            if report is not None:
                found.append({"instance_id": instance.instance_id, "role": instance.role, "host": instance.host,
                              "pid": instance.pid, "last_seen_utc": instance.last_seen_utc.isoformat(), **report})
        return found

    @staticmethod
    def _state(desired: str, instances: list[dict[str, Any]]) -> ServiceState:
        state = most_telling([ServiceState(i["state"]) for i in instances]) or ServiceState.STOPPED
        if desired != "running" and state in (ServiceState.RUNNING, ServiceState.STARTING):
            return ServiceState.STOPPING  # the stop has not reached every process yet
        return state

    async def _queue_depth(self, name: str) -> int | None:
        try:
            return await self.backend.queue(self.app.services[name].queue_name).length()
        except StorageError:
            return None

    async def _describe(self, name: str, control: Control, live: list[Instance]) -> dict[str, Any]:
        desired = self._desired(name, control)
        instances = self._instances(name, live)
        errors = [i["error"] for i in instances if i.get("error")]
        body: dict[str, Any] = {
            "name": name, "kind": "job" if name in self.app.services else "background",
            "state": self._state(desired, instances).value, "desired_state": desired,
            "is_configured": self._is_configured(name), "error": errors[0] if errors else None,
            "changed_by": control.changed_by, "changed_utc": control.changed_utc,
        }
        if name in self.app.services:
            body["queue_depth"] = await self._queue_depth(name)
        else:
            body["runs_on"] = self.app.background[name].runs_on
        body["instances"] = instances
        return body

    def _is_configured(self, name: str) -> bool:
        if name in self.app.background:
            service = self.app.background[name].service
            return service.status.is_configured or not service.requires_configuration()
        return True

    async def _snapshot(self) -> tuple[dict[str, Control], list[Instance]]:
        """The control state and the live instances, from one read of the cluster partition."""
        snapshot = await read_partition(self.backend.records)
        listing = split_instances(instances_of(snapshot), heartbeat_seconds=self.runtime.heartbeat_seconds)
        return controls_of(snapshot), listing.live

    async def describe_all(self) -> list[dict[str, Any]]:
        controls, live = await self._snapshot()
        return [await self._describe(name, controls.get(name, Control()), live)
                for name in self.app.registration_order]

    async def describe(self, name: str) -> dict[str, Any]:
        self._check(name)
        controls, live = await self._snapshot()
        return await self._describe(name, controls.get(name, Control()), live)

    # --- changes ------------------------------------------------------------------------------------------
    async def start(self, name: str, who: str) -> None:
        """Ask every process to run ``name``; IllegalTransition when it already runs (ERROR may start again)."""
        current = await self.describe(name)
        if current["desired_state"] == "disabled":
            raise IllegalTransition(name, ServiceState(current["state"]), "start (enabled: false in praisonai.yaml)")
        if current["desired_state"] == "running" and current["state"] != ServiceState.ERROR:
            raise IllegalTransition(name, ServiceState(current["state"]), "start")
        await self._write(name, who, "start", desired="running")

    async def stop(self, name: str, who: str) -> None:
        """Ask every process to stop ``name``: no new job of it starts anywhere within seconds."""
        current = await self.describe(name)
        if current["desired_state"] != "running":
            raise IllegalTransition(name, ServiceState(current["state"]), "stop")
        await self._write(name, who, "stop", desired="stopped")

    async def configure(self, name: str, settings: dict[str, Any], who: str) -> dict[str, Any]:
        """Validate ``settings`` with the service's config model and store them for every process."""
        self._check(name)
        model: type[BaseModel] | None = self.runtime.config_model(name)
        if model is None:
            raise PayloadError(f"Service '{name}' declares no config model, so it takes no configuration.")
        try:
            validated = model.model_validate(settings)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
            raise PayloadError(f"Invalid configuration for '{name}': {problems}") from exc
        config = validated.model_dump(mode="json")
        await self._write(name, who, "configure", config=config)
        return config

    async def _write(self, name: str, who: str, action: str, **changes: Any) -> None:
        control = await self.store.change(name, who, **changes)
        self.runtime.control.put(name, control)  # this process acts at once; the others within seconds
        log.info("service change", extra={"service": name, "action": action, "who": who})
