"""Usage metering and quotas through the CLI-started service, on local and Azurite.

Two tenants' usage adds up to the jobs they ran and never shows the other's; the CSV has the same totals; a quota
of 5 jobs a day (the app YAML's ``tenants:`` section) lets exactly 5 through two API replicas, single submissions
and batch items alike, and answers the 6th with 429 naming the quota and reset.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.conftest import HANDLERS
from tests.acceptance.security_support import ACME_KEY, GLOBEX_KEY, OPERATOR_KEY, key, secured
from tests.acceptance.test_cli import cli
from tests.support.service import Service, clean_env, running_service, wait_job

ADMIN_KEY = "admin-key-3b7e11d0"


def _usage(client: httpx.Client, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get("/usage", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _wait_usage(client: httpx.Client, headers: dict[str, str], tenant: str, done: int) -> dict[str, Any]:
    """Workers flush every few seconds: poll until the tenant's finished jobs are all counted."""
    deadline = time.monotonic() + 30
    while True:
        report = _usage(client, headers)
        if report["totals"].get(tenant, {}).get("jobs_done") == done or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def test_two_tenants_usage_adds_up_and_stays_apart(backend_env, tmp_path: Path):
    env = secured(backend_env, PRAISONAI_ADMIN_KEY=ADMIN_KEY)
    with running_service(HANDLERS, env, tmp_path / "logs") as svc, svc.client() as client, \
            svc.client(headers=key(OPERATOR_KEY)) as operator:
        runs = {"acme": (ACME_KEY, 3), "globex": (GLOBEX_KEY, 2)}
        for tenant, (secret, count) in runs.items():
            ids = [client.post("/jobs", headers=key(secret), json={"payload": {"t": tenant, "i": i}}).json()["job_id"]
                   for i in range(count)]
            for job_id in ids:
                assert wait_job(operator, job_id)["status"] == "done"
        client.post("/jobs", headers=key(GLOBEX_KEY), json={"payload": {"mode": "fatal"}})

        everyone = _wait_usage(client, {"X-Admin-Key": ADMIN_KEY}, "acme", 3)
        deadline = time.monotonic() + 30
        while everyone["totals"].get("globex", {}).get("jobs_failed") != 1 and time.monotonic() < deadline:
            time.sleep(0.5)
            everyone = _usage(client, {"X-Admin-Key": ADMIN_KEY})
        totals = everyone["totals"]
        assert totals["acme"]["jobs_submitted"] == 3 and totals["acme"]["jobs_done"] == 3
        assert totals["globex"]["jobs_submitted"] == 3 and totals["globex"]["jobs_done"] == 2
        assert totals["globex"]["jobs_failed"] == 1 and totals["acme"]["jobs_failed"] == 0
        assert totals["acme"]["bytes_in"] > 0 and totals["acme"]["bytes_out"] > 0
        assert totals["acme"]["handler_seconds"] >= 0 and totals["acme"]["storage_requests"] > 0
        assert set(everyone["cost_estimate"]) == {"acme", "globex"} and "stimate" in everyone["cost_note"]
        assert sum(row["jobs_submitted"] for row in everyone["rows"]) == 6

        acme = _usage(client, key(ACME_KEY))
        assert set(acme["totals"]) == {"acme"} and {row["tenant"] for row in acme["rows"]} == {"acme"}
        assert acme["totals"]["acme"] == totals["acme"]
        globex_hours = _usage(client, key(GLOBEX_KEY), granularity="hour")
        assert {row["tenant"] for row in globex_hours["rows"]} == {"globex"}
        assert globex_hours["totals"]["globex"]["jobs_submitted"] == 3
        refused = client.get("/usage", headers=key(ACME_KEY), params={"tenant": "globex"})
        assert refused.status_code == 403
        assert client.get("/usage").status_code == 401
        assert _usage(client, key(OPERATOR_KEY))["totals"] == totals

        text = client.get("/usage", headers={"X-Admin-Key": ADMIN_KEY, "Accept": "text/csv"})
        assert text.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(text.text)))
        for tenant in ("acme", "globex"):
            mine = [row for row in rows if row["tenant"] == tenant]
            for column in ("jobs_submitted", "jobs_done", "jobs_failed", "bytes_in", "bytes_out"):
                assert sum(int(row[column]) for row in mine) == totals[tenant][column]

        yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
        empty = _usage(client, {"X-Admin-Key": ADMIN_KEY}, to=yesterday,
                       **{"from": (datetime.now(UTC) - timedelta(days=5)).date().isoformat()})
        assert empty["rows"] == [] and empty["totals"] == {}
        bad = client.get("/usage", headers={"X-Admin-Key": ADMIN_KEY}, params={"from": "yesterday"})
        assert bad.status_code == 400

        shown = cli("usage", "--url", svc.url, "--admin-key", ADMIN_KEY, env={"COLUMNS": "160"})
        assert shown.returncode == 0, shown.stderr
        assert "acme" in shown.stdout and "globex" in shown.stdout and "█" in shown.stdout
        assert "5 done, 1 failed" in shown.stdout  # the chart's one day: 3 + 2 done, 1 failed
        own = cli("usage", "--url", svc.url, "--api-key", ACME_KEY, "--granularity", "hour")
        assert own.returncode == 0 and "acme" in own.stdout and "globex" not in own.stdout


def test_quota_of_five_jobs_a_day_holds_across_two_api_replicas(backend_env, tmp_path: Path):
    app_yaml = tmp_path / "praisonai.yaml"
    app_yaml.write_text("tenants:\n  acme:\n    max_jobs_per_day: 5\n"
                        "  globex:\n    max_output_bytes_per_day: 1000000\n")
    env = clean_env(secured(backend_env, PRAISONAI_CONFIG_FILE=str(app_yaml)))
    replicas = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        replicas.append(Service(str(HANDLERS), env, tmp_path / name))
    try:
        for replica in replicas:
            replica.start_api()
        clients = [replica.client(headers=key(ACME_KEY)) for replica in replicas]
        answers = [clients[i % 2].post("/jobs", json={"payload": {"i": i}}) for i in range(3)]
        assert [a.status_code for a in answers] == [202] * 3, [a.text for a in answers]
        batch = clients[1].post("/jobs/batch", json={"jobs": [{"payload": {"b": i}} for i in range(4)]})
        assert batch.status_code == 207, batch.text
        assert sorted(item["status"] for item in batch.json()["results"]) == [202, 202, 429, 429]
        assert all("max_jobs_per_day" in item["detail"] for item in batch.json()["results"] if item["status"] == 429)
        refused = clients[0].post("/jobs", json={"payload": {"i": 99}})
        assert refused.status_code == 429, refused.text
        body = refused.json()
        assert body["quota"] == "max_jobs_per_day" and body["limit"] == 5
        midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert datetime.fromisoformat(body["resets_utc"]) == midnight
        assert "max_jobs_per_day" in body["detail"] and body["resets_utc"] in body["detail"]
        assert 0 < int(refused.headers["retry-after"]) <= 86_401
        with replicas[0].client(headers=key(GLOBEX_KEY)) as globex:  # another tenant is not affected
            assert globex.post("/jobs", json={"payload": {"i": 0}}).status_code == 202
        for client in clients:
            client.close()
    finally:
        for replica in replicas:
            replica.stop()
