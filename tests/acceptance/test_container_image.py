"""The container image definitions: the repository's Dockerfile and the one `praisonai-svc new` scaffolds.

No Docker engine runs on the test machines (only the client binary, without a daemon), so the Dockerfiles are
checked statically: parsed into stages and instructions, then the properties the deployment relies on are
asserted (multi-stage on python:3.11-slim, a non-root USER, EXPOSE 8080, a HEALTHCHECK, API by default and the
worker by command). What the image *runs* is tested for real: the HEALTHCHECK command against a live API, and
the entry points the CMD and the worker command name.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from praisonai_svc.cli.new import scaffold
from tests.support.service import REPO, clean_env, running_service

HANDLERS = Path(__file__).parent / "svc" / "handlers.py"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages) of a Dockerfile."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, line
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
            stages.append(Stage(image, match.group(2)))
        elif not stages and keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def dockerfiles(tmp_path: Path) -> dict[str, str]:
    scaffold(tmp_path / "svc", "My Service", "praisonai-svc")
    return {"repository": (REPO / "Dockerfile").read_text(),
            "scaffolded": (tmp_path / "svc" / "Dockerfile").read_text()}


@pytest.mark.parametrize("which", ["repository", "scaffolded"])
def test_dockerfile_is_multi_stage_slim_non_root_with_port_health_and_commands(which: str, tmp_path: Path) -> None:
    _args, stages = parse(dockerfiles(tmp_path)[which])
    assert len(stages) >= 2, "multi-stage: build, then a runtime without build tools"
    assert all(stage.image == "python:3.11-slim" for stage in stages), [s.image for s in stages]
    build, runtime = stages[0], stages[-1]
    assert build.name and any(f"--from={build.name}" in copy for copy in runtime.all("COPY"))
    assert not any("pip install" in run for run in runtime.all("RUN")), "dependencies come from the build stage"

    [user] = runtime.all("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert runtime.all("EXPOSE") == ["8080"]
    env = " ".join(runtime.all("ENV"))
    assert "PRAISONAI_HOST=0.0.0.0" in env and "PRAISONAI_PORT=8080" in env and "PRAISONAI_APP=" in env
    [health] = runtime.all("HEALTHCHECK")
    assert re.search(r'CMD \["python", "-m", "praisonai_svc.healthcheck"\]', health)
    assert runtime.all("ENTRYPOINT") == ['["praisonai-svc"]'] and runtime.all("CMD") == ['["api"]']


def test_new_scaffolds_the_dockerfile_and_dockerignore(tmp_path: Path) -> None:
    written = scaffold(tmp_path / "svc", "Slides", "praisonaippt")
    names = {p.name for p in written}
    assert {"Dockerfile", ".dockerignore"} <= names
    ignored = (tmp_path / "svc" / ".dockerignore").read_text().split()
    assert {".env", ".git", ".praisonai", ".venv"} <= set(ignored)
    text = (tmp_path / "svc" / "Dockerfile").read_text()
    assert "$EXTRA_PIP_PACKAGES" in text and "$$" not in text and "docker build -t slides ." in text
    root_ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".git", ".praisonai", ".venv"} <= set(root_ignored)


def test_the_commands_the_image_runs_exist() -> None:
    env = clean_env({})
    for command in (["-m", "praisonai_svc", "api", "--help"], ["-m", "praisonai_svc", "worker", "--help"],
                    ["-m", "praisonai_svc.worker", "--help"]):
        result = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert "--metrics-port" in result.stdout


def test_healthcheck_probes_live_on_the_api_port(tmp_path: Path) -> None:
    def check(env: dict[str, str]) -> int:
        return subprocess.run([sys.executable, "-m", "praisonai_svc.healthcheck"], env=env, timeout=30).returncode

    with running_service(HANDLERS, {"PRAISONAI_DATA_DIR": str(tmp_path / "data")}, tmp_path / "logs",
                         workers=0) as service:
        assert check(dict(os.environ, PRAISONAI_PORT=str(service.port))) == 0
    assert check(dict(os.environ, PRAISONAI_PORT=str(service.port))) == 1  # stopped: unhealthy


def test_healthcheck_tells_a_worker_from_the_api(tmp_path: Path) -> None:
    from praisonai_svc.healthcheck import pid1_is_worker, probe_port

    worker = tmp_path / "worker"
    worker.write_bytes(b"/venv/bin/python\0/venv/bin/praisonai-svc\0worker\0")
    api = tmp_path / "api"
    api.write_bytes(b"/venv/bin/python\0/venv/bin/praisonai-svc\0api\0")
    module = tmp_path / "module"
    module.write_bytes(b"python\0-m\0praisonai_svc.worker\0")
    assert pid1_is_worker(worker) and pid1_is_worker(module) and not pid1_is_worker(api)
    assert probe_port(True, {}) is None and probe_port(True, {"PRAISONAI_WORKER_METRICS_PORT": "9100"}) == "9100"
    assert probe_port(False, {}) == "8080" and probe_port(False, {"PRAISONAI_PORT": "9000"}) == "9000"
