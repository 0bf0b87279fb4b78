"""Azure SDK errors → praisonai-svc errors, decided in one place.

Call sites catch the few outcomes that mean something to them (404 → JobNotFound, 412 → ConcurrencyConflict,
pop-receipt mismatch → LeaseLost) inside :func:`storage_errors`; everything else leaving the block is mapped
here: no answer, a 5xx, throttling or rejected credentials → :class:`StorageUnavailable` (the API answers 503 +
Retry-After and ``/ready`` fails), any other refusal → :class:`StorageError`. The SDK error is always chained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from praisonai_svc.errors import PraisonSvcError, StorageError, StorageUnavailable

# A missing table, queue or container means the backend was not provisioned (or was deleted under us): the
# storage is unusable as configured, which is not the same as "no such job/message/blob".
MISSING_RESOURCE_CODES = frozenset({"TableNotFound", "QueueNotFound", "ContainerNotFound"})
_TRANSIENT_STATUS = frozenset({408, 429})


class TransactionRejected(StorageError):
    """An entity group transaction was refused because of one operation (a 404, 409 or 412 on it)."""

    def __init__(self, index: int, status: int, code: str) -> None:
        super().__init__(f"Table transaction refused at operation {index}: {status} {code}")
        self.index = index
        self.status = status
        self.code = code


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def code_of(exc: BaseException) -> str:
    """The service's error code (``MessageNotFound``, ``PopReceiptMismatch`` …) as plain text."""
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


def is_missing_item(exc: BaseException) -> bool:
    """A 404 about the item itself (entity, message, blob), not about its table, queue or container."""
    return status_of(exc) == 404 and code_of(exc) not in MISSING_RESOURCE_CODES


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the storage cannot be used right now (as opposed to refusing this request)."""
    if isinstance(exc, ClientAuthenticationError | ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError):
        status = status_of(exc)
        return (
            status is None or status >= 500 or status in _TRANSIENT_STATUS or code_of(exc) in MISSING_RESOURCE_CODES
        )
    return isinstance(exc, AzureError | aiohttp.ClientError | OSError | TimeoutError)


def describe(exc: BaseException) -> str:
    status, code = status_of(exc), code_of(exc)
    if status is not None:
        return f"HTTP {status} {code}".rstrip()
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}"[:300]


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Translate SDK and network errors raised inside the block; our own errors pass through unchanged."""
    try:
        yield
    except PraisonSvcError:
        raise
    except (AzureError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        if isinstance(exc, ClientAuthenticationError):
            raise StorageUnavailable(
                f"Azure Storage refused our credentials while trying to {action} ({describe(exc)}); "
                "check the connection string or the managed identity's role assignments."
            ) from exc
        if is_unavailable(exc):
            raise StorageUnavailable(
                f"Azure Storage is unavailable; could not {action} ({describe(exc)})."
            ) from exc
        raise StorageError(f"Azure Storage refused to {action} ({describe(exc)}).") from exc
