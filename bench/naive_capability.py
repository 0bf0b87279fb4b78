"""The baseline of bench_plugins.py: seed 004's shape, a FastAPI endpoint that downloads the image with httpx and
compresses it with Pillow inside its async handler (so the work runs on the event loop), then stores the result
under uploads/{sha256[:16]}_compressed.webp. Run with one uvicorn process, as the seed does."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image, ImageOps
from pydantic import BaseModel

OUT = Path(os.environ.get("NAIVE_OUT", "/tmp/naive-out"))
app = FastAPI()
client = httpx.AsyncClient(timeout=30)


class Options(BaseModel):
    quality: int = 80
    format: str | None = None


class CompressRequest(BaseModel):
    image_url: str
    options: Options = Options()


@app.get("/api/v1/health")
async def health() -> dict[str, Any]:
    return {"status": "healthy", "version": "2.0.0", "plugins": [
        {"name": "image-compress", "display_name": "Image compression", "category": "image", "enabled": True,
         "healthy": True}]}


@app.post("/api/v1/image/compress")
async def compress(body: CompressRequest) -> dict[str, Any]:
    original = (await client.get(body.image_url)).content
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))
    out = io.BytesIO()
    image.save(out, (body.options.format or "webp").upper(), quality=body.options.quality)
    data = out.getvalue()
    key = f"uploads/{hashlib.sha256(data).hexdigest()[:16]}_compressed.webp"
    (OUT / "uploads").mkdir(parents=True, exist_ok=True)
    (OUT / key).write_bytes(data)
    return {"success": True, "data": {"output_url": f"/{key}", "metadata": {
        "original_size": len(original), "compressed_size": len(data), "width": image.width,
        "height": image.height, "format": "webp"}}, "execution_time_ms": 0}
