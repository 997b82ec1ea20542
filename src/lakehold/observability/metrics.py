"""Every Prometheus metric Lakehold exports, defined once.

Names follow Prometheus conventions (``lakehold_`` prefix, base units, ``_total`` counters).
Label values are bounded: fixed vocabularies (states, outcomes, actions, operations) or a
project or connection name through :func:`project_label` / :func:`connection_label`, which
cap the distinct values one process reports. Never a statement's text, a user name, a path or
anything secret.

Several API workers: ``PROMETHEUS_MULTIPROC_DIR`` set before this module is first imported
makes every value a shared file (prometheus-client's multiprocess mode); gauges then say how
the workers' values combine (``multiprocess_mode``).
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, Info

PROJECT_LABEL_CAP = 500
"""Distinct project label values one process reports; later projects are reported as
``OTHER_PROJECT``."""
CONNECTION_LABEL_CAP = 1000
"""Distinct connection names one process reports (``lakehold_connection_*``)."""
MAX_LABEL_LENGTH = 100
OTHER_PROJECT = "_other"
NO_PROJECT = "_none"


class BoundedLabel:
    """Values of one user-chosen label: at most ``cap`` distinct ones per process (each cut
    to :data:`MAX_LABEL_LENGTH` characters), later ones reported as ``other``."""

    def __init__(self, cap: int, other: str = OTHER_PROJECT, empty: str = NO_PROJECT) -> None:
        self.cap, self.other, self.empty = cap, other, empty
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return self.empty
        value = value[:MAX_LABEL_LENGTH]
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.cap:
                return self.other
            self._seen.add(value)
            return value


_projects = BoundedLabel(PROJECT_LABEL_CAP)
_connections = BoundedLabel(CONNECTION_LABEL_CAP)


def project_label(name: str | None) -> str:
    """A project name as a label value, within the cap."""
    return _projects(name)


def connection_label(name: str | None) -> str:
    """A connection name as a label value, within the cap."""
    return _connections(name)


_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_ROW_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)

BUILD_INFO = Info("lakehold_build", "The running Lakehold version.")

# -- HTTP ------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "lakehold_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "lakehold_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of its body), by route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)

# -- Arrow Flight SQL ------------------------------------------------------------------------
FLIGHT_CALLS = Counter(
    "lakehold_flight_calls_total",
    "Arrow Flight SQL RPCs answered, by method (handshake, get_flight_info, do_get, do_action, "
    "...) and gRPC status (OK, UNAUTHENTICATED, NOT_FOUND, ...).",
    ["method", "status"],
)
FLIGHT_CALL_SECONDS = Histogram(
    "lakehold_flight_call_duration_seconds",
    "Time to answer an Arrow Flight SQL RPC (a DoGet: to the end of its stream), by method.",
    ["method"],
    buckets=_LATENCY_BUCKETS,
)

# -- statements ------------------------------------------------------------------------------
STATEMENTS = Counter(
    "lakehold_statements_total",
    "Governed statements that ended, by final state (FINISHED, FAILED, ABORTED) and engine "
    "(duckdb: in process; ray: DuckDB tasks on a Ray cluster).",
    ["project", "state", "engine"],
)
STATEMENT_QUEUE_SECONDS = Histogram(
    "lakehold_statement_queue_seconds",
    "Time from a statement's submission to the start of its run.",
    buckets=_LATENCY_BUCKETS,
)
STATEMENT_RUN_SECONDS = Histogram(
    "lakehold_statement_run_seconds",
    "Time a statement ran (plan, bind and execute), by final state and engine.",
    ["state", "engine"],
    buckets=_LATENCY_BUCKETS,
)
STATEMENT_ROWS = Counter(
    "lakehold_statement_rows_total",
    "Rows returned by finished statements.",
    ["project"],
)
STATEMENT_SCANNED_BYTES = Counter(
    "lakehold_statement_scanned_bytes_total",
    "Bytes of table data files a statement was bound to read (the granted snapshot's files).",
    ["project"],
)

# -- governance ------------------------------------------------------------------------------
DECISIONS = Counter(
    "lakehold_decisions_total",
    "Governance decisions taken by the kernel, by action and outcome (allowed, denied).",
    ["action", "outcome"],
)

# -- tables ----------------------------------------------------------------------------------
TABLE_WRITES = Counter(
    "lakehold_table_writes_total",
    "Delta commits written, by operation (create, append, overwrite, merge, cdc, restore, "
    "optimize, vacuum).",
    ["project", "operation"],
)
TABLE_COMMIT_SECONDS = Histogram(
    "lakehold_table_commit_seconds",
    "Time to write a Delta commit (data files and log entry), by operation.",
    ["operation"],
    buckets=_LATENCY_BUCKETS,
)
TABLE_MERGE_ROWS = Histogram(
    "lakehold_table_merge_rows",
    "Source rows of a merge (upsert or CDC), after the duplicates of a key were collapsed.",
    buckets=_ROW_BUCKETS,
)
TABLE_VACUUM_FILES = Counter(
    "lakehold_table_vacuum_files_removed_total",
    "Data files removed by vacuum.",
    ["project"],
)

# -- lineage ---------------------------------------------------------------------------------
LINEAGE_EVENTS = Counter(
    "lakehold_lineage_events_total",
    "OpenLineage events received from producers (the API), by outcome (accepted, refused).",
    ["outcome"],
)

# -- sync jobs -------------------------------------------------------------------------------
SYNC_RUNS = Counter(
    "lakehold_sync_runs_total",
    "Sync job runs that ended, by outcome (succeeded, failed).",
    ["project", "outcome"],
)
SYNC_ROWS = Counter(
    "lakehold_sync_rows_total",
    "Rows sync runs applied to their lakehouse tables (the latest change of each key; in full "
    "mode the rows kept).",
    ["project"],
)
SYNC_LAG_SECONDS = Gauge(
    "lakehold_sync_lag_seconds",
    "Per project, the largest time since a scheduled sync job's last successful run (capped "
    "at 7 days).",
    ["project"],
    multiprocess_mode="max",
)
SYNC_WATERMARK_LAG_SECONDS = Gauge(
    "lakehold_sync_watermark_lag_seconds",
    "Per project, the largest time between now and the watermark an incremental sync job last "
    "committed, where it is a date or time: how far the lakehouse copy is behind the source.",
    ["project"],
    multiprocess_mode="max",
)

# -- webhooks --------------------------------------------------------------------------------
WEBHOOK_DELIVERIES = Counter(
    "lakehold_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, retry, failed).",
    ["outcome"],
)

# -- Delta Sharing (ADR 37) ------------------------------------------------------------------
SHARE_READS = Counter(
    "lakehold_share_reads_total",
    "Delta Sharing table reads answered to recipients, by producer project and kind (query: "
    "a snapshot's or a version range's files; changes: a change data feed).",
    ["project", "kind"],
)
SHARE_FILE_FETCHES = Counter(
    "lakehold_share_file_fetches_total",
    "Requests for data files recipients made through signed URLs and were answered (a client "
    "reads a file in a few byte ranges).",
)

# -- secrets ---------------------------------------------------------------------------------
SECRET_DECRYPTIONS = Counter(
    "lakehold_secret_decryptions_total",
    "Secrets decrypted, by key id (the fingerprint of the key that sealed them).",
    ["key_id"],
)

# -- metadata store --------------------------------------------------------------------------
STORE_POOL_CONNECTIONS = Gauge(
    "lakehold_metadata_pool_connections",
    "Metadata-store connections of this process's pool, by state (checked_out, idle).",
    ["state"],
    multiprocess_mode="livesum",
)

# -- certificates and storage ----------------------------------------------------------------
CERTIFICATE_EXPIRY = Gauge(
    "lakehold_connection_certificate_expiry_timestamp_seconds",
    "When the TLS certificate a connection's server presented expires (Unix time).",
    ["project", "connection"],
    # the newest check wins (a renewed certificate replaces the old one in every worker)
    multiprocess_mode="mostrecent",
)
WAREHOUSE_DISK_FREE_BYTES = Gauge(
    "lakehold_warehouse_disk_free_bytes",
    "Free bytes on the warehouse's file system.",
    multiprocess_mode="min",
)
WAREHOUSE_DISK_SIZE_BYTES = Gauge(
    "lakehold_warehouse_disk_size_bytes",
    "Size in bytes of the warehouse's file system.",
    multiprocess_mode="max",
)
