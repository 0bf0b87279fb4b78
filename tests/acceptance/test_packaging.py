"""Packaging: ``python -m build`` makes a wheel and an sdist that install into a fresh virtualenv and run the CLI
(templates and deploy templates are package data), and the defensive typo packages build into wheels.

The fresh virtualenv installs the wheel's dependencies from the package index, so this takes a minute or so.
"""

from __future__ import annotations

import re
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from praisonai_svc._version import __version__
from tests.support.service import REPO

DEFENSIVE = REPO / "defensive-packages"
SEED_TYPO_NAMES = ["praisonaisvc", "praisonai_svc", "praisonai-service", "praisonai-svcs"]  # seed 001 §4.2


def run(argv: list[str], cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def build(source: Path, outdir: Path, *kinds: str) -> list[Path]:
    # --no-isolation: the build backend (hatchling) comes from this virtualenv, not a download per build.
    run([sys.executable, "-m", "build", "--no-isolation", *kinds, "--outdir", str(outdir), str(source)], REPO)
    return sorted(outdir.iterdir())


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ultranormalized(name: str) -> str:
    """PyPI's "too similar" comparison (warehouse's ultranormalize_name)."""
    return name.translate(str.maketrans({".": None, "_": None, "-": None, "l": "1", "L": "1", "i": "1", "I": "1",
                                         "o": "0", "O": "0"})).lower()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    built = build(REPO, out, "--sdist", "--wheel")
    [wheel] = [p for p in built if p.suffix == ".whl"]
    [sdist] = [p for p in built if p.name.endswith(".tar.gz")]
    return {"wheel": wheel, "sdist": sdist}


def test_wheel_carries_the_templates_and_type_marker(dist: dict[str, Path]) -> None:
    assert dist["wheel"].name == f"praisonai_svc-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    for member in ("praisonai_svc/py.typed", "praisonai_svc/templates/service/Dockerfile.tmpl",
                   "praisonai_svc/templates/service/dockerignore.tmpl",
                   "praisonai_svc/templates/service/handlers.py.tmpl",
                   "praisonai_svc/deploy/templates/api-app.yaml", "praisonai_svc/deploy/templates/worker-app.yaml",
                   "praisonai_svc/deploy/templates/lifecycle-policy.json",
                   "praisonai_svc/deploy/templates/alerts.json"):
        assert member in names, member
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    metadata = Parser().parsestr(zipfile.ZipFile(dist["wheel"]).read(
        f"praisonai_svc-{__version__}.dist-info/METADATA").decode())
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("prometheus-client") for r in requires)
    assert any("azure-monitor-opentelemetry" in r and "extra == 'azure-monitor'" in r for r in requires)


def test_wheel_and_sdist_install_into_a_fresh_virtualenv_and_run(dist: dict[str, Path], tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python, cli = env_dir / "bin" / "python", env_dir / "bin" / "praisonai-svc"
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(dist["wheel"])],
        tmp_path, timeout=900)
    assert run([str(cli), "--version"], tmp_path).strip().endswith(__version__)
    run([str(cli), "new", "slides"], tmp_path)
    scaffolded = {p.name for p in (tmp_path / "slides").iterdir()}
    assert {"handlers.py", "Dockerfile", ".dockerignore", "requirements.txt", "README.md"} <= scaffolded
    dry_run = run([str(cli), "deploy", "azure", "--dry-run", "--api-key", "k"], tmp_path / "slides")
    assert "az containerapp create --name slides-worker" in dry_run and "maxReplicas: 3" in dry_run
    # The sdist builds and installs too (its wheel is built from the source tree it carries).
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--force-reinstall",
         "--no-deps", str(dist["sdist"])], tmp_path, timeout=900)
    assert run([str(cli), "--version"], tmp_path).strip().endswith(__version__)
    run([str(cli), "new", "y"], tmp_path)
    assert (tmp_path / "y" / "Dockerfile").is_file()


def test_defensive_packages_are_exactly_the_registrable_typos() -> None:
    main = "praisonai-svc"
    registrable = [n for n in SEED_TYPO_NAMES
                   if pep503(n) != pep503(main) and ultranormalized(n) != ultranormalized(main)]
    assert pep503("praisonai_svc") == pep503(main)  # the same project: cannot (and need not) be registered
    assert ultranormalized("praisonaisvc") == ultranormalized(main)  # PyPI refuses it as too similar
    assert sorted(p.name for p in DEFENSIVE.iterdir() if p.is_dir()) == sorted(registrable)
    readme = (DEFENSIVE / "README.md").read_text()
    for name in SEED_TYPO_NAMES:
        assert f"`{name}`" in readme


@pytest.mark.parametrize("name", ["praisonai-service", "praisonai-svcs"])
def test_defensive_package_builds_a_wheel_that_depends_on_praisonai_svc(name: str, tmp_path: Path) -> None:
    [wheel] = build(DEFENSIVE / name, tmp_path, "--wheel")
    assert wheel.name.startswith(name.replace("-", "_") + "-0.0.1-")
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(meta_name).decode())
    assert metadata["Name"] == name
    assert metadata.get_all("Requires-Dist") == ["praisonai-svc>=2.0.0"]
    assert "pip install praisonai-svc" in (metadata.get_payload() or "")
