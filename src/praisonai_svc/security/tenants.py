"""Tenant names and the ``PRAISONAI_TENANT_KEYS`` format.

A tenant is an organisation sharing the service: its keys (and tokens carrying its name) see only its jobs.
``PRAISONAI_TENANT_KEYS`` takes either ``tenant:key`` pairs separated by commas (a tenant may appear several
times, one pair per key, which is how its keys are rotated) or a JSON object ``{"tenant": "key"}`` /
``{"tenant": ["key1", "key2"]}``. Tenant names are 1-64 characters: letters, digits, ``.``, ``_``, ``-``,
starting with a letter or digit (they end up in storage keys and logs, so nothing else is accepted).
"""

from __future__ import annotations

import json
import re
from typing import Any

TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def valid_tenant(name: Any) -> bool:
    """Whether ``name`` is a usable tenant name."""
    return isinstance(name, str) and TENANT_NAME.fullmatch(name) is not None


def _pairs(text: str) -> dict[str, list[str]]:
    tenants: dict[str, list[str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        tenant, sep, key = item.partition(":")
        if not sep or not key.strip():
            raise ValueError("each entry must be tenant:key (e.g. acme:key1,globex:key2)")
        tenants.setdefault(tenant.strip(), []).append(key.strip())
    return tenants


def _json(text: str) -> dict[str, list[str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc.args[0]})") from None
    if not isinstance(data, dict):
        raise ValueError('the JSON form must be an object: {"tenant": ["key", ...]}')
    tenants: dict[str, list[str]] = {}
    for tenant, keys in data.items():
        values = [keys] if isinstance(keys, str) else keys
        if not isinstance(values, list) or not all(isinstance(key, str) and key for key in values):
            raise ValueError(f"the keys of tenant {tenant!r} must be a string or a list of strings")
        tenants[tenant] = list(values)
    return tenants


def parse_tenant_keys(value: Any) -> Any:
    """``PRAISONAI_TENANT_KEYS`` text → ``{tenant: [key, ...]}``; other values pass through to validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return {}
    return _json(text) if text.startswith("{") else _pairs(text)


def check_tenant_keys(tenants: dict[str, list[str]], plain_keys: list[str]) -> None:
    """Raise ValueError for a bad tenant name or a key given twice (it could not say which tenant it is)."""
    seen: set[str] = set(plain_keys)
    for tenant, keys in tenants.items():
        if not valid_tenant(tenant):
            raise ValueError(
                f"tenant name {tenant!r} is not allowed (1-64 letters, digits, '.', '_', '-'; first a letter or digit)"
            )
        for key in keys:
            if key in seen:
                raise ValueError(f"a key of tenant {tenant!r} is also configured elsewhere; every key must be unique")
            seen.add(key)
