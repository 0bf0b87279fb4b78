"""A service's lifecycle states, the transitions between them, and its status as the API shows it.

```
INITIALIZED ─configure→ CONFIGURED ─start→ STARTING ─ok→ RUNNING ─stop→ STOPPING ─→ STOPPED ─start→ STARTING
                                            └─raises→ ERROR ─start→ STARTING (allowed again, unlike Processpype)
```
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from praisonai_svc.errors import PraisonSvcError


class ServiceState(StrEnum):
    INITIALIZED = "initialized"
    CONFIGURED = "configured"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"


S = ServiceState
TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    S.INITIALIZED: frozenset({S.CONFIGURED, S.STARTING, S.STOPPED, S.ERROR}),
    S.CONFIGURED: frozenset({S.CONFIGURED, S.STARTING, S.STOPPED, S.ERROR}),
    S.STARTING: frozenset({S.RUNNING, S.STOPPING, S.ERROR}),
    S.RUNNING: frozenset({S.STOPPING, S.ERROR}),
    S.STOPPING: frozenset({S.STOPPED, S.ERROR}),
    S.STOPPED: frozenset({S.CONFIGURED, S.STARTING, S.ERROR}),
    S.ERROR: frozenset({S.CONFIGURED, S.STARTING, S.STOPPING, S.STOPPED}),
}
STARTABLE = frozenset(state for state, targets in TRANSITIONS.items() if S.STARTING in targets)
STOPPABLE = frozenset({S.STARTING, S.RUNNING, S.ERROR})
# When several processes report one service, the one most worth showing (RUNNING anywhere means it runs).
_PRECEDENCE = [S.RUNNING, S.STARTING, S.STOPPING, S.ERROR, S.STOPPED, S.CONFIGURED, S.INITIALIZED]


class IllegalTransition(PraisonSvcError):
    """The service cannot make that move from its current state."""

    def __init__(self, service: str, current: ServiceState, action: str) -> None:
        self.service = service
        self.current = current
        super().__init__(f"Service '{service}' cannot {action} while {current.value}.")


def can_move(current: ServiceState, target: ServiceState) -> bool:
    return target == current or target in TRANSITIONS[current]


def most_telling(states: list[ServiceState]) -> ServiceState | None:
    """The state to show for a service reported by several processes (None when none report it)."""
    for state in _PRECEDENCE:
        if state in states:
            return state
    return None


class ServiceStatus(BaseModel):
    """Processpype's status shape: the state, the last error, whether configured, free-form metadata."""

    state: ServiceState = S.INITIALIZED
    error: str | None = None
    is_configured: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
