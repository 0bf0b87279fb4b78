"""``deploy azure`` and ``logs``: the real CLI as a subprocess, against a recording stand-in for ``az``.

The stand-in (tests/support/fake_az.py, put on PATH as ``az``) is the ONLY fake here: the Azure control plane
cannot be reached from a test machine. It records every command and the files handed to it, so these tests
check what a real run would apply: replica caps, scale rules, secrets by reference, the lifecycle rule, the log
cap, a separate worker app, its grace period, the alert rules, and that a second run updates in place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import fake_az

CLI = [sys.executable, "-m", "praisonai_svc"]
FAKE = Path(fake_az.__file__)
API_KEY = "deploy-test-api-key"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    service = tmp_path / "ppt-service"
    service.mkdir()
    (service / "handlers.py").write_text("from praisonai_svc import ServiceApp\napp = ServiceApp('x')\n")
    (service / "Dockerfile").write_text("FROM python:3.11-slim\n")
    return service


@pytest.fixture
def az_env(tmp_path: Path) -> dict[str, str]:
    """PATH with the stand-in as ``az`` first (and nothing else called az), plus where it records."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "az"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRAISONAI_", "AZURE_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
               FAKE_AZ_LOG=str(tmp_path / "az.log"), FAKE_AZ_STATE=str(tmp_path / "az.state"))
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def calls(env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(env["FAKE_AZ_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def find(log: list[dict[str, Any]], *prefix: str) -> list[dict[str, Any]]:
    return [c for c in log if c["argv"][:len(prefix)] == list(prefix)]


def applied_app(log: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [call] = [c for c in log if c["argv"][:2] in (["containerapp", "create"], ["containerapp", "update"])
              and name in c["argv"]][-1:]
    document: dict[str, Any] = yaml.safe_load(call["files"]["--yaml"])
    return document


def env_of(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in app["properties"]["template"]["containers"][0]["env"]}


def test_full_deploy_applies_capped_separate_apps_with_secrets_by_reference(
    workdir: Path, az_env: dict[str, str]
) -> None:
    result = run_cli(["deploy", "azure", "--name", "ppt", "--api-key", API_KEY, "--admin-key", "adm-secret",
                      "--cors-origins", "https://wp.example,https://www.wp.example", "--alerts"], az_env, workdir)
    assert result.returncode == 0, result.stderr
    assert "https://ppt-api.happyfield-1234.uksouth.azurecontainerapps.io" in result.stdout
    log = calls(az_env)
    assert log[0]["argv"][:2] == ["account", "show"]

    storage = find(log, "storage", "account", "create")[0]["argv"]
    for flag, expected in (("--kind", "StorageV2"), ("--sku", "Standard_LRS"), ("--https-only", "true"),
                           ("--allow-blob-public-access", "false")):
        assert storage[storage.index(flag) + 1] == expected
    queues = [c["argv"][c["argv"].index("--name") + 1] for c in find(log, "storage", "queue", "create")]
    assert queues == ["praison-jobs", "praison-jobs-poison"]
    assert find(log, "storage", "table", "create") and find(log, "storage", "container", "create")
    container = find(log, "storage", "container", "create")[0]["argv"]
    assert container[container.index("--public-access") + 1] == "off"

    [policy_call] = find(log, "storage", "account", "management-policy", "create")
    [rule] = json.loads(policy_call["files"]["--policy"])["rules"]
    # A backstop one day after the 30-day job retention, so an output never disappears before its row.
    assert rule["definition"]["actions"]["baseBlob"]["delete"] == {"daysAfterModificationGreaterThan": 31}
    assert rule["definition"]["filters"]["prefixMatch"] == ["praison-output/"]

    [build] = find(log, "acr", "build")
    assert build["argv"][build["argv"].index("--file") + 1] == "Dockerfile" and "." in build["argv"]
    [workspace] = find(log, "monitor", "log-analytics", "workspace", "create")
    assert workspace["argv"][workspace["argv"].index("--quota") + 1] == "0.5"

    api = applied_app(log, "ppt-api")
    worker = applied_app(log, "ppt-worker")
    api_scale, worker_scale = api["properties"]["template"]["scale"], worker["properties"]["template"]["scale"]
    assert (api_scale["minReplicas"], api_scale["maxReplicas"]) == (0, 3)
    assert (worker_scale["minReplicas"], worker_scale["maxReplicas"]) == (0, 3)
    assert [r["name"] for r in api_scale["rules"]] == ["http-concurrency"] and "http" in api_scale["rules"][0]
    [queue_rule] = worker_scale["rules"]
    assert queue_rule["custom"]["type"] == "azure-queue"
    assert queue_rule["custom"]["metadata"]["queueName"] == "praison-jobs"
    assert queue_rule["custom"]["metadata"]["queueLengthStrategy"] == "all"
    assert queue_rule["custom"]["auth"] == [{"secretRef": "storage-conn", "triggerParameter": "connection"}]
    assert "ingress" not in worker["properties"]["configuration"]  # the worker takes no traffic
    assert api["properties"]["configuration"]["ingress"]["targetPort"] == 8080
    assert api["properties"]["configuration"]["ingress"]["corsPolicy"]["allowedOrigins"] == [
        "https://wp.example", "https://www.wp.example"]
    for app in (api, worker):
        resources = app["properties"]["template"]["containers"][0]["resources"]
        assert (resources["cpu"], resources["memory"]) == (1.0, "2Gi")
    assert api["properties"]["template"]["containers"][0]["args"] == ["api"]
    assert worker["properties"]["template"]["containers"][0]["args"] == ["worker"]

    # Credentials reach containers only by secretRef; their values live in Container Apps secrets.
    api_env, worker_env = env_of(api), env_of(worker)
    assert api_env["PRAISONAI_AZURE_STORAGE_CONNECTION_STRING"] == {
        "name": "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING", "secretRef": "storage-conn"}
    assert api_env["PRAISONAI_API_KEY"]["secretRef"] == "api-key"
    assert api_env["PRAISONAI_ADMIN_KEY"]["secretRef"] == "admin-key"
    assert api_env["PRAISONAI_JOB_RETENTION"]["value"] == worker_env["PRAISONAI_JOB_RETENTION"]["value"] == "30d"
    assert worker_env["PRAISONAI_AZURE_STORAGE_CONNECTION_STRING"]["secretRef"] == "storage-conn"
    for env in (api_env, worker_env):
        plain = " ".join(str(e.get("value", "")) for e in env.values())
        assert fake_az.CONNECTION not in plain and API_KEY not in plain and "adm-secret" not in plain
    secrets = {s["name"]: s for s in api["properties"]["configuration"]["secrets"]}
    assert secrets["storage-conn"]["value"] == fake_az.CONNECTION and secrets["api-key"]["value"] == API_KEY

    # Grace: the 10-minute job limit + 30 s is capped at Container Apps' 600 s; the worker releases before it.
    assert worker["properties"]["template"]["terminationGracePeriodSeconds"] == 600
    assert worker_env["PRAISONAI_SHUTDOWN_GRACE_SECONDS"]["value"] == "585"
    assert "at most 600 s of grace" in result.stdout

    # Secrets never reach the terminal.
    for secret in (fake_az.CONNECTION, API_KEY, "adm-secret", fake_az.WORKSPACE_KEY):
        assert secret not in result.stdout and secret not in result.stderr

    [alerts] = find(log, "deployment", "group", "create")
    template = json.loads(alerts["files"]["--template-file"])
    metric_rules = {r["name"]: r for r in template["variables"]["metricRules"]}
    log_rules = {r["name"]: r for r in template["variables"]["logRules"]}
    assert metric_rules["ppt-api-cpu"]["threshold"] == 80 and metric_rules["ppt-api-memory"]["threshold"] == 90
    assert metric_rules["ppt-blob-upload-failures"]["threshold"] == 3
    assert "depth > 50" in log_rules["ppt-queue-backlog"]["query"]
    assert "depth > 100" in log_rules["ppt-queue-capacity"]["query"]
    assert "poison > 5" in log_rules["ppt-poison-queue"]["query"]
    assert "failures > 10" in log_rules["ppt-failed-auth"]["query"]
    assert "> 5" in log_rules["ppt-job-failure-rate"]["query"] and "ppt-worker" in log_rules[
        "ppt-job-failure-rate"]["query"]
    assert "avg_s > 300" in log_rules["ppt-job-duration"]["query"]
    assert log_rules["ppt-api-5xx-rate"]["enabled"] is False  # needs --app-insights


def test_a_second_deploy_updates_in_place(workdir: Path, az_env: dict[str, str]) -> None:
    args = ["deploy", "azure", "--name", "ppt", "--api-key", API_KEY]
    assert run_cli(args, az_env, workdir).returncode == 0
    first = len(calls(az_env))
    second = run_cli(args, az_env, workdir)
    assert second.returncode == 0, second.stderr
    log = calls(az_env)[first:]
    assert not find(log, "acr", "create") and not find(log, "containerapp", "env", "create")
    assert not find(log, "role", "assignment", "create")
    assert not find(log, "containerapp", "create")
    assert {c["argv"][c["argv"].index("--name") + 1] for c in find(log, "containerapp", "update")} == {
        "ppt-api", "ppt-worker"}


def test_dry_run_prints_everything_and_needs_no_az(workdir: Path, az_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(az_env, PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin")  # no az anywhere
    result = run_cli(["deploy", "azure", "--dry-run", "--name", "ppt", "--api-key", API_KEY, "--alerts",
                      "--app-insights", "--max-job-minutes", "5", "--max-replicas", "2"], env, workdir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert not Path(az_env["FAKE_AZ_LOG"]).exists()
    for command in ("az group create", "az storage account create", "az acr build",
                    "az storage account management-policy create", "az containerapp env create",
                    "az containerapp create --name ppt-api", "az containerapp create --name ppt-worker",
                    "az deployment group create", "az monitor app-insights component create"):
        assert command in out, command
    documents = [block.split("---\n", 1)[0] for block in out.split("(rendered; secrets redacted) ---\n")[1:]]
    api, worker = (yaml.safe_load(doc) for doc in documents)
    assert api["properties"]["template"]["scale"]["maxReplicas"] == 2
    assert worker["properties"]["template"]["terminationGracePeriodSeconds"] == 330  # 5 min + 30 s
    assert env_of(worker)["PRAISONAI_SHUTDOWN_GRACE_SECONDS"]["value"] == "315"
    assert env_of(api)["APPLICATIONINSIGHTS_CONNECTION_STRING"]["secretRef"] == "appinsights-conn"
    assert all(s["value"] == "<redacted>" for s in api["properties"]["configuration"]["secrets"])
    assert API_KEY not in out and "EXTRA_PIP_PACKAGES=praisonai-svc[azure-monitor]" in out
    assert '"daysAfterModificationGreaterThan": 31' in out and "--quota 0.5" in out


def test_key_vault_reference_and_managed_identity_options(workdir: Path, az_env: dict[str, str]) -> None:
    secret_id = "https://ppt-vault.vault.azure.net/secrets/storage-conn"
    result = run_cli(["deploy", "azure", "--name", "ppt", "--api-key", API_KEY, "--key-vault-secret-id",
                      secret_id], az_env, workdir)
    assert result.returncode == 0, result.stderr
    log = calls(az_env)
    api = applied_app(log, "ppt-api")
    storage_secret = next(s for s in api["properties"]["configuration"]["secrets"] if s["name"] == "storage-conn")
    assert storage_secret["keyVaultUrl"] == secret_id and "value" not in storage_secret
    assert storage_secret["identity"].endswith("/userAssignedIdentities/ppt-identity")
    roles = [c["argv"][c["argv"].index("--role") + 1] for c in find(log, "role", "assignment", "create")]
    assert roles == ["AcrPull", "Key Vault Secrets User"]

    Path(az_env["FAKE_AZ_LOG"]).unlink()
    result = run_cli(["deploy", "azure", "--name", "mi", "--api-key", API_KEY, "--managed-identity"], az_env,
                     workdir)
    assert result.returncode == 0, result.stderr
    log = calls(az_env)
    worker = applied_app(log, "mi-worker")
    worker_env = env_of(worker)
    assert "PRAISONAI_AZURE_STORAGE_CONNECTION_STRING" not in worker_env
    assert worker_env["PRAISONAI_AZURE_STORAGE_ACCOUNT_URL"]["value"] == "https://fakeacct.blob.core.windows.net"
    assert worker_env["AZURE_CLIENT_ID"]["value"] == "44444444-client"
    assert not any(s["name"] == "storage-conn" for s in worker["properties"]["configuration"].get("secrets", []))
    rule = worker["properties"]["template"]["scale"]["rules"][0]["custom"]
    assert "auth" not in rule and rule["identity"].endswith("/userAssignedIdentities/mi-identity")
    roles = [c["argv"][c["argv"].index("--role") + 1] for c in find(log, "role", "assignment", "create")]
    assert {"Storage Blob Data Contributor", "Storage Queue Data Contributor", "Storage Table Data Contributor"} <= set(
        roles)


def test_clear_errors_without_az_or_login_or_api_key(workdir: Path, az_env: dict[str, str]) -> None:
    no_az = dict(az_env, PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin")
    missing = run_cli(["deploy", "azure", "--api-key", API_KEY], no_az, workdir)
    assert missing.returncode == 1 and "Azure CLI (az) was not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    logged_out = run_cli(["deploy", "azure", "--api-key", API_KEY], dict(az_env, FAKE_AZ_LOGGED_OUT="1"), workdir)
    assert logged_out.returncode == 1 and "az login" in logged_out.stderr and "not logged in" in logged_out.stderr
    assert [c["argv"][:2] for c in calls(az_env)] == [["account", "show"]]  # nothing else was attempted
    no_key = run_cli(["deploy", "azure", "--dry-run"], az_env, workdir)
    assert no_key.returncode == 2 and "--no-api-key" in no_key.stderr
    typo = run_cli(["deploy", "azure", "--dry-run", "--api-key", "k"], dict(az_env, PRAISONAI_DEPLOY_NAEM="x"),
                   workdir)
    assert typo.returncode == 2 and "PRAISONAI_DEPLOY_NAME" in typo.stderr


def test_options_default_from_the_environment(workdir: Path, az_env: dict[str, str]) -> None:
    env = dict(az_env, PRAISONAI_API_KEY="from-env", PRAISONAI_DEPLOY_MAX_REPLICAS="1",
               AZURE_DEFAULTS_GROUP="shared-rg", AZURE_DEFAULTS_LOCATION="westeurope")
    result = run_cli(["deploy", "azure", "--dry-run", "--name", "envy"], env, workdir)
    assert result.returncode == 0, result.stderr
    assert "az group create --name shared-rg --location westeurope" in result.stdout
    assert "maxReplicas: 1" in result.stdout
    helptext = run_cli(["deploy", "azure", "--help"], az_env, workdir).stdout
    for variable in ("PRAISONAI_API_KEY", "PRAISONAI_DEPLOY_MAX_REPLICAS", "AZURE_DEFAULTS_GROUP",
                     "PRAISONAI_CORS_ORIGINS", "PRAISONAI_MAX_JOB_DURATION_MINUTES"):
        assert variable in helptext, variable


def test_logs_runs_az_containerapp_logs_show(workdir: Path, az_env: dict[str, str]) -> None:
    result = run_cli(["logs", "--name", "ppt", "--worker", "--follow", "--tail", "20"], az_env, workdir)
    assert result.returncode == 0, result.stderr
    [call] = find(calls(az_env), "containerapp", "logs", "show")
    argv = call["argv"]
    assert argv[argv.index("--name") + 1] == "ppt-worker" and argv[argv.index("--resource-group") + 1] == "ppt-rg"
    assert argv[argv.index("--tail") + 1] == "20" and "--follow" in argv
    api = run_cli(["logs", "--name", "ppt", "-g", "other-rg"], az_env, workdir)
    assert api.returncode == 0
    argv = find(calls(az_env), "containerapp", "logs", "show")[-1]["argv"]
    assert argv[argv.index("--name") + 1] == "ppt-api" and "--follow" not in argv
    no_az = run_cli(["logs"], dict(az_env, PATH=f"{Path(sys.executable).parent}"), workdir)
    assert no_az.returncode == 1 and "Azure CLI (az) was not found" in no_az.stderr


METRICS_KEY = "deploy-test-metrics-key"
PUBLIC_FQDN = "https://ppt-api.happyfield-1234.uksouth.azurecontainerapps.io"


def test_deploy_defaults_behind_the_ingress_and_secrets_never_on_a_command_line(
    workdir: Path, az_env: dict[str, str]
) -> None:
    """Issue 11, finding 4 (the Azure control plane is the one thing mocked here: tests/support/fake_az.py).

    The API app trusts exactly one proxy hop (the ingress appends the client's address, so clients do not share
    one rate limit), builds links from its own https address (never from a Host header, never http://), serves
    /metrics only with a key, and every secret reaches ``az`` through a ``@file`` (mode 600, deleted after the
    call), never as an argument that ``ps`` shows to every user of the machine."""
    result = run_cli(["deploy", "azure", "--name", "ppt", "--api-key", API_KEY, "--admin-key", "adm-secret"],
                     az_env, workdir)
    assert result.returncode == 0, result.stderr
    log = calls(az_env)
    api_env = env_of(applied_app(log, "ppt-api"))
    assert api_env["PRAISONAI_TRUSTED_PROXY_HOPS"]["value"] == "1"
    assert api_env["PRAISONAI_PUBLIC_URL"]["value"] == PUBLIC_FQDN
    assert api_env["PRAISONAI_METRICS_ENABLED"]["value"] == "false"  # no --metrics-key: no public /metrics
    assert "PRAISONAI_METRICS_KEY" not in api_env

    secrets = (fake_az.CONNECTION, fake_az.WORKSPACE_KEY, API_KEY, "adm-secret")
    for call in log:
        argv = " ".join(call["argv"])
        assert not any(secret in argv for secret in secrets), argv
    storage_calls = [c for c in log if c["argv"][0] == "storage" and "--connection-string" in c["argv"]]
    assert {tuple(c["argv"][:3]) for c in storage_calls} == {
        ("storage", "queue", "create"), ("storage", "table", "create"), ("storage", "container", "create")}
    for call in storage_calls:
        assert call["argv"][call["argv"].index("--connection-string") + 1].startswith("@")
        assert call["secrets"]["--connection-string"] == fake_az.CONNECTION  # what the real az reads from it
    [environment] = find(log, "containerapp", "env", "create")
    assert environment["secrets"]["--logs-workspace-key"] == fake_az.WORKSPACE_KEY
    secret_file = Path(environment["argv"][environment["argv"].index("--logs-workspace-key") + 1][1:])
    assert not secret_file.exists() and not secret_file.parent.exists()  # deleted after the call


def test_metrics_key_and_custom_public_url(workdir: Path, az_env: dict[str, str]) -> None:
    result = run_cli(["deploy", "azure", "--name", "ppt", "--api-key", API_KEY, "--metrics-key", METRICS_KEY,
                      "--public-url", "https://jobs.example.com/"], az_env, workdir)
    assert result.returncode == 0, result.stderr
    api = applied_app(calls(az_env), "ppt-api")
    api_env = env_of(api)
    assert api_env["PRAISONAI_METRICS_KEY"] == {"name": "PRAISONAI_METRICS_KEY", "secretRef": "metrics-key"}
    assert "PRAISONAI_METRICS_ENABLED" not in api_env
    assert {s["name"]: s for s in api["properties"]["configuration"]["secrets"]}["metrics-key"]["value"] == METRICS_KEY
    assert api_env["PRAISONAI_PUBLIC_URL"]["value"] == "https://jobs.example.com"
    assert METRICS_KEY not in result.stdout
    plain = run_cli(["deploy", "azure", "--dry-run", "--name", "ppt", "--api-key", API_KEY, "--public-url",
                     "http://jobs.example.com"], az_env, workdir)
    assert plain.returncode != 0 and "--public-url must be https://HOST" in plain.stderr


def test_dry_run_shows_the_deploy_defaults(workdir: Path, az_env: dict[str, str]) -> None:
    env = dict(az_env, PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin")  # no az anywhere
    result = run_cli(["deploy", "azure", "--dry-run", "--name", "ppt", "--api-key", API_KEY], env, workdir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    api = yaml.safe_load(out.split("(rendered; secrets redacted) ---\n")[1].split("---\n", 1)[0])
    api_env = env_of(api)
    assert api_env["PRAISONAI_TRUSTED_PROXY_HOPS"]["value"] == "1"
    assert api_env["PRAISONAI_PUBLIC_URL"]["value"] == "https://ppt-api.<environment default domain>"
    assert api_env["PRAISONAI_METRICS_ENABLED"]["value"] == "false"
    assert api_env["PRAISONAI_AZURE_STORAGE_CONNECTION_STRING"]["secretRef"] == "storage-conn"
    assert "az storage queue create --name praison-jobs --connection-string <redacted>" in out
    assert "--logs-workspace-key <redacted>" in out and "passes each to az as @FILE" in out
