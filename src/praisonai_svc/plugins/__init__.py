"""Capability plugins (seed 004): one plugin definition served synchronously at ``POST /api/v1/{category}/
{action}`` and as a queued job (``POST /jobs`` with its name as ``service``). See docs/plugins.md."""

from praisonai_svc.plugins.base import BasePlugin, Category, PluginConfig, ProcessingMode, Upload
from praisonai_svc.plugins.host import PluginHost
from praisonai_svc.plugins.outputs import StoredOutput, output_key
from praisonai_svc.plugins.runtime import PluginRuntime

__all__ = [
    "BasePlugin", "Category", "PluginConfig", "PluginHost", "PluginRuntime", "ProcessingMode", "StoredOutput",
    "Upload", "output_key",
]
