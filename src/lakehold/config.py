"""Settings, in one place, from ``LAKEHOLD_*`` environment variables."""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class OidcProvider(BaseModel):
    """An OpenID Connect provider users sign in with (ADR 0031): one entry of
    ``LAKEHOLD_OIDC_PROVIDERS`` (a JSON list) or of ``LAKEHOLD_OIDC_PROVIDERS_FILE``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Short name, in URLs (/login/oidc/<name>) and users' identity_provider.",
    )
    display_name: str | None = Field(default=None, description="Button label; default: name.")
    issuer: str = Field(description="Issuer URL: https (http on a loopback address only).")
    client_id: str = Field(min_length=1, description="The portal's client (code flow + PKCE).")
    client_secret: SecretStr | None = Field(default=None, description="None: a public client.")
    cli_client_id: str | None = Field(
        default=None,
        description="A public client the CLI signs in with (device grant or loopback); "
        "default: client_id when it has no secret; none: no CLI sign-in.",
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    username_claim: str = Field(default="preferred_username", description="Or email, ...")
    groups_claim: str = "groups"
    group_mapping: dict[str, str] = Field(
        default_factory=dict, description="Group claim value -> Lakehold group name."
    )
    admin_groups: list[str] = Field(
        default_factory=list, description="Group claim values that make a user administrator."
    )
    create_users: bool = Field(default=False, description="Create unknown users at sign-in.")

    @field_validator("issuer")
    @classmethod
    def _secure_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        if parts.scheme != "https" and not loopback:
            raise ValueError("an issuer is an https URL (http only on a loopback address)")
        if parts.query or parts.fragment:
            raise ValueError("an issuer has no query or fragment")
        return value  # compared exactly with the tokens' ``iss`` (a trailing slash counts)

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        return value if "openid" in value else ["openid", *value]

    @field_validator("group_mapping")
    @classmethod
    def _group_names(cls, value: dict[str, str]) -> dict[str, str]:
        for group in value.values():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", group):
                raise ValueError(f"group name '{group}' is not valid: letters, digits, '_.-'")
        return value

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def cli_client(self) -> str | None:
        """The client id the CLI signs in with, if any."""
        if self.cli_client_id:
            return self.cli_client_id
        return self.client_id if self.client_secret is None else None


class Settings(BaseSettings):
    """Lakehold settings. Every field reads ``LAKEHOLD_<NAME>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOLD_", extra="ignore")

    home: Path = Field(default=Path.home() / ".lakehold", description="Home directory.")
    database_url: str | None = Field(
        default=None, description="Metadata store URL; default: SQLite file in home."
    )
    warehouse: Path | None = Field(
        default=None, description="Root of Delta table storage; default: home/warehouse."
    )
    host: str = "127.0.0.1"
    port: int = 8750
    workers: int = Field(
        default=1,
        ge=1,
        description="API processes of `lakehold serve` (metrics merged across them, ADR 33).",
    )
    statement_timeout_seconds: float = Field(default=300.0, gt=0)
    max_rows: int = Field(default=1_000_000, gt=0, description="Max rows a statement returns.")
    sync_row_limit: int = Field(default=1000, gt=0, description="Default row limit, sync query.")
    engine_threads: int | None = Field(default=None, description="DuckDB threads per statement.")
    engine_memory_limit: str | None = Field(default=None, description="DuckDB memory limit.")
    ray_address: str | None = Field(
        default=None,
        description="Address of a Ray cluster (`host:port`, or `auto`) that statements and "
        "table jobs may run on (`engine: ray`, ADR 40); unset: everything runs in process.",
    )
    ray_threshold_bytes: int | None = Field(
        default=None,
        gt=0,
        description="With a Ray cluster: statements and table jobs that read at least this "
        "many bytes of data files run there unless the request names an engine.",
    )
    ray_task_memory_limit: str | None = Field(
        default="1GB", description="DuckDB memory limit of each task on the Ray cluster."
    )
    ray_max_partial_bytes: int = Field(
        default=1 << 30,
        gt=0,
        description="Most bytes of partial results a statement on the Ray cluster may send to "
        "this process to merge; beyond it the statement is refused (or, chosen by size, runs "
        "in process).",
    )
    ray_token: SecretStr | None = Field(
        default=None,
        description="Authentication token of a Ray cluster started with RAY_AUTH_MODE=token; "
        "given to this process's Ray driver only, never to workers.",
    )
    result_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    webhook_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="Wait before the first webhook retry; doubles each time."
    )
    webhook_max_attempts: int = Field(default=6, gt=0, description="Attempts per delivery.")
    source_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders that file and SQLite connections of non-administrators must be "
        "under (comma-separated in LAKEHOLD_SOURCE_ROOTS); administrators may use any folder "
        "outside Lakehold's own.",
    )
    network_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Network allow-list of connections and webhooks, comma-separated "
        "<host or CIDR>:<port or *> entries (LAKEHOLD_NETWORK_ALLOW), e.g. "
        "10.0.0.0/8:5432,db.internal:*; administrators add more with `lakehold network allow`."
        " Loopback, link-local, private and similar addresses are refused unless listed.",
    )
    probe_workers: int = Field(
        default=4, gt=0, description="Connection tests and crawls running at once (server)."
    )
    probe_max_pending: int = Field(
        default=16, ge=0, description="Connection tests and crawls waiting; beyond: HTTP 429."
    )
    probe_rate_per_minute: int = Field(
        default=30, gt=0, description="Connection tests and crawls per user and minute (429)."
    )
    connection_test_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Connect timeout of connection tests and checks."
    )
    lineage_namespace: str = Field(
        default="lakehold", description="OpenLineage namespace of Lakehold's own tables and jobs."
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, description="Per webhook POST.")
    # -- anomaly alerts of projects, routed to their webhooks (ADR 0034)
    alert_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How often `lakehold serve` evaluates the anomaly alerts"
        " (0: only when an administrator asks).",
    )
    alert_window_minutes: int = Field(
        default=60, ge=5, le=120, description="The window each alert signal is measured over."
    )
    alert_history_days: int = Field(
        default=7, ge=2, le=60, description="How far back an alert signal's baseline reaches."
    )
    alert_sigmas: float = Field(
        default=3.0, gt=0, description="Standard deviations from its baseline that open an alert."
    )
    # -- OpenLineage ingest limits (ADR 0015): a violation is a 400 naming the limit and path.
    lineage_max_event_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Max size of one OpenLineage event (bytes)."
    )
    lineage_max_batch_bytes: int = Field(
        default=32 * 1024 * 1024, gt=0, description="Max body of POST /api/v1/lineage/batch."
    )
    lineage_max_batch_events: int = Field(default=10_000, gt=0, description="Events per batch.")
    lineage_max_depth: int = Field(default=64, gt=4, description="Max JSON nesting of an event.")
    lineage_max_facets: int = Field(default=100, gt=0, description="Facets per run/job/dataset.")
    lineage_max_facet_bytes: int = Field(
        default=512 * 1024, gt=0, description="Max size of one facet (bytes of JSON)."
    )
    lineage_max_datasets: int = Field(
        default=1000, gt=0, description="Max inputs, and max outputs, of one event."
    )
    lineage_max_string: int = Field(
        default=256 * 1024, gt=0, description="Max length of any string (or key) in an event."
    )
    # -- Request bounds ("every request is bounded"): uploads stream to LAKEHOLD_HOME/staging.
    max_upload_bytes: int = Field(
        default=10 * 1024**3, gt=0, description="Max body of an upload (bytes); beyond: 413."
    )
    max_sql_chars: int = Field(
        default=1_000_000, gt=0, description="Max length of a statement's SQL text; beyond: 400."
    )
    max_json_bytes: int = Field(
        default=10 * 1024**2, gt=0, description="Max JSON request body (bytes); beyond: 413."
    )
    max_json_depth: int = Field(
        default=64, gt=1, description="Max nesting of a JSON request body; beyond: 400."
    )
    # -- Web portal sign-in sessions (ADR 0028)
    session_idle_seconds: float = Field(
        default=30 * 60,
        gt=0,
        description="A web sign-in session ends after this long without a request.",
    )
    session_absolute_seconds: float = Field(
        default=12 * 3600,
        gt=0,
        description="A web sign-in session ends this long after sign-in, however active.",
    )
    # -- Credentials: revocation cache and failed sign-ins (ADR 0029)
    credential_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long a process trusts a validated API token before reading it again "
        "(a revocation reaches every process within this time; 0: never cached).",
    )
    login_max_failures_per_user: int = Field(
        default=5, gt=0, description="Failed sign-ins of one user name in the window; then 429."
    )
    login_max_failures_per_address: int = Field(
        default=20, gt=0, description="Failed sign-ins from one address in the window; then 429."
    )
    login_failure_window_seconds: float = Field(
        default=15 * 60, gt=0, description="The window failed sign-ins are counted in."
    )
    service_principal_token_seconds: int = Field(
        default=3600,
        gt=0,
        description="Lifetime of a token a service principal gets for its client credentials.",
    )
    service_principal_secret_overlap_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        description="After a rotation, how long a service principal's older secrets still work.",
    )
    # -- Single sign-on (OpenID Connect, ADR 0031)
    oidc_providers: list[OidcProvider] = Field(
        default_factory=list,
        description="OpenID Connect providers to sign in with, a JSON list "
        '(LAKEHOLD_OIDC_PROVIDERS), e.g. [{"name": "okta", "issuer": "https://...", '
        '"client_id": "...", "client_secret": "..."}].',
    )
    oidc_providers_file: Path | None = Field(
        default=None, description="A JSON file with more OIDC providers (a list, as above)."
    )
    oidc_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Per request to an OIDC provider (discovery, keys...)."
    )
    public_url: str | None = Field(
        default=None,
        description="The portal's address as browsers see it (https://lakehold.example.com), "
        "for OIDC redirect URIs; default: each request's own.",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Fernet key encrypting connection secrets; default: key file."
    )
    secret_key_previous: SecretStr | None = Field(
        default=None, description="Comma-separated earlier Fernet keys, accepted for decryption."
    )
    # -- Traces and logs (ADR 0036)
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector receiving `lakehold serve`'s traces, e.g. "
        "http://otel-collector:4318 (/v1/traces added); unset (and no OTEL_EXPORTER_OTLP_"
        "[TRACES_]ENDPOINT): tracing is off.",
    )
    trace_sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of traces recorded (a request's sampled traceparent decides for it).",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log lines of `lakehold serve`: json or text; default: text "
        "on a terminal, json otherwise.",
    )
    log_level: str = Field(
        default="INFO",
        pattern=r"(?i)^(debug|info|warning|error)$",
        description="The least important log records written: debug, info, warning or error.",
    )
    # -- The CLI's warm process (ADR 0042)
    daemon: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: commands on a local home use (and start) the home's warm process "
        "on a Unix socket in the home; off: every command runs in its own process.",
    )
    daemon_idle_seconds: int = Field(
        default=900, ge=1, description="The home's warm process leaves after this long unused."
    )
    # -- Delta Sharing server (ADR 0037)
    sharing_token_days: int = Field(
        default=90, ge=1, le=3650, description="Default lifetime of a recipient's token."
    )
    sharing_url_seconds: int = Field(
        default=900,
        ge=10,
        le=86400,
        description="Lifetime of a signed file URL given to a recipient.",
    )
    sharing_refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often `lakehold serve` catches filtered share snapshots up with their "
        "sources (0: only when read).",
    )
    sharing_snapshot_retention_hours: int = Field(
        default=168,
        ge=1,
        le=87600,
        description="How long the data files a filtered share snapshot's refreshes removed are "
        "kept (older snapshot versions read them; at least the file URLs' lifetime), then "
        "deleted by `lakehold serve`'s refresher once a day.",
    )
    # -- Arrow Flight SQL endpoint (ADR 0038)
    flight_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the Arrow Flight SQL endpoint `lakehold serve` runs beside the "
        "HTTP API; unset: no endpoint.",
    )
    flight_host: str | None = Field(
        default=None, description="Bind address of the Flight SQL endpoint; default: host."
    )
    flight_tls_cert: Path | None = Field(
        default=None, description="PEM certificate (chain) of the Flight SQL endpoint: TLS on."
    )
    flight_tls_key: Path | None = Field(
        default=None, description="PEM private key of flight_tls_cert."
    )
    flight_token_seconds: int = Field(
        default=3600,
        gt=0,
        description="Lifetime of the token a Flight SQL client gets for a user name and "
        "password (basic auth); at most the security policy's maximum token lifetime.",
    )

    @field_validator("daemon", mode="before")
    @classmethod
    def _daemon_word(cls, value: Any) -> Any:
        """Any case, blanks around ignored: as the CLI reads it (``cli/daemon/warm.py``)."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("source_roots", "network_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _oidc_from_file(self) -> Settings:
        if self.oidc_providers_file is not None:
            text = self.oidc_providers_file.read_text()
            more = TypeAdapter(list[OidcProvider]).validate_python(json.loads(text))
            self.oidc_providers = [*self.oidc_providers, *more]
        names = [provider.name for provider in self.oidc_providers]
        if len(names) != len(set(names)):
            raise ValueError("two OIDC providers have the same name")
        return self

    @model_validator(mode="after")
    def _snapshot_files_outlive_their_urls(self) -> Settings:
        if self.sharing_snapshot_retention_hours * 3600 < self.sharing_url_seconds:
            raise ValueError(
                "LAKEHOLD_SHARING_SNAPSHOT_RETENTION_HOURS must cover "
                "LAKEHOLD_SHARING_URL_SECONDS: a file URL given out must still open"
            )
        return self

    @model_validator(mode="after")
    def _flight_tls_pair(self) -> Settings:
        if (self.flight_tls_cert is None) != (self.flight_tls_key is None):
            raise ValueError(
                "set both LAKEHOLD_FLIGHT_TLS_CERT and LAKEHOLD_FLIGHT_TLS_KEY, or neither"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'lakehold.db'}"

    @cached_property
    def warehouse_path(self) -> Path:
        return (self.warehouse or self.home / "warehouse").resolve()

    @cached_property
    def metadata_file(self) -> Path | None:
        """The SQLite file of the metadata store (None on a server database)."""
        url = make_url(self.resolved_database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database).resolve()

    @cached_property
    def scan_path(self) -> Path:
        """Where statements make their private links to data files (in the warehouse, so that
        they are hard links on the same file system)."""
        return self.warehouse_path / ".scans"

    @cached_property
    def results_path(self) -> Path:
        return (self.home / "results").resolve()

    @cached_property
    def staging_path(self) -> Path:
        """Where uploads are streamed while a request runs (swept at start-up)."""
        return (self.home / "staging").resolve()

    def ensure_dirs(self) -> None:
        """Create the home, warehouse, results and staging directories, for their owner only
        (0700). Lakehold's own directories created earlier with a wider mode are narrowed; a
        warehouse configured outside the home keeps the mode it has."""
        home = self.home.resolve()
        for path in (home, self.warehouse_path, self.results_path, self.staging_path):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            ours = path == home or path.is_relative_to(home)
            if ours and path.stat().st_mode & 0o077:
                path.chmod(0o700)
