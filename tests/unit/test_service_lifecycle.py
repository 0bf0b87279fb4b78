"""The service state machine: Processpype's set_state / set_error / requires_configuration, and the driver."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from praisonai_svc.services import IllegalTransition, Service, ServiceState
from praisonai_svc.services.lifecycle import start_service, stop_service
from praisonai_svc.services.state import TRANSITIONS, can_move, most_telling


class Recorder(Service):
    def __init__(self, name: str | None = None, *, fail: bool = False, slow_stop: float = 0.0) -> None:
        super().__init__(name)
        self.fail = fail
        self.slow_stop = slow_stop
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        if self.fail:
            raise RuntimeError("no connection to the printer")

    async def stop(self) -> None:
        self.calls.append("stop")
        await asyncio.sleep(self.slow_stop)


class Needs(BaseModel):
    endpoint: str


class NeedsConfig(Recorder):
    config_model = Needs


class ManualStates(Service):
    """A Processpype-style service that moves its own states."""

    async def start(self) -> None:
        self.set_state(ServiceState.STARTING)
        self.set_state(ServiceState.RUNNING)

    async def stop(self) -> None:
        self.set_state(ServiceState.STOPPING)
        self.set_state(ServiceState.STOPPED)


async def test_start_then_stop_walks_the_lifecycle() -> None:
    service = Recorder("printer")
    assert service.state == ServiceState.INITIALIZED and service.name == "printer"
    assert await start_service(service) is True
    assert service.state == ServiceState.RUNNING
    assert await stop_service(service, timeout=1) is True
    assert service.state == ServiceState.STOPPED and service.calls == ["start", "stop"]
    assert await start_service(service) is True  # STOPPED → STARTING is allowed


async def test_a_failing_start_is_error_with_its_message_and_may_start_again() -> None:
    service = Recorder(fail=True)
    assert await start_service(service) is False
    assert service.state == ServiceState.ERROR
    assert service.status.error == "RuntimeError: no connection to the printer"
    service.fail = False
    assert await start_service(service) is True  # from ERROR, unlike Processpype
    assert service.state == ServiceState.RUNNING and service.status.error is None


async def test_a_stop_past_the_timeout_is_abandoned() -> None:
    service = Recorder(slow_stop=5)
    await start_service(service)
    assert await stop_service(service, timeout=0.05) is False
    assert service.state == ServiceState.ERROR and "abandoned" in (service.status.error or "")


async def test_requires_configuration_until_configured() -> None:
    service = NeedsConfig()
    assert service.requires_configuration() is True
    assert await start_service(service) is False
    assert "must be configured" in (service.status.error or "")
    service.configure({"endpoint": "http://printer"})
    assert service.status.is_configured and service.config == Needs(endpoint="http://printer")
    assert await start_service(service) is True
    assert Recorder().requires_configuration() is False


async def test_services_that_move_their_own_states_still_work() -> None:
    service = ManualStates("manual")
    assert await start_service(service) is True and service.state == ServiceState.RUNNING
    assert await stop_service(service, timeout=1) is True and service.state == ServiceState.STOPPED


def test_illegal_transitions_are_refused_and_name_the_state() -> None:
    service = Recorder("printer")
    with pytest.raises(IllegalTransition) as caught:
        service.set_state(ServiceState.RUNNING)  # INITIALIZED → RUNNING skips STARTING
    assert caught.value.current == ServiceState.INITIALIZED and "initialized" in caught.value.message
    service.set_error("boom")
    assert service.state == ServiceState.ERROR and service.status.error == "boom"


def test_transition_table_is_closed_and_sensible() -> None:
    assert set(TRANSITIONS) == set(ServiceState)
    assert can_move(ServiceState.ERROR, ServiceState.STARTING)
    assert not can_move(ServiceState.STOPPED, ServiceState.RUNNING)
    assert not can_move(ServiceState.RUNNING, ServiceState.STARTING)
    assert most_telling([ServiceState.STOPPED, ServiceState.RUNNING]) == ServiceState.RUNNING
    assert most_telling([ServiceState.STOPPED, ServiceState.ERROR]) == ServiceState.ERROR
    assert most_telling([]) is None


def test_default_name_comes_from_the_class() -> None:
    class TickerService(Recorder):
        pass

    assert TickerService().name == "ticker"
