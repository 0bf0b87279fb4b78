"""The baseline: a bare FastAPI endpoint that validates the same body and does nothing else."""

import uuid
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

app = FastAPI()


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: dict[str, Any]
    service: str | None = None


@app.post("/jobs", status_code=202)
async def submit(body: JobRequest) -> dict[str, str]:
    return {"job_id": uuid.uuid4().hex, "status": "queued"}
