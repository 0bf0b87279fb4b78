"""schemathesis attacks the running service (started by the CLI) through its own OpenAPI schema.

Every generated request, with and without an API key, must get a response that is not a 5xx and that matches
the schema: documented status code, content type, headers and body. Bounded: at most ``MAX_EXAMPLES`` cases
per operation and phase, a fixed seed (override with SCHEMATHESIS_SEED to explore).

Excluded, on purpose:

* ``positive_data_acceptance`` — it expects every schema-valid request to succeed, but ``cursor`` is an opaque
  token the schema cannot describe, and a payload is checked against the model of the service it names, which
  a schema with one request body for all services cannot express: those are correct 400s.
* ``/admin/...`` — the operators' endpoints, with their own key (PRAISONAI_ADMIN_KEY), are checked elsewhere;
  the schema lists them only to a request that sends that key, so schemathesis never sees them.
* ``use_after_free`` — it expects a deleted resource to answer 404, but ``DELETE /files/{id}`` is a soft delete
  by design (issue 14, the seed's contract): the record stays readable with ``status: deleted``.

Expected warnings (they do not fail the run): ``validation_mismatch`` on the uploads, which are refused unless
the file's extension is allowed and its bytes match it (magic bytes), which no schema can say, so most generated
uploads are (correct) 400s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.acceptance.security_support import OPERATOR_KEY
from tests.support.service import running_service

FUZZ_HANDLERS = Path(__file__).parent / "svc" / "fuzz_handlers.py"
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 30
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261122")


def schemathesis(url: str, workdir: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(ST), "run", f"{url}/openapi.json", "--checks", "all",
        "--exclude-checks", "positive_data_acceptance,use_after_free",
        "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
        # Longer than the longest long-poll and event stream the service is started with (below).
        "--workers", "1", "--request-timeout", "30", "--no-color",
    ]
    for header in headers:
        command += ["-H", header]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)


def guarded_operations(url: str) -> int:
    """How many operations of the published schema require credentials (those with a security requirement)."""
    schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    return sum(1 for item in schema["paths"].values() for op in item.values()
               if isinstance(op, dict) and op.get("security"))


def assert_clean(result: subprocess.CompletedProcess[str], *, locked_out: int = 0) -> None:
    """Exit 0 and no failure; ``locked_out``: that many guarded operations answered only 401, as they must
    without a key (every one of them)."""
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "failure" not in report.split("SUMMARY")[-1].lower(), report[-6000:]
    if locked_out:
        assert f"{locked_out} operations returned only 401/403 responses" in report, report[-6000:]
    else:
        # Every generated case passed. Warnings (ids that 404, payloads a service's own model refuses) are
        # expected: see the module docstring.
        cases = re.search(r"(\d+) generated, (\d+) passed", report)
        assert cases is not None and cases.group(1) == cases.group(2) and int(cases.group(1)) > 0, report[-6000:]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("with_key", [False, True], ids=["open", "keyed"])
def test_schemathesis_finds_nothing(tmp_path: Path, with_key: bool) -> None:
    # Streams of a job that never ends (schemathesis stops its service through /services) and long-polls are
    # cut short, so that the run is bounded; both limits are themselves under test here.
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_LONG_POLL_MAX_SECONDS": "2",
           "PRAISONAI_EVENTS_STREAM_MAX_SECONDS": "3"}
    if with_key:
        env["PRAISONAI_API_KEY"] = OPERATOR_KEY
    with running_service(FUZZ_HANDLERS, env, tmp_path / "logs", workers=1) as svc:
        if with_key:
            assert_clean(schemathesis(svc.url, tmp_path, f"X-API-Key: {OPERATOR_KEY}"))
            guarded = guarded_operations(svc.url)
            assert guarded >= 20, guarded  # jobs, services, live, workflows...
            assert_clean(schemathesis(svc.url, tmp_path), locked_out=guarded)
        else:
            assert_clean(schemathesis(svc.url, tmp_path))
        assert "Traceback" not in svc.logs(), svc.logs()[-4000:]
