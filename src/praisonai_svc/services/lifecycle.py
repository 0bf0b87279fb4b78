"""Drive one service through its lifecycle: start and stop, with errors caught and recorded, never raised.

An exception in ``start()`` leaves the service in ERROR with its message, and the app goes on with the others.
"""

from __future__ import annotations

import asyncio

from praisonai_svc.errors import ConfigError
from praisonai_svc.services.service import Service
from praisonai_svc.services.state import STARTABLE, IllegalTransition, ServiceState


def check_startable(service: Service) -> None:
    """Raise IllegalTransition (or ConfigError when it needs configuring first) unless ``start`` may run."""
    if service.state not in STARTABLE:
        raise IllegalTransition(service.name, service.state, "start")
    if service.requires_configuration() and not service.status.is_configured:
        raise ConfigError(f"Service '{service.name}' must be configured before it starts: set its keys under "
                          f"services.{service.name} in praisonai.yaml or POST /services/{service.name}/configure.")


async def start_service(service: Service) -> bool:
    """Start ``service``; True when it runs. A failure is recorded on the service (ERROR), not raised."""
    try:
        check_startable(service)
    except (IllegalTransition, ConfigError) as exc:
        service.set_error(exc.message)
        return False
    service.set_state(ServiceState.STARTING)
    try:
        await service.start()
    except asyncio.CancelledError:
        service.set_error("start was cancelled")
        raise
    except Exception as exc:
        service.logger.exception("service start failed", extra={"service": service.name})
        service.set_error(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return False
    if service.state == ServiceState.STARTING:
        service.set_state(ServiceState.RUNNING)
    return service.state == ServiceState.RUNNING


async def stop_service(service: Service, timeout: float) -> bool:
    """Stop ``service`` within ``timeout`` seconds; False when it had to be abandoned (timeout or error)."""
    if service.state in (ServiceState.STOPPED, ServiceState.INITIALIZED, ServiceState.CONFIGURED):
        return True
    if service.state != ServiceState.STOPPING:
        service.set_state(ServiceState.STOPPING)
    try:
        await asyncio.wait_for(service.stop(), timeout)
    except TimeoutError:
        service.set_error(f"stop did not finish within {timeout:g} s; abandoned")
        return False
    except Exception as exc:
        service.logger.exception("service stop failed", extra={"service": service.name})
        service.set_error(f"stop failed: {type(exc).__name__}: {exc}")
        return False
    if service.state == ServiceState.STOPPING:
        service.set_state(ServiceState.STOPPED)
    return True
