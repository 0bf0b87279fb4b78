"""Application Insights telemetry: configured only when APPLICATIONINSIGHTS_CONNECTION_STRING is set, with 10 %
trace sampling, using the real azure-monitor-opentelemetry distro (nothing mocked).

OpenTelemetry's providers are process-wide and cannot be uninstalled, so the configuring checks run in a child
Python process; the exporter there points at a closed local port (no network is reached).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from praisonai_svc.observability.telemetry import CONNECTION_ENV, configure_telemetry, telemetry_enabled
from praisonai_svc.settings import Settings, load_settings

CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"

PROBE = """
import json, sys
from opentelemetry import metrics, trace
from praisonai_svc import ServiceApp
from praisonai_svc.observability.telemetry import configure_telemetry
from praisonai_svc.settings import Settings

settings = Settings(_env_file=None, **json.loads(sys.argv[1]))
configured = configure_telemetry(settings, "probe", {"APPLICATIONINSIGHTS_CONNECTION_STRING": sys.argv[2]})
sampler = getattr(trace.get_tracer_provider(), "sampler", None)
app = ServiceApp("probe", settings=settings)
app.metrics.job_finished("svc", __import__("praisonai_svc").JobStatus.DONE, 1.5)  # records to both sinks
print(json.dumps({
    "configured": configured,
    "again": configure_telemetry(settings, "probe", {"APPLICATIONINSIGHTS_CONNECTION_STRING": sys.argv[2]}),
    "sampler": type(sampler).__name__,
    "description": sampler.get_description() if sampler else None,
    "ratio": getattr(sampler, "_ratio", None),
    "meter_provider": type(metrics.get_meter_provider()).__name__,
    "otel_instruments": app.metrics._otel is not None,
}))
"""


def probe(settings: dict[str, object], connection: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(settings), connection],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_connection_string_turns_on_traces_with_a_10_percent_sampler_and_metrics() -> None:
    pytest.importorskip("azure.monitor.opentelemetry")  # the [azure-monitor] extra (in the test extra too)
    found = probe({}, CONNECTION)
    assert found["configured"] is True and found["again"] is True
    assert found["sampler"] == "ApplicationInsightsSampler"
    assert found["ratio"] == 0.1 and found["description"] == "ApplicationInsightsSampler0.1"
    assert found["meter_provider"] == "MeterProvider"  # the SDK's, not the no-op proxy
    assert found["otel_instruments"] is True


def test_the_sampling_ratio_is_a_setting() -> None:
    pytest.importorskip("azure.monitor.opentelemetry")
    assert probe({"trace_sampling_ratio": 0.5}, CONNECTION)["ratio"] == 0.5


def test_without_the_connection_string_nothing_is_configured() -> None:
    assert configure_telemetry(Settings(_env_file=None), "x", {}) is False  # type: ignore[call-arg]
    assert configure_telemetry(Settings(_env_file=None), "x", {CONNECTION_ENV: "  "}) is False  # type: ignore[call-arg]
    assert telemetry_enabled() is False


def test_the_unprefixed_variable_passes_the_unknown_setting_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONNECTION_ENV, CONNECTION)
    monkeypatch.setenv("PRAISONAI_TRACE_SAMPLING_RATIO", "0.2")
    assert load_settings(_env_file=None).trace_sampling_ratio == 0.2
