"""A cost *estimate* per tenant from its metered usage and list prices of Azure (docs/azure.md, "Prices").

It is an estimate and says so: real bills depend on region, redundancy, reservations, free grants, and costs
not metered per tenant (the idle replica, logs, the registry). The prices are pay-as-you-go list prices in USD
(Container Apps consumption plan, Storage hot LRS); docs/azure.md gives the date and where they come from.
"""

from __future__ import annotations

from dataclasses import dataclass

from praisonai_svc.usage.counts import UsageCounts

GB = 1024**3


@dataclass(frozen=True)
class Prices:
    """USD list prices (see docs/azure.md for their source and date)."""

    vcpu_second: float = 0.000024  # Container Apps consumption, active
    gib_second: float = 0.000003  # Container Apps consumption, active
    handler_vcpu: float = 0.5  # the size `deploy azure` gives a worker replica
    handler_gib: float = 1.0
    # Queue operations and blob reads; table transactions cost less, blob writes more (docs/azure.md).
    per_10k_transactions: float = 0.004
    blob_gb_month: float = 0.018  # hot LRS capacity, outputs kept a month
    egress_gb: float = 0.087  # internet egress, each output downloaded once

    def estimate(self, counts: UsageCounts) -> dict[str, float]:
        compute = counts.handler_seconds * (self.handler_vcpu * self.vcpu_second + self.handler_gib * self.gib_second)
        transactions = counts.storage_requests / 10_000 * self.per_10k_transactions
        storage = counts.bytes_out / GB * self.blob_gb_month
        egress = counts.bytes_out / GB * self.egress_gb
        total = compute + transactions + storage + egress
        return {key: round(value, 6) for key, value in (
            ("compute_usd", compute), ("storage_requests_usd", transactions), ("blob_storage_usd", storage),
            ("egress_usd", egress), ("total_usd", total))}


AZURE_LIST_PRICES = Prices()
ESTIMATE_NOTE = ("Estimate from metered usage and Azure list prices (docs/azure.md); not a bill: region, free grants, "
                 "idle replicas and logs are not included.")
