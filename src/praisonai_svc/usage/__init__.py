"""Usage metering, quotas and analytics per tenant and service (docs/usage.md).

:class:`Meter` counts in memory and writes one record per (hour, tenant, service) bucket per process, batched;
:mod:`~praisonai_svc.usage.query` adds the buckets of every process up for ``GET /usage``;
:mod:`~praisonai_svc.usage.quotas` refuses submissions over a tenant's daily quota.
"""

from praisonai_svc.usage.counts import UsageCounts
from praisonai_svc.usage.meter import Meter

__all__ = ["Meter", "UsageCounts"]
