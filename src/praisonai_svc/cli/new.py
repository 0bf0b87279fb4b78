"""``new``: scaffold a working one-file service (``new NAME`` or the PRD's ``new service NAME``)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

import click

from praisonai_svc._version import __version__

FILES = {
    "handlers.py.tmpl": "handlers.py",
    "README.md.tmpl": "README.md",
    "env.example.tmpl": ".env.example",
    "requirements.txt.tmpl": "requirements.txt",
    "sample.json.tmpl": "sample.json",
    "tests/test_handlers.py.tmpl": "tests/test_handlers.py",
    "Dockerfile.tmpl": "Dockerfile",
    "dockerignore.tmpl": ".dockerignore",
}


def template_values(name: str, package: str) -> dict[str, str]:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "service"
    return {
        "title": " ".join(part.capitalize() for part in slug.split("-")),
        "service": slug[:40],
        "function": "handle_" + slug.replace("-", "_"),
        "package": package,
        "module": re.sub(r"[^A-Za-z0-9_]", "_", package.split("[")[0]).lower(),
        "svc_version": __version__,
    }


def scaffold(directory: Path, name: str, package: str) -> list[Path]:
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} exists and is not empty; choose another name or --dir.")
    values = template_values(name, package)
    root = resources.files("praisonai_svc") / "templates" / "service"
    written = []
    for source, target in FILES.items():
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(root.joinpath(source).read_text(encoding="utf-8")).substitute(values))
        written.append(path)
    return written


@click.command()
@click.argument("words", nargs=-1, required=True, metavar="[service] NAME")
@click.option("--package", default="praisonai-svc", show_default=True,
              help="PyPI package the service wraps (its import name is derived from it).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to create it (default: ./NAME).")
def new(words: tuple[str, ...], package: str, directory: Path | None) -> None:
    """Create a new one-file service NAME: handlers.py, README, .env.example, sample, test, Dockerfile."""
    if len(words) == 2 and words[0] == "service":
        words = words[1:]
    if len(words) != 1:
        raise click.UsageError("Usage: praisonai-svc new NAME [--package PKG]  (or: new service NAME ...)")
    name = words[0]
    target = directory or Path(name)
    for path in scaffold(target, name, package):
        click.echo(f"  created {path}")
    click.echo(f"\nNext: cd {target} && pip install -r requirements.txt && praisonai-svc run handlers.py")
