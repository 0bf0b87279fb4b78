"""What an ``s3://bucket/prefix?endpoint_url=&region=&addressing_style=`` URL says, plus the credentials.

Credentials: seed 004's ``R2_ACCESS_KEY_ID`` / ``R2_SECRET_ACCESS_KEY`` when set, else boto3's own chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance or task role, ...). Secrets never go
into the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs

from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import Settings

_OPTIONS = {"endpoint_url", "region", "addressing_style"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    addressing_style: str
    access_key_id: str | None
    secret_access_key: str | None

    def key(self, name: str) -> str:
        return self.prefix + name


def parse_location(url: SplitResult, settings: Settings) -> S3Location:
    bucket = url.netloc
    if not bucket:
        raise ConfigError("PRAISONAI_BLOB_URL=s3://<bucket>[/prefix][?endpoint_url=...&region=...] needs a bucket.")
    query = {name: values[-1] for name, values in parse_qs(url.query).items()}
    unknown = set(query) - _OPTIONS
    if unknown:
        raise ConfigError(f"PRAISONAI_BLOB_URL: unknown s3 option(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(_OPTIONS))} (credentials come from the environment).")
    style = query.get("addressing_style", "auto" if not query.get("endpoint_url") else "path")
    if style not in ("auto", "path", "virtual"):
        raise ConfigError("PRAISONAI_BLOB_URL: addressing_style must be auto, path or virtual.")
    prefix = url.path.strip("/")
    key_id = settings.r2_access_key_id.get_secret_value() if settings.r2_access_key_id else None
    secret = settings.r2_secret_access_key.get_secret_value() if settings.r2_secret_access_key else None
    if bool(key_id) != bool(secret):
        raise ConfigError("R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY must be set together.")
    return S3Location(
        bucket=bucket, prefix=f"{prefix}/" if prefix else "", endpoint_url=query.get("endpoint_url") or None,
        region=query.get("region") or None, addressing_style=style, access_key_id=key_id, secret_access_key=secret,
    )
