"""Background services as the app registers them: the instance, its name, and where it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from praisonai_svc.errors import ConfigError
from praisonai_svc.services.service import Service

RunsOn = Literal["api", "worker", "all", "one"]
Role = Literal["api", "worker", "all"]  # "all": the API process with its embedded worker (run --workers 0)
RUNS_ON: tuple[str, ...] = get_args(RunsOn)
_HOSTS: dict[str, frozenset[str]] = {
    "api": frozenset({"api", "all", "one"}),
    "worker": frozenset({"worker", "all", "one"}),
    "all": frozenset(RUNS_ON),
}


@dataclass(frozen=True)
class BackgroundSpec:
    """One registered background service. ``runs_on="one"``: exactly one process of the cluster runs it."""

    name: str
    service: Service
    runs_on: RunsOn

    @property
    def is_leader_service(self) -> bool:
        return self.runs_on == "one"


def check_runs_on(value: str) -> RunsOn:
    if value not in RUNS_ON:
        raise ConfigError(f"runs_on={value!r} is not one of {', '.join(RUNS_ON)}.")
    return value  # type: ignore[return-value]


def hosted_by(role: Role, runs_on: RunsOn) -> bool:
    """Whether a process of ``role`` runs (or, for "one", competes to run) a service placed ``runs_on``."""
    return runs_on in _HOSTS[role]
