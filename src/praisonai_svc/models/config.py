"""Seed-compatible name for the settings object: ``from praisonai_svc.models.config import ServiceConfig``."""

from praisonai_svc.settings import Settings as ServiceConfig
from praisonai_svc.settings import load_settings

__all__ = ["ServiceConfig", "load_settings"]
