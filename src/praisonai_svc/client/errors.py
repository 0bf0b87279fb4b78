"""What the client raises: one root, :class:`ClientError`, and a class per HTTP failure a caller handles."""

from __future__ import annotations

import httpx

from praisonai_svc.errors import PraisonSvcError


class ClientError(PraisonSvcError):
    """The service answered with an error (``status`` and the service's ``detail``)."""

    def __init__(self, message: str | None = None, *, status: int = 0, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class BadRequest(ClientError):
    """The request was malformed or invalid (400, 413, 422); nothing was queued."""


class Unauthorized(ClientError):
    """Missing or wrong API key or token (401): pass api_key= (or token=) to the client."""


class Forbidden(ClientError):
    """The credentials do not allow this (403)."""


class NotFound(ClientError):
    """No such job, output or route (404) — or it belongs to another tenant."""


class Conflict(ClientError):
    """The job is not in a state that allows this (409), e.g. not done yet."""


class RateLimited(ClientError):
    """Too many requests or a quota used up (429); ``retry_after`` says how many seconds to wait."""

    def __init__(self, message: str | None = None, *, status: int = 429, body: object = None,
                 retry_after: float = 1.0) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class ServiceUnavailable(ClientError):
    """The service or its storage is unavailable (503) even after the client's retries."""


class WaitTimeout(ClientError):
    """The job did not finish within the time the caller was willing to wait."""


class ConnectionFailed(ClientError):
    """The service could not be reached: check the URL and that it is running."""


_BY_STATUS: dict[int, type[ClientError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: BadRequest,
    422: BadRequest, 429: RateLimited, 503: ServiceUnavailable,
}


def retry_after(response: httpx.Response, default: float = 1.0) -> float:
    """The Retry-After header in seconds (HTTP-date forms are rare here and read as ``default``)."""
    try:
        return max(float(response.headers.get("retry-after", default)), 0.0)
    except ValueError:
        return default


def error_for(response: httpx.Response) -> ClientError:
    """The exception for an error response, carrying the service's ``detail`` text (or a plugin envelope's
    ``error``: ``{"success": false, "error": "..."}``)."""
    try:
        body: object = response.json()
    except ValueError:
        body = response.text
    detail = (body.get("detail") or body.get("error")) if isinstance(body, dict) else body
    message = f"HTTP {response.status_code}: {detail or response.reason_phrase}"
    kind = _BY_STATUS.get(response.status_code, ClientError)
    if kind is RateLimited:
        return RateLimited(message, body=body, retry_after=retry_after(response))
    return kind(message, status=response.status_code, body=body)
