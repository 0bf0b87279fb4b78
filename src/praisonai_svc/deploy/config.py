"""What ``deploy azure`` deploys: one frozen config, with every Azure resource name derived from the app name.

Names are deterministic (the same ``--name`` and resource group give the same names on every run), which is
what makes a re-deploy update the same resources instead of creating new ones. Globally unique names (storage
account, container registry) get a short hash of the resource group and name so that two people deploying
"ppt" do not collide.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from praisonai_svc.errors import ConfigError

# Container Apps refuses a longer terminationGracePeriodSeconds (and SIGKILLs a replica after it).
ACA_MAX_GRACE_SECONDS = 600
GRACE_MARGIN_SECONDS = 30  # beyond the job limit: the handler's last write, the release, process exit
# The worker releases unfinished jobs this long before Container Apps kills it.
RELEASE_MARGIN_SECONDS = 15
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")


def app_name_from(text: str) -> str:
    """A valid app name from free text (a directory or service name): lowercase, hyphens, 2-20 chars."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)[:20].strip("-")
    if len(slug) >= 2:
        return slug
    return f"{slug}-svc" if slug else "praisonai-svc"


def _unique(prefix: str, salt: str, length: int) -> str:
    digest = hashlib.sha256(salt.encode()).hexdigest()[:8]
    clean = re.sub(r"[^a-z0-9]", "", prefix.lower())
    return (clean[: length - len(digest)] or "svc") + digest


@dataclass(frozen=True)
class AzureDeployConfig:
    name: str
    resource_group: str
    location: str
    source: Path = Path(".")
    dockerfile: str = "Dockerfile"
    image: str | None = None  # a prebuilt image: skips the registry and the build
    image_tag: str = "latest"
    storage_account: str = ""
    registry: str = ""
    api_min_replicas: int = 0
    api_max_replicas: int = 3
    worker_min_replicas: int = 0
    worker_max_replicas: int = 3
    cpu: float = 1.0
    memory: str = "2Gi"
    concurrent_requests: int = 20
    worker_concurrency: int = 4
    queue_length_per_replica: int = 0  # 0: the worker concurrency
    max_job_minutes: float = 10.0
    cors_origins: tuple[str, ...] = ("*",)
    api_key: str | None = None
    admin_key: str | None = None
    metrics_key: str | None = None  # unset: /metrics is switched off on the public API
    public_url: str | None = None  # unset: https://<api app>.<environment's default domain>
    key_vault_secret_id: str | None = None
    managed_identity: bool = False
    app_insights: bool = False
    alerts: bool = False
    alert_email: str | None = None
    log_daily_cap_gb: float = 0.5
    log_retention_days: int = 30
    job_retention_days: int = 30  # PRAISONAI_JOB_RETENTION; the blob lifecycle rule deletes outputs a day later

    @property
    def output_retention_days(self) -> int:
        """The lifecycle rule's age: a day after the job retention, so an output never goes before its row."""
        return self.job_retention_days + 1
    queue_name: str = "praison-jobs"
    poison_queue_suffix: str = "-poison"
    table_name: str = "jobs"
    container_name: str = "praison-output"
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not _APP_NAME.match(self.name):
            problems.append(f"--name {self.name!r}: 2-20 lowercase letters, digits and hyphens, first a letter")
        if not 0 <= self.api_min_replicas <= self.api_max_replicas <= 30:
            problems.append("API replicas: need 0 <= --min-replicas <= --max-replicas <= 30")
        if not 0 <= self.worker_min_replicas <= self.worker_max_replicas <= 30 or self.worker_max_replicas < 1:
            problems.append("worker replicas: need 0 <= --worker-min-replicas <= --worker-max-replicas (>= 1) <= 30")
        if self.key_vault_secret_id and not re.match(r"^https://[^/]+/secrets/[^/]+", self.key_vault_secret_id):
            problems.append("--key-vault-secret-id must look like https://<vault>.vault.azure.net/secrets/<name>")
        if self.public_url and not re.match(r"^https://[^/?#\s]+/?$", self.public_url):
            problems.append("--public-url must be https://HOST (a custom domain of the API app), no path")
        if self.key_vault_secret_id and self.managed_identity:
            problems.append("--key-vault-secret-id and --managed-identity are alternatives: pick one")
        if problems:
            raise ConfigError("Invalid deploy options: " + "; ".join(problems))

    # --- derived names -------------------------------------------------------------------------------------
    @property
    def storage(self) -> str:
        return self.storage_account or _unique(self.name + "st", f"{self.resource_group}/{self.name}", 24)

    @property
    def registry_name(self) -> str:
        return self.registry or _unique(self.name + "acr", f"{self.resource_group}/{self.name}", 50)

    @property
    def api_app(self) -> str:
        return f"{self.name}-api"

    @property
    def worker_app(self) -> str:
        return f"{self.name}-worker"

    @property
    def environment(self) -> str:
        return f"{self.name}-env"

    @property
    def workspace(self) -> str:
        return f"{self.name}-logs"

    @property
    def identity(self) -> str:
        return f"{self.name}-identity"

    @property
    def insights(self) -> str:
        return f"{self.name}-insights"

    @property
    def poison_queue(self) -> str:
        return self.queue_name + self.poison_queue_suffix

    @property
    def image_repository(self) -> str:
        return f"{self.name}:{self.image_tag}"

    # --- derived numbers -----------------------------------------------------------------------------------
    @property
    def wanted_grace_seconds(self) -> int:
        return math.ceil(self.max_job_minutes * 60) + GRACE_MARGIN_SECONDS

    @property
    def grace_seconds(self) -> int:
        """The worker's terminationGracePeriodSeconds: job limit + 30 s, capped at Container Apps' maximum."""
        return min(self.wanted_grace_seconds, ACA_MAX_GRACE_SECONDS)

    @property
    def grace_capped(self) -> bool:
        return self.wanted_grace_seconds > ACA_MAX_GRACE_SECONDS

    @property
    def worker_shutdown_grace(self) -> int:
        """PRAISONAI_SHUTDOWN_GRACE_SECONDS of the worker: finish within the grace period, then release."""
        return max(self.grace_seconds - RELEASE_MARGIN_SECONDS, 0)

    @property
    def queue_length(self) -> int:
        return self.queue_length_per_replica or self.worker_concurrency
