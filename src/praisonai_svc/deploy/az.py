"""Running the Azure CLI: real, or printed (``--dry-run``), with secrets kept out of what is printed.

Every step of a deployment is one ``az`` command. :class:`AzCli` runs it (JSON output parsed), or in dry-run
mode prints it and answers with a placeholder that names where the real value would come from, so later
steps (and rendered templates) show how values flow. Arguments wrapped in :class:`Secret` are printed as
``<redacted>`` and never put on ``az``'s command line, which every user of the machine can read (``ps``,
``/proc/<pid>/cmdline``): each is written to a file only we can read (mode 600), deleted right after the
call, and passed as ``@<file>``, which the Azure CLI replaces by the file's content.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from praisonai_svc.errors import PraisonSvcError

AZ_ENV = "PRAISONAI_DEPLOY_AZ"  # path of the az executable (default: az on PATH); tests point it at a stand-in
REDACTED = "<redacted>"


class AzureCliError(PraisonSvcError):
    """An Azure CLI command failed."""


@dataclass(frozen=True)
class Secret:
    """A command argument or template value that must never be printed."""

    value: str

    def __str__(self) -> str:
        return REDACTED


Arg = str | Secret


def _by_file(secret: Secret, directory: Path, index: int) -> str:
    """``@<file>`` holding the secret, readable only by us (TemporaryDirectory is mode 700 as well)."""
    path = directory / f"arg-{index}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret.value)
    return f"@{path}"


def shown(args: Sequence[Arg]) -> str:
    return " ".join(shlex.quote(str(arg)) if not isinstance(arg, Secret) else REDACTED for arg in args)


def find_az() -> str:
    """The az executable, or a clear error saying how to install it."""
    configured = os.environ.get(AZ_ENV)
    found = configured or shutil.which("az")
    if not found:
        raise AzureCliError(
            "The Azure CLI (az) was not found on PATH. Install it (https://aka.ms/installazurecli), run "
            "`az login`, then run this again; or add --dry-run to see every step without Azure."
        )
    return found


class AzCli:
    """Runs (or, in dry-run, prints) az commands; ``echo`` receives every line meant for the operator."""

    def __init__(self, *, dry_run: bool, echo: Callable[[str], None], executable: str | None = None) -> None:
        self.dry_run = dry_run
        self.echo = echo
        self.executable = executable or ("az" if dry_run else find_az())

    def run(self, *args: Arg, placeholder: str | None = None, check: bool = True) -> Any:
        """Run ``az ARGS --output json``; return the parsed JSON (None for no output).

        Dry-run: print the command and return ``placeholder`` (default ``<output of az ...>``).
        """
        self.echo(f"$ az {shown(args)}")
        if self.dry_run:
            return placeholder if placeholder is not None else f"<output of az {' '.join(str(a) for a in args[:3])}>"
        completed = self._call(args)
        if completed.returncode != 0:
            if not check:
                return None
            raise AzureCliError(f"`az {shown(args)}` failed (exit {completed.returncode}): "
                                f"{completed.stderr.strip()[-2000:] or completed.stdout.strip()[-2000:]}")
        text = completed.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def value(self, *args: Arg, placeholder: str) -> str:
        """A single value (``--query ... -o tsv`` style); in dry-run the placeholder in angle brackets."""
        result = self.run(*args, placeholder=f"<{placeholder}>")
        return str(result) if result is not None else ""

    def exists(self, *args: Arg) -> bool:
        """Whether a ``show`` command succeeds. Dry-run assumes nothing exists yet (the full first deploy)."""
        if self.dry_run:
            self.echo(f"$ az {shown(args)}   # exists? (dry run: assume not)")
            return False
        self.echo(f"$ az {shown(args)}")
        return self._call(args).returncode == 0

    def _call(self, args: Sequence[Arg]) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(prefix="praisonai-az-") as secrets_dir:
            argv = [self.executable, *[_by_file(a, Path(secrets_dir), n) if isinstance(a, Secret) else a
                                       for n, a in enumerate(args)]]
            if "--output" not in argv and "-o" not in argv:
                argv += ["--output", "json"]
            try:
                return subprocess.run(argv, capture_output=True, text=True, check=False)
            except FileNotFoundError as exc:
                raise AzureCliError(f"Cannot run the Azure CLI at {self.executable}: {exc}") from exc

    def stream(self, *args: str) -> int:
        """Run an az command with its output going straight to the terminal (``logs``); return its exit code."""
        self.echo(f"$ az {shown(args)}")
        if self.dry_run:
            return 0
        try:
            return subprocess.call([self.executable, *args])
        except FileNotFoundError as exc:
            raise AzureCliError(f"Cannot run the Azure CLI at {self.executable}: {exc}") from exc

    def require_login(self) -> dict[str, Any]:
        """``az account show``: the subscription in use; a clear error when nobody is logged in."""
        self.echo("$ az account show")
        if self.dry_run:
            return {"id": "<subscription id>", "name": "<subscription>", "user": {"name": "<you>"}}
        completed = self._call(["account", "show"])
        if completed.returncode != 0:
            raise AzureCliError(
                "The Azure CLI is not logged in (`az account show` failed): run `az login` (and "
                "`az account set --subscription ...` to pick one), then run this again. "
                f"az said: {completed.stderr.strip()[-500:]}"
            )
        try:
            account: dict[str, Any] = json.loads(completed.stdout)
        except ValueError as exc:
            raise AzureCliError(f"`az account show` printed something unexpected: {completed.stdout[:200]}") from exc
        return account
