"""The route that serves the local blob store's signed links (``/blobs/{name}?exp=&fn=&ct=&sig=``).

The backend provides it (``BlobStore.routes``) and the API mounts it behind its read rate limit: on Azure or S3
the storage service serves its own signed links and there is no such route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from praisonai_svc.adapters.local.signing import BLOBS_ROUTE
from praisonai_svc.errors import BlobNotFound, InvalidSignature, StorageError
from praisonai_svc.filenames import content_disposition


class SignedFiles(Protocol):
    """What the route needs of the store (the FileBlobStore)."""

    def verify_link(self, name: str, expires: str, filename: str, content_type: str, signature: str) -> None: ...

    def path_of(self, name: str) -> Path: ...

    async def read_inline(self, name: str) -> bytes | None: ...


def link_router(blobs: SignedFiles) -> APIRouter:
    router = APIRouter(tags=["downloads"])

    @router.get(BLOBS_ROUTE + "/{name:path}", include_in_schema=False)
    async def signed_blob(name: str, exp: str = "", fn: str = "", ct: str = "", sig: str = "") -> Response:
        blobs.verify_link(name, exp, fn, ct, sig)
        inline = await blobs.read_inline(name)  # a small output stored in the database
        if inline is not None:
            return Response(inline, media_type=ct or "application/octet-stream",
                            headers={"Content-Disposition": content_disposition(fn or name.rpartition("/")[2]),
                                     "Cache-Control": "private, max-age=0, no-store"})
        try:
            path = blobs.path_of(name)
        except StorageError:
            raise InvalidSignature() from None
        if not path.is_file():
            raise BlobNotFound("The file behind this link no longer exists.")
        return FileResponse(path, media_type=ct or "application/octet-stream",
                            headers={"Content-Disposition": content_disposition(fn or path.name),
                                     "Cache-Control": "private, max-age=0, no-store"})

    return router
