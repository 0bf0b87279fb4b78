"""The CLI as a user types it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.conftest import HANDLERS
from tests.support.service import CLI, clean_env, free_port, running_service, wait_http

COMMANDS = ["new", "run", "api", "worker", "submit"]


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=clean_env(env or {}), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_version_and_help_on_every_command():
    from praisonai_svc import __version__

    version = cli("--version")
    assert version.returncode == 0 and __version__ in version.stdout
    assert all(c in cli("--help").stdout for c in COMMANDS)
    for command in COMMANDS:
        result = cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout
    run_help = cli("run", "--help").stdout
    for variable in ("PRAISONAI_PORT", "PRAISONAI_HOST", "PRAISONAI_DATA_DIR", "PRAISONAI_WORKER_CONCURRENCY",
                     "PRAISONAI_WORKERS"):
        assert variable in run_help


def test_unknown_or_invalid_setting_fails_at_start_naming_the_variable(tmp_path):
    typo = cli("worker", str(HANDLERS), env={"PRAISONAI_MAX_RETRIES": "3"})
    assert typo.returncode != 0
    assert "Unknown setting PRAISONAI_MAX_RETRIES" in typo.stderr
    assert "PRAISONAI_MAX_RETRY_COUNT" in typo.stderr
    invalid = cli("worker", str(HANDLERS), env={"PRAISONAI_MAX_RETRY_COUNT": "lots"})
    assert invalid.returncode != 0 and "PRAISONAI_MAX_RETRY_COUNT" in invalid.stderr
    missing = cli("run", cwd=tmp_path)
    assert missing.returncode != 0 and "handlers.py" in missing.stderr


def test_run_finds_handlers_py_and_submit_waits_and_saves(tmp_path):
    shutil.copy(HANDLERS, tmp_path / "handlers.py")
    port = free_port()
    env = clean_env({"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_PORT": str(port)})
    server = subprocess.Popen([*CLI, "run", "--workers", "2"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/live", server)
        request = tmp_path / "job.yaml"
        request.write_text("payload:\n  mode: sleep\n  seconds: 1\n  filename: out.txt\n")
        output = tmp_path / "saved.txt"
        result = cli("submit", str(request), "--url", f"http://127.0.0.1:{port}", "--wait", "--output",
                     str(output))
        assert result.returncode == 0, result.stderr
        assert json.loads(output.read_text())["seconds"] == 1
        bare = tmp_path / "bare.json"
        bare.write_text(json.dumps({"mode": "fatal"}))  # no "payload" key: submit wraps it
        failed = cli("submit", str(bare), "--url", f"http://127.0.0.1:{port}", "--wait")
        assert failed.returncode != 0 and "the payload can never work" in failed.stderr
        ready = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/ready"], capture_output=True, text=True)
        assert json.loads(ready.stdout)["checks"]["worker"] == "ok"
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_submit_reports_an_unreachable_service_clearly(tmp_path):
    request = tmp_path / "job.json"
    request.write_text('{"payload": {}}')
    result = cli("submit", str(request), "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode != 0 and "Is the service running?" in result.stderr


@pytest.mark.parametrize("form", [["new", "demo-svc"], ["new", "service", "demo-svc"]])
def test_new_scaffolds_a_service_whose_own_test_passes(tmp_path, form):
    result = cli(*form, "--package", "httpx", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "demo-svc"
    for name in ("handlers.py", "README.md", ".env.example", "requirements.txt", "sample.json",
                 "tests/test_handlers.py"):
        assert (project / name).is_file(), name
    assert "httpx" in (project / "requirements.txt").read_text()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                           env=clean_env({}), capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    again = cli(*form, cwd=tmp_path)
    assert again.returncode != 0 and "not empty" in again.stderr


def test_scaffolded_service_runs_for_real(tmp_path):
    assert cli("new", "hello", "--package", "httpx", cwd=tmp_path).returncode == 0
    project = tmp_path / "hello"
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data")}
    with running_service(project / "handlers.py", env, tmp_path / "logs") as svc, svc.client() as client:
        result = cli("submit", str(project / "sample.json"), "--url", svc.url, "--wait", "--output",
                     str(tmp_path / "result.json"), cwd=project)
        assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["package"] == "httpx" and report["payload"]["items"] == ["one", "two", "three"]
    del client
