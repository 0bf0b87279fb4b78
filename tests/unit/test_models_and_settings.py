from __future__ import annotations

import pytest

from praisonai_svc.errors import ConfigError
from praisonai_svc.hashing import payload_hash
from praisonai_svc.models import JobRequest, JobStatus
from praisonai_svc.models.config import ServiceConfig
from praisonai_svc.settings import load_settings


def test_compute_hash_is_key_order_independent_and_scoped():
    a = JobRequest(payload={"x": 1, "y": {"b": 2, "a": [1, 2]}})
    b = JobRequest(payload={"y": {"a": [1, 2], "b": 2}, "x": 1})
    assert a.compute_hash() == b.compute_hash()
    assert len(a.compute_hash()) == 64
    assert a.compute_hash("ppt") != a.compute_hash("video")
    assert payload_hash({"x": 1}) != payload_hash({"x": "1"})


def test_job_status_values_match_the_seed_clients():
    assert [s.value for s in JobStatus] == ["queued", "processing", "done", "error", "cancelled"]
    assert JobStatus.DONE.is_terminal and not JobStatus.QUEUED.is_terminal
    assert JobStatus.CANCELLED.is_terminal and JobStatus.CANCELLED.releases_claim
    assert not JobStatus.DONE.releases_claim


def test_service_config_reads_the_seed_variables(monkeypatch):
    monkeypatch.setenv("PRAISONAI_API_KEY", "k1, k2")
    monkeypatch.setenv("PRAISONAI_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("PRAISONAI_MAX_JOB_DURATION_MINUTES", "12")
    monkeypatch.setenv("PRAISONAI_MAX_RETRY_COUNT", "5")
    monkeypatch.setenv("PRAISONAI_QUEUE_VISIBILITY_TIMEOUT", "90")
    monkeypatch.setenv("PRAISONAI_WORKER_POLL_INTERVAL_MIN", "2")
    monkeypatch.setenv("PRAISONAI_WORKER_POLL_INTERVAL_MAX", "20")
    config = ServiceConfig()
    assert config.api_keys == ["k1", "k2"]
    assert config.cors_origins == ["https://a.example", "https://b.example"]
    assert (config.max_job_duration_minutes, config.max_retry_count) == (12, 5)
    assert (config.queue_visibility_timeout, config.worker_poll_interval_min, config.worker_poll_interval_max) == (
        90, 2, 20)
    assert "k1" not in repr(config) and "k1" not in str(config.model_dump())


def test_defaults_select_the_local_backend():
    config = load_settings()
    assert not config.uses_azure
    assert str(config.data_dir) == ".praisonai"
    assert config.max_payload_size == 1_048_576 and config.max_retry_count == 3


def test_unknown_variable_is_refused_with_a_suggestion(monkeypatch):
    monkeypatch.setenv("PRAISONAI_MAX_RETRYCOUNT", "3")
    with pytest.raises(ConfigError, match="Did you mean PRAISONAI_MAX_RETRY_COUNT"):
        load_settings()


def test_invalid_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("PRAISONAI_WORKER_POLL_INTERVAL_MIN", "10")
    monkeypatch.setenv("PRAISONAI_WORKER_POLL_INTERVAL_MAX", "5")
    with pytest.raises(ConfigError, match="PRAISONAI_WORKER_POLL_INTERVAL_MAX"):
        load_settings()
    monkeypatch.delenv("PRAISONAI_WORKER_POLL_INTERVAL_MAX")
    monkeypatch.delenv("PRAISONAI_WORKER_POLL_INTERVAL_MIN")
    monkeypatch.setenv("PRAISONAI_PORT", "99999")
    with pytest.raises(ConfigError, match="PRAISONAI_PORT"):
        load_settings()


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PRAISONAI_MAX_RETRY_COUNT=7\n")
    assert load_settings().max_retry_count == 7
