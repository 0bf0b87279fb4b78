"""``deploy azure`` and ``logs``: Azure Container Apps through the Azure CLI (see docs/operations.md).

Every option defaults from an environment variable, shown in ``--help``: the service's own PRAISONAI_*
settings where one exists (API key, CORS origins, job limit, queue names), the Azure CLI's defaults for the
resource group and location (AZURE_DEFAULTS_GROUP, AZURE_DEFAULTS_LOCATION), and PRAISONAI_DEPLOY_* for the rest.
PRAISONAI_DEPLOY_* variables are checked here (the service ignores them), so a typo is still refused.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from praisonai_svc.cli.options import F
from praisonai_svc.deploy.az import AZ_ENV, AzCli, AzureCliError
from praisonai_svc.deploy.config import AzureDeployConfig, app_name_from
from praisonai_svc.errors import ConfigError
from praisonai_svc.settings import DEPLOY_ENV_PREFIX

DEFAULT_LOCATION = "uksouth"  # seed 001 §10 prices a UK region


def deploy_option(*names: str, env: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """An option reading PRAISONAI_DEPLOY_<NAME> (or ``env``), shown in --help."""
    long_name = next(n for n in names if n.startswith("--"))
    envvar = env or DEPLOY_ENV_PREFIX + long_name[2:].upper().replace("-", "_")
    option: Callable[[F], F] = click.option(*names, envvar=envvar, show_envvar=True, **kwargs)
    return option


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def _check_deploy_env(command: click.Command) -> None:
    known = {AZ_ENV} | {
        str(p.envvar) for p in command.params if isinstance(p.envvar, str) and p.envvar.startswith(DEPLOY_ENV_PREFIX)
    }
    for name in os.environ:
        if name.startswith(DEPLOY_ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise click.UsageError(f"Unknown variable {name}." + (f" Did you mean {close[0]}?" if close else ""))


def _az(dry_run: bool) -> AzCli:
    try:
        return AzCli(dry_run=dry_run, echo=click.echo)
    except AzureCliError as exc:
        raise click.ClickException(exc.message) from exc


def app_options(func: F) -> F:
    func = deploy_option("--resource-group", "-g", env="AZURE_DEFAULTS_GROUP", default=None,
                         help="Resource group (default: NAME-rg).")(func)
    return deploy_option("--name", "-n", default=None,
                         help="App name: 2-20 lowercase letters, digits, hyphens; the apps are NAME-api and "
                              "NAME-worker (default: from the source directory's name).")(func)


def scale_options(func: F) -> F:
    return _apply(func, [
        deploy_option("--min-replicas", type=click.IntRange(0, 30), default=0, show_default=True,
                      help="API replicas when idle (0: scale to zero)."),
        deploy_option("--max-replicas", type=click.IntRange(1, 30), default=3, show_default=True,
                      help="Hard cap of API replicas (cost control)."),
        deploy_option("--worker-min-replicas", type=click.IntRange(0, 30), default=0, show_default=True,
                      help="Worker replicas when the queue is empty."),
        deploy_option("--worker-max-replicas", type=click.IntRange(1, 30), default=3, show_default=True,
                      help="Hard cap of worker replicas (cost control)."),
        deploy_option("--cpu", type=float, default=1.0, show_default=True, help="vCPUs per replica."),
        deploy_option("--memory", default="2Gi", show_default=True, help="Memory per replica (Container Apps "
                      "pairs 1.0 vCPU with 2Gi)."),
        deploy_option("--concurrent-requests", type=click.IntRange(1, 1000), default=20, show_default=True,
                      help="HTTP requests per API replica before another is added."),
        deploy_option("--queue-length", type=click.IntRange(0, 1000), default=0,
                      help="Queued jobs per worker replica before another is added (default: the worker "
                           "concurrency)."),
        deploy_option("--worker-concurrency", env="PRAISONAI_WORKER_CONCURRENCY", type=click.IntRange(1, 256),
                      default=4, show_default=True, help="Jobs one worker replica runs at once."),
        deploy_option("--max-job-minutes", env="PRAISONAI_MAX_JOB_DURATION_MINUTES", type=float, default=10.0,
                      show_default=True, help="Job time limit; the worker's grace period is this + 30 s "
                                              "(Container Apps allows at most 600 s)."),
    ])


def security_options(func: F) -> F:
    return _apply(func, [
        deploy_option("--cors-origins", env="PRAISONAI_CORS_ORIGINS", default="*", show_default=True,
                      help="Browser origins allowed to call the API, comma-separated."),
        deploy_option("--api-key", env="PRAISONAI_API_KEY", default=None,
                      help="API key(s), comma-separated (stored as a Container Apps secret)."),
        click.option("--no-api-key", is_flag=True, help="Deploy an API anyone can call (not recommended)."),
        deploy_option("--admin-key", env="PRAISONAI_ADMIN_KEY", default=None,
                      help="Key of the /admin endpoints (stored as a secret; unset: they answer 404)."),
        deploy_option("--metrics-key", env="PRAISONAI_METRICS_KEY", default=None,
                      help="Key Prometheus sends to GET /metrics (Authorization: Bearer KEY; stored as a secret). "
                           "Unset: /metrics is off on the public API."),
        deploy_option("--public-url", env="PRAISONAI_PUBLIC_URL", default=None,
                      help="https://HOST of a custom domain for the API; links are built from it (default: the "
                           "app's own https://NAME-api.<environment domain>)."),
        deploy_option("--key-vault-secret-id", default=None,
                      help="Key Vault secret (https://VAULT.vault.azure.net/secrets/NAME) holding the storage "
                           "connection string: the apps reference it instead of a copied value."),
        deploy_option("--managed-identity", is_flag=True, default=False,
                      help="No connection string at all: the apps reach storage with their managed identity "
                           "(data roles on the account)."),
    ])


def observability_options(func: F) -> F:
    return _apply(func, [
        deploy_option("--app-insights", is_flag=True, default=False,
                      help="Create Application Insights and send traces (10 %% sampled) and metrics to it."),
        deploy_option("--alerts", is_flag=True, default=False, help="Deploy the alert rules of seed 001 §9."),
        deploy_option("--alert-email", default=None, help="Email the alerts to this address."),
        deploy_option("--log-cap-gb", type=float, default=0.5, show_default=True,
                      help="Daily Log Analytics ingestion cap, GB."),
        deploy_option("--job-retention-days", type=click.IntRange(1, 3650), default=30, show_default=True,
                      help="Finished jobs and their outputs are pruned after this many days (PRAISONAI_JOB_RETENTION); "
                      "a blob lifecycle rule deletes any output left over one day later."),
    ])


def build_options(func: F) -> F:
    return _apply(func, [
        deploy_option("--location", "-l", env="AZURE_DEFAULTS_LOCATION", default=DEFAULT_LOCATION,
                      show_default=True, help="Azure region."),
        deploy_option("--source", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                      show_default=True, help="Directory with the service and its Dockerfile (built in Azure)."),
        deploy_option("--dockerfile", default="Dockerfile", show_default=True, help="Dockerfile, within SOURCE."),
        deploy_option("--image", default=None, help="Use this prebuilt image instead of building one."),
        deploy_option("--image-tag", default=None, help="Tag of the built image (default: a UTC timestamp)."),
        deploy_option("--storage-account", default=None, help="Storage account (default: derived, unique)."),
        deploy_option("--registry", default=None, help="Container registry (default: derived, unique)."),
    ])


def config_from(options: dict[str, Any]) -> AzureDeployConfig:
    source: Path = options["source"]
    name = options["name"] or app_name_from(source.resolve().name)
    if not options["api_key"] and not options["no_api_key"]:
        raise click.UsageError("No API key: pass --api-key (or set PRAISONAI_API_KEY), or --no-api-key to deploy "
                               "an API that anyone can call.")
    if not options["image"] and not (source / options["dockerfile"]).is_file():
        raise click.UsageError(f"No {options['dockerfile']} in {source}: `praisonai-svc new` scaffolds one, or "
                               "pass --image.")
    settings_names = _settings_names()
    try:
        return AzureDeployConfig(
            name=name, resource_group=options["resource_group"] or f"{name}-rg", location=options["location"],
            source=source, dockerfile=options["dockerfile"], image=options["image"],
            image_tag=options["image_tag"] or datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
            storage_account=options["storage_account"] or "", registry=options["registry"] or "",
            api_min_replicas=options["min_replicas"], api_max_replicas=options["max_replicas"],
            worker_min_replicas=options["worker_min_replicas"], worker_max_replicas=options["worker_max_replicas"],
            cpu=options["cpu"], memory=options["memory"], concurrent_requests=options["concurrent_requests"],
            worker_concurrency=options["worker_concurrency"], queue_length_per_replica=options["queue_length"],
            max_job_minutes=options["max_job_minutes"],
            cors_origins=tuple(o.strip() for o in options["cors_origins"].split(",") if o.strip()) or ("*",),
            api_key=None if options["no_api_key"] else options["api_key"], admin_key=options["admin_key"],
            metrics_key=options["metrics_key"], public_url=options["public_url"],
            key_vault_secret_id=options["key_vault_secret_id"], managed_identity=options["managed_identity"],
            app_insights=options["app_insights"], alerts=options["alerts"], alert_email=options["alert_email"],
            log_daily_cap_gb=options["log_cap_gb"], job_retention_days=options["job_retention_days"],
            tags={"app": name, "managed-by": "praisonai-svc"}, queue_name=settings_names["queue_name"],
            poison_queue_suffix=settings_names["poison_queue_suffix"], table_name=settings_names["table_name"],
            container_name=settings_names["container_name"],
        )
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc


def _settings_names() -> dict[str, str]:
    """Queue, table and container names as the service will see them (PRAISONAI_QUEUE_NAME etc.)."""
    from praisonai_svc.settings import Settings

    defaults = {n: Settings.model_fields[n].default for n in
                ("queue_name", "poison_queue_suffix", "table_name", "container_name")}
    return {n: os.environ.get("PRAISONAI_" + n.upper(), str(v)) for n, v in defaults.items()}


@click.group()
def deploy() -> None:
    """Deploy the service to the cloud."""


@deploy.command("azure")
@app_options
@build_options
@scale_options
@security_options
@observability_options
@click.option("--dry-run", is_flag=True, help="Print every az command and rendered template; touch nothing.")
def azure(**options: Any) -> None:
    """Deploy to Azure Container Apps: storage, image (built in Azure), capped API and worker apps, logs.

    Idempotent: run it again to roll out a new image or changed options. Needs the Azure CLI, logged in
    (`az login`). The API and the worker are separate apps: see docs/operations.md for why and for costs.
    """
    from praisonai_svc.deploy.azure import AzureDeployment

    _check_deploy_env(azure)
    config = config_from(options)
    az = _az(options["dry_run"])
    if options["dry_run"]:
        click.echo("# DRY RUN: nothing below is executed; <...> marks values a real run reads from Azure.\n"
                   "# <redacted> arguments are secrets: a real run passes each to az as @FILE (mode 600, deleted "
                   "after the call), never on a command line that `ps` shows.")
    try:
        result = AzureDeployment(config, az, click.echo).deploy()
    except AzureCliError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"\nAPI: {result.api_url}  (apps {result.api_app}, {result.worker_app} in {result.resource_group})")
    click.echo(f"Logs: praisonai-svc logs --name {config.name} -g {config.resource_group} [--worker] [--follow]")


@click.command()
@app_options
@click.option("--worker", is_flag=True, help="The worker app's logs instead of the API's.")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new lines.")
@click.option("--tail", type=click.IntRange(1, 300), default=50, show_default=True, help="Recent lines to show.")
@click.option("--system", is_flag=True, help="Container Apps system events (scaling, restarts) instead of stdout.")
def logs(name: str | None, resource_group: str | None, worker: bool, follow: bool, tail: int, system: bool) -> None:
    """Show (or --follow) the logs of the deployed API or worker (az containerapp logs show)."""
    _check_deploy_env(logs)
    name = name or app_name_from(Path.cwd().name)
    app = f"{name}-worker" if worker else f"{name}-api"
    az = _az(dry_run=False)
    try:
        az.require_login()
    except AzureCliError as exc:
        raise click.ClickException(exc.message) from exc
    args = ["containerapp", "logs", "show", "--name", app, "--resource-group", resource_group or f"{name}-rg",
            "--tail", str(tail), "--type", "system" if system else "console", "--format", "text"]
    if follow:
        args.append("--follow")
    code = az.stream(*args)
    if code != 0:
        raise click.ClickException(f"az containerapp logs show exited with {code} (is {app} deployed in that "
                                   "resource group? see `praisonai-svc deploy azure --help`).")
