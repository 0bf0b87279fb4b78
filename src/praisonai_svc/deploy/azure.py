"""``deploy azure``: an idempotent sequence of ``az`` steps from nothing to a running, capped, observable service.

Order (each step creates what is missing and leaves what exists, so running it again updates in place):

 1. ``az account show`` (logged in?), the ``containerapp`` extension, resource providers;
 2. resource group;
 3. storage account (StorageV2, Standard_LRS, HTTPS only, TLS 1.2, no public blob access) with the job queue,
    its poison queue, the job table and the private output container;
 4. lifecycle rule: outputs deleted 30 days after their last change (templates/lifecycle-policy.json);
 5. container registry (Basic, no admin user) and the image, built remotely by ``az acr build``
    (no local Docker), unless ``--image`` names a prebuilt one;
 6. a user-assigned managed identity: pulls the image (AcrPull), and with ``--managed-identity`` reads and writes
    storage (data roles) instead of a connection string, or with ``--key-vault-secret-id`` reads that secret;
 7. Log Analytics workspace with a daily ingestion cap (0.5 GB) and 30-day retention; optionally
    Application Insights on it (``--app-insights``);
 8. Container Apps environment sending logs to that workspace;
 9. the API app (templates/api-app.yaml) and, separately, the worker app (templates/worker-app.yaml);
10. with ``--alerts``, the alert rules of seed 001 §9 (templates/alerts.json).

A user-assigned identity (not the apps' system-assigned ones) because it exists before the apps do: image pulls,
Key Vault references and storage roles then work on the very first revision, with no create-then-patch dance.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from praisonai_svc.deploy.app_values import app_values
from praisonai_svc.deploy.az import AzCli, Secret
from praisonai_svc.deploy.config import ACA_MAX_GRACE_SECONDS, AzureDeployConfig
from praisonai_svc.deploy.render import render_json, render_yaml

STORAGE_DATA_ROLES = ("Storage Blob Data Contributor", "Storage Queue Data Contributor",
                      "Storage Table Data Contributor")
EXTRA_PACKAGES_ARG = "EXTRA_PIP_PACKAGES"


@dataclass
class Identity:
    id: str
    principal_id: str
    client_id: str


@dataclass
class DeployResult:
    api_url: str
    api_app: str
    worker_app: str
    resource_group: str
    image: str


class AzureDeployment:
    """Runs the steps for one :class:`AzureDeployConfig` through an :class:`AzCli` (real or dry-run)."""

    def __init__(self, config: AzureDeployConfig, az: AzCli, echo: Callable[[str], None]) -> None:
        self.c = config
        self.az = az
        self.echo = echo
        self._files = Path(tempfile.mkdtemp(prefix="praisonai-deploy-"))

    def step(self, title: str) -> None:
        self.echo(f"\n# {title}")

    def deploy(self) -> DeployResult:
        try:
            return self._deploy()
        finally:
            for path in self._files.iterdir():
                path.unlink()
            self._files.rmdir()

    def _deploy(self) -> DeployResult:
        c, az = self.c, self.az
        account = az.require_login()
        self.echo(f"# subscription: {account.get('name')} ({account.get('id')})")
        self.prerequisites()
        self.step(f"resource group {c.resource_group}")
        az.run("group", "create", "--name", c.resource_group, "--location", c.location)
        storage_id, connection = self.storage()
        self.lifecycle()
        registry = self.registry()
        image = self.build(registry)
        identity = self.identity()
        self.grant(identity, storage_id, registry)
        workspace_id, customer_id, workspace_key = self.workspace()
        insights = self.insights(workspace_id)
        environment_id, public_url = self.environment(customer_id, workspace_key)
        values = self.template_values(image, registry, identity, environment_id, connection, insights, public_url)
        api_id = self.apply_app(c.api_app, "api-app.yaml", values)
        worker_id = self.apply_app(c.worker_app, "worker-app.yaml", values)
        if c.alerts:
            self.alerts(workspace_id, storage_id, api_id, worker_id)
        fqdn = az.value("containerapp", "show", "--name", c.api_app, "--resource-group", c.resource_group,
                        "--query", "properties.configuration.ingress.fqdn", "--output", "tsv",
                        placeholder="API address")
        return DeployResult(f"https://{fqdn}", c.api_app, c.worker_app, c.resource_group, image)

    # --- 1. prerequisites ----------------------------------------------------------------------------------
    def prerequisites(self) -> None:
        self.step("Azure CLI extensions and resource providers")
        self.az.run("extension", "add", "--name", "containerapp", "--upgrade", "--yes")
        if self.c.app_insights:
            self.az.run("extension", "add", "--name", "application-insights", "--upgrade", "--yes")
        for namespace in ("Microsoft.App", "Microsoft.OperationalInsights", "Microsoft.Storage",
                          "Microsoft.ContainerRegistry", "Microsoft.ManagedIdentity"):
            self.az.run("provider", "register", "--namespace", namespace, "--wait")

    # --- 3. storage ----------------------------------------------------------------------------------------
    def storage(self) -> tuple[str, Secret]:
        c, az = self.c, self.az
        self.step(f"storage account {c.storage}: queue, poison queue, table, private container")
        az.run("storage", "account", "create", "--name", c.storage, "--resource-group", c.resource_group,
               "--location", c.location, "--kind", "StorageV2", "--sku", "Standard_LRS", "--https-only", "true",
               "--min-tls-version", "TLS1_2", "--allow-blob-public-access", "false")
        storage_id = az.value("storage", "account", "show", "--name", c.storage, "--resource-group",
                              c.resource_group, "--query", "id", "--output", "tsv", placeholder="storage account id")
        connection = Secret(az.value(
            "storage", "account", "show-connection-string", "--name", c.storage, "--resource-group",
            c.resource_group, "--query", "connectionString", "--output", "tsv", placeholder="connection string"))
        for queue in (c.queue_name, c.poison_queue):
            az.run("storage", "queue", "create", "--name", queue, "--connection-string", connection)
        az.run("storage", "table", "create", "--name", c.table_name, "--connection-string", connection)
        az.run("storage", "container", "create", "--name", c.container_name, "--public-access", "off",
               "--connection-string", connection)
        return storage_id, connection

    # --- 4. lifecycle --------------------------------------------------------------------------------------
    def lifecycle(self) -> None:
        c = self.c
        self.step(f"lifecycle rule: delete outputs {c.output_retention_days} days after their last change "
                  f"(a day after the {c.job_retention_days}-day job retention: a backstop for the pruner)")
        _doc, text = render_json("lifecycle-policy.json", {"container": c.container_name,
                                                           "retention_days": c.output_retention_days})
        path = self.write("lifecycle-policy.json", text)
        self.az.run("storage", "account", "management-policy", "create", "--account-name", c.storage,
                    "--resource-group", c.resource_group, "--policy", f"@{path}")

    # --- 5. registry and image -----------------------------------------------------------------------------
    def registry(self) -> dict[str, str] | None:
        c, az = self.c, self.az
        if c.image:
            return None
        self.step(f"container registry {c.registry_name}")
        if not az.exists("acr", "show", "--name", c.registry_name, "--resource-group", c.resource_group):
            az.run("acr", "create", "--name", c.registry_name, "--resource-group", c.resource_group,
                   "--location", c.location, "--sku", "Basic", "--admin-enabled", "false")
        server = az.value("acr", "show", "--name", c.registry_name, "--query", "loginServer", "--output", "tsv",
                          placeholder="registry login server")
        registry_id = az.value("acr", "show", "--name", c.registry_name, "--query", "id", "--output", "tsv",
                               placeholder="registry id")
        return {"server": server, "id": registry_id}

    def build(self, registry: dict[str, str] | None) -> str:
        c = self.c
        if registry is None:
            assert c.image is not None
            self.step(f"image {c.image} (prebuilt: no build)")
            return c.image
        self.step(f"image {c.image_repository}, built in Azure from {c.source} (az acr build: no local Docker)")
        extra = ["--build-arg", f"{EXTRA_PACKAGES_ARG}=praisonai-svc[azure-monitor]"] if c.app_insights else []
        self.az.run("acr", "build", "--registry", c.registry_name, "--image", c.image_repository,
                    "--file", str(c.source / c.dockerfile), *extra, str(c.source))
        return f"{registry['server']}/{c.image_repository}"

    # --- 6. identity and roles -----------------------------------------------------------------------------
    def identity(self) -> Identity:
        c = self.c
        self.step(f"managed identity {c.identity}")
        created = self.az.run("identity", "create", "--name", c.identity, "--resource-group", c.resource_group,
                              "--location", c.location, placeholder="")
        data = created if isinstance(created, dict) else {}
        return Identity(data.get("id", "<identity id>"), data.get("principalId", "<identity principal id>"),
                        data.get("clientId", "<identity client id>"))

    def grant(self, identity: Identity, storage_id: str, registry: dict[str, str] | None) -> None:
        c = self.c
        self.step("role assignments for the identity")
        if registry is not None:
            self.assign(identity, "AcrPull", registry["id"])
        if c.managed_identity:
            for role in STORAGE_DATA_ROLES:
                self.assign(identity, role, storage_id)
        if c.key_vault_secret_id:
            vault = (urlsplit(c.key_vault_secret_id).hostname or "").split(".")[0]
            vault_id = self.az.value("keyvault", "show", "--name", vault, "--query", "id", "--output", "tsv",
                                     placeholder="key vault id")
            self.assign(identity, "Key Vault Secrets User", vault_id)

    def assign(self, identity: Identity, role: str, scope: str) -> None:
        existing = self.az.run("role", "assignment", "list", "--assignee", identity.principal_id, "--role", role,
                               "--scope", scope, placeholder="[]")
        if isinstance(existing, list) and existing:
            return
        self.az.run("role", "assignment", "create", "--assignee-object-id", identity.principal_id,
                    "--assignee-principal-type", "ServicePrincipal", "--role", role, "--scope", scope)

    # --- 7-8. logs, App Insights, environment --------------------------------------------------------------
    def workspace(self) -> tuple[str, str, Secret]:
        c, az = self.c, self.az
        self.step(f"Log Analytics workspace {c.workspace}: daily cap {c.log_daily_cap_gb} GB, "
                  f"{c.log_retention_days}-day retention")
        az.run("monitor", "log-analytics", "workspace", "create", "--workspace-name", c.workspace,
               "--resource-group", c.resource_group, "--location", c.location,
               "--quota", f"{c.log_daily_cap_gb:g}", "--retention-time", str(c.log_retention_days))
        base = ("monitor", "log-analytics", "workspace")
        names = ("--workspace-name", c.workspace, "--resource-group", c.resource_group)
        workspace_id = az.value(*base, "show", *names, "--query", "id", "--output", "tsv",
                                placeholder="workspace id")
        customer_id = az.value(*base, "show", *names, "--query", "customerId", "--output", "tsv",
                               placeholder="workspace customer id")
        key = Secret(az.value(*base, "get-shared-keys", *names, "--query", "primarySharedKey", "--output", "tsv",
                              placeholder="workspace key"))
        return workspace_id, customer_id, key

    def insights(self, workspace_id: str) -> Secret | None:
        c = self.c
        if not c.app_insights:
            return None
        self.step(f"Application Insights {c.insights} (workspace-based: its data counts against the daily cap)")
        self.az.run("monitor", "app-insights", "component", "create", "--app", c.insights, "--resource-group",
                    c.resource_group, "--location", c.location, "--workspace", workspace_id, "--kind", "web",
                    "--application-type", "web")
        return Secret(self.az.value("monitor", "app-insights", "component", "show", "--app", c.insights,
                                    "--resource-group", c.resource_group, "--query", "connectionString",
                                    "--output", "tsv", placeholder="App Insights connection string"))

    def environment(self, customer_id: str, key: Secret) -> tuple[str, str]:
        """The environment's id, and the API's public https URL (PRAISONAI_PUBLIC_URL): ``--public-url``, or
        the address Container Apps gives the app, ``https://<app>.<environment's default domain>``."""
        c, az = self.c, self.az
        self.step(f"Container Apps environment {c.environment}")
        names = ("--name", c.environment, "--resource-group", c.resource_group)
        if not az.exists("containerapp", "env", "show", *names):
            az.run("containerapp", "env", "create", *names, "--location", c.location,
                   "--logs-destination", "log-analytics", "--logs-workspace-id", customer_id,
                   "--logs-workspace-key", key)
        environment_id = az.value("containerapp", "env", "show", *names, "--query", "id", "--output", "tsv",
                                  placeholder="environment id")
        if c.public_url:
            return environment_id, c.public_url.rstrip("/")
        domain = az.value("containerapp", "env", "show", *names, "--query", "properties.defaultDomain",
                          "--output", "tsv", placeholder="environment default domain")
        return environment_id, f"https://{c.api_app}.{domain}"

    # --- 9. the apps ---------------------------------------------------------------------------------------
    def template_values(
        self, image: str, registry: dict[str, str] | None, identity: Identity, environment_id: str,
        connection: Secret, insights: Secret | None, public_url: str,
    ) -> dict[str, Any]:
        blob_endpoint = ""
        if self.c.managed_identity:
            blob_endpoint = self.az.value("storage", "account", "show", "--name", self.c.storage, "--query",
                                          "primaryEndpoints.blob", "--output", "tsv", placeholder="blob endpoint")
        return app_values(self.c, image=image, registry_server=registry["server"] if registry else None,
                          identity_id=identity.id, client_id=identity.client_id, environment_id=environment_id,
                          connection=connection, insights=insights, blob_endpoint=blob_endpoint,
                          public_url=public_url)

    def apply_app(self, app: str, template: str, values: dict[str, Any]) -> str:
        c, az = self.c, self.az
        self.step(f"container app {app} ({template})")
        if template == "worker-app.yaml" and c.grace_capped:
            self.echo(f"# NOTE: jobs may run {c.wanted_grace_seconds - 30} s but Container Apps allows at most "
                      f"{ACA_MAX_GRACE_SECONDS} s of grace: a job still running when a replica is stopped is "
                      "released and runs again from the start on another replica")
        _doc, shown = render_yaml(template, values)
        self.echo(f"--- {template} (rendered; secrets redacted) ---\n{shown.rstrip()}\n---")
        _doc, real = render_yaml(template, values, reveal=True)
        path = self.write(template, real)
        names = ("--name", app, "--resource-group", c.resource_group)
        verb = "update" if az.exists("containerapp", "show", *names) else "create"
        az.run("containerapp", verb, *names, "--yaml", str(path))
        return az.value("containerapp", "show", *names, "--query", "id", "--output", "tsv",
                        placeholder=f"{app} id")

    # --- 10. alerts ----------------------------------------------------------------------------------------
    def alerts(self, workspace_id: str, storage_id: str, api_id: str, worker_id: str) -> None:
        c = self.c
        self.step("alert rules (seed 001 §9) from templates/alerts.json")
        _doc, text = render_json("alerts.json", {
            "prefix": c.name, "short_name": c.name.replace("-", "")[:12], "location": c.location,
            "workspace_id": workspace_id, "storage_account_id": storage_id, "api_app_id": api_id,
            "worker_app_id": worker_id, "api_app": c.api_app, "worker_app": c.worker_app,
            "app_insights": c.app_insights,
        })
        self.echo(f"--- alerts.json (rendered) ---\n{text}\n---")
        path = self.write("alerts.json", text)
        self.az.run("deployment", "group", "create", "--resource-group", c.resource_group, "--name",
                    f"{c.name}-alerts", "--template-file", str(path), "--parameters",
                    f"alertEmail={c.alert_email or ''}")

    # --- helpers -------------------------------------------------------------------------------------------
    def write(self, name: str, text: str) -> Path:
        """A rendered file for az, readable only by us (the app templates hold secret values)."""
        path = self._files / name
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
        if self.az.dry_run and not name.endswith(".yaml") and name != "alerts.json":
            self.echo(f"--- {name} (rendered) ---\n{text}\n---")
        return path
