"""The real gateways for the steps: outbound HTTP through the safe fetcher, files through the files feature.

Each is plugged in only when its feature is part of this build, so that a missing one fails its steps with a
message naming it instead of failing the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from praisonai_svc.workflows.gateways import Gateways
from praisonai_svc.workflows.http_bridge import SafeHttp

if TYPE_CHECKING:
    from praisonai_svc.app import ServiceApp


def build_gateways(app: ServiceApp) -> Gateways:
    return Gateways(http=SafeHttp(app.settings), files=None)
