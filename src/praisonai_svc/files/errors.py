"""What the files feature raises on purpose. Each is a subclass of the error the API already maps to the right
status code (api/errors.py), so the mapping stays in one place."""

from __future__ import annotations

from praisonai_svc.errors import JobNotFound, JobNotReady, PayloadError, PayloadTooLarge


class FileNotFound(JobNotFound):
    """File not found."""


class FileRejected(PayloadError):
    """The upload was refused (type, content or form); nothing was stored."""


class FileTooLarge(PayloadTooLarge):
    """The file is larger than PRAISONAI_FILES_MAX_SIZE; nothing was stored."""


class FileConflict(JobNotReady):
    """The file is not in a state that allows this (409)."""

    def __init__(self, message: str, status: str = "") -> None:
        self.status = status
        self.message = message
        Exception.__init__(self, message)


FILE_NOT_PROCESSED = "File not processed yet"  # the seed's words, which its clients may match
