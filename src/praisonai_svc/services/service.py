"""``Service``: a long-running component that is not a job, in Processpype's shape.

Subclass it, implement ``start`` and ``stop``, optionally give it a ``config_model`` (its settings in
praisonai.yaml, validated) and a ``router`` (mounted at ``/services/<name>/...``), and register it with
``@app.service("name", runs_on=...)`` or ``app.register_service(cls)``. The app drives the lifecycle
(:mod:`praisonai_svc.services.lifecycle`); ``start``/``stop`` only do the service's own work, though they may
call :meth:`set_state` like Processpype services do.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel

from praisonai_svc.logs import get_logger
from praisonai_svc.services.state import IllegalTransition, ServiceState, ServiceStatus, can_move


class Service(ABC):
    """Base class of background services."""

    config_model: ClassVar[type[BaseModel] | None] = None
    router: Any = None  # an optional fastapi.APIRouter, mounted at /services/<name>

    def __init__(self, name: str | None = None) -> None:
        self._name = name or type(self).__name__.lower().removesuffix("service") or "service"
        self._status = ServiceStatus()
        self._config: Any = None
        self._logger: logging.Logger | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def status(self) -> ServiceStatus:
        return self._status

    @property
    def state(self) -> ServiceState:
        return self._status.state

    @property
    def config(self) -> Any:
        """The validated settings (an instance of ``config_model``), or None before :meth:`configure`."""
        return self._config

    @property
    def logger(self) -> logging.Logger:
        if self._logger is None:
            self._logger = get_logger(f"service.{self.name}")
        return self._logger

    def set_state(self, state: ServiceState) -> None:
        """Move to ``state``; :class:`IllegalTransition` when the lifecycle does not allow it."""
        current = self._status.state
        if not can_move(current, state):
            raise IllegalTransition(self.name, current, f"become {state.value}")
        if state != current:
            self.logger.info("service state", extra={"service": self.name, "from": current.value,
                                                     "to": state.value})
        self._status.state = state
        if state in (ServiceState.STARTING, ServiceState.RUNNING):
            self._status.error = None

    def set_error(self, error: str) -> None:
        """Record ``error`` and move to ERROR."""
        self._status.error = error
        self.logger.error("service error", extra={"service": self.name, "error": error})
        self._status.state = ServiceState.ERROR

    def details(self) -> dict[str, Any] | None:
        """A few facts about the running service for its heartbeat (shown in ``GET /services`` per instance); None
        for none. Keep it small: the leader's lease renewals carry it."""
        return None

    def requires_configuration(self) -> bool:
        """Whether the service must be configured before it can start: its config model has required fields."""
        model = self.config_model
        return model is not None and any(field.is_required() for field in model.model_fields.values())

    def configure(self, config: Any) -> None:
        """Apply ``config`` (validated by ``config_model`` when it is a dict). Override to react to it."""
        model = self.config_model
        if model is not None and not isinstance(config, model):
            config = model.model_validate(config or {})
        self._config = config
        self._status.is_configured = True
        if self._status.state in (ServiceState.INITIALIZED, ServiceState.STOPPED):
            self.set_state(ServiceState.CONFIGURED)

    @abstractmethod
    async def start(self) -> None:
        """Start the service's work (start tasks, open connections); return once it runs."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop the service's work and release what it holds."""
