"""Submission receipts: the service's signed word that a bearer-token caller submitted a job.

In direct mode (WordPress mode B) the browser submits jobs to the service itself, so WordPress cannot know who
submitted a job id it is asked to remember: a job id alone (every signed link contains one) proves nothing. The
answer to ``POST /jobs`` authenticated with a bearer token therefore carries a *receipt*, in the body
(``receipt``) and in the ``X-Submission-Receipt`` header: a compact JWS (HS256) whose claims bind

* ``job`` — the job id, ``svc`` — its service,
* ``sub`` and ``iss`` — the subject and issuer of the token that submitted it (what WordPress put there),
* ``tenant`` — the token's ``tenant`` claim when it had one,
* ``iat`` / ``exp`` — issued now, valid for :data:`RECEIPT_TTL_SECONDS`.

WordPress records a job for its current user only when a receipt verifies, is unexpired, names that job and
that user's subject, and was issued for its own site. A receipt is useless to anyone else: another user's
subject does not match, and changing any claim breaks the signature.

The signing key is derived from ``PRAISONAI_JWT_SECRET`` (HMAC-SHA256 of :data:`KEY_LABEL` keyed with the
secret), not the secret itself, so a receipt can never pass as a bearer token nor a token as a receipt, whatever
their claims say. Only the holders of the JWT secret (the service and WordPress) can make or check one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
RECEIPT_HEADER = "X-Submission-Receipt"
RECEIPT_TYPE = "praisonai-receipt+jwt"  # the JOSE "typ" header: not a bearer token
KEY_LABEL = b"praisonai-svc submission receipt v1"
RECEIPT_TTL_SECONDS = 600  # the browser hands it to WordPress right after submitting


class InvalidReceipt(Exception):
    """The receipt does not prove anything; the message says why."""


@dataclass(frozen=True)
class Receipt:
    """The verified claims of a receipt."""

    job_id: str
    service: str
    subject: str | None
    issuer: str | None
    tenant: str | None
    expires: int


def receipt_key(jwt_secret: bytes) -> bytes:
    """The receipt signing key: HMAC-SHA256(key=PRAISONAI_JWT_SECRET, message=KEY_LABEL)."""
    return hmac.new(jwt_secret, KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class ReceiptSigner:
    """Issues and checks receipts with the key derived from the JWT secret."""

    key: bytes
    ttl_seconds: int = RECEIPT_TTL_SECONDS

    @classmethod
    def from_secret(cls, jwt_secret: str) -> ReceiptSigner:
        return cls(receipt_key(jwt_secret.encode()))

    def issue(self, *, job_id: str, service: str, subject: str | None, issuer: str | None,
              tenant: str | None, now: float | None = None) -> str:
        """A receipt for ``job_id`` submitted by the token with ``subject``/``issuer``/``tenant``."""
        issued = int(time.time() if now is None else now)
        claims: dict[str, object] = {"job": job_id, "svc": service, "iat": issued, "exp": issued + self.ttl_seconds}
        for name, value in (("sub", subject), ("iss", issuer), ("tenant", tenant)):
            if value is not None:
                claims[name] = value
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"typ": RECEIPT_TYPE})

    def verify(self, receipt: str, *, now: float | None = None) -> Receipt:
        """The receipt's claims, or :class:`InvalidReceipt` (bad signature, wrong type, expired, malformed)."""
        try:
            header = jwt.get_unverified_header(receipt)
            claims = jwt.decode(receipt, self.key, algorithms=[ALGORITHM],
                                options={"require": ["exp", "job"], "verify_exp": False, "verify_aud": False})
        except jwt.InvalidTokenError:
            raise InvalidReceipt("the receipt's signature does not verify or it is malformed") from None
        if int(claims["exp"]) <= int(time.time() if now is None else now):
            raise InvalidReceipt("the receipt has expired")
        if header.get("typ") != RECEIPT_TYPE:
            raise InvalidReceipt("this is not a submission receipt")
        return Receipt(job_id=str(claims["job"]), service=str(claims.get("svc", "")),
                       subject=_text(claims.get("sub")), issuer=_text(claims.get("iss")),
                       tenant=_text(claims.get("tenant")), expires=int(claims["exp"]))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
