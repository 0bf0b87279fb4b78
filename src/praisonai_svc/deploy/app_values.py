"""The values the Container App templates are rendered with: environment, secrets, registries, scale rule.

Kept apart from the step sequence so the one place that decides *how a credential reaches a container* is
small enough to read in one go:

* the storage connection string is the Container Apps secret ``storage-conn`` — its value, or with
  ``--key-vault-secret-id`` a Key Vault reference the identity resolves — and containers see it only through
  ``secretRef``; with ``--managed-identity`` there is no connection string at all (account URL + identity);
* the API key, admin key, metrics key and App Insights connection string are secrets too, referenced the same
  way;
* plain ``value`` entries hold nothing secret (names, limits, log format).

And the API's defaults for life behind the Container Apps ingress (SECURITY.md "Deploy defaults"):

* ``PRAISONAI_TRUSTED_PROXY_HOPS=1``: the ingress appends the client's address to X-Forwarded-For, so each
  client has its own rate limits and failed-authentication count (with 0 every client would be the ingress);
* ``PRAISONAI_PUBLIC_URL`` = the app's own ``https://`` address: links are built from it, never from a Host
  header a client chose, and never ``http://``;
* ``/metrics`` only with a key (``--metrics-key``, sent as ``Authorization: Bearer``); without one it is off.
"""

from __future__ import annotations

from typing import Any

from praisonai_svc.deploy.az import Secret
from praisonai_svc.deploy.config import AzureDeployConfig

STORAGE_SECRET = "storage-conn"


def _env(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": str(value)}


def _ref(name: str, secret: str) -> dict[str, Any]:
    return {"name": name, "secretRef": secret}


def storage_secret(c: AzureDeployConfig, connection: Secret, identity_id: str) -> list[dict[str, Any]]:
    if c.managed_identity:
        return []
    if c.key_vault_secret_id:
        return [{"name": STORAGE_SECRET, "keyVaultUrl": c.key_vault_secret_id, "identity": identity_id}]
    return [{"name": STORAGE_SECRET, "value": connection}]


def storage_env(c: AzureDeployConfig, client_id: str, blob_endpoint: str) -> list[dict[str, Any]]:
    if c.managed_identity:  # DefaultAzureCredential picks the user-assigned identity named by AZURE_CLIENT_ID
        return [_env("PRAISONAI_AZURE_STORAGE_ACCOUNT_URL", blob_endpoint.rstrip("/")),
                _env("AZURE_CLIENT_ID", client_id)]
    return [_ref("PRAISONAI_AZURE_STORAGE_CONNECTION_STRING", STORAGE_SECRET)]


def common_env(c: AzureDeployConfig) -> list[dict[str, Any]]:
    return [
        _env("PRAISONAI_LOG_FORMAT", "json"),
        _env("PRAISONAI_QUEUE_NAME", c.queue_name),
        _env("PRAISONAI_POISON_QUEUE_SUFFIX", c.poison_queue_suffix),
        _env("PRAISONAI_TABLE_NAME", c.table_name),
        _env("PRAISONAI_CONTAINER_NAME", c.container_name),
        _env("PRAISONAI_MAX_JOB_DURATION_MINUTES", f"{c.max_job_minutes:g}"),
        _env("PRAISONAI_JOB_RETENTION", f"{c.job_retention_days}d"),
    ]


def queue_rule(c: AzureDeployConfig, identity_id: str) -> dict[str, Any]:
    """KEDA azure-queue: one replica per ``queue_length`` messages, leased ones included (strategy "all")."""
    metadata = {"queueName": c.queue_name, "queueLength": str(c.queue_length), "queueLengthStrategy": "all",
                "accountName": c.storage}
    if c.managed_identity:
        return {"queue_rule_metadata": metadata, "queue_rule_auth": None, "queue_rule_identity": identity_id}
    return {"queue_rule_metadata": metadata, "queue_rule_identity": None,
            "queue_rule_auth": [{"secretRef": STORAGE_SECRET, "triggerParameter": "connection"}]}


def edge_env(c: AzureDeployConfig, public_url: str) -> list[dict[str, Any]]:
    """How the API sees the world behind the ingress (see the module docstring)."""
    env = [_env("PRAISONAI_TRUSTED_PROXY_HOPS", 1), _env("PRAISONAI_PUBLIC_URL", public_url)]
    if not c.metrics_key:
        env.append(_env("PRAISONAI_METRICS_ENABLED", "false"))
    return env


def app_values(
    c: AzureDeployConfig, *, image: str, registry_server: str | None, identity_id: str, client_id: str,
    environment_id: str, connection: Secret, insights: Secret | None, blob_endpoint: str, public_url: str,
) -> dict[str, Any]:
    shared_secrets = storage_secret(c, connection, identity_id)
    insights_env: list[dict[str, Any]] = []
    if insights is not None:
        shared_secrets.append({"name": "appinsights-conn", "value": insights})
        insights_env = [_ref("APPLICATIONINSIGHTS_CONNECTION_STRING", "appinsights-conn")]
    api_secrets = list(shared_secrets)
    api_env = [*common_env(c), *storage_env(c, client_id, blob_endpoint), *insights_env,
               _env("PRAISONAI_HOST", "0.0.0.0"), _env("PRAISONAI_PORT", 8080),
               _env("PRAISONAI_CORS_ORIGINS", ",".join(c.cors_origins)),
               _env("FORWARDED_ALLOW_IPS", "*"),  # only the ingress reaches the app: trust its X-Forwarded-Proto
               *edge_env(c, public_url)]
    for env_name, secret_name, value in (("PRAISONAI_API_KEY", "api-key", c.api_key),
                                         ("PRAISONAI_ADMIN_KEY", "admin-key", c.admin_key),
                                         ("PRAISONAI_METRICS_KEY", "metrics-key", c.metrics_key)):
        if value:
            api_secrets.append({"name": secret_name, "value": Secret(value)})
            api_env.append(_ref(env_name, secret_name))
    worker_env = [*common_env(c), *storage_env(c, client_id, blob_endpoint), *insights_env,
                  _env("PRAISONAI_WORKER_CONCURRENCY", c.worker_concurrency),
                  _env("PRAISONAI_SHUTDOWN_GRACE_SECONDS", c.worker_shutdown_grace),
                  _env("PRAISONAI_QUEUE_REPORT_INTERVAL_SECONDS", 60)]
    return {
        "location": c.location, "api_app": c.api_app, "worker_app": c.worker_app, "tags": c.tags or {},
        "identity_map": {identity_id: {}}, "environment_id": environment_id, "image": image,
        "registries": [{"server": registry_server, "identity": identity_id}] if registry_server else [],
        "cors_origins": list(c.cors_origins), "api_secrets": api_secrets, "worker_secrets": shared_secrets,
        "api_env": api_env, "worker_env": worker_env, "cpu": c.cpu, "memory": c.memory,
        "api_min_replicas": c.api_min_replicas, "api_max_replicas": c.api_max_replicas,
        "worker_min_replicas": c.worker_min_replicas, "worker_max_replicas": c.worker_max_replicas,
        "concurrent_requests": str(c.concurrent_requests), "grace_seconds": c.grace_seconds,
        "queue_length": c.queue_length, **queue_rule(c, identity_id),
    }
