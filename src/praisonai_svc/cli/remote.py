"""The CLI's one way to talk to a running service: :class:`praisonai_svc.client.Client` (credentials only to the
service's own origin, 429/503 waited out as Retry-After says), its errors shown as the service worded them."""

from __future__ import annotations

from typing import Any

import click

from praisonai_svc.client import Client, ClientError

URL_OPTION = click.option("--url", envvar="PRAISONAI_URL", default="http://127.0.0.1:8080", show_default=True,
                          show_envvar=True, help="Base URL of the service.")


def first_key(api_key: str | None) -> str | None:
    """The first key of a comma-separated PRAISONAI_API_KEY list (what a client presents), or None."""
    key = api_key.split(",")[0].strip() if api_key else ""
    return key or None


def client_for(url: str, api_key: str | None = None, admin_key: str | None = None) -> Client:
    return Client(url, api_key=first_key(api_key), admin_key=admin_key or None)


def call(url: str, method: str, path: str, *, api_key: str | None = None, admin_key: str | None = None,
         **kwargs: Any) -> Any:
    """One request's JSON answer; a ClickException with the service's ``detail`` for an error answer."""
    with client_for(url, api_key, admin_key) as client:
        try:
            return client.request(method, path, headers={"Accept": "application/json"}, **kwargs).json()
        except ClientError as exc:
            raise click.ClickException(exc.message) from exc

