"""Shared CLI options: each defaults from its PRAISONAI_ variable, and --help says which."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from praisonai_svc.app import ServiceApp
from praisonai_svc.errors import ConfigError, HandlerLoadError
from praisonai_svc.loader import load_app
from praisonai_svc.logs import configure_logging
from praisonai_svc.settings import ENV_PREFIX, Settings

F = Callable[..., Any]


def env_option(*names: str, setting: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option whose value, when given, is exported as PRAISONAI_<SETTING> (so child processes see it)."""
    field = Settings.model_fields[setting]
    default = field.default if field.default_factory is None else None
    var = ENV_PREFIX + setting.upper()
    help_text = f"{kwargs.pop('help', field.description or '')} [env: {var}; default: {default}]"
    return click.option(*names, setting, default=None, help=help_text, **kwargs)


def export_overrides(**values: Any) -> None:
    for setting, value in values.items():
        if value is not None:
            os.environ[ENV_PREFIX + setting.upper()] = str(value)


def target_argument() -> Callable[[F], F]:
    return click.argument("target", required=False, metavar="[PATH | module:attr]")


def load(target: str | None) -> ServiceApp:
    """Load the app and settings, turning our errors into clean CLI errors."""
    try:
        app = load_app(target)
        settings = app.settings
        app.config  # noqa: B018 - praisonai.yaml: an invalid file stops the start here, with file:line
    except (HandlerLoadError, ConfigError) as exc:
        raise click.ClickException(exc.message) from exc
    configure_logging(settings.log_level, settings.log_format)
    return app
