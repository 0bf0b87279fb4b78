"""Plugins in-process (memory backend, FastAPI's TestClient): registration, the envelope of every failure the
framework itself produces, configuration files, and the layering rule that api/ and plugins/ import no adapter."""

from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from praisonai_svc import ServiceApp
from praisonai_svc.api.factory import create_api
from praisonai_svc.backend import memory_backend
from praisonai_svc.errors import ConfigError, PayloadError
from praisonai_svc.plugins import BasePlugin, ProcessingMode
from praisonai_svc.settings import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "praisonai_svc"


class Text(BaseModel):
    text: str


class EchoPlugin(BasePlugin):
    name = "ai-echo"
    display_name = "Echo"
    category = "ai"
    input_model = Text
    uses_process_pool = False

    async def process(self, input: dict[str, Any]) -> dict[str, Any]:
        if input["text"] == "boom":
            raise PayloadError("boom is not a word")
        return {"text": input["text"]}


def make_app(**settings: Any) -> ServiceApp:
    app = ServiceApp("Plugins", settings=Settings(_env_file=None, worker_poll_interval_min=0.01,  # type: ignore[call-arg]
                                                  worker_poll_interval_max=0.05, **settings), backend=memory_backend())
    app.register_plugin(EchoPlugin())

    @app.capability("ai-later", category="ai", processing_mode=ProcessingMode.ASYNC)
    async def later(input: Text) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"later": input.text}

    return app


def envelope(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and set(body) == {"success", "error"}
    return str(body["error"])


def test_sync_call_and_envelopes_of_framework_errors() -> None:
    app = make_app(api_key=["k"], max_payload_size=2048, rate_limit_submit_per_minute=0)
    with TestClient(create_api(app)) as client:
        headers = {"X-API-Key": "k"}
        body = client.post("/api/v1/ai/echo", json={"text": "hi"}, headers=headers).json()
        assert body["success"] is True and body["data"] == {"text": "hi"} and body["execution_time_ms"] >= 0
        meter = client.app.state.job_service.meter  # type: ignore[attr-defined]
        [used] = [counts for key, counts in meter._totals.items() if key.is_hour and key.service == "ai-echo"]
        assert (used.jobs_submitted, used.jobs_done, used.jobs_failed) == (1, 1, 0) and used.bytes_out > 0
        assert envelope(client.post("/api/v1/ai/echo", json={"text": "boom"}, headers=headers), 400) == \
            "boom is not a word"
        assert envelope(client.post("/api/v1/ai/echo", json={}, headers=headers), 400) == \
            "Missing required parameter: text"
        assert envelope(client.post("/api/v1/ai/echo", json={"text": "x" * 4000}, headers=headers), 413)
        assert envelope(client.get("/api/v1/ai/echo", headers=headers), 405)
        assert envelope(client.post("/api/v1/ai/echo", content=b"[1]", headers={**headers,
                        "content-type": "application/json"}), 400).startswith("The body must be a JSON object")
        assert envelope(client.post("/api/v1/ai/echo?mode=later", json={"text": "a"}, headers=headers), 400) == \
            "mode must be 'sync' or 'async'."
        assert envelope(client.post("/api/v1/ai/echo", json={"text": "a"}), 401) == "Invalid API key"
        assert client.get("/jobs/nope", headers=headers).json() == {"detail": "No job with that id exists."}


def test_plugin_calls_count_against_the_submission_limit() -> None:
    with TestClient(create_api(make_app(rate_limit_submit_per_minute=1))) as client:
        # Windows are aligned to the clock: if one ends between two calls, the third call is the second in its window.
        answers = [client.post("/api/v1/ai/echo", json={"text": "a"}) for _ in range(3)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited and envelope(limited[0], 429).startswith("Rate limit reached")
    assert limited[0].headers["retry-after"]


def test_async_mode_queues_the_plugins_job_and_the_worker_runs_it() -> None:
    app = make_app()
    with TestClient(create_api(app, embedded_worker=True)) as client:
        queued = client.post("/api/v1/ai/later", json={"text": "x"})  # an ASYNC plugin: queued without ?mode
        assert queued.status_code == 202 and queued.json()["success"] is True
        job_id = queued.json()["data"]["job_id"]
        assert queued.headers["location"] == f"/jobs/{job_id}"
        assert client.post("/api/v1/ai/later", json={"text": "x"}).status_code == 200  # idempotent hit
        for _ in range(500):
            job = client.get(f"/jobs/{job_id}").json()
            if job["status"] in ("done", "error"):
                break
            time.sleep(0.01)
        assert job["status"] == "done", job
        assert job["service"] == "ai-later"


def test_registration_refuses_what_cannot_be_served() -> None:
    app = ServiceApp("x")

    class Nameless(EchoPlugin):
        name = "echo"

    with pytest.raises(ConfigError, match="name must be 'ai-<action>'"):
        app.register_plugin(Nameless())
    app.register_plugin(EchoPlugin())
    with pytest.raises(ConfigError, match="registered twice"):
        app.register_plugin(EchoPlugin())

    def local_def(input: Text) -> dict[str, str]:
        return {}

    with pytest.raises(ConfigError, match="module level"):
        app.capability("ai-local", category="ai")(local_def)
    with pytest.raises(ConfigError, match="Pydantic model"):
        app.capability("ai-untyped", category="ai")(lambda input: {})
    with pytest.raises(ConfigError, match="Invalid configuration of plugin 'ai-echo'"):
        EchoPlugin({"sync_timeout_seconds": -1})


def test_plugin_files_seed_then_app_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "plugins.yaml").write_text(
        "plugins:\n  ai-echo:\n    enabled: true\n    max_file_size: ${SIZE:-100}\n    sync_timeout_seconds: 5\n")
    (tmp_path / "praisonai.yaml").write_text("plugins:\n  ai-echo:\n    enabled: ${ECHO_ON}\n")
    app = make_app()
    app.root_dir = tmp_path  # what the loader sets: the handlers file's directory
    monkeypatch.setenv("ECHO_ON", "false")
    sections = app.plugin_config_sections()
    assert sections["ai-echo"].values == {"enabled": False, "max_file_size": 100, "sync_timeout_seconds": 5}
    assert sections["ai-echo"].source.endswith("praisonai.yaml:2")
    monkeypatch.delenv("ECHO_ON")
    with pytest.raises(ConfigError, match=r"praisonai\.yaml:3: environment variable ECHO_ON is not set"):
        app.plugin_config_sections()

    (tmp_path / "praisonai.yaml").write_text("plugins:\n  ai-ecko: {enabled: false}\n")
    with pytest.raises(ConfigError, match=r"praisonai\.yaml:2: no plugin 'ai-ecko' is registered\. Did you mean"):
        app.plugins.configure(app.plugin_config_sections())
    other = tmp_path / "elsewhere.yaml"  # --config / PRAISONAI_CONFIG_FILE names the app file
    other.write_text("plugins:\n  ai-echo: {enabled: false}\n")
    app.config_file = other
    app.plugins.configure(app.plugin_config_sections())
    echo = app.plugins.plugins["ai-echo"]
    assert not echo.enabled and echo.config.sync_timeout_seconds == 5 and echo.config.max_file_size == 100


def test_health_reports_disabled_plugins_without_degrading() -> None:
    app = make_app()
    app.plugins.plugins["ai-later"].enabled = False
    with TestClient(create_api(app)) as client:
        body = client.get("/api/v1/health").json()
    assert body["status"] == "healthy"
    assert {p["name"]: (p["enabled"], p["healthy"]) for p in body["plugins"]} == {
        "ai-echo": (True, True), "ai-later": (False, False)}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", ["api", "plugins", "usage", "outputs", "client", "workflows", "events", "services",
                                     "retention", "webhooks"])
def test_api_and_feature_packages_import_no_adapter(package: str) -> None:
    offenders = {str(path.relative_to(PACKAGE)): sorted(n for n in _imports(path) if ".adapters" in n)
                 for path in (PACKAGE / package).rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}
