"""The one way out: every outbound URL (plugins, and later workflow steps and webhooks) goes through
:class:`SafeFetcher`, which refuses private addresses after resolution, pins the connection to the checked
address, re-checks each redirect and caps the size while reading."""

from praisonai_svc.net.addresses import AllowList, refusal_reason
from praisonai_svc.net.fetch import Fetched, FetchLimits, SafeFetcher

__all__ = ["AllowList", "FetchLimits", "Fetched", "SafeFetcher", "refusal_reason"]
