"""OpenTelemetry traces and metrics to Azure Application Insights, when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

Uses the ``azure-monitor-opentelemetry`` distro (the optional extra ``praisonai-svc[azure-monitor]``), imported
only when the variable is set, so nothing else pays for it. Traces are sampled at PRAISONAI_TRACE_SAMPLING_RATIO
(10 % by default, seed 001 §9) with Application Insights' own fixed-rate sampler, which keeps request counts
right by recording the sampling weight; metrics are aggregated in-process and never sampled, so the job-failure
and duration alerts see every job. Logs are *not* exported: the container's JSON log lines already reach Log
Analytics through Container Apps, and sending them twice would double the ingestion that the daily cap limits.

The variable has no PRAISONAI_ prefix (it is the name every Azure SDK and the portal use), so the check for
unknown PRAISONAI_* settings never sees it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from praisonai_svc.logs import get_logger
from praisonai_svc.settings import Settings

CONNECTION_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
EXTRA_HINT = "pip install 'praisonai-svc[azure-monitor]'"

log = get_logger("telemetry")
# OpenTelemetry's providers are process-wide; so is whether we installed them.
_configured: list[bool] = []


def telemetry_enabled() -> bool:
    """Whether this process sends telemetry to Application Insights."""
    return bool(_configured)


def configure_telemetry(settings: Settings, service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send traces and metrics to Application Insights if the connection string is set; True if it now does.

    Idempotent. Without the optional distro installed it logs how to install it and returns False.
    """
    connection = (environ if environ is not None else os.environ).get(CONNECTION_ENV, "").strip()
    if not connection:
        return False
    if _configured:
        return True
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry.sdk.resources import Resource
    except ImportError:
        log.warning(f"{CONNECTION_ENV} is set but the Azure Monitor distro is missing ({EXTRA_HINT}); "
                    "telemetry stays off")
        return False
    configure_azure_monitor(
        connection_string=connection,
        sampling_ratio=settings.trace_sampling_ratio,
        resource=Resource.create({"service.name": service_name}),
        disable_logging=True,
        enable_live_metrics=False,
    )
    _configured.append(True)
    log.info("telemetry to Application Insights on", extra={"sampling_ratio": settings.trace_sampling_ratio})
    return True
