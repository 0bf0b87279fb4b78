"""The service schemathesis attacks: a typed payload model and a free-form one, both harmless and fast."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from praisonai_svc import ServiceApp

app = ServiceApp("Fuzz target")


class Deck(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    slides: int = Field(ge=1, le=20)


@app.job("deck")
def deck(payload: Deck) -> tuple[bytes, str, str]:
    return (payload.title * payload.slides).encode(), "text/plain", "deck.txt"


@app.job("echo")
def echo(payload: dict) -> tuple[bytes, str, str]:
    return json.dumps(payload, sort_keys=True).encode()[:10_000], "application/json", "echo.json"
