"""All configuration in one pydantic-settings object: env prefix ``PRAISONAI_``, a ``.env`` file is read.

pydantic-settings was chosen because it gives typed, validated settings from the environment and ``.env`` with
error messages that name the field; we add the one thing it does not do: refuse unknown ``PRAISONAI_*`` names,
since a typo in a variable name otherwise silently leaves a default in force.
"""

from __future__ import annotations

import difflib
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from praisonai_svc.durations import parse_duration
from praisonai_svc.errors import ConfigError

ENV_PREFIX = "PRAISONAI_"
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
# Read by the CLI, not by the service: PRAISONAI_APP (the service target) and PRAISONAI_URL (for `submit`).
_KNOWN_EXTRA = {"PRAISONAI_APP", "PRAISONAI_URL"}
# Read by `deploy` and `logs` (which check them against their own options), never by the service.
DEPLOY_ENV_PREFIX = "PRAISONAI_DEPLOY_"
# One key of one service in praisonai.yaml: PRAISONAI_SERVICES__<SERVICE>__<KEY> (docs/services.md).
SERVICES_ENV_PREFIX = "PRAISONAI_SERVICES__"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _seed_alias(name: str) -> AliasChoices:
    """``PRAISONAI_<NAME>``, or seed 004's bare ``<NAME>``."""
    return AliasChoices(ENV_PREFIX + name, name)


class Settings(BaseSettings):
    """Every setting, with its environment variable ``PRAISONAI_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore",
        validate_default=True, hide_input_in_errors=True,  # errors must never echo a key or connection string
        populate_by_name=True,  # Settings(api_key=...) still works for the fields read under an alias
    )

    # --- API ---
    api_key: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="One API key or a comma-separated list (for rotation). Seed 004's "
        "PYTHON_SERVICE_API_KEY is read when this is unset.",
        validation_alias=AliasChoices("PRAISONAI_API_KEY", "PYTHON_SERVICE_API_KEY"),
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Allowed browser origins, comma-separated; '*' for any."
    )
    max_payload_size: int = Field(1_048_576, ge=1024, description="Largest accepted request body, bytes.")
    sqlite_synchronous: Literal["normal", "full"] = Field(
        "normal", description="Local backend durability: normal (a power loss may lose the last commits, never "
        "corrupts) or full (fsync at every commit; see docs/operations.md, Durability).",
    )
    max_batch_size: int = Field(500, ge=1, le=5000, description="Most jobs one POST /jobs/batch may submit.")
    public_url: str | None = Field(None, description="External base URL used in links (default: from request).")
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the API listens on.")
    download_url_expiry_seconds: int = Field(3600, ge=1, description="Lifetime of signed download links.")
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest a request body may take to arrive once the request started (408)."
    )
    parse_threads: int = Field(
        2, ge=1, le=32, description="Threads that parse request bodies, off the event loop (at most this many at once)."
    )
    parse_processes: int = Field(
        2, ge=0, le=32, description="Child processes that parse bodies of 64 KiB or more (0: the parse threads do)."
    )
    parse_time_budget_seconds: float = Field(
        10.0, gt=0, le=60, description="Longest a body may take to parse (400 past it; 503 if it waited this long)."
    )

    # --- worker / job semantics ---
    max_job_duration_minutes: float = Field(10, gt=0, description="Hard time limit of one job attempt.")
    max_retry_count: int = Field(3, ge=1, le=100, description="Attempts before a job is error + poison.")
    queue_visibility_timeout: float = Field(60, ge=1, description="Lease length in seconds; renewed while running.")
    worker_poll_interval_min: float = Field(1.0, gt=0, description="First idle poll delay, seconds.")
    worker_poll_interval_max: float = Field(
        30.0, gt=0, description="Longest idle poll delay, seconds; an idle worker then polls only queues with a "
        "submit hint, so this is how long a job submitted to an idle deployment waits at most.",
    )
    worker_safety_poll_seconds: float = Field(
        300.0, gt=0, description="An idle worker polls one of its queues in turn this often even without a hint "
        "(catches messages sent without one).",
    )
    worker_concurrency: int | None = Field(
        None, ge=1, le=256,
        description="Jobs one worker process runs at once (unset: from the handlers' kind and the CPU count).",
    )
    workers: int = Field(1, ge=0, le=64, description="Worker processes `run` starts beside the API (0: in the API).")
    retry_backoff_seconds: float = Field(2.0, ge=0, description="Delay before retry n is this * 2**(n-1).")
    retry_backoff_max_seconds: float = Field(300.0, ge=0, description="Cap of the retry delay.")
    shutdown_grace_seconds: float = Field(30.0, ge=0, description="On SIGTERM, how long running jobs may finish.")
    reaper_interval_seconds: float = Field(300.0, gt=0, description="How often a worker looks for stuck jobs.")
    worker_heartbeat_seconds: float = Field(
        2.0, ge=0, description="How often a busy worker records that it is alive, and every worker looks for "
        "instances that stopped (their jobs run again after 3 missed heartbeats; 0: only when the lease expires).",
    )

    # --- storage ---
    data_dir: Path = Field(Path(".praisonai"), description="Embedded backend directory (SQLite + files).")
    signing_key: SecretStr | None = Field(None, description="HMAC key for local download links (default: generated).")
    azure_storage_connection_string: SecretStr | None = Field(None, description="Azure Storage: all three services.")
    azure_table_conn_string: SecretStr | None = Field(None, description="Azure Table connection (overrides).")
    azure_queue_conn_string: SecretStr | None = Field(None, description="Azure Queue connection (overrides).")
    azure_storage_account_url: str | None = Field(
        None, description="https://<account>.blob.core.windows.net, used with DefaultAzureCredential."
    )
    queue_name: str = Field("praison-jobs", description="Job queue (extra services get '-<service>').")
    poison_queue_suffix: str = Field("-poison", description="Poison queue name = queue name + this.")
    table_name: str = Field("jobs", description="Azure table of job records.")
    container_name: str = Field("praison-output", description="Azure blob container of outputs.")
    blob_url: str | None = Field(
        None, description="Where outputs are stored, by URL: file:///path, azure://container or "
        "s3://bucket?endpoint_url=...&region=... (default: the job backend's own store). See docs/storage.md.",
    )
    blob_public_url: str | None = Field(
        None, description="Public base URL of the blob store (CDN or public bucket): plugin output links become "
        "<base>/<key> instead of signed, expiring links. Seed 004's R2_PUBLIC_URL is read when this is unset.",
    )
    r2_account_id: str | None = Field(
        None, validation_alias=_seed_alias("R2_ACCOUNT_ID"),
        description="Cloudflare R2 account (seed 004: R2_ACCOUNT_ID); with the bucket set, outputs go to R2.",
    )
    r2_access_key_id: SecretStr | None = Field(
        None, validation_alias=_seed_alias("R2_ACCESS_KEY_ID"), description="R2 token key id (or R2_ACCESS_KEY_ID).")
    r2_secret_access_key: SecretStr | None = Field(
        None, validation_alias=_seed_alias("R2_SECRET_ACCESS_KEY"),
        description="R2 API token secret (or R2_SECRET_ACCESS_KEY).",
    )
    r2_bucket_name: str | None = Field(
        None, validation_alias=_seed_alias("R2_BUCKET_NAME"), description="R2 bucket (or R2_BUCKET_NAME).")
    r2_public_url: str | None = Field(
        None, validation_alias=_seed_alias("R2_PUBLIC_URL"),
        description="The R2 bucket's public base URL (or R2_PUBLIC_URL).",
    )

    # --- plugins (docs/plugins.md) ---
    fetch_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Hosts (host or host:port, comma-separated) that plugins may fetch from "
        "and webhooks may be sent to although they resolve to private or loopback addresses (tests, intranets).",
    )
    fetch_timeout_seconds: float = Field(30.0, gt=0, description="Longest one download of a plugin input may take.")
    plugin_workers: int = Field(0, ge=0, le=256, description="Processes for CPU-bound plugin work (0: one per core).")

    # --- retention (docs/operations.md "What is kept, for how long") ---
    job_retention: Duration = Field(
        timedelta(days=30), description="Terminal jobs (done, error, cancelled) older than this are removed with "
        "their outputs, list entries and hash claims, e.g. 30d, 12h.",
    )
    idempotency_window: Duration = Field(
        timedelta(hours=24), description="The same payload within this long returns the existing job; after it a "
        "new job is made (never longer than PRAISONAI_JOB_RETENTION).",
    )
    file_retention: Duration = Field(timedelta(days=30), description="Uploaded files and their extractions.")
    execution_retention: Duration = Field(timedelta(days=30), description="Workflow executions (also capped per "
                                          "workflow by PRAISONAI_WORKFLOW_MAX_EXECUTIONS).")
    webhook_delivery_retention: Duration = Field(timedelta(days=7), description="Webhook delivery records.")
    usage_hourly_retention: Duration = Field(timedelta(days=35), description="Hourly usage buckets.")
    usage_daily_retention: Duration = Field(timedelta(days=400), description="Daily usage rollups.")
    prune_interval: Duration = Field(
        timedelta(minutes=5), description="How often the pruner (one per cluster) removes what is past retention."
    )
    prune_batch_size: int = Field(200, ge=1, le=5000, description="Records the pruner removes per batch.")

    # --- workflows (docs/workflows.md) ---
    workflow_max_executions: int = Field(
        1000, ge=1, le=1_000_000, description="Finished executions kept per workflow (the newest; older go first)."
    )
    workflow_retry_backoff_seconds: float = Field(
        2.0, ge=0, le=300, description="First retry delay of a failed workflow step; doubles per retry (cap 300 s)."
    )
    workflow_schedule_refresh_seconds: float = Field(
        30.0, gt=0, le=3600, description="The cron scheduler re-reads which workflows are scheduled when a "
        "workflow changes (a submit hint), and besides every 40x this (20 min by default).",
    )

    # --- logging ---
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["auto", "json", "text"] = Field("auto", description="json in containers, text on a TTY.")
    access_log: bool = Field(
        False, description="One line per HTTP request on stderr (uvicorn's access log). Off by default: it costs "
        "CPU on every request, and /metrics counts requests by route and status anyway.",
    )

    # --- operations: admin endpoints, metrics, tracing (docs/operations.md) ---
    admin_key: SecretStr | None = Field(
        None, description="Key for /admin/* (header X-Admin-Key); unset: the admin endpoints answer 404."
    )
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics at GET /metrics.")
    metrics_key: SecretStr | None = Field(
        None, description="Key GET /metrics requires (Authorization: Bearer <key>); unset: /metrics is open to anyone "
        "who reaches the port (deploy azure turns it off without one)."
    )
    metrics_status_window: int = Field(
        1000, ge=0, le=100_000, description="Newest jobs counted by status on each /metrics scrape (0: off)."
    )
    worker_metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Port where a worker serves its own /metrics and /live (unset: none)."
    )
    trace_sampling_ratio: float = Field(
        0.1, ge=0, le=1, description="Share of traces sent to Application Insights (when configured)."
    )
    queue_report_interval_seconds: float = Field(
        60.0, ge=0, description="How often a worker logs its queue and poison-queue depth (0: never)."
    )

    # --- usage metering and quotas (docs/usage.md) ---
    usage_metering: bool = Field(True, description="Meter jobs per tenant and service in hourly buckets (GET /usage).")
    quotas_file: Path | None = Field(
        None, description="A YAML file to read per-tenant daily quotas from, instead of the app YAML's `tenants:` "
        "section (docs/usage.md).",
    )

    # --- the app's YAML file and service lifecycle (docs/services.md); unset: praisonai.yaml's value ---
    config_file: Path | None = Field(
        None, description="The app's YAML file (default: praisonai.yaml beside the handlers file, if any)."
    )
    api_prefix: str | None = Field(None, description="Path prefix of every route (file: server.api_prefix; '').")
    closing_timeout_seconds: float | None = Field(
        None, gt=0, description="How long services may take to stop (file: server.closing_timeout_seconds; 60)."
    )
    leader_lease_seconds: float | None = Field(
        None, ge=3, description="Lease of the runs_on='one' services' leader (file: server.leader_lease_seconds; 60)."
    )
    heartbeat_seconds: float | None = Field(
        None, ge=1, description="How often each process reports its services (file: server.heartbeat_seconds; 60)."
    )

    @field_validator("api_key", "cors_origins", "site_keys", "fetch_allowed_hosts", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.worker_poll_interval_max < self.worker_poll_interval_min:
            raise ValueError("PRAISONAI_WORKER_POLL_INTERVAL_MAX must be >= PRAISONAI_WORKER_POLL_INTERVAL_MIN")
        if self.idempotency_window > self.job_retention:
            raise ValueError(
                "PRAISONAI_IDEMPOTENCY_WINDOW must not be longer than PRAISONAI_JOB_RETENTION (a job cannot be "
                "returned again after it has been removed)"
            )
        return self

    @property
    def max_job_duration_seconds(self) -> float:
        return self.max_job_duration_minutes * 60

    @property
    def api_keys(self) -> list[str]:
        return [key.get_secret_value() for key in self.api_key if key.get_secret_value()]

    @property
    def uses_azure(self) -> bool:
        return bool(
            self.azure_storage_connection_string or self.azure_queue_conn_string or self.azure_storage_account_url
        )

    @property
    def public_blob_base(self) -> str | None:
        """PRAISONAI_BLOB_PUBLIC_URL, else R2_PUBLIC_URL (for plugin outputs)."""
        return self.blob_public_url or self.r2_public_url or None

    def poison_queue_name(self, queue_name: str) -> str:
        return queue_name + self.poison_queue_suffix

    # --- security and abuse controls (SECURITY.md) ---
    site_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Operator keys of sites that call for their visitors (the WordPress proxy), comma-separated: "
        "with one, the visitor address in X-PraisonAI-Forwarded-For gets its own per-address limits.",
    )
    tenant_keys: Annotated[dict[str, list[SecretStr]], NoDecode] = Field(
        default_factory=dict,
        description="API keys that belong to a tenant, which then sees only its own jobs: 'acme:key1,globex:key2' "
        "(repeat a tenant for more keys) or JSON {\"acme\": [\"key1\", \"key2\"]}.",
    )
    jwt_secret: SecretStr | None = Field(
        None, description="Shared HS256 secret (32+ characters) for 'Authorization: Bearer' tokens; unset: refused."
    )
    jwt_audience: str = Field("praisonai-svc", min_length=1, description="Required 'aud' claim of bearer tokens.")
    jwt_issuer: str | None = Field(None, description="Required 'iss' claim of bearer tokens (unset: not checked).")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed when checking exp/nbf/iat.")
    rate_limit_submit_per_minute: int = Field(
        10, ge=0, description="Job submissions per client address per minute (0: no limit)."
    )
    rate_limit_submit_per_key_per_minute: int = Field(
        0, ge=0, description="Job submissions per API key or token per minute (0: no limit)."
    )
    rate_limit_read_per_minute: int = Field(
        600, ge=0, description="Status, list and download requests per client address per minute (0: no limit)."
    )
    rate_limit_auth_failures_per_minute: int = Field(
        20, ge=0, description="Failed authentications per client address per minute before it gets 429 (0: no limit)."
    )
    rate_limit_ipv6_prefix: int = Field(
        64, ge=32, le=128,
        description="IPv6 clients are counted per network of this prefix length (a subscriber usually has a whole "
        "/64; 128: per address).",
    )
    trusted_proxy_hops: int = Field(
        0, ge=0, le=10,
        description="Proxies in front of the API whose X-Forwarded-For entries are believed (Azure Container Apps: 1; "
        "0: the header is ignored).",
    )

    # --- live updates, webhooks, cancellation (docs/api.md) ---
    events_poll_interval_seconds: float = Field(
        0.1, gt=0, le=10, description="How often an API process's one watcher reads the job event feed.")
    events_lookback_seconds: float = Field(
        3.0, ge=0, le=60, description="How far back each feed read looks (clock skew and slow writers allowed).")
    events_retention_hours: float = Field(
        24.0, gt=0, description="How long job events are kept for replay (never longer than their job).")
    long_poll_max_seconds: float = Field(
        60.0, ge=0, le=60, description="The longest a GET /jobs/{id}?wait= holds (a larger wait is shortened to it; "
        "set it below your proxy's idle timeout).")
    events_stream_max_seconds: float = Field(
        3600.0, gt=0, le=86400, description="An SSE or WebSocket stream of a job that has not ended is closed after "
        "this long; the client reconnects with Last-Event-ID (SSE) or ?after= (WebSocket) and misses nothing.")
    progress_event_interval_seconds: float = Field(
        0.2, ge=0, description="Progress events of one job are coalesced to at most one per this interval.")
    cancel_poll_interval_seconds: float = Field(
        0.5, gt=0, le=10, description="How often a worker with running jobs looks for cancel requests.")
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 secret that signs webhooks (X-PraisonAI-Signature); unset: webhooks are off.")
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Time limit of one webhook POST.")
    webhook_retry_base_seconds: float = Field(
        2.0, ge=0, description="First webhook retry delay; doubles per attempt up to an hour.")
    webhook_max_age_hours: float = Field(24.0, gt=0, description="A webhook is retried for at most this long.")

    # --- files: upload and extraction (docs/files.md); the seed's MAX_FILE_SIZE / ALLOWED_EXTENSIONS are aliases ---
    files_max_size: int = Field(
        10 * 1024 * 1024, ge=1, validation_alias=AliasChoices("PRAISONAI_FILES_MAX_SIZE", "MAX_FILE_SIZE"),
        description="Largest accepted upload: bytes or with a unit (10MB, 512KB, 1GB; 1 MB = 1024 KB). "
                    "Alias: MAX_FILE_SIZE.",
    )
    files_allowed_extensions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["pdf", "docx", "txt", "csv", "xlsx"],
        validation_alias=AliasChoices("PRAISONAI_FILES_ALLOWED_EXTENSIONS", "ALLOWED_EXTENSIONS"),
        description="Accepted upload extensions, comma-separated (alias: ALLOWED_EXTENSIONS). Adding doc or xls "
                    "turns their 400 into a file that fails with 'unsupported legacy format'.",
    )
    files_max_pages: int = Field(1000, ge=1, description="PDFs with more pages than this fail extraction.")
    files_max_rows: int = Field(1000, ge=1, description="Rows extracted per XLSX sheet and per CSV.")
    files_extract_timeout_seconds: float = Field(120.0, gt=0, description="Time limit of one file's extraction.")
    files_extract_memory_mb: int = Field(1024, ge=128, description="Memory limit of the extraction process, MB.")
    files_max_unzipped_size: int = Field(
        200 * 1024 * 1024, ge=1,
        description="Largest total uncompressed size of a DOCX/XLSX's parts (ZIP bombs fail): bytes or with a unit.",
    )

    @field_validator("files_max_size", "files_max_unzipped_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        from praisonai_svc.files.sizes import parse_size

        return parse_size(value) if isinstance(value, str) else value

    @field_validator("files_allowed_extensions", mode="before")
    @classmethod
    def _extensions(cls, value: Any) -> Any:
        values = _split_csv(value)
        return [str(v).strip().lower().lstrip(".") for v in values] if isinstance(values, list) else values

    @field_validator("tenant_keys", mode="before")
    @classmethod
    def _tenant_keys(cls, value: Any) -> Any:
        from praisonai_svc.security.tenants import parse_tenant_keys

        return parse_tenant_keys(value)

    @field_validator("cors_origins", mode="after")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        from praisonai_svc.security.origins import check_origins

        return check_origins(origins)

    @model_validator(mode="after")
    def _secure(self) -> Settings:
        from praisonai_svc.security.jwt_tokens import MIN_SECRET_LENGTH
        from praisonai_svc.security.tenants import check_tenant_keys

        if set(self.site_key_values) & set(self.api_keys):
            raise ValueError("PRAISONAI_SITE_KEYS: a site key must not also be in PRAISONAI_API_KEY")
        try:
            check_tenant_keys(self.tenant_key_map, self.api_keys + self.site_key_values)
        except ValueError as exc:
            raise ValueError(f"PRAISONAI_TENANT_KEYS: {exc}") from None
        secret = self.jwt_secret_value
        if secret is not None and len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"PRAISONAI_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters (HS256)")
        return self

    @property
    def tenant_key_map(self) -> dict[str, list[str]]:
        """PRAISONAI_TENANT_KEYS as plain text: {tenant: [key, ...]}."""
        return {
            tenant: [key.get_secret_value() for key in keys if key.get_secret_value()]
            for tenant, keys in self.tenant_keys.items()
        }

    @property
    def site_key_values(self) -> list[str]:
        """PRAISONAI_SITE_KEYS as plain text."""
        return [key.get_secret_value() for key in self.site_keys if key.get_secret_value()]

    @property
    def webhook_secret_value(self) -> str | None:
        return self.webhook_secret.get_secret_value() or None if self.webhook_secret is not None else None

    @property
    def jwt_secret_value(self) -> str | None:
        return self.jwt_secret.get_secret_value() or None if self.jwt_secret is not None else None


def _check_unknown_env(environ: dict[str, str]) -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | _KNOWN_EXTRA
    for name in environ:
        if name.startswith((DEPLOY_ENV_PREFIX, SERVICES_ENV_PREFIX)):
            continue  # deploy options, and per-service overrides of praisonai.yaml (appconfig/schema.py)
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ConfigError(f"Unknown setting {name}.{hint} See docs/configuration.md for the full list.")


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and ``.env``; raise :class:`ConfigError` naming the bad variable."""
    _check_unknown_env(dict(os.environ))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "settings"
            variable = ENV_PREFIX + field.upper() if field in Settings.model_fields else field
            problems.append(f"{variable}: {err['msg']}")
        raise ConfigError("Invalid configuration: " + "; ".join(problems)) from exc
