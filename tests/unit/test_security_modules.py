"""Unit tests of the security modules: keys, tenants, JWTs, client addresses, rate limits, headers, origins."""

from __future__ import annotations

import asyncio
import hmac
import time

import jwt
import pytest

from praisonai_svc.adapters.memory import MemoryRateLimiter
from praisonai_svc.adapters.windows import current_window, decide, key_digest
from praisonai_svc.errors import ConfigError, RateLimited
from praisonai_svc.security.client_ip import UNKNOWN, client_ip, forwarded_entries, rate_key
from praisonai_svc.security.headers import DOCS_CSP, headers_for
from praisonai_svc.security.jwt_tokens import MAX_TOKEN_LENGTH, InvalidToken, TokenVerifier
from praisonai_svc.security.keys import KeyRing, key_matches
from praisonai_svc.security.origins import check_origins
from praisonai_svc.security.rate_limit import Blocklist, enforce, enforce_all
from praisonai_svc.security.tenants import check_tenant_keys, parse_tenant_keys, valid_tenant
from praisonai_svc.settings import Settings, load_settings

SECRET = "unit-test-secret-" + "x" * 48


# --- keys ----------------------------------------------------------------------------------------------------


def test_key_ring_finds_the_key_and_its_tenant():
    ring = KeyRing(["op-1", "op-2"], {"acme": ["a-1", "a-2"], "globex": ["g-1"]})
    assert ring.match("op-2").tenant is None
    assert ring.match("a-2").tenant == "acme" and ring.match("g-1").tenant == "globex"
    for wrong in ("", "op", "op-1 ", "A-1", "a-1a", "\udcff"):
        assert ring.match(wrong) is None
    assert key_matches("new", ["old", "new"]) and not key_matches("x", ["old", "new"]) and not key_matches("x", [])
    assert not KeyRing([], {}) and KeyRing(["k"], {})


def test_every_key_is_compared_every_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    ring = KeyRing(["k1", "k2"], {"acme": ["k3"]})
    for candidate in ("k1", "k3", "nope"):
        calls.clear()
        ring.match(candidate)
        assert len(calls) == 3, "no early exit: timing must not tell which key (or whether any) matched"


def test_fingerprints_are_stable_distinct_and_do_not_contain_the_key():
    ring = KeyRing(["secret-key-one", "secret-key-two"], {})
    first, second = (entry.fingerprint for entry in ring.entries)
    assert first != second and len(first) == 16
    assert "secret" not in first and KeyRing(["secret-key-one"], {}).entries[0].fingerprint == first


# --- tenants -------------------------------------------------------------------------------------------------


def test_tenant_keys_in_both_formats():
    assert parse_tenant_keys("acme:k1, globex:k2,acme:k3") == {"acme": ["k1", "k3"], "globex": ["k2"]}
    assert parse_tenant_keys('{"acme": "k1", "globex": ["k2", "k3"]}') == {"acme": ["k1"], "globex": ["k2", "k3"]}
    assert parse_tenant_keys("acme:k:with:colons") == {"acme": ["k:with:colons"]}
    assert parse_tenant_keys("") == {} and parse_tenant_keys({"a": ["b"]}) == {"a": ["b"]}
    for bad in ("acme", "acme:", '{"acme": 3}', '{"acme": [""]}', "{not json"):
        with pytest.raises(ValueError):
            parse_tenant_keys(bad)


def test_tenant_names_and_duplicate_keys_are_checked():
    assert valid_tenant("acme") and valid_tenant("Acme-2.eu_west") and valid_tenant("a" * 64)
    for name in ("", "-acme", "../x", "a b", "a/b", "a" * 65, "ünï", None, 3):
        assert not valid_tenant(name)
    check_tenant_keys({"acme": ["k1"], "globex": ["k2"]}, ["op"])
    with pytest.raises(ValueError, match="unique"):
        check_tenant_keys({"acme": ["k1"], "globex": ["k1"]}, [])
    with pytest.raises(ValueError, match="unique"):
        check_tenant_keys({"acme": ["op"]}, ["op"])
    with pytest.raises(ValueError, match="not allowed"):
        check_tenant_keys({"bad name": ["k"]}, [])


def test_security_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("PRAISONAI_API_KEY", "op-key-1,op-key-2")
    monkeypatch.setenv("PRAISONAI_TENANT_KEYS", "acme:acme-key-1,globex:globex-key-1")
    monkeypatch.setenv("PRAISONAI_JWT_SECRET", SECRET)
    monkeypatch.setenv("PRAISONAI_AZURE_STORAGE_CONNECTION_STRING", "AccountName=a;AccountKey=c2VjcmV0")
    monkeypatch.setenv("PRAISONAI_TRUSTED_PROXY_HOPS", "1")
    settings = load_settings()
    assert settings.tenant_key_map == {"acme": ["acme-key-1"], "globex": ["globex-key-1"]}
    assert settings.jwt_secret_value == SECRET and settings.trusted_proxy_hops == 1
    assert (settings.rate_limit_submit_per_minute, settings.rate_limit_read_per_minute) == (10, 600)
    assert (settings.rate_limit_auth_failures_per_minute, settings.rate_limit_submit_per_key_per_minute) == (20, 0)
    assert settings.jwt_audience == "praisonai-svc" and settings.jwt_leeway_seconds == 30
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for secret in ("op-key-1", "acme-key-1", SECRET, "c2VjcmV0"):
        assert secret not in shown


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("PRAISONAI_TENANT_KEYS", "acme:dup,globex:dup", "PRAISONAI_TENANT_KEYS"),
    ("PRAISONAI_TENANT_KEYS", "no-colon-here", "PRAISONAI_TENANT_KEYS"),
    ("PRAISONAI_JWT_SECRET", "too-short-secret", "at least 32"),
    ("PRAISONAI_CORS_ORIGINS", "https://wp.example/", "PRAISONAI_CORS_ORIGINS"),
    ("PRAISONAI_TRUSTED_PROXY_HOPS", "-1", "PRAISONAI_TRUSTED_PROXY_HOPS"),
    ("PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE", "-5", "PRAISONAI_RATE_LIMIT_SUBMIT_PER_MINUTE"),
])
def test_bad_security_settings_fail_at_start_without_echoing_secrets(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=says) as caught:
        load_settings()
    assert "dup" not in str(caught.value) and "too-short-secret" not in str(caught.value)


# --- JWT -----------------------------------------------------------------------------------------------------


def verifier(issuer: str | None = "https://wp.example") -> TokenVerifier:
    return TokenVerifier(SECRET.encode(), "praisonai-svc", issuer, 30)


def make(secret: str = SECRET, algorithm: str = "HS256", **claims: object) -> str:
    now = int(time.time())
    body: dict[str, object] = {"exp": now + 60, "aud": "praisonai-svc", "iss": "https://wp.example", "sub": "u1"}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm=algorithm)


def test_a_sound_token_gives_its_subject_and_tenant():
    tenant = verifier().verify(make(tenant="acme"))
    assert tenant.tenant == "acme" and tenant.scope == "acme"
    plain = verifier().verify(make())
    assert plain.tenant is None and plain.subject == "u1" and plain.scope == "~sub:u1"
    assert verifier().verify(make(sub=None, tenant="acme")).scope == "acme"
    odd = verifier().verify(make(sub="visitor with spaces " + "z" * 200)).scope
    assert odd.startswith("~sub:#") and len(odd) == len("~sub:#") + 32
    with pytest.raises(InvalidToken, match="'sub' or a 'tenant'"):
        verifier().verify(make(sub=None))
    assert verifier().verify(make(exp=int(time.time()) - 20)).subject == "u1", "30 s of clock skew"
    assert verifier(issuer=None).verify(make(iss=None)).subject == "u1", "no issuer configured: iss not required"


@pytest.mark.parametrize(("claims", "says"), [
    ({"exp": lambda now: now - 120}, "expired"),
    ({"aud": "other"}, "audience"),
    ({"aud": None}, "'aud'"),
    ({"iss": "https://evil.example"}, "issuer"),
    ({"iss": None}, "'iss'"),
    ({"exp": None}, "'exp'"),
    ({"nbf": lambda now: now + 600}, "not valid yet"),
    ({"secret": "another-secret-another-secret-another"}, "signature"),
    ({"algorithm": "HS512"}, "HS256"),
    ({"algorithm": "none", "secret": ""}, "HS256"),
    ({"tenant": "../etc"}, "tenant"),
    ({"tenant": 7}, "tenant"),
])
def test_bad_tokens_are_refused_with_the_reason(claims, says):
    now = int(time.time())  # times relative to the test, not to collection (which may be minutes earlier)
    claims = {name: value(now) if callable(value) else value for name, value in claims.items()}
    with pytest.raises(InvalidToken, match=says) as caught:
        verifier().verify(make(**claims))  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("text", ["", "abc", "a.b.c", "x" * (MAX_TOKEN_LENGTH + 1)])
def test_garbage_is_not_a_token(text):
    with pytest.raises(InvalidToken):
        verifier().verify(text)


# --- client address ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("peer", "headers", "hops", "expected"), [
    ("10.0.0.5", ["203.0.113.9"], 0, "10.0.0.5"),  # hops 0: the header is ignored
    ("10.0.0.5", [], 1, "10.0.0.5"),  # fewer entries than hops: the peer
    ("10.0.0.5", ["198.51.100.1, 203.0.113.9"], 1, "203.0.113.9"),  # the proxy's entry, not the client's claim
    ("10.0.0.5", ["198.51.100.1, 203.0.113.9"], 2, "198.51.100.1"),
    ("10.0.0.5", ["203.0.113.9"], 2, "10.0.0.5"),
    ("10.0.0.5", ["198.51.100.1", "203.0.113.9"], 1, "203.0.113.9"),  # repeated headers are one list
    ("10.0.0.5", ["garbage"], 1, "10.0.0.5"),
    ("10.0.0.5", ["203.0.113.9:4711"], 1, "203.0.113.9"),
    ("10.0.0.5", ["[2001:db8::7]:443"], 1, "2001:db8::7"),
    ("10.0.0.5", ["2001:db8::7"], 1, "2001:db8::7"),
    ("testclient", [], 0, UNKNOWN),
    (None, [], 0, UNKNOWN),
])
def test_client_ip(peer, headers, hops, expected):
    assert client_ip(peer, headers, hops) == expected


def test_forwarded_entries_and_rate_keys():
    assert forwarded_entries(["a, b", " c ,", ""]) == ["a", "b", "c"]
    assert rate_key("203.0.113.9") == "203.0.113.9"
    assert rate_key("2001:db8:1:2:aaaa::1") == rate_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert rate_key("2001:db8:1:3::1") != rate_key("2001:db8:1:2::1")
    assert rate_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert rate_key(UNKNOWN) == UNKNOWN


# --- rate limits ---------------------------------------------------------------------------------------------


def test_windows_are_aligned_and_retry_after_is_at_least_one_second():
    assert current_window(60, now=120.0) == (120, 60)
    assert current_window(60, now=179.2) == (120, 1)
    assert current_window(60, now=179.99) == (120, 1)
    assert current_window(10, now=125.5) == (120, 5)
    assert decide(3, 3, 9).allowed and decide(3, 3, 9).retry_after == 0
    assert not decide(4, 3, 9).allowed and decide(4, 3, 9).retry_after == 9
    assert len(key_digest("x" * 5000)) == 40 and key_digest("a") != key_digest("b")
    with pytest.raises(ValueError):
        current_window(0)


async def test_enforce_raises_429_material_and_zero_means_unlimited():
    limiter = MemoryRateLimiter()
    await enforce(limiter, "k", 2, "things")
    await enforce(limiter, "k", 2, "things")
    with pytest.raises(RateLimited, match="at most 2 things per minute") as caught:
        await enforce(limiter, "k", 2, "things")
    assert 1 <= caught.value.retry_after <= 60
    for _ in range(100):
        await enforce(limiter, "free", 0, "things")
    assert (await limiter.hit("free", 60, 1)).count == 1, "a limit of 0 never touches the counter"
    with pytest.raises(RateLimited):
        await enforce_all(limiter, [("k", 2, "a"), ("other", 5, "b")])
    assert (await limiter.hit("other", 60, 5)).count == 2, "both limits were counted"


async def test_memory_limiter_forgets_ended_windows():
    limiter = MemoryRateLimiter()
    for i in range(MemoryRateLimiter._SWEEP_EVERY):
        await limiter.hit(f"short-{i}", 1, 5)
    await asyncio.sleep(1.1)
    for _ in range(MemoryRateLimiter._SWEEP_EVERY):
        await limiter.hit("long", 60, 10_000)
    assert len(limiter._counts) <= 2


def test_blocklist_expires_and_stays_bounded():
    blocked = Blocklist(max_entries=3)
    assert blocked.retry_after("a") is None
    blocked.block("a", 30)
    assert 29 <= (blocked.retry_after("a") or 0) <= 30
    blocked.block("gone", 0)
    assert blocked.retry_after("gone") is None
    for name in "bcdef":
        blocked.block(name, 30)
    assert len(blocked._until) <= 3 and blocked.retry_after("f") is not None


# --- headers and origins -------------------------------------------------------------------------------------


def test_headers_for_api_and_docs():
    api = headers_for("/jobs")
    assert api["Content-Security-Policy"].startswith("default-src 'none'")
    assert api["X-Frame-Options"] == "DENY" and api["Cache-Control"] == "no-store"
    assert api["X-Content-Type-Options"] == "nosniff" and api["Referrer-Policy"] == "no-referrer"
    assert headers_for("/docs")["Content-Security-Policy"] == DOCS_CSP
    assert "frame-ancestors 'none'" in DOCS_CSP and "script-src 'self';" in DOCS_CSP
    assert "http" not in DOCS_CSP and "unsafe-eval" not in DOCS_CSP  # no CDN, nothing but the API itself


def test_origins_must_be_exact():
    assert check_origins(["*"]) == ["*"]
    assert check_origins(["https://wp.example", "http://localhost:8080"]) == [
        "https://wp.example", "http://localhost:8080"]
    for bad in (["https://wp.example/"], ["https://wp.example/path"], ["https://*.example"], ["wp.example"],
                ["ftp://wp.example"], ["*", "https://wp.example"], ["https://u:p@wp.example"],
                ["https://wp.example:99999"]):
        with pytest.raises(ValueError):
            check_origins(bad)
    with pytest.raises(ValueError):
        Settings(_env_file=None, cors_origins="https://wp.example/")  # type: ignore[call-arg]
