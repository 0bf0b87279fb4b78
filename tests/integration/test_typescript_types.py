"""integrations/typescript/praisonai-svc.d.ts is what openapi-typescript makes of the current OpenAPI schema."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.service import REPO

COMMITTED = REPO / "integrations" / "typescript" / "praisonai-svc.d.ts"


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs Node.js and npm (scripts/setup.sh installs them)")
def test_committed_typescript_types_are_current(tmp_path: Path):
    fresh = tmp_path / "types.d.ts"
    subprocess.run(["bash", str(REPO / "scripts" / "gen-typescript.sh"), str(fresh)], check=True, cwd=REPO,
                   capture_output=True, timeout=300)
    assert fresh.read_text() == COMMITTED.read_text(), "stale: run bash scripts/gen-typescript.sh and commit"
    text = fresh.read_text()
    for name in ("JobResponse: {", "OutputFile: {", "UsageReport: {", "\"/jobs/{job_id}/outputs/{name}/download\""):
        assert name in text, name
