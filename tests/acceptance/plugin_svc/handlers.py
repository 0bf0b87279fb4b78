"""A capability service: the built-in plugins plus three small capabilities for the slow, disabled and
process-pool paths. Its config/plugins.yaml (seed 004's file) sets their limits."""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from praisonai_svc import ServiceApp
from praisonai_svc.plugins.builtin import builtin_plugins

app = ServiceApp("Capabilities")
for plugin in builtin_plugins():
    app.register_plugin(plugin)


class Nap(BaseModel):
    seconds: float


class Text(BaseModel):
    text: str


@app.capability("ai-nap", category="ai", display_name="Sleep a while")
async def nap(input: Nap) -> dict[str, float]:
    await asyncio.sleep(input.seconds)
    return {"slept": input.seconds}


@app.capability("ai-shout", category="ai")
def shout(input: Text) -> dict[str, object]:
    """Upper-case the text, in a process of the pool."""
    return {"text": input.text.upper(), "pid": os.getpid()}


@app.capability("ai-off", category="ai")
async def off(input: Text) -> dict[str, str]:
    return {"text": input.text}
