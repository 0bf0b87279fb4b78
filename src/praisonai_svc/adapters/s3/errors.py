"""botocore's errors → ours: a missing object is BlobNotFound, an outage StorageUnavailable, a refusal (access
denied, no such bucket) a StorageError that says what to fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from praisonai_svc.errors import BlobNotFound, StorageError, StorageUnavailable

MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_TRANSIENT = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def s3_errors(action: str, bucket: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in MISSING:
            raise BlobNotFound() from exc
        if code in _TRANSIENT:
            raise StorageUnavailable(f"S3 could not {action} (bucket {bucket}): {code}; retry shortly.") from exc
        if code in ("NoSuchBucket", "AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StorageUnavailable(
                f"S3 refused to {action} in bucket {bucket} ({code}): check that the bucket exists and that the "
                f"credentials may read and write it."
            ) from exc
        raise StorageError(f"S3 could not {action} (bucket {bucket}): {code or exc}") from exc
    except NoCredentialsError as exc:
        raise StorageUnavailable(
            "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or R2_ACCESS_KEY_ID and "
            "R2_SECRET_ACCESS_KEY for Cloudflare R2)."
        ) from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise StorageUnavailable(f"S3 is unreachable ({action}, bucket {bucket}): {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 could not {action} (bucket {bucket}): {exc}") from exc
