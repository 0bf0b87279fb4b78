"""One exception root for everything praisonai-svc raises on purpose.

Each class's docstring is its default message, so ``raise JobNotFound()`` already says something useful.
The HTTP layer maps these to status codes in exactly one place (``api/errors.py``).
"""

from __future__ import annotations


class PraisonSvcError(Exception):
    """praisonai-svc failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)

    def details(self) -> dict[str, object]:
        """Machine-readable fields the HTTP error body carries beside ``detail`` (none by default)."""
        return {}


class ConfigError(PraisonSvcError):
    """The configuration is invalid; fix the named setting and start again."""


class HandlerLoadError(PraisonSvcError):
    """The service file could not be loaded."""


class PayloadError(PraisonSvcError):
    """The job request is malformed or invalid; nothing was queued."""


class PayloadTooLarge(PayloadError):
    """The request body is larger than PRAISONAI_MAX_PAYLOAD_SIZE; nothing was queued."""


class RequestTimeout(PayloadError):
    """The request body did not arrive in time; nothing was queued. Send the whole body promptly."""


class UnknownService(PayloadError):
    """The request names a service this app does not host."""


class ServiceDisabled(PraisonSvcError):
    """The service is disabled (enabled: false in praisonai.yaml); nothing was queued."""


class ServiceNotRunning(ServiceDisabled):
    """The service is not running in this process right now; start it, or try again shortly."""


class ServiceNotFound(PraisonSvcError):
    """This app has no service of that name."""


class JobNotFound(PraisonSvcError):
    """No job with that id exists."""


class OutputNotFound(JobNotFound):
    """The job has no output file of that name; GET /jobs/{id} lists its outputs."""


class JobNotReady(PraisonSvcError):
    """The job has no result yet."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"Job is not done yet (status: {status}); poll GET /jobs/{{id}} and try again.")


class StorageError(PraisonSvcError):
    """The storage backend failed."""


class StorageUnavailable(StorageError):
    """The storage backend cannot be reached right now; retry shortly."""


class Overloaded(PraisonSvcError):
    """The API is too busy to take this request now; retry after Retry-After seconds."""


class ConcurrencyConflict(StorageError):
    """Someone else changed this record first (ETag mismatch); re-read it and decide again."""


class LeaseLost(StorageError):
    """The queue message lease expired or was taken by another worker."""


class BlobNotFound(StorageError):
    """No stored result exists under that name."""


class InvalidSignature(PraisonSvcError):
    """The download link is invalid or has expired; ask GET /jobs/{id}/download for a fresh one."""


class AuthenticationFailed(PraisonSvcError):
    """Missing or invalid credentials: send an API key in the X-API-Key header or a token as Authorization: Bearer."""


class RateLimited(PraisonSvcError):
    """Too many requests; retry after the number of seconds in Retry-After."""

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = max(int(retry_after), 1)


class QuotaExceeded(RateLimited):
    """The tenant's daily quota is used up; it resets at midnight UTC."""

    def __init__(self, quota: str, limit: float, resets_utc: str, retry_after: int) -> None:
        super().__init__(
            f"Quota {quota} ({limit:g} per day) is used up for this tenant; it resets at {resets_utc}. "
            "Retry after that, or ask the operator for a higher quota.", retry_after=retry_after)
        self.quota = quota
        self.limit = limit
        self.resets_utc = resets_utc

    def details(self) -> dict[str, object]:
        return {"quota": self.quota, "limit": self.limit, "resets_utc": self.resets_utc}


class JobFailed(PraisonSvcError):
    """The job failed and must not be retried.

    Raise this (or a subclass) from a handler to fail a job at once, without using up the retry budget,
    e.g. when the payload can never succeed. Its message becomes the job's ``error_msg``.
    """


NonRetryableError = JobFailed


class HandlerResultError(JobFailed):
    """The handler returned something other than (bytes, content_type, filename)."""


class OutputStreamSpent(PraisonSvcError):
    """An output's file object was read once and cannot be rewound to be stored again; the attempt fails (and is
    retried: the handler makes a new one)."""


class JobCancelled(PraisonSvcError):
    """The job was cancelled (POST /jobs/{id}/cancel); it ends ``cancelled`` and is never retried.

    ``context.raise_if_cancelled()`` raises it inside a handler that checks for cancellation.
    """


class JobNotCancellable(PraisonSvcError):
    """The job has already finished and cannot be cancelled."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(f"Job already ended (status: {status}); only queued or processing jobs can be cancelled.")


class JobTimeout(PraisonSvcError):
    """The job ran past its time limit."""


class PluginNotFound(PraisonSvcError):
    """Plugin not found"""


class PluginDisabled(PraisonSvcError):
    """This plugin is disabled; enable it in the plugins: section of the configuration."""


class PluginTimeout(PraisonSvcError):
    """The plugin did not answer within its time budget (sync_timeout_seconds); retry with ?mode=async."""


class FetchFailed(PraisonSvcError):
    """Downloading the input failed."""


class FetchRefused(FetchFailed):
    """The URL is not allowed: only public http(s) addresses are fetched (see PRAISONAI_FETCH_ALLOWED_HOSTS)."""


class RecordNotFound(PraisonSvcError):
    """No record with that kind and id exists."""


class RecordExists(StorageError):
    """A record with that kind and id already exists."""


class RecordTooLarge(StorageError):
    """The record's body is too large for the record store; keep large content in the blob store."""


class JobDeferred(PraisonSvcError):
    """The job has nothing to do until later: give its message back with a delay, without spending an attempt.

    Built-in services that wait (a workflow execution waiting for a child job or a ``delay`` step) raise it
    instead of sleeping, so that waiting never holds a worker slot.
    """

    def __init__(self, delay: float, message: str | None = None) -> None:
        super().__init__(message or f"deferred for {delay:g} s")
        self.delay = max(0.0, delay)
