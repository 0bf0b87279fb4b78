"""Regenerate docs/configuration.md from the Settings class (a unit test checks it is up to date).

    .venv/bin/python scripts/gen_config_docs.py
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from pydantic_core import PydanticUndefined

from praisonai_svc.durations import format_duration
from praisonai_svc.settings import ENV_PREFIX, Settings

TARGET = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
HEADER = """# Configuration

Every setting is an environment variable with the prefix `PRAISONAI_` (a `.env` file in the working directory is
read too). Unknown `PRAISONAI_*` names and invalid values stop the service at start with a message naming the
variable. CLI options (`--port`, `--data-dir`, ...) override the variables and say which variable they set.

No Azure connection string → the embedded **local** backend (SQLite + files in `PRAISONAI_DATA_DIR`).
`PRAISONAI_AZURE_STORAGE_CONNECTION_STRING` (or `PRAISONAI_AZURE_STORAGE_ACCOUNT_URL` with a managed identity)
→ the **azure** backend; see [azure.md](azure.md).

Two more variables are read by the CLI only: `PRAISONAI_APP` (the service to load when no TARGET is given) and
`PRAISONAI_URL` (the service `praisonai-svc submit` talks to). `PRAISONAI_DEPLOY_*` variables are options of
`praisonai-svc deploy azure` and `logs` (which check them; see `deploy azure --help`). Two unprefixed variables
matter too: `APPLICATIONINSIGHTS_CONNECTION_STRING` (traces and metrics to Application Insights) and
`PROMETHEUS_MULTIPROC_DIR` (metrics of several processes on one machine); see [operations.md](operations.md).

This file is generated from `src/praisonai_svc/settings.py` by `scripts/gen_config_docs.py`.

| Variable | Default | Meaning |
|---|---|---|
"""


def _default(field: object) -> str:
    default = getattr(field, "default", PydanticUndefined)
    factory = getattr(field, "default_factory", None)
    if factory is not None:
        default = factory()
    if default is None or default is PydanticUndefined:
        return "—"
    if isinstance(default, list):
        return ", ".join(str(v) for v in default) or "(empty)"
    if isinstance(default, timedelta):
        return f"`{format_duration(default)}`"
    return f"`{default}`"


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        secret = "SecretStr" in str(field.annotation)
        meaning = (field.description or "").replace("|", "\\|") + (" *(secret; never logged)*" if secret else "")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(field)} | {meaning} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)
