"""The one Settings object: every SYNCWATCH_* variable, typed, documented in docs/configuration.md.

Built by the caller (`Settings()` in the CLI, explicit values in tests) and passed down, never at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from syncwatch.zones import iana_zone

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCWATCH_", extra="ignore", frozen=True)

    # Warehouse
    clickhouse_url: str = Field(
        default="chdb://./var/warehouse",
        description="chdb://./relative/path or chdb:///absolute/path (embedded, default) or http(s)://user:password@host:8123/database",
    )
    database: str = Field(default="syncwatch", description="ClickHouse database holding every table")
    retention_days: int = Field(default=400, ge=1, description="Days of spans and events kept (TTL)")

    # Collector
    host: str = Field(default="127.0.0.1", description="Address the collector listens on")
    port: int = Field(default=4318, ge=1, le=65535, description="Port; 4318 is the OTLP/HTTP default")
    var_dir: Path = Field(default=Path("./var"), description="Spool, local admin credential, logs")
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="Limit after decompression")
    max_json_depth: int = Field(default=32, ge=4, description="Deepest JSON nesting accepted in a body")
    max_future_skew_seconds: int = Field(default=300, ge=0, description="How far ahead an event time may be")
    max_event_age_days: int | None = Field(
        default=None,
        ge=1,
        description="How old an event or span time may be (default and at most: SYNCWATCH_RETENTION_DAYS)",
    )
    type_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='JSON map of incoming type -> canonical type, e.g. {"TimePosted": "time_entry.posted"}',
    )
    source_systems: dict[str, str] | None = Field(
        default=None,
        description="JSON map of CloudEvents `source` prefix -> system (psa, erp, crm, hcm, middleware) for events"
        ' without a `sourcesystem` extension, e.g. {"https://acme.kantata.com/": "psa"}; the longest matching prefix'
        " wins (default: //psa/ and /psa/, and the same for erp, crm, hcm and middleware)",
    )
    quarantine_payload_bytes: int = Field(default=65536, ge=256, description="Raw payload kept per rejection")

    # Batching writer
    batch_max_rows: int = Field(default=20000, ge=1, description="Flush when this many rows are queued")
    batch_max_delay_ms: int = Field(default=200, ge=1, description="Flush at least this often")
    queue_max_rows: int = Field(default=200000, ge=1, description="Above this, ingest answers 503")
    spool_max_age_seconds: int = Field(
        default=300, ge=1, description="/readyz answers 503 once the oldest spooled batch has waited this long"
    )
    dedup_cache_keys: int = Field(default=500_000, ge=0, description="Recent event and span identities kept in memory")
    parse_workers: int = Field(default=2, ge=0, description="Processes that parse large bodies (0: parse inline)")
    parse_inline_below_bytes: int = Field(default=32768, ge=0, description="Bodies smaller than this parse inline")
    fsync_inserts: bool = Field(default=False, description="fsync each insert (survives power loss, slower)")

    # Auth and limits
    rate_limit_per_second: float = Field(default=200.0, gt=0, description="Requests per second per token")
    rate_limit_burst: int = Field(default=400, ge=1, description="Requests a token may send at once")
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a token (e.g. inside a private network)"
    )
    unauthenticated_per_second: float = Field(
        default=1.0, gt=0, description="401s a client IP may earn per second on average before 429 with Retry-After"
    )
    unauthenticated_burst: int = Field(default=30, ge=1, description="401s a client IP may earn at once")

    # Connections (collector/server.py)
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request's headers must arrive within this long (408 and close)"
    )
    body_timeout_seconds: float = Field(
        default=60.0, gt=0, description="A request's body must arrive within this long after its headers (408)"
    )
    keep_alive_timeout_seconds: float = Field(
        default=5.0, gt=0, description="An idle keep-alive connection is closed after this long"
    )
    max_connections: int = Field(
        default=500, ge=1, description="Open connections beyond which requests are answered 503 with Retry-After"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="JSON logs on stderr")

    # -- metrics: SLIs and SLOs --
    slo_file: Path | None = Field(
        default=None, description="SLO objectives and flow cadences (YAML); default: metrics/slos.yaml in the package"
    )
    sli_snapshot_seconds: float = Field(
        default=30.0, gt=0, description="How often SLIs are computed and stored as a time series"
    )
    state_compaction_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the state tables the SLIs read are merged into one part each (0: never, leave it to"
        " the engine's background merges)",
    )
    state_compaction_budget: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Largest share of the time spent merging state tables: a table that took d seconds to merge is"
        " merged again after d / budget seconds at the earliest",
    )
    exceptions_maintenance_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often exception cases are opened, updated and auto-resolved from the business state (0:"
        " never)",
    )
    # The middleware's API, where the exception queue asks for a dead letter's replay (cases/replay.py)
    middleware_url: str = Field(
        default="",
        description="Base URL of the middleware's API (e.g. https://middleware.example/); empty: replay requests are"
        " refused as not configured",
    )
    middleware_api_key: str = Field(default="", description="The middleware API key, sent as X-API-Key")
    middleware_timeout_seconds: float = Field(default=10.0, gt=0, description="How long a replay request may take")
    exceptions_routing_file: Path | None = Field(
        default=None,
        description="Exception routing, SLAs and business calendars YAML (default: the packaged cases/routing.yaml)",
    )
    max_label_values: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Values kept per label or detail that comes from event data (queue, flow, error code) on"
        " /metrics and in the SLI API, the most affected first; the rest add up in one `other`",
    )

    # Dashboard stage (dashboard/): the Streamlit console reads only the collector's HTTP read API
    dashboard_api_url: str = Field(
        default="http://127.0.0.1:4318", description="Collector base URL the dashboard reads from"
    )
    dashboard_token: str = Field(default="", description="Read-scope token of the dashboard (or use the token file)")
    dashboard_token_file: Path | None = Field(
        default=None, description="File holding the dashboard's read token (used when dashboard_token is empty)"
    )
    dashboard_admin_token: str = Field(
        default="", description="Optional admin-scope token: enables creating/expiring silences and acknowledging"
    )
    dashboard_host: str = Field(default="127.0.0.1", description="Address the dashboard listens on")
    dashboard_port: int = Field(default=8501, ge=1, le=65535, description="Port the dashboard listens on")
    dashboard_refresh_seconds: int = Field(default=30, ge=5, description="Auto-refresh period of live tiles")
    dashboard_timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout to the collector")
    dashboard_auth: Literal["token", "oidc", "oidc+token", "local"] = Field(
        default="token",
        description="Console login: a SyncWatch token, single sign-on (OIDC), both, or local (no login, loopback only)",
    )
    dashboard_oidc_provider: str = Field(
        default="", description="Provider name in Streamlit's [auth.<name>] secrets; empty uses [auth] itself"
    )
    dashboard_oidc_claim: str = Field(
        default="groups", description="Identity-token claim mapped to scopes (dotted for nested: realm_access.roles)"
    )
    dashboard_oidc_scopes: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON map of claim value (glob) -> scopes, e.g. {"syncwatch-admins": ["admin"], "*": ["read"]}',
    )
    dashboard_secrets_file: Path | None = Field(
        default=None, description="Streamlit secrets.toml holding the [auth] section (default: .streamlit/secrets.toml)"
    )

    # Alerts stage (alerts/): rules, routing and receivers live in YAML; these pick the file and the cadence
    alerts_config_file: Path | None = Field(
        default=None, description="Rules/routing/receivers YAML (default: the packaged alerts/config/default.yaml)"
    )
    alerts_evaluation_interval_seconds: float = Field(
        default=15.0, ge=1, le=3600, description="How often alert rules are evaluated"
    )
    alerts_webhook_url: str = Field(
        default="", description="If set, the default receiver also posts Alertmanager-style webhooks here"
    )
    alerts_alertmanager_url: str = Field(
        default="", description="If set, the default receiver also pushes alerts to this Alertmanager (base URL)"
    )
    alerts_alertmanager_resend_delay_seconds: float = Field(
        default=60.0, ge=1, le=3600, description="How often firing alerts are pushed to Alertmanager again"
    )
    alerts_external_url: str = Field(
        default="", description="Base URL put in notifications' links (default: http://HOST:PORT)"
    )
    alerts_notify_attempts: int = Field(
        default=4, ge=1, le=10, description="Delivery attempts per notification (exponential backoff between)"
    )

    # Weekly report (reports/, docs/report.md): when it is made, for whom, where it goes
    firm_name: str = Field(default="", max_length=200, description="The firm's name printed on every report page")
    report_schedule: str = Field(
        default="mon 07:00",
        description="When the last complete week's report is made, archived and delivered: DAY HH:MM in "
        "SYNCWATCH_REPORT_TIMEZONE (e.g. mon 07:00); empty or 0: never",
    )
    report_timezone: str = Field(default="UTC", description="IANA time zone of the schedule, e.g. Europe/Berlin")
    report_tenants: list[str] = Field(
        default_factory=list,
        description="JSON list of legal entities with a report of their own besides the all-tenants one, "
        'e.g. ["acme-de"]',
    )
    report_receivers_file: Path | None = Field(
        default=None, description="YAML of who gets which report by email, Slack or webhook; unset: archived only"
    )
    report_delivery_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per receiver before a delivery is marked failed"
    )
    report_retry_seconds: float = Field(
        default=60.0, ge=1, le=86400, description="Wait before a failed delivery's first retry; doubles each time"
    )

    @field_validator("report_schedule")
    @classmethod
    def _report_schedule(cls, value: str) -> str:
        """'' when off, else 'day HH:MM' in lower case (reports/component.py splits it)."""
        text = " ".join(value.lower().split())
        if text in ("", "0"):
            return ""
        if not re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun) ([01]?\d|2[0-3]):[0-5]\d", text):
            raise ValueError(f"{value!r} is not DAY HH:MM such as 'mon 07:00' (empty or 0: off)")
        return text

    @field_validator("report_timezone")
    @classmethod
    def _report_timezone(cls, value: str) -> str:
        return iana_zone(value)

    # Roles (syncwatch/roles.py, syncwatch/lease.py): with a ClickHouse server, one process at a time runs the
    # scheduled stages, holding the worker lease
    worker_lease_seconds: float = Field(
        default=30.0,
        ge=4,
        le=600,
        description="How long the worker lease lasts without renewal: a standby takes over within this plus"
        " SYNCWATCH_WORKER_LEASE_RENEW_SECONDS of the active worker's death; the holder stops acting after half of it",
    )
    worker_lease_renew_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the worker lease is renewed, or claimed by a standby (at most a quarter of the lease)",
    )

    # Probes stage (probes/): systems, budgets and declarative probes live in the probes file
    probes_config: Path | None = Field(
        default=None, description="Probes YAML (systems, auth by env:/file: reference, budgets, probes); unset: idle"
    )

    @field_validator("source_systems")
    @classmethod
    def _source_systems(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for prefix, system in (value or {}).items():
            if not prefix:
                raise ValueError("a source prefix must not be empty (it would name the system of every event)")
            if not system or not system.replace("-", "").replace("_", "").isalnum() or system != system.lower():
                raise ValueError(f"{prefix!r}: the system must be a lower-case name such as psa, got {system!r}")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("chdb://", "http://", "https://")):
            raise ValueError("must start with chdb://, http:// or https://")
        return value

    @model_validator(mode="after")
    def _age_within_retention(self) -> Settings:
        if self.max_event_age_days is not None and self.max_event_age_days > self.retention_days:
            raise ValueError(
                f"max_event_age_days ({self.max_event_age_days}) exceeds retention_days ({self.retention_days}): "
                "items that old would be acknowledged and then deleted by the retention TTL; raise "
                "SYNCWATCH_RETENTION_DAYS to keep older history"
            )
        return self

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> Settings:
        if self.worker_lease_renew_seconds > self.worker_lease_seconds / 4:
            raise ValueError(
                f"worker_lease_renew_seconds ({self.worker_lease_renew_seconds:g}) must be at most a quarter of "
                f"worker_lease_seconds ({self.worker_lease_seconds:g}): the holder trusts its lease for half of it, "
                "and must renew at least twice in that time"
            )
        return self

    @property
    def accepted_age_days(self) -> int:
        """One age limit for events and spans: nothing older is acknowledged, since retention would drop it."""
        return self.max_event_age_days or self.retention_days

    @property
    def embedded(self) -> bool:
        return self.clickhouse_url.startswith("chdb://")

    @property
    def spool_dir(self) -> Path:
        return self.var_dir / "spool"

    @property
    def local_admin_file(self) -> Path:
        """Where a running embedded collector leaves its URL and a one-run admin credential (mode 0600)."""
        return self.var_dir / "collector.json"
