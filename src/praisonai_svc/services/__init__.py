"""Services with a lifecycle: background services, leaders, and the start/stop switch of every service.

``Service`` and ``ServiceState`` are what a handlers file imports; the rest is what the app runs in each
process (:class:`~praisonai_svc.services.runtime.ServiceRuntime`) and what the management API reads and writes.
"""

from praisonai_svc.services.heartbeat import Instance, InstanceListing, list_instances
from praisonai_svc.services.registry import RunsOn
from praisonai_svc.services.service import Service
from praisonai_svc.services.state import IllegalTransition, ServiceState, ServiceStatus

__all__ = [
    "IllegalTransition", "Instance", "InstanceListing", "RunsOn", "Service", "ServiceState", "ServiceStatus",
    "list_instances",
]
