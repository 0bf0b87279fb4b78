"""Entry point: ``praisonai-svc [--version] COMMAND``."""

from __future__ import annotations

from collections.abc import Sequence

import click

from praisonai_svc._version import __version__
from praisonai_svc.cli.deploy import deploy, logs
from praisonai_svc.cli.files import files
from praisonai_svc.cli.jobs import jobs
from praisonai_svc.cli.new import new
from praisonai_svc.cli.poison import poison
from praisonai_svc.cli.prune import prune
from praisonai_svc.cli.serve import api, run, worker
from praisonai_svc.cli.services import services
from praisonai_svc.cli.submit import submit
from praisonai_svc.cli.usage import usage
from praisonai_svc.cli.workflows import workflows


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="praisonai-svc")
def cli() -> None:
    """praisonai-svc: turn one Python file into a production job service.

    Settings come from PRAISONAI_* environment variables and a .env file; every option below says which.
    """


for command in (new, run, api, worker, submit, jobs, files, usage, deploy, logs, poison, prune, services,
                workflows):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="praisonai-svc", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
