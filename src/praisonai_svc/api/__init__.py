"""The HTTP API (FastAPI routers, one module per concern)."""

from praisonai_svc.api.factory import create_api

__all__ = ["create_api"]
