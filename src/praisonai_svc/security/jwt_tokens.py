"""Bearer tokens: HS256 JWTs signed with the shared PRAISONAI_JWT_SECRET (seed 001 §6 option B).

WordPress (or any trusted backend) mints a short-lived token for the visitor's browser, which then calls the
API directly with ``Authorization: Bearer <token>``. Checked: the signature (HS256 only: ``alg: none`` and
algorithm confusion are refused by naming the one algorithm), ``exp`` (required), ``aud`` (required, must be
PRAISONAI_JWT_AUDIENCE), ``iss`` (required and checked when PRAISONAI_JWT_ISSUER is set), ``nbf``/``iat`` when
present, each with PRAISONAI_JWT_LEEWAY_SECONDS of clock skew.

A token is never an operator credential: it always sees a subset of the jobs. With a ``tenant`` claim it sees
that tenant's jobs (like the tenant's API keys); without one it sees only the jobs submitted with tokens for
the same ``sub`` (a browser visitor sees their own jobs, never another visitor's), and a token with neither
claim is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import jwt

from praisonai_svc.security.tenants import valid_tenant

ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits)
MAX_TOKEN_LENGTH = 8192  # a header this long is not a token we issued; do not spend time parsing it


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (safe to show: it never echoes the token)."""


SUBJECT_SCOPE_PREFIX = "~sub:"  # "~" cannot start a tenant name, so a subject scope never equals a tenant
_READABLE_SUBJECT = re.compile(r"^[\x21-\x7e]{1,128}$")
HASHED_MARK = "#"  # starts the scope of a subject stored by its hash (unreadable, too long, or starting with "#")


@dataclass(frozen=True)
class TokenClaims:
    subject: str | None
    tenant: str | None
    issuer: str | None = None  # kept for submission receipts (see receipts.py)

    @property
    def scope(self) -> str:
        """The tenant whose jobs the token sees: its ``tenant`` claim, else a scope of its own ``sub``."""
        if self.tenant is not None:
            return self.tenant
        subject = self.subject or ""
        # Injective: a readable subject is kept as it is, anything else becomes "#" + its hash, and a readable
        # subject may not start with "#" (it is hashed too), so no subject can name another subject's scope.
        if _READABLE_SUBJECT.fullmatch(subject) and not subject.startswith(HASHED_MARK):
            return SUBJECT_SCOPE_PREFIX + subject
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return SUBJECT_SCOPE_PREFIX + HASHED_MARK + digest


@dataclass(frozen=True)
class TokenVerifier:
    secret: bytes
    audience: str
    issuer: str | None
    leeway_seconds: int

    def verify(self, token: str) -> TokenClaims:
        """The token's claims, or :class:`InvalidToken` explaining what is wrong with it."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("the token is too long")
        required = ["exp", "aud"] + (["iss"] if self.issuer else [])
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway_seconds, options={"require": required, "verify_signature": True},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no '{exc.claim}' claim") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(_reason(exc)) from None
        return _claims(claims)


# Most specific first: InvalidSignatureError is a DecodeError, and every one of them an InvalidTokenError.
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, f"the token is not signed with {ALGORITHM}"),
    (jwt.DecodeError, "the token is malformed"),
)


def _reason(exc: jwt.InvalidTokenError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "the token is not acceptable"


def _claims(claims: dict[str, object]) -> TokenClaims:
    tenant = claims.get("tenant")
    if tenant is not None and not valid_tenant(tenant):
        raise InvalidToken("the token's 'tenant' claim is not a valid tenant name")
    subject = claims.get("sub")
    if tenant is None and not (isinstance(subject, str) and subject):
        raise InvalidToken("the token needs a 'sub' or a 'tenant' claim")
    issuer = claims.get("iss")
    return TokenClaims(subject=subject if isinstance(subject, str) else None,
                       tenant=tenant if isinstance(tenant, str) else None,
                       issuer=issuer if isinstance(issuer, str) else None)
