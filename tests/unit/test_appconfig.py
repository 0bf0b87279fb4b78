"""praisonai.yaml: substitution, missing variables, unknown keys, invalid values, precedence, context.config."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from praisonai_svc import ServiceApp
from praisonai_svc.appconfig import load_document, parse_document
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import ConfigError
from praisonai_svc.services import Service
from praisonai_svc.settings import Settings, load_settings

ISSUE_EXAMPLE = """\
app: {title: "PraisonAI PPT", version: "2.1.0"}
server: {api_prefix: "", closing_timeout_seconds: 60}
services:
  ppt:   {enabled: true, autostart: true, concurrency: 2, timeout_minutes: 10, max_attempts: 3}
  video: {enabled: false}
  ticker: {enabled: true, interval_seconds: "${TICK_SECONDS:-5}"}
"""


class TickerConfig(BaseModel):
    interval_seconds: float = Field(1.0, gt=0)
    label: str = "tick"


class Ticker(Service):
    config_model = TickerConfig

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class PptConfig(BaseModel):
    theme: str = "plain"


def make_app(tmp_path: Path, text: str, **settings: Any) -> ServiceApp:
    (tmp_path / "praisonai.yaml").write_text(text)
    app = ServiceApp("Unit", settings=Settings(_env_file=None, **settings), backend=memory_backend())  # type: ignore[call-arg]
    app.root_dir = tmp_path

    @app.job("ppt", timeout_minutes=1, max_attempts=1, config_model=PptConfig)
    def ppt(payload: dict) -> tuple[bytes, str, str]:
        return b"", "text/plain", "a.txt"

    @app.job("video")
    def video(payload: dict) -> tuple[bytes, str, str]:
        return b"", "text/plain", "a.txt"

    app.register_service(Ticker, "ticker")
    return app


def test_the_issue_example_loads(tmp_path: Path) -> None:
    app = make_app(tmp_path, ISSUE_EXAMPLE)
    config = app.config
    assert app.title == "PraisonAI PPT" and config.app.version == "2.1.0"
    assert config.server.closing_timeout_seconds == 60
    assert config.options("video").enabled is False
    assert config.options("ticker").config == TickerConfig(interval_seconds=5)
    spec = app.services["ppt"]
    assert (spec.timeout_seconds, spec.max_attempts, spec.concurrency) == (600, 3, 2)
    assert config.options("ppt").config == PptConfig()


def test_substitution_uses_the_environment_then_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: ${ONE}\nb: ${TWO:-fallback}\nc: x-${ONE}-y\nd: '${THREE:-7}'\ne: ${THREE:-7}\nf: ${EMPTY:-}\n"
    doc = parse_document(text, environ={"ONE": "1"})
    assert doc.data == {"a": 1, "b": "fallback", "c": "x-1-y", "d": "7", "e": 7, "f": None}
    assert doc.lines[("e",)] == 5


def test_a_missing_variable_names_itself_and_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "praisonai.yaml"
    path.write_text("app:\n  title: demo\nservices:\n  ppt:\n    theme: ${PPT_THEME}\n")
    with pytest.raises(ConfigError) as caught:
        load_document(path, environ={})
    assert "PPT_THEME" in caught.value.message and f"{path}:5" in caught.value.message


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, "app: {title: x}\nservice:\n  ppt: {}\n")
    with pytest.raises(ConfigError) as caught:
        app.config  # noqa: B018
    assert "unknown section 'service'" in caught.value.message and "Did you mean 'services'?" in caught.value.message
    assert "praisonai.yaml:2" in caught.value.message


def test_unknown_service_name_suggests_the_registered_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, "services:\n  tikcer: {enabled: false}\n")
    with pytest.raises(ConfigError) as caught:
        app.config  # noqa: B018
    assert "unknown service 'tikcer'" in caught.value.message and "Did you mean 'ticker'?" in caught.value.message


def test_unknown_key_of_a_service_without_a_model_is_refused(tmp_path: Path) -> None:
    app = make_app(tmp_path, "services:\n  video:\n    enabeld: false\n")
    with pytest.raises(ConfigError) as caught:
        app.config  # noqa: B018
    assert "services.video.enabeld" in caught.value.message and "Did you mean 'enabled'?" in caught.value.message
    assert "praisonai.yaml:3" in caught.value.message


def test_invalid_values_name_the_key_and_line(tmp_path: Path) -> None:
    app = make_app(tmp_path, "services:\n  ticker:\n    enabled: true\n    interval_seconds: -2\n")
    with pytest.raises(ConfigError) as caught:
        app.config  # noqa: B018
    assert "praisonai.yaml:4" in caught.value.message and "interval_seconds" in caught.value.message
    app = make_app(tmp_path, "server:\n  closing_timeout_seconds: soon\n")
    with pytest.raises(ConfigError) as caught:
        app.config  # noqa: B018
    assert "praisonai.yaml:2" in caught.value.message and "closing_timeout_seconds" in caught.value.message


def test_sections_of_other_features_are_accepted_unread(tmp_path: Path) -> None:
    text = "plugins: {echo: {anything: 1}}\ntenants: [a]\n"
    app = make_app(tmp_path, text)
    assert app.config.document.section("plugins") == {"echo": {"anything": 1}}


def test_a_retention_section_is_refused_with_where_retention_goes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown section 'retention'"):
        _ = make_app(tmp_path, "retention: {days: 3}\n").config


def test_per_service_retention_and_idempotency_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "services:\n  ppt: {retention: 7d, idempotency_window: 2h}\n"
    monkeypatch.setenv("PRAISONAI_SERVICES__VIDEO__RETENTION", "36h")
    app = make_app(tmp_path, text)
    _ = app.config
    assert (app.services["ppt"].retention, app.services["ppt"].idempotency_window) == (
        timedelta(days=7), timedelta(hours=2))
    assert (app.services["video"].retention, app.services["video"].idempotency_window) == (timedelta(hours=36), None)


def test_a_window_longer_than_the_services_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"idempotency_window .* longer than its retention"):
        _ = make_app(tmp_path, "services:\n  ppt: {retention: 1h}\n").config  # the default window is 24h
    with pytest.raises(ConfigError, match=r"praisonai.yaml:2: .*retention: .*'soon' is not a duration"):
        _ = make_app(tmp_path, "services:\n  ppt: {retention: soon}\n").config


def test_environment_overrides_the_file_which_overrides_the_decorator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = ("server: {closing_timeout_seconds: 20}\n"
            "services:\n  ppt: {max_attempts: 4}\n  ticker: {interval_seconds: 3, label: file}\n")
    monkeypatch.setenv("PRAISONAI_SERVICES__TICKER__INTERVAL_SECONDS", "9")
    monkeypatch.setenv("PRAISONAI_CLOSING_TIMEOUT_SECONDS", "7")
    app = make_app(tmp_path, text, closing_timeout_seconds=load_settings().closing_timeout_seconds)
    assert app.config.options("ticker").config == TickerConfig(interval_seconds=9, label="file")  # env > file
    assert app.config.server.closing_timeout_seconds == 7  # env > file
    assert app.services["ppt"].max_attempts == 4  # file > decorator (max_attempts=1)
    assert app.services["ppt"].timeout_seconds == 60  # decorator, the file says nothing


def test_per_service_variables_are_not_unknown_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAISONAI_SERVICES__PPT__CONCURRENCY", "3")
    load_settings()  # no ConfigError: the services prefix is known
    monkeypatch.setenv("PRAISONAI_HEARTBEAT_SECOND", "3")
    with pytest.raises(ConfigError, match="PRAISONAI_HEARTBEAT_SECONDS"):
        load_settings()


def test_explicit_config_file_must_exist_and_wins_over_the_neighbour(tmp_path: Path) -> None:
    app = make_app(tmp_path, "services: {video: {enabled: false}}\n", config_file=tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        app.config  # noqa: B018
    other = tmp_path / "other.yaml"
    other.write_text("app: {title: Other}\n")
    app = make_app(tmp_path, "app: {title: Neighbour}\n", config_file=other)
    assert app.title == "Other"


def test_no_file_means_defaults(tmp_path: Path) -> None:
    app = ServiceApp("Plain", settings=Settings(_env_file=None), backend=memory_backend())  # type: ignore[call-arg]
    assert app.title == "Plain" and app.config.options("anything").enabled is True
    assert app.config.server.leader_lease_seconds == 60


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"<config>:2: not valid YAML"):
        parse_document("a: 1\nb: x: y\n")


class Needs(BaseModel):
    endpoint: str


class NeedsConfig(Ticker):
    config_model = Needs


def test_a_service_with_required_settings_may_wait_for_configure(tmp_path: Path) -> None:
    app = make_app(tmp_path, "services: {}\n")
    app.register_service(NeedsConfig, "printer")
    assert app.config.options("printer").config is None  # no error: it will need POST /services/printer/configure
    app = make_app(tmp_path, "services:\n  printer: {endpoin: x}\n")
    app.register_service(NeedsConfig, "printer")
    with pytest.raises(ConfigError, match="endpoint"):
        app.config  # noqa: B018
