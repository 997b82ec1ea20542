"""Typed request and response models of the Lakehold HTTP API, generated from its
OpenAPI document by ``scripts/generate_client_models.py``: do not edit by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from msgspec import UNSET, Meta, Struct, UnsetType, field


class AlertView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    signal: Annotated[str, Meta(title="Signal")]
    subject: Annotated[str, Meta(title="Subject")] | None
    direction: Annotated[str, Meta(title="Direction")]
    state: Annotated[str, Meta(title="State")]
    unit: Annotated[str, Meta(title="Unit")]
    observed: Annotated[float, Meta(title="Observed")]
    baseline: Annotated[float, Meta(title="Baseline")]
    threshold: Annotated[float, Meta(title="Threshold")]
    message: Annotated[str, Meta(title="Message")]
    details: Annotated[dict[str, Any], Meta(title="Details")]
    opened_at: Annotated[datetime, Meta(title="Opened At")]
    resolved_at: Annotated[datetime, Meta(title="Resolved At")] | None
    resolved_observed: Annotated[float, Meta(title="Resolved Observed")] | None
    link: Annotated[str, Meta(title="Link")]


class AssetPatch(Struct):
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    tags: Annotated[list[str], Meta(title="Tags")] | UnsetType | None = UNSET
    column_descriptions: (
        Annotated[dict[str, str], Meta(title="Column Descriptions")] | UnsetType | None
    ) = UNSET


class AuditView(Struct):
    id: Annotated[str, Meta(title="Id")]
    at: Annotated[datetime, Meta(title="At")]
    username: Annotated[str, Meta(title="Username")] | None
    project: Annotated[str, Meta(title="Project")] | None
    action: Annotated[str, Meta(title="Action")]
    allowed: Annotated[bool, Meta(title="Allowed")]
    reason: Annotated[str, Meta(title="Reason")] | None
    sql: Annotated[str, Meta(title="Sql")] | None
    assets: Annotated[list[str], Meta(title="Assets")]
    details: Annotated[dict[str, Any], Meta(title="Details")]
    resource: Annotated[str, Meta(title="Resource")] | None
    request_id: Annotated[str, Meta(title="Request Id")] | None


class BodyCreateTableApiV1ProjectsProjectTablesPost(Struct):
    name: Annotated[
        str, Meta(description="Table name, addressed in SQL as project.name", title="Name")
    ]
    file: Annotated[str, Meta(description="CSV, Parquet, JSON lines or Arrow IPC", title="File")]
    keys: (
        Annotated[str, Meta(description="Key columns, comma-separated", title="Keys")]
        | UnsetType
        | None
    ) = UNSET
    format: (
        Annotated[
            str,
            Meta(
                description="csv, parquet, jsonl or arrow; default: from the file name",
                title="Format",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    column_types: (
        Annotated[
            str, Meta(description='Explicit types, JSON: {"col": "BIGINT"}', title="Column Types")
        ]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    tags: Annotated[str, Meta(description="Comma-separated", title="Tags")] | UnsetType | None = (
        UNSET
    )
    change_data_feed: (
        Annotated[
            bool,
            Meta(
                description="Record row changes (delta.enableChangeDataFeed): merges, CDC writes, deletes and updates write change data, read by Delta Sharing recipients as the table's change data feed",
                title="Change Data Feed",
            ),
        ]
        | UnsetType
    ) = False


class BodyTokenOauthTokenPost(Struct):
    grant_type: (
        Annotated[str, Meta(description="`client_credentials`", title="Grant Type")]
        | UnsetType
        | None
    ) = UNSET
    client_id: (
        Annotated[str, Meta(description="Or HTTP Basic", title="Client Id")] | UnsetType | None
    ) = UNSET
    client_secret: (
        Annotated[str, Meta(description="Or HTTP Basic", title="Client Secret")] | UnsetType | None
    ) = UNSET
    scope: (
        Annotated[str, Meta(description="Optional: `project:<name>`", title="Scope")]
        | UnsetType
        | None
    ) = UNSET


class BodyWriteTableApiV1ProjectsProjectTablesTableWritesPost(Struct):
    file: Annotated[str, Meta(description="CSV, Parquet, JSON lines or Arrow IPC", title="File")]
    mode: (
        Annotated[Literal["append", "overwrite", "merge", "cdc"], Meta(title="Mode")] | UnsetType
    ) = "append"
    keys: (
        Annotated[str, Meta(description="Override the declared key columns", title="Keys")]
        | UnsetType
        | None
    ) = UNSET
    op_column: (
        Annotated[str, Meta(description="CDC: the I/U/D operation column", title="Op Column")]
        | UnsetType
    ) = "op"
    order_column: (
        Annotated[
            str,
            Meta(description="CDC: orders changes to one key in the batch", title="Order Column"),
        ]
        | UnsetType
        | None
    ) = UNSET
    format: (
        Annotated[
            str,
            Meta(
                description="csv, parquet, jsonl or arrow; default: from the file name",
                title="Format",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    column_types: Annotated[str, Meta(title="Column Types")] | UnsetType | None = UNSET
    on_duplicate: (
        Annotated[
            Literal["last", "error"],
            Meta(
                description="Merge and CDC: a key twice in the batch keeps its last row (last, counted in duplicates_collapsed) or refuses the batch (error)",
                title="On Duplicate",
            ),
        ]
        | UnsetType
    ) = "last"
    engine: (
        Annotated[
            Literal["duckdb", "ray"],
            Meta(
                description="duckdb (in process) or ray (tasks on the Ray cluster, LAKEHOLD_RAY_ADDRESS; merges, CDC writes and compactions); default: the cluster when the data reaches LAKEHOLD_RAY_THRESHOLD_BYTES",
                title="Engine",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class CertificateView(Struct):
    project: Annotated[str, Meta(title="Project")]
    connection: Annotated[str, Meta(title="Connection")]
    kind: Annotated[str, Meta(title="Kind")]
    host: Annotated[str, Meta(title="Host")]
    port: Annotated[int, Meta(title="Port")]
    status: Annotated[str, Meta(title="Status")]
    not_after: Annotated[datetime, Meta(title="Not After")] | None
    days_left: Annotated[int, Meta(title="Days Left")] | None
    subject: Annotated[str, Meta(title="Subject")] | None
    issuer: Annotated[str, Meta(title="Issuer")] | None
    fingerprint: Annotated[str, Meta(title="Fingerprint")] | None
    checked_at: Annotated[datetime, Meta(title="Checked At")] | None
    error: Annotated[str, Meta(title="Error")] | None


Name: TypeAlias = Annotated[
    str,
    Meta(description="New name; omitted: unchanged", max_length=100, min_length=1, title="Name"),
]


class Change(Struct):
    name: (
        Annotated[Name, Meta(description="New name; omitted: unchanged", title="Name")]
        | UnsetType
        | None
    ) = UNSET
    description: (
        Annotated[
            str,
            Meta(
                description='New description ("" clears it); omitted: unchanged',
                title="Description",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class ColumnMeta(Struct):
    name: Annotated[
        str,
        Meta(description="The column's name as the statement gave it; may repeat", title="Name"),
    ]
    key: Annotated[
        str,
        Meta(
            description="Unique among the columns: the name, or the name with a suffix `_1`, `_2`... where it repeats. The key of this column's value in rows as objects",
            title="Key",
        ),
    ]
    type: Annotated[
        str, Meta(description="SQL type, e.g. BIGINT, DECIMAL(18,2), VARCHAR", title="Type")
    ]
    nullable: Annotated[bool, Meta(title="Nullable")]


class ColumnMetadataView(Struct):
    name: Annotated[str, Meta(title="Name")]
    tags: Annotated[list[str], Meta(title="Tags")]
    glossary_terms: Annotated[list[str], Meta(title="Glossary Terms")]


class ColumnView(Struct):
    name: Annotated[str, Meta(title="Name")]
    data_type: Annotated[str, Meta(title="Data Type")]
    nullable: Annotated[bool, Meta(title="Nullable")]
    ordinal: Annotated[int, Meta(title="Ordinal")]
    description: Annotated[str, Meta(title="Description")] | None


class ConnectionIn(Struct):
    name: Annotated[str, Meta(description="Lower-case letters, digits, underscores", title="Name")]
    kind: Annotated[
        str, Meta(description="postgresql, mysql, sqlite, files or delta_sharing", title="Kind")
    ]
    params: (
        Annotated[
            dict[str, Any],
            Meta(
                description="postgresql, mysql: host, port, database, user, and the TLS mode (postgresql: sslmode disable, allow, prefer, require, verify-ca or verify-full; mysql: ssl_mode disabled, preferred, required, verify_ca or verify_identity); sqlite: path (a file); files: path (a folder of CSV, Parquet, JSON-lines files); delta_sharing: endpoint and expirationTime (a share profile's; its bearerToken is the password). Never the password.",
                title="Params",
            ),
        ]
        | UnsetType
    ) = UNSET
    password: (
        Annotated[str, Meta(description="Stored encrypted; never returned", title="Password")]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class ConnectionPatch(Struct):
    params: (
        Annotated[
            dict[str, Any],
            Meta(
                description="Merged into the current params; a null value removes a key",
                title="Params",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    password: (
        Annotated[str, Meta(description="A new password", title="Password")] | UnsetType | None
    ) = UNSET
    clear_password: Annotated[bool, Meta(title="Clear Password")] | UnsetType = False
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class ConnectionTest(Struct):
    ok: Annotated[bool, Meta(title="Ok")]
    connection: Annotated[str, Meta(title="Connection")]
    kind: Annotated[str, Meta(title="Kind")]
    version: Annotated[str, Meta(title="Version")]
    tables: Annotated[int, Meta(title="Tables")]
    elapsed_ms: Annotated[int, Meta(title="Elapsed Ms")]


class ConnectionView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    name: Annotated[str, Meta(title="Name")]
    kind: Annotated[str, Meta(title="Kind")]
    description: Annotated[str, Meta(title="Description")] | None
    params: Annotated[dict[str, Any], Meta(title="Params")]
    has_secret: Annotated[bool, Meta(title="Has Secret")]
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]


class DataSourceIn(Struct):
    name: Annotated[str, Meta(title="Name")]
    connection: Annotated[
        str, Meta(description="A connection of the same project", title="Connection")
    ]
    schemas: (
        Annotated[
            list[str],
            Meta(
                description="Glob patterns of source schemas; omitted: public (PostgreSQL), the connection's database (MySQL), all (SQLite, files)",
                title="Schemas",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    include: (
        Annotated[list[str], Meta(description="Glob patterns of table names", title="Include")]
        | UnsetType
        | None
    ) = UNSET
    exclude: (
        Annotated[list[str], Meta(description="Glob patterns to skip", title="Exclude")]
        | UnsetType
        | None
    ) = UNSET
    schedule: (
        Annotated[
            str,
            Meta(
                description="Cron expression, UTC (e.g. '0 3 * * *'); omitted: on demand",
                title="Schedule",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    enabled: Annotated[bool, Meta(title="Enabled")] | UnsetType = True
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class DataSourcePatch(Struct):
    schemas: Annotated[list[str], Meta(title="Schemas")] | UnsetType | None = UNSET
    include: Annotated[list[str], Meta(title="Include")] | UnsetType | None = UNSET
    exclude: Annotated[list[str], Meta(title="Exclude")] | UnsetType | None = UNSET
    schedule: (
        Annotated[str, Meta(description="'' removes the schedule", title="Schedule")]
        | UnsetType
        | None
    ) = UNSET
    enabled: Annotated[bool, Meta(title="Enabled")] | UnsetType | None = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class DataSourceView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    name: Annotated[str, Meta(title="Name")]
    connection: Annotated[str, Meta(title="Connection")]
    description: Annotated[str, Meta(title="Description")] | None
    schemas: Annotated[list[str], Meta(title="Schemas")]
    include: Annotated[list[str], Meta(title="Include")]
    exclude: Annotated[list[str], Meta(title="Exclude")]
    schedule: Annotated[str, Meta(title="Schedule")] | None
    enabled: Annotated[bool, Meta(title="Enabled")]
    last_run_at: Annotated[datetime, Meta(title="Last Run At")] | None
    next_run_at: Annotated[datetime, Meta(title="Next Run At")] | None
    created_at: Annotated[datetime, Meta(title="Created At")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]


class DeliveryView(Struct):
    id: Annotated[str, Meta(title="Id")]
    webhook_id: Annotated[str, Meta(title="Webhook Id")]
    event_id: Annotated[str, Meta(title="Event Id")]
    event_type: Annotated[str, Meta(title="Event Type")]
    status: Annotated[str, Meta(title="Status")]
    attempts: Annotated[int, Meta(title="Attempts")]
    next_attempt_at: Annotated[datetime, Meta(title="Next Attempt At")] | None
    last_status_code: Annotated[int, Meta(title="Last Status Code")] | None
    last_error: Annotated[str, Meta(title="Last Error")] | None
    created_at: Annotated[datetime, Meta(title="Created At")]
    delivered_at: Annotated[datetime, Meta(title="Delivered At")] | None


class DomainIn(Struct):
    name: Annotated[str, Meta(max_length=100, min_length=1, title="Name")]
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class DomainUnitChange(Struct):
    name: (
        Annotated[Name, Meta(description="New name; omitted: unchanged", title="Name")]
        | UnsetType
        | None
    ) = UNSET
    description: (
        Annotated[
            str,
            Meta(
                description='New description ("" clears it); omitted: unchanged',
                title="Description",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class DomainUnitIn(Struct):
    domain: Annotated[
        str, Meta(description="The domain the unit belongs to", min_length=1, title="Domain")
    ]
    name: Annotated[
        str,
        Meta(description="Unique among its siblings", max_length=100, min_length=1, title="Name"),
    ]
    parent: (
        Annotated[
            str,
            Meta(
                description="Domain unit id, or its path such as Sales/Marketing; default: the root unit",
                title="Parent",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class DomainView(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    created_at: Annotated[datetime, Meta(title="Created At")]


class EvaluationView(Struct):
    evaluated_at: Annotated[datetime, Meta(title="Evaluated At")]
    opened: Annotated[list[AlertView], Meta(title="Opened")]
    resolved: Annotated[list[AlertView], Meta(title="Resolved")]
    open: Annotated[int, Meta(title="Open")]


class FacetCount(Struct):
    value: Annotated[str, Meta(title="Value")]
    count: Annotated[int, Meta(title="Count")]


class FieldIn(Struct):
    name: Annotated[str, Meta(description="Unique within the form, e.g. Model Year", title="Name")]
    type: Annotated[
        Literal["text", "number", "date", "boolean", "one_of", "glossary_term"], Meta(title="Type")
    ]
    required: Annotated[bool, Meta(title="Required")] | UnsetType = False
    searchable: (
        Annotated[bool, Meta(description="Indexed for search when published", title="Searchable")]
        | UnsetType
    ) = False
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    allowed_values: (
        Annotated[list[str], Meta(description="one_of fields", title="Allowed Values")]
        | UnsetType
        | None
    ) = UNSET
    glossary: (
        Annotated[
            str,
            Meta(
                description="glossary_term fields: a glossary of the domain (id or name)",
                title="Glossary",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class FilterIn(Struct):
    name: Annotated[str, Meta(description="Unique per asset", title="Name")]
    kind: Annotated[Literal["row", "column"], Meta(title="Kind")]
    expression: (
        Annotated[
            str,
            Meta(
                description="Row filter: a boolean expression, e.g. prod_id = 1", title="Expression"
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    columns: (
        Annotated[list[str], Meta(description="Column filter: included columns", title="Columns")]
        | UnsetType
        | None
    ) = UNSET


class FilterPatch(Struct):
    name: Annotated[str, Meta(title="Name")] | UnsetType | None = UNSET
    expression: Annotated[str, Meta(title="Expression")] | UnsetType | None = UNSET
    columns: Annotated[list[str], Meta(title="Columns")] | UnsetType | None = UNSET


class FilterView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    asset: Annotated[str, Meta(title="Asset")]
    name: Annotated[str, Meta(title="Name")]
    kind: Annotated[str, Meta(title="Kind")]
    expression: Annotated[str, Meta(title="Expression")] | None
    columns: Annotated[list[str], Meta(title="Columns")] | None
    created_at: Annotated[datetime, Meta(title="Created At")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]


class FormChange(Struct):
    fields: Annotated[
        list[FieldIn],
        Meta(description="The fields of the next version", min_length=1, title="Fields"),
    ]
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class FormField(Struct):
    name: Annotated[str, Meta(title="Name")]
    type: Annotated[str, Meta(title="Type")]
    required: Annotated[bool, Meta(title="Required")]
    searchable: Annotated[bool, Meta(title="Searchable")]
    description: Annotated[str, Meta(title="Description")] | None
    allowed_values: Annotated[list[str], Meta(title="Allowed Values")] | None
    glossary: Annotated[str, Meta(title="Glossary")] | None
    glossary_id: Annotated[str, Meta(title="Glossary Id")] | None


class FormIn(Struct):
    domain: Annotated[str, Meta(min_length=1, title="Domain")]
    name: Annotated[
        str,
        Meta(description="Unique within the domain", max_length=100, min_length=1, title="Name"),
    ]
    fields: Annotated[list[FieldIn], Meta(min_length=1, title="Fields")]
    unit: (
        Annotated[
            str,
            Meta(
                description="Owning domain unit (id, or path below the root such as Marketing); default: the root unit. Needs create_form on it.",
                title="Unit",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class FormValuesView(Struct):
    project: Annotated[str, Meta(title="Project")]
    asset: Annotated[str, Meta(title="Asset")]
    form: Annotated[str, Meta(title="Form")]
    form_id: Annotated[str, Meta(title="Form Id")]
    version: Annotated[int, Meta(title="Version")]
    values: Annotated[dict[str, Any], Meta(title="Values")]
    searchable: Annotated[list[str], Meta(title="Searchable")]
    updated_by: Annotated[str, Meta(title="Updated By")]
    updated_at: Annotated[datetime, Meta(title="Updated At")] | None


class FormView(Struct):
    id: Annotated[str, Meta(title="Id")]
    domain: Annotated[str, Meta(title="Domain")]
    unit: Annotated[str, Meta(title="Unit")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    version: Annotated[int, Meta(title="Version")]
    current_version: Annotated[int, Meta(title="Current Version")]
    fields: Annotated[list[FormField], Meta(title="Fields")]
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]


class GlossaryIn(Struct):
    domain: Annotated[
        str, Meta(description="The domain the glossary belongs to", min_length=1, title="Domain")
    ]
    name: Annotated[
        str,
        Meta(description="Unique within the domain", max_length=100, min_length=1, title="Name"),
    ]
    unit: (
        Annotated[
            str,
            Meta(
                description="Owning domain unit (id, or path below the domain's root such as Marketing); default: the root unit. Needs create_glossary on it.",
                title="Unit",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class GlossaryTermView(Struct):
    id: Annotated[str, Meta(title="Id")]
    glossary: Annotated[str, Meta(title="Glossary")]
    glossary_id: Annotated[str, Meta(title="Glossary Id")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    created_at: Annotated[datetime, Meta(title="Created At")]


class GlossaryView(Struct):
    id: Annotated[str, Meta(title="Id")]
    domain: Annotated[str, Meta(title="Domain")]
    unit: Annotated[str, Meta(title="Unit")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    terms: Annotated[list[GlossaryTermView], Meta(title="Terms")]


class GrantFiltersPatch(Struct):
    row_filter: (
        Annotated[
            str,
            Meta(
                description="Name of a row filter of the asset; null removes it; omitted: kept",
                title="Row Filter",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    column_filter: (
        Annotated[
            str,
            Meta(
                description="Name of a column filter of the asset; null removes it; omitted: kept",
                title="Column Filter",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class GrantTableView(Struct):
    table: Annotated[str, Meta(title="Table")]
    asset: Annotated[str, Meta(title="Asset")]
    row_filter: Annotated[str, Meta(title="Row Filter")] | None
    row_expression: Annotated[str, Meta(title="Row Expression")] | None
    column_filter: Annotated[str, Meta(title="Column Filter")] | None
    columns: Annotated[list[str], Meta(title="Columns")] | None
    snapshot_version: Annotated[int, Meta(title="Snapshot Version")] | None


class GrantView(Struct):
    id: Annotated[str, Meta(title="Id")]
    asset: Annotated[str, Meta(title="Asset")]
    project: Annotated[str, Meta(title="Project")]
    status: Annotated[str, Meta(title="Status")]
    row_filter: Annotated[str, Meta(title="Row Filter")] | None
    row_filter_expression: Annotated[str, Meta(title="Row Filter Expression")] | None
    column_filter: Annotated[str, Meta(title="Column Filter")] | None
    columns: Annotated[list[str], Meta(title="Columns")] | None
    request_id: Annotated[str, Meta(title="Request Id")] | None
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    revoked_at: Annotated[datetime, Meta(title="Revoked At")] | None
    revoked_by: Annotated[str, Meta(title="Revoked By")] | None


class GroupIn(Struct):
    name: Annotated[str, Meta(max_length=100, min_length=1, title="Name")]
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class GroupMemberIn(Struct):
    user: Annotated[str, Meta(description="A username", min_length=1, title="User")]


class GroupView(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    members: Annotated[list[str], Meta(title="Members")]
    created_at: Annotated[datetime, Meta(title="Created At")]


class HistoryEntry(Struct):
    version: Annotated[int, Meta(title="Version")]
    timestamp: Annotated[datetime, Meta(title="Timestamp")]
    operation: Annotated[str, Meta(title="Operation")]
    committer: Annotated[str, Meta(title="Committer")] | None
    metrics: Annotated[dict[str, Any], Meta(title="Metrics")]


class Ingested(Struct):
    accepted: Annotated[int, Meta(title="Accepted")]
    duplicates: Annotated[int, Meta(title="Duplicates")]


class IssuedSecretOut(Struct):
    client_id: Annotated[str, Meta(title="Client Id")]
    secret_id: Annotated[str, Meta(title="Secret Id")]
    client_secret: Annotated[
        str, Meta(description="Shown this once; only its SHA-256 is stored", title="Client Secret")
    ]
    created_at: Annotated[datetime, Meta(title="Created At")]
    previous_expire_at: (
        Annotated[
            datetime,
            Meta(
                description="When the older secrets stop working (null: there were none)",
                title="Previous Expire At",
            ),
        ]
        | None
    )


class ItemIn(Struct):
    listing_id: Annotated[str, Meta(title="Listing Id")]
    row_filter: (
        Annotated[str, Meta(description="Name of a row filter of the asset", title="Row Filter")]
        | UnsetType
        | None
    ) = UNSET
    column_filter: (
        Annotated[
            str, Meta(description="Name of a column filter of the asset", title="Column Filter")
        ]
        | UnsetType
        | None
    ) = UNSET


class ListingColumn(Struct):
    name: Annotated[str, Meta(title="Name")]
    data_type: Annotated[str, Meta(title="Data Type")]
    nullable: Annotated[bool, Meta(title="Nullable")]
    description: Annotated[str, Meta(title="Description")] | None
    tags: Annotated[list[str], Meta(title="Tags")]
    glossary_terms: Annotated[list[str], Meta(title="Glossary Terms")]


class ListingForm(Struct):
    name: Annotated[str, Meta(title="Name")]
    version: Annotated[int, Meta(title="Version")]
    values: Annotated[dict[str, Any], Meta(title="Values")]
    searchable: Annotated[list[str], Meta(title="Searchable")]


class ListingView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    asset: Annotated[str, Meta(title="Asset")]
    qualified_name: Annotated[str, Meta(title="Qualified Name")]
    revision: Annotated[int, Meta(title="Revision")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    asset_type: Annotated[str, Meta(title="Asset Type")]
    asset_version: Annotated[int, Meta(title="Asset Version")]
    status: Annotated[str, Meta(title="Status")]
    published_by: Annotated[str, Meta(title="Published By")]
    published_at: Annotated[datetime, Meta(title="Published At")]
    withdrawn_at: Annotated[datetime, Meta(title="Withdrawn At")] | None
    tags: Annotated[list[str], Meta(title="Tags")]
    columns: Annotated[list[ListingColumn], Meta(title="Columns")]
    domain_unit: Annotated[str, Meta(title="Domain Unit")] | None
    glossary_terms: Annotated[list[str], Meta(title="Glossary Terms")]
    forms: Annotated[list[ListingForm], Meta(title="Forms")]


class MemberIn(Struct):
    role: Annotated[
        Literal["owner", "contributor", "viewer"],
        Meta(description="owner, contributor or viewer", title="Role"),
    ]
    user: (
        Annotated[str, Meta(description="A username (or give group)", title="User")]
        | UnsetType
        | None
    ) = UNSET
    group: (
        Annotated[str, Meta(description="A group name (or give user)", title="Group")]
        | UnsetType
        | None
    ) = UNSET


class MemberView(Struct):
    kind: Annotated[Literal["user", "group"], Meta(title="Kind")]
    name: Annotated[str, Meta(title="Name")]
    role: Annotated[str, Meta(title="Role")]
    created_at: Annotated[datetime, Meta(title="Created At")]


Description: TypeAlias = Annotated[str, Meta(max_length=1000, title="Description")]


class NetworkRuleIn(Struct):
    rule: Annotated[
        str,
        Meta(
            description="<host or CIDR>:<port or *>, e.g. 10.0.0.0/8:5432, db.internal:*, [fd00::/8]:5432, *.corp.example:443",
            max_length=300,
            min_length=3,
            title="Rule",
        ),
    ]
    description: Annotated[Description, Meta(title="Description")] | UnsetType | None = UNSET


class NetworkRuleView(Struct):
    rule: Annotated[str, Meta(title="Rule")]
    source: Annotated[str, Meta(title="Source")]
    id: Annotated[str, Meta(title="Id")] | None
    description: Annotated[str, Meta(title="Description")] | None
    created_by: Annotated[str, Meta(title="Created By")] | None
    created_at: Annotated[datetime, Meta(title="Created At")] | None


class OAuthErrorOut(Struct):
    error: Annotated[
        str,
        Meta(
            description="invalid_request, invalid_client, unsupported_grant_type, invalid_scope",
            title="Error",
        ),
    ]
    error_description: Annotated[str, Meta(title="Error Description")]


class OAuthTokenOut(Struct):
    access_token: Annotated[
        str,
        Meta(description="A Lakehold API token: send it as a Bearer token", title="Access Token"),
    ]
    token_type: Annotated[Literal["Bearer"], Meta(title="Token Type")]
    expires_in: Annotated[int, Meta(description="Seconds until it expires", title="Expires In")]
    scope: Annotated[
        str, Meta(description="What it was granted: `project:<its project>`", title="Scope")
    ]


class OidcProviderOut(Struct):
    name: Annotated[str, Meta(title="Name")]
    display_name: Annotated[str, Meta(title="Display Name")]
    issuer: Annotated[str, Meta(title="Issuer")]
    cli_client_id: (
        Annotated[
            str,
            Meta(
                description="The public client the CLI signs in with (none: no CLI sign-in).",
                title="Cli Client Id",
            ),
        ]
        | None
    )
    scopes: Annotated[list[str], Meta(title="Scopes")]


AccessToken: TypeAlias = Annotated[
    str,
    Meta(
        description="The access token issued with it: Lakehold reads the provider's UserInfo with it when the ID token lacks the username or group claims.",
        max_length=16384,
        title="Access Token",
    ),
]


Nonce: TypeAlias = Annotated[
    str,
    Meta(
        description="The nonce the CLI sent (loopback redirect); none with the device grant.",
        max_length=512,
        title="Nonce",
    ),
]


class OidcTokenIn(Struct):
    id_token: Annotated[
        str,
        Meta(
            description="An ID token the provider issued to its CLI client at most 10 minutes ago.",
            max_length=16384,
            min_length=1,
            title="Id Token",
        ),
    ]
    access_token: (
        Annotated[
            AccessToken,
            Meta(
                description="The access token issued with it: Lakehold reads the provider's UserInfo with it when the ID token lacks the username or group claims.",
                title="Access Token",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    nonce: (
        Annotated[
            Nonce,
            Meta(
                description="The nonce the CLI sent (loopback redirect); none with the device grant.",
                title="Nonce",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class OwnerIn(Struct):
    user: (
        Annotated[str, Meta(description="A username (or give group)", title="User")]
        | UnsetType
        | None
    ) = UNSET
    group: (
        Annotated[str, Meta(description="A group name (or give user)", title="Group")]
        | UnsetType
        | None
    ) = UNSET


class OwnerView(Struct):
    kind: Annotated[Literal["user", "group"], Meta(title="Kind")]
    name: Annotated[str, Meta(title="Name")]


class PolicyIn(Struct):
    capability: Annotated[
        Literal["create_form", "create_glossary", "create_glossary_term"], Meta(title="Capability")
    ]
    project: Annotated[
        str, Meta(description="A project of the unit's domain", min_length=1, title="Project")
    ]
    include_children: (
        Annotated[bool, Meta(description="Also the units below the unit", title="Include Children")]
        | UnsetType
    ) = False


class ProjectIn(Struct):
    name: Annotated[
        str,
        Meta(description="SQL namespace: lower-case letters, digits, underscores.", title="Name"),
    ]
    domain: Annotated[str, Meta(title="Domain")]
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    domain_unit: (
        Annotated[
            str,
            Meta(
                description="Domain unit id or path (Sales/Marketing); default: the domain's root unit",
                title="Domain Unit",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class ProjectView(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    domain: Annotated[str, Meta(title="Domain")]
    description: Annotated[str, Meta(title="Description")] | None
    owner: Annotated[str, Meta(title="Owner")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    domain_unit: Annotated[str, Meta(title="Domain Unit")] | None
    domain_unit_id: Annotated[str, Meta(title="Domain Unit Id")] | None


AssetVersion: TypeAlias = Annotated[
    int,
    Meta(description="Must be the asset's current version when given", ge=0, title="Asset Version"),
]


class PublishIn(Struct):
    asset_version: (
        Annotated[
            AssetVersion,
            Meta(
                description="Must be the asset's current version when given", title="Asset Version"
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class PurgeView(Struct):
    before: Annotated[datetime, Meta(title="Before")]
    deliveries: Annotated[int, Meta(title="Deliveries")]
    events: Annotated[int, Meta(title="Events")]


TimeoutSeconds: TypeAlias = Annotated[float, Meta(gt=0.0, title="Timeout Seconds")]


Limit: TypeAlias = Annotated[
    int, Meta(description="Row limit (default: server's)", ge=1, le=1000000000, title="Limit")
]


class QueryIn(Struct):
    sql: Annotated[
        str,
        Meta(description="One read statement, e.g. select * from p.t", min_length=1, title="Sql"),
    ]
    project: (
        Annotated[str, Meta(description="Project to act in; resolves bare names", title="Project")]
        | UnsetType
        | None
    ) = UNSET
    dialect: (
        Annotated[str, Meta(description="SQL dialect; others are transpiled", title="Dialect")]
        | UnsetType
    ) = "duckdb"
    timeout_seconds: Annotated[TimeoutSeconds, Meta(title="Timeout Seconds")] | UnsetType | None = (
        UNSET
    )
    engine: (
        Annotated[
            Literal["duckdb", "ray"],
            Meta(
                description="duckdb (in process) or ray (DuckDB tasks on the Ray cluster of LAKEHOLD_RAY_ADDRESS); default: ray when the statement reads at least LAKEHOLD_RAY_THRESHOLD_BYTES and splits, else duckdb",
                title="Engine",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    limit: (
        Annotated[Limit, Meta(description="Row limit (default: server's)", title="Limit")]
        | UnsetType
        | None
    ) = UNSET


class RecipientIn(Struct):
    project: Annotated[
        str, Meta(description="The producer project (you are an owner)", title="Project")
    ]
    name: Annotated[str, Meta(description="Unique in the project", title="Name")]
    organisation: Annotated[
        str, Meta(description="The organisation the recipient is", title="Organisation")
    ]
    comment: Annotated[str, Meta(title="Comment")] | UnsetType | None = UNSET
    days: (
        Annotated[
            int,
            Meta(
                description="Lifetime of its first token (default LAKEHOLD_SHARING_TOKEN_DAYS)",
                title="Days",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class RecipientTokenIn(Struct):
    days: (
        Annotated[int, Meta(description="Lifetime of the token", title="Days")] | UnsetType | None
    ) = UNSET


class RecipientTokenView(Struct):
    id: Annotated[str, Meta(title="Id")]
    prefix: Annotated[str, Meta(title="Prefix")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    expires_at: Annotated[datetime, Meta(title="Expires At")]
    revoked: Annotated[bool, Meta(title="Revoked")]
    last_used_at: Annotated[datetime, Meta(title="Last Used At")] | None


class RecipientView(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    project: Annotated[str, Meta(title="Project")]
    organisation: Annotated[str, Meta(title="Organisation")]
    comment: Annotated[str, Meta(title="Comment")] | None
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    tokens: Annotated[list[RecipientTokenView], Meta(title="Tokens")]


class ReindexOut(Struct):
    documents: Annotated[int, Meta(title="Documents")]


class RejectIn(Struct):
    comment: Annotated[str, Meta(title="Comment")] | UnsetType | None = UNSET


class RequestIn(Struct):
    project: Annotated[
        str,
        Meta(
            description="The subscribing project (you are a contributor or owner)", title="Project"
        ),
    ]
    listings: Annotated[
        list[str],
        Meta(description="Ids of active listings of one owning project", title="Listings"),
    ]
    reason: Annotated[str, Meta(description="Why the project needs the data", title="Reason")]
    form_values: Annotated[dict[str, Any], Meta(title="Form Values")] | UnsetType | None = UNSET


class RequestItemView(Struct):
    id: Annotated[str, Meta(title="Id")]
    listing_id: Annotated[str, Meta(title="Listing Id")]
    listing_revision: Annotated[int, Meta(title="Listing Revision")]
    asset: Annotated[str, Meta(title="Asset")]
    owning_project: Annotated[str, Meta(title="Owning Project")]
    row_filter: Annotated[str, Meta(title="Row Filter")] | None
    column_filter: Annotated[str, Meta(title="Column Filter")] | None
    grant_id: Annotated[str, Meta(title="Grant Id")] | None


class RestoreIn(Struct):
    version: Annotated[int, Meta(ge=0, title="Version")]


class ResultOut(Struct):
    statement_id: Annotated[str, Meta(title="Statement Id")]
    columns: Annotated[
        list[ColumnMeta], Meta(description="Every column of the result, in order", title="Columns")
    ]
    row_format: Annotated[
        Literal["objects", "arrays"],
        Meta(
            description="Shape of `rows`: objects keyed by column key, or arrays",
            title="Row Format",
        ),
    ]
    rows: Annotated[
        list[dict[str, Any] | list[Any]],
        Meta(
            description="Objects keyed by each column's `key` (row_format=objects), or arrays of values in column order (row_format=arrays). DECIMAL values are strings (exact), dates and times ISO 8601 strings, NULL is null",
            title="Rows",
        ),
    ]
    total_rows: Annotated[int, Meta(title="Total Rows")]
    offset: Annotated[int, Meta(title="Offset")]
    next_offset: (
        Annotated[
            int,
            Meta(
                description="Pass as offset for the next page; null at the end", title="Next Offset"
            ),
        ]
        | None
    )
    truncated: Annotated[
        bool, Meta(description="The statement hit the max-rows limit", title="Truncated")
    ]


NewToken: TypeAlias = Annotated[
    str,
    Meta(
        description="Issue you a fresh API token of this name after the revocation, returned once: your own token is revoked too when it was among those revoked.",
        max_length=100,
        min_length=1,
        title="New Token",
    ),
]


class RevokeBeforeIn(Struct):
    new_token: (
        Annotated[
            NewToken,
            Meta(
                description="Issue you a fresh API token of this name after the revocation, returned once: your own token is revoked too when it was among those revoked.",
                title="New Token",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    before: (
        Annotated[
            datetime,
            Meta(description="The cutoff (default: now); not in the future.", title="Before"),
        ]
        | UnsetType
        | None
    ) = UNSET


class RevokeIn(Struct):
    new_token: (
        Annotated[
            NewToken,
            Meta(
                description="Issue you a fresh API token of this name after the revocation, returned once: your own token is revoked too when it was among those revoked.",
                title="New Token",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class RoleIn(Struct):
    role: Annotated[
        Literal["owner", "contributor", "viewer"],
        Meta(description="owner, contributor or viewer", title="Role"),
    ]


OverlapSeconds: TypeAlias = Annotated[
    int,
    Meta(
        description="How long the older secrets keep working (default: LAKEHOLD_SERVICE_PRINCIPAL_SECRET_OVERLAP_SECONDS, 24 h); 0 ends them now",
        ge=0,
        le=2592000,
        title="Overlap Seconds",
    ),
]


class RotateIn(Struct):
    overlap_seconds: (
        Annotated[
            OverlapSeconds,
            Meta(
                description="How long the older secrets keep working (default: LAKEHOLD_SERVICE_PRINCIPAL_SECRET_OVERLAP_SECONDS, 24 h); 0 ends them now",
                title="Overlap Seconds",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


Name2: TypeAlias = Annotated[str, Meta(max_length=100, min_length=1, title="Name")]


Unit: TypeAlias = Annotated[
    str, Meta(description="Move to this domain unit", min_length=1, title="Unit")
]


Form: TypeAlias = Annotated[str, Meta(description="The required form", min_length=1, title="Form")]


class RuleChange(Struct):
    name: Annotated[Name2, Meta(title="Name")] | UnsetType | None = UNSET
    unit: (
        Annotated[Unit, Meta(description="Move to this domain unit", title="Unit")]
        | UnsetType
        | None
    ) = UNSET
    form: (
        Annotated[Form, Meta(description="The required form", title="Form")] | UnsetType | None
    ) = UNSET
    include_children: Annotated[bool, Meta(title="Include Children")] | UnsetType | None = UNSET
    asset_types: (
        Annotated[list[str], Meta(description="null: every type", title="Asset Types")]
        | UnsetType
        | None
    ) = UNSET
    projects: (
        Annotated[list[str], Meta(description="null: every project", title="Projects")]
        | UnsetType
        | None
    ) = UNSET
    description: (
        Annotated[str, Meta(description='"" or null clears it', title="Description")]
        | UnsetType
        | None
    ) = UNSET


class RuleIn(Struct):
    unit: Annotated[
        str,
        Meta(description="Domain unit id or path (Sales/Marketing)", min_length=1, title="Unit"),
    ]
    name: Annotated[str, Meta(max_length=100, min_length=1, title="Name")]
    action: Annotated[Literal["publish", "subscription_request"], Meta(title="Action")]
    form: Annotated[
        str,
        Meta(
            description="The required form (name or id) of the domain", min_length=1, title="Form"
        ),
    ]
    include_children: (
        Annotated[bool, Meta(description="Also the units below the unit", title="Include Children")]
        | UnsetType
    ) = True
    asset_types: (
        Annotated[list[str], Meta(description="Default: every type", title="Asset Types")]
        | UnsetType
        | None
    ) = UNSET
    projects: (
        Annotated[
            list[str],
            Meta(description="Project names in scope; default: every project", title="Projects"),
        ]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class RuleView(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    action: Annotated[str, Meta(title="Action")]
    form: Annotated[str, Meta(title="Form")]
    form_id: Annotated[str, Meta(title="Form Id")]
    unit: Annotated[str, Meta(title="Unit")]
    unit_id: Annotated[str, Meta(title="Unit Id")]
    include_children: Annotated[bool, Meta(title="Include Children")]
    asset_types: Annotated[list[str], Meta(title="Asset Types")] | None
    projects: Annotated[list[str], Meta(title="Projects")] | None
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    required_fields: Annotated[list[str], Meta(title="Required Fields")]


class RunView(Struct):
    id: Annotated[str, Meta(title="Id")]
    data_source: Annotated[str, Meta(title="Data Source")]
    status: Annotated[str, Meta(title="Status")]
    trigger: Annotated[str, Meta(title="Trigger")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    started_at: Annotated[datetime, Meta(title="Started At")] | None
    finished_at: Annotated[datetime, Meta(title="Finished At")] | None
    tables_added: Annotated[int, Meta(title="Tables Added")]
    tables_updated: Annotated[int, Meta(title="Tables Updated")]
    tables_unchanged: Annotated[int, Meta(title="Tables Unchanged")]
    tables_missing: Annotated[int, Meta(title="Tables Missing")]
    errors: Annotated[list[dict[str, Any]], Meta(title="Errors")]


class SearchHit(Struct):
    kind: Annotated[str, Meta(title="Kind")]
    qualified_name: Annotated[str, Meta(title="Qualified Name")]
    title: Annotated[str, Meta(title="Title")]
    description: Annotated[str, Meta(title="Description")] | None
    project: Annotated[str, Meta(title="Project")]
    domain_unit: Annotated[str, Meta(title="Domain Unit")] | None
    asset_type: Annotated[str, Meta(title="Asset Type")]
    tags: Annotated[list[str], Meta(title="Tags")]
    glossary_terms: Annotated[list[str], Meta(title="Glossary Terms")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]
    score: Annotated[float, Meta(title="Score")] | None
    snippet: Annotated[str, Meta(title="Snippet")] | None
    listing_id: Annotated[str, Meta(title="Listing Id")] | None
    asset_id: Annotated[str, Meta(title="Asset Id")] | None


class SearchResults(Struct):
    total: Annotated[int, Meta(title="Total")]
    limit: Annotated[int, Meta(title="Limit")]
    offset: Annotated[int, Meta(title="Offset")]
    items: Annotated[list[SearchHit], Meta(title="Items")]
    facets: Annotated[dict[str, list[FacetCount]], Meta(title="Facets")]
    facets_exact: Annotated[bool, Meta(title="Facets Exact")]
    total_exact: Annotated[bool, Meta(title="Total Exact")]


class SecretOut(Struct):
    id: Annotated[str, Meta(title="Id")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    expires_at: (
        Annotated[
            datetime,
            Meta(description="When it stops working (after a rotation)", title="Expires At"),
        ]
        | None
    )
    revoked_at: Annotated[datetime, Meta(title="Revoked At")] | None
    active: Annotated[bool, Meta(description="It can be exchanged for a token now", title="Active")]


MaxTokenLifetimeSeconds: TypeAlias = Annotated[
    int,
    Meta(
        description="No API token is issued to live longer (null: no limit).",
        gt=0,
        le=316224000,
        title="Max Token Lifetime Seconds",
    ),
]


DefaultTokenLifetimeSeconds: TypeAlias = Annotated[
    int,
    Meta(
        description="The lifetime of a token asked for without `expires_at` (null: it never expires, unless a maximum is set: then the maximum).",
        gt=0,
        le=316224000,
        title="Default Token Lifetime Seconds",
    ),
]


class SecurityPolicyIn(Struct):
    max_token_lifetime_seconds: (
        Annotated[
            MaxTokenLifetimeSeconds,
            Meta(
                description="No API token is issued to live longer (null: no limit).",
                title="Max Token Lifetime Seconds",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    default_token_lifetime_seconds: (
        Annotated[
            DefaultTokenLifetimeSeconds,
            Meta(
                description="The lifetime of a token asked for without `expires_at` (null: it never expires, unless a maximum is set: then the maximum).",
                title="Default Token Lifetime Seconds",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    credentials_valid_after: (
        Annotated[
            datetime,
            Meta(
                description="Revoke every session and token issued at or before this time (past or now; it only moves forward).",
                title="Credentials Valid After",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class SecurityPolicyView(Struct):
    max_token_lifetime_seconds: Annotated[int, Meta(title="Max Token Lifetime Seconds")] | None
    default_token_lifetime_seconds: (
        Annotated[int, Meta(title="Default Token Lifetime Seconds")] | None
    )
    credentials_valid_after: Annotated[datetime, Meta(title="Credentials Valid After")] | None
    updated_at: Annotated[datetime, Meta(title="Updated At")] | None
    updated_by: Annotated[str, Meta(title="Updated By")] | None


class ServicePrincipalCreatedOut(Struct):
    name: Annotated[str, Meta(title="Name")]
    project: Annotated[str, Meta(title="Project")]
    username: Annotated[
        str, Meta(description="The user it acts as, named in the audit log", title="Username")
    ]
    client_id: Annotated[str, Meta(description="Public: the OAuth client id", title="Client Id")]
    role: (
        Annotated[
            Literal["owner", "contributor", "viewer"],
            Meta(description="Its role in the project (null: removed)", title="Role"),
        ]
        | None
    )
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    active_secrets: Annotated[
        int,
        Meta(description="Secrets that can be exchanged for a token now", title="Active Secrets"),
    ]
    secret_id: Annotated[str, Meta(title="Secret Id")]
    client_secret: Annotated[
        str, Meta(description="Shown this once; only its SHA-256 is stored", title="Client Secret")
    ]


class ServicePrincipalIn(Struct):
    name: Annotated[
        str,
        Meta(
            description="Lower-case letters, digits, '_', '-'; its user is `sp-<project>-<name>`",
            examples=["nightly-etl"],
            max_length=60,
            min_length=1,
            title="Name",
        ),
    ]
    role: (
        Annotated[
            Literal["owner", "contributor", "viewer"],
            Meta(description="Its role in the project", title="Role"),
        ]
        | UnsetType
    ) = "viewer"


class ServicePrincipalOut(Struct):
    name: Annotated[str, Meta(title="Name")]
    project: Annotated[str, Meta(title="Project")]
    username: Annotated[
        str, Meta(description="The user it acts as, named in the audit log", title="Username")
    ]
    client_id: Annotated[str, Meta(description="Public: the OAuth client id", title="Client Id")]
    role: (
        Annotated[
            Literal["owner", "contributor", "viewer"],
            Meta(description="Its role in the project (null: removed)", title="Role"),
        ]
        | None
    )
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    active_secrets: Annotated[
        int,
        Meta(description="Secrets that can be exchanged for a token now", title="Active Secrets"),
    ]


class SessionInfo(Struct):
    id: Annotated[str, Meta(title="Id")]
    username: Annotated[str, Meta(title="Username")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    last_seen_at: Annotated[datetime, Meta(title="Last Seen At")]
    idle_expires_at: Annotated[datetime, Meta(title="Idle Expires At")]
    expires_at: Annotated[datetime, Meta(title="Expires At")]
    user_agent: Annotated[str, Meta(title="User Agent")] | None
    address: Annotated[str, Meta(title="Address")] | None
    current: Annotated[bool, Meta(title="Current")]


class ShareGrantIn(Struct):
    share: Annotated[str, Meta(title="Share")]
    recipient: Annotated[str, Meta(description="The recipient's id", title="Recipient")]
    reason: Annotated[str, Meta(description="Why the recipient needs the data", title="Reason")]


class ShareGrantView(Struct):
    id: Annotated[str, Meta(title="Id")]
    share: Annotated[str, Meta(title="Share")]
    project: Annotated[str, Meta(title="Project")]
    recipient: Annotated[str, Meta(title="Recipient")]
    recipient_id: Annotated[str, Meta(title="Recipient Id")]
    organisation: Annotated[str, Meta(title="Organisation")]
    status: Annotated[str, Meta(title="Status")]
    reason: Annotated[str, Meta(title="Reason")]
    requested_by: Annotated[str, Meta(title="Requested By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    decided_by: Annotated[str, Meta(title="Decided By")] | None
    decided_at: Annotated[datetime, Meta(title="Decided At")] | None
    decision_comment: Annotated[str, Meta(title="Decision Comment")] | None
    revoked_by: Annotated[str, Meta(title="Revoked By")] | None
    revoked_at: Annotated[datetime, Meta(title="Revoked At")] | None
    tables: Annotated[list[GrantTableView], Meta(title="Tables")]


class ShareIn(Struct):
    name: Annotated[
        str,
        Meta(description="Unique on the server; lower case letters, digits, _ and -", title="Name"),
    ]
    project: Annotated[
        str,
        Meta(description="The project whose tables it offers (you are an owner)", title="Project"),
    ]
    comment: Annotated[str, Meta(title="Comment")] | UnsetType | None = UNSET


class ShareRejectIn(Struct):
    comment: Annotated[str, Meta(title="Comment")] | UnsetType | None = UNSET


class ShareTableDecisionIn(Struct):
    table: Annotated[str, Meta(description="schema.table of the share", title="Table")]
    row_filter: (
        Annotated[str, Meta(description="A row filter of the asset", title="Row Filter")]
        | UnsetType
        | None
    ) = UNSET
    column_filter: (
        Annotated[str, Meta(description="A column filter of the asset", title="Column Filter")]
        | UnsetType
        | None
    ) = UNSET


class ShareTableIn(Struct):
    asset: Annotated[
        str, Meta(description="A published lakehouse table of the share's project", title="Asset")
    ]
    schema: (
        Annotated[str, Meta(description="Default: the project's name", title="Schema")]
        | UnsetType
        | None
    ) = UNSET
    name: (
        Annotated[str, Meta(description="Default: the asset's name", title="Name")]
        | UnsetType
        | None
    ) = UNSET


class ShareTableView(Struct):
    schema: Annotated[str, Meta(title="Schema")]
    name: Annotated[str, Meta(title="Name")]
    asset: Annotated[str, Meta(title="Asset")]
    id: Annotated[str, Meta(title="Id")]


class ShareView(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    project: Annotated[str, Meta(title="Project")]
    comment: Annotated[str, Meta(title="Comment")] | None
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    tables: Annotated[list[ShareTableView], Meta(title="Tables")]


class SharingProfile(Struct):
    shareCredentialsVersion: Annotated[int, Meta(title="Sharecredentialsversion")]
    endpoint: Annotated[str, Meta(title="Endpoint")]
    bearerToken: Annotated[str, Meta(title="Bearertoken")]
    expirationTime: Annotated[str, Meta(title="Expirationtime")]


class SharingQueryIn(Struct):
    predicateHints: (
        Annotated[
            list[str], Meta(description="Deprecated SQL hints (ignored)", title="Predicatehints")
        ]
        | UnsetType
        | None
    ) = UNSET
    jsonPredicateHints: (
        Annotated[
            str,
            Meta(
                description="A JSON predicate: files it proves hold no matching row are skipped",
                title="Jsonpredicatehints",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    limitHint: (
        Annotated[
            int, Meta(description="Rows wanted: files past them are skipped", title="Limithint")
        ]
        | UnsetType
        | None
    ) = UNSET
    version: (
        Annotated[int, Meta(description="The version to read", title="Version")] | UnsetType | None
    ) = UNSET
    timestamp: (
        Annotated[str, Meta(description="ISO 8601: the version then", title="Timestamp")]
        | UnsetType
        | None
    ) = UNSET
    startingVersion: (
        Annotated[int, Meta(description="Data change files from it", title="Startingversion")]
        | UnsetType
        | None
    ) = UNSET
    endingVersion: (
        Annotated[int, Meta(description="With startingVersion: up to it", title="Endingversion")]
        | UnsetType
        | None
    ) = UNSET


class StatementIn(Struct):
    sql: Annotated[
        str,
        Meta(description="One read statement, e.g. select * from p.t", min_length=1, title="Sql"),
    ]
    project: (
        Annotated[str, Meta(description="Project to act in; resolves bare names", title="Project")]
        | UnsetType
        | None
    ) = UNSET
    dialect: (
        Annotated[str, Meta(description="SQL dialect; others are transpiled", title="Dialect")]
        | UnsetType
    ) = "duckdb"
    timeout_seconds: Annotated[TimeoutSeconds, Meta(title="Timeout Seconds")] | UnsetType | None = (
        UNSET
    )
    engine: (
        Annotated[
            Literal["duckdb", "ray"],
            Meta(
                description="duckdb (in process) or ray (DuckDB tasks on the Ray cluster of LAKEHOLD_RAY_ADDRESS); default: ray when the statement reads at least LAKEHOLD_RAY_THRESHOLD_BYTES and splits, else duckdb",
                title="Engine",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class StatementView(Struct):
    id: Annotated[str, Meta(title="Id")]
    status: Annotated[str, Meta(title="Status")]
    sql: Annotated[str, Meta(title="Sql")]
    project: Annotated[str, Meta(title="Project")] | None
    dialect: Annotated[str, Meta(title="Dialect")]
    assets: Annotated[list[str], Meta(title="Assets")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    started_at: Annotated[datetime, Meta(title="Started At")] | None
    ended_at: Annotated[datetime, Meta(title="Ended At")] | None
    duration_ms: Annotated[int, Meta(title="Duration Ms")] | None
    result_rows: Annotated[int, Meta(title="Result Rows")] | None
    result_size_bytes: Annotated[int, Meta(title="Result Size Bytes")] | None
    truncated: Annotated[bool, Meta(title="Truncated")]
    has_result_set: Annotated[bool, Meta(title="Has Result Set")]
    error: Annotated[str, Meta(title="Error")] | None
    engine: Annotated[str, Meta(title="Engine")] | None


class SubscriptionRequestView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    owning_project: Annotated[str, Meta(title="Owning Project")]
    requester: Annotated[str, Meta(title="Requester")]
    reason: Annotated[str, Meta(title="Reason")]
    status: Annotated[str, Meta(title="Status")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    decided_by: Annotated[str, Meta(title="Decided By")] | None
    decided_at: Annotated[datetime, Meta(title="Decided At")] | None
    decision_comment: Annotated[str, Meta(title="Decision Comment")] | None
    form_values: Annotated[dict[str, Any], Meta(title="Form Values")]
    items: Annotated[list[RequestItemView], Meta(title="Items")]


class SyncJobFields(Struct):
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    connection: (
        Annotated[str, Meta(description="A connection of the project", title="Connection")]
        | UnsetType
        | None
    ) = UNSET
    source_table: (
        Annotated[
            str,
            Meta(
                description="schema.table in the source; share.schema.table for delta_sharing",
                title="Source Table",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    source_query: (
        Annotated[
            str, Meta(description="A SELECT in the source's SQL dialect", title="Source Query")
        ]
        | UnsetType
        | None
    ) = UNSET
    target_table: (
        Annotated[str, Meta(description="A lakehouse table of the project", title="Target Table")]
        | UnsetType
        | None
    ) = UNSET
    mode: Annotated[Literal["full", "incremental"], Meta(title="Mode")] | UnsetType | None = UNSET
    watermark_column: (
        Annotated[
            str,
            Meta(
                description="e.g. last_modified; none for delta_sharing (its version is)",
                title="Watermark Column",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    key_columns: Annotated[list[str], Meta(title="Key Columns")] | UnsetType | None = UNSET
    delete_column: (
        Annotated[str, Meta(description="Boolean column: true = deleted", title="Delete Column")]
        | UnsetType
        | None
    ) = UNSET
    operation_column: (
        Annotated[str, Meta(description="Column holding I, U or D", title="Operation Column")]
        | UnsetType
        | None
    ) = UNSET
    not_null_columns: Annotated[list[str], Meta(title="Not Null Columns")] | UnsetType | None = (
        UNSET
    )
    schedule: (
        Annotated[
            str, Meta(description="Cron expression (UTC), e.g. '*/15 * * * *'", title="Schedule")
        ]
        | UnsetType
        | None
    ) = UNSET


class SyncJobIn(Struct):
    connection: Annotated[str, Meta(title="Connection")]
    target_table: Annotated[str, Meta(title="Target Table")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    source_table: (
        Annotated[
            str,
            Meta(
                description="schema.table in the source; share.schema.table for delta_sharing",
                title="Source Table",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    source_query: (
        Annotated[
            str, Meta(description="A SELECT in the source's SQL dialect", title="Source Query")
        ]
        | UnsetType
        | None
    ) = UNSET
    mode: Annotated[Literal["full", "incremental"], Meta(title="Mode")] | UnsetType = "incremental"
    watermark_column: (
        Annotated[
            str,
            Meta(
                description="e.g. last_modified; none for delta_sharing (its version is)",
                title="Watermark Column",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    key_columns: Annotated[list[str], Meta(title="Key Columns")] | UnsetType | None = UNSET
    delete_column: (
        Annotated[str, Meta(description="Boolean column: true = deleted", title="Delete Column")]
        | UnsetType
        | None
    ) = UNSET
    operation_column: (
        Annotated[str, Meta(description="Column holding I, U or D", title="Operation Column")]
        | UnsetType
        | None
    ) = UNSET
    not_null_columns: Annotated[list[str], Meta(title="Not Null Columns")] | UnsetType | None = (
        UNSET
    )
    schedule: (
        Annotated[
            str, Meta(description="Cron expression (UTC), e.g. '*/15 * * * *'", title="Schedule")
        ]
        | UnsetType
        | None
    ) = UNSET


class SyncJobView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    name: Annotated[str, Meta(title="Name")]
    description: Annotated[str, Meta(title="Description")] | None
    connection: Annotated[str, Meta(title="Connection")]
    source_table: Annotated[str, Meta(title="Source Table")] | None
    source_query: Annotated[str, Meta(title="Source Query")] | None
    target_table: Annotated[str, Meta(title="Target Table")]
    mode: Annotated[str, Meta(title="Mode")]
    watermark_column: Annotated[str, Meta(title="Watermark Column")] | None
    key_columns: Annotated[list[str], Meta(title="Key Columns")]
    delete_column: Annotated[str, Meta(title="Delete Column")] | None
    operation_column: Annotated[str, Meta(title="Operation Column")] | None
    not_null_columns: Annotated[list[str], Meta(title="Not Null Columns")]
    schedule: Annotated[str, Meta(title="Schedule")] | None
    last_watermark: Annotated[str, Meta(title="Last Watermark")] | None
    next_run_at: Annotated[datetime, Meta(title="Next Run At")] | None
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]


class SyncRunView(Struct):
    id: Annotated[str, Meta(title="Id")]
    job: Annotated[str, Meta(title="Job")]
    status: Annotated[str, Meta(title="Status")]
    trigger: Annotated[str, Meta(title="Trigger")]
    mode: Annotated[str, Meta(title="Mode")]
    run_by: Annotated[str, Meta(title="Run By")] | None
    started_at: Annotated[datetime, Meta(title="Started At")]
    finished_at: Annotated[datetime, Meta(title="Finished At")] | None
    duration_seconds: Annotated[float, Meta(title="Duration Seconds")] | None
    rows_read: Annotated[int, Meta(title="Rows Read")]
    rows_inserted: Annotated[int, Meta(title="Rows Inserted")]
    rows_updated: Annotated[int, Meta(title="Rows Updated")]
    rows_deleted: Annotated[int, Meta(title="Rows Deleted")]
    rows_rejected: Annotated[int, Meta(title="Rows Rejected")]
    watermark_before: Annotated[str, Meta(title="Watermark Before")] | None
    watermark_after: Annotated[str, Meta(title="Watermark After")] | None
    table_version: Annotated[int, Meta(title="Table Version")] | None
    error: Annotated[str, Meta(title="Error")] | None


class TagsIn(Struct):
    tags: Annotated[
        list[str], Meta(description="Classification tags; replaces the column's tags", title="Tags")
    ]


class TermIn(Struct):
    name: Annotated[
        str,
        Meta(description="Unique within the glossary", max_length=100, min_length=1, title="Name"),
    ]
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET


class TermsIn(Struct):
    terms: Annotated[
        list[str],
        Meta(description="Term ids or Glossary/Term names; replaces the terms", title="Terms"),
    ]


IdentityProvider: TypeAlias = Annotated[
    str,
    Meta(
        description="With `scim` (required): the identity provider (e.g. `okta`) whose users and groups the token provisions at `/scim/v2`; such a token works only there.",
        max_length=64,
        title="Identity Provider",
    ),
]


class TokenIn(Struct):
    name: Annotated[str, Meta(max_length=100, min_length=1, title="Name")]
    username: (
        Annotated[str, Meta(description="Admins: issue for another user.", title="Username")]
        | UnsetType
        | None
    ) = UNSET
    expires_at: (
        Annotated[
            datetime,
            Meta(
                description="When it expires (in the future, within the security policy's maximum lifetime); default: the policy's default lifetime, or never.",
                title="Expires At",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    scopes: (
        Annotated[
            list[str],
            Meta(
                description="Extra rights: `lineage:write`, `scim`, `metrics` (granted by administrators only; a `metrics` token reads `/metrics` only).",
                title="Scopes",
            ),
        ]
        | UnsetType
    ) = field(default_factory=list)
    namespaces: (
        Annotated[
            list[str],
            Meta(
                description="With `lineage:write` (required): the OpenLineage namespaces the token may write, e.g. `airflow://prod`; `*` matches any characters. Lakehold's own namespace is never writable through the API.",
                max_length=100,
                title="Namespaces",
            ),
        ]
        | UnsetType
    ) = field(default_factory=list)
    identity_provider: (
        Annotated[
            IdentityProvider,
            Meta(
                description="With `scim` (required): the identity provider (e.g. `okta`) whose users and groups the token provisions at `/scim/v2`; such a token works only there.",
                title="Identity Provider",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET


class TokenInfo(Struct):
    id: Annotated[str, Meta(title="Id")]
    name: Annotated[str, Meta(title="Name")]
    username: Annotated[str, Meta(title="Username")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    expires_at: Annotated[datetime, Meta(title="Expires At")] | None
    revoked: Annotated[bool, Meta(title="Revoked")]
    value: Annotated[str, Meta(title="Value")] | None
    scopes: Annotated[list[str], Meta(title="Scopes")]
    namespaces: Annotated[list[str], Meta(title="Namespaces")]
    prefix: Annotated[str, Meta(title="Prefix")]
    last_used_at: Annotated[datetime, Meta(title="Last Used At")] | None
    identity_provider: Annotated[str, Meta(title="Identity Provider")] | None


class UnitPolicyView(Struct):
    id: Annotated[str, Meta(title="Id")]
    unit: Annotated[str, Meta(title="Unit")]
    unit_id: Annotated[str, Meta(title="Unit Id")]
    capability: Annotated[str, Meta(title="Capability")]
    project: Annotated[str, Meta(title="Project")]
    include_children: Annotated[bool, Meta(title="Include Children")]
    created_by: Annotated[str, Meta(title="Created By")]
    created_at: Annotated[datetime, Meta(title="Created At")]


Password: TypeAlias = Annotated[str, Meta(min_length=8, title="Password")]


class UserIn(Struct):
    username: Annotated[str, Meta(max_length=64, min_length=1, title="Username")]
    display_name: Annotated[str, Meta(title="Display Name")] | UnsetType | None = UNSET
    is_admin: Annotated[bool, Meta(title="Is Admin")] | UnsetType = False
    password: Annotated[Password, Meta(title="Password")] | UnsetType | None = UNSET


class UserOut(Struct):
    user_id: Annotated[str, Meta(title="User Id")]
    username: Annotated[str, Meta(title="Username")]
    is_admin: Annotated[bool, Meta(title="Is Admin")]
    active: Annotated[
        bool, Meta(description="False: deactivated, every credential refused.", title="Active")
    ]
    identity_provider: (
        Annotated[
            str,
            Meta(
                description="The identity provider that provisions the user (None: local).",
                title="Identity Provider",
            ),
        ]
        | None
    )


class VacuumIn(Struct):
    retention_hours: Annotated[int, Meta(ge=0, le=87600, title="Retention Hours")] | UnsetType = 168
    dry_run: Annotated[bool, Meta(title="Dry Run")] | UnsetType = False
    force: (
        Annotated[
            bool,
            Meta(
                description="Administrators only: allow a retention below 168 hours (never below the table's own delta.deletedFileRetentionDuration)",
                title="Force",
            ),
        ]
        | UnsetType
    ) = False


class ValuesIn(Struct):
    values: Annotated[
        dict[str, Any],
        Meta(description='Field name to value, e.g. {"Region": "EMEA"}', title="Values"),
    ]


class WebhookChange(Struct):
    enabled: (
        Annotated[bool, Meta(description="false: no new deliveries", title="Enabled")]
        | UnsetType
        | None
    ) = UNSET
    url: Annotated[str, Meta(title="Url")] | UnsetType | None = UNSET
    event_types: Annotated[list[str], Meta(title="Event Types")] | UnsetType | None = UNSET
    secret: (
        Annotated[str, Meta(description="A new signing secret (rotation)", title="Secret")]
        | UnsetType
        | None
    ) = UNSET
    description: (
        Annotated[str, Meta(description='"" clears it', title="Description")] | UnsetType | None
    ) = UNSET


class WebhookIn(Struct):
    url: Annotated[
        str,
        Meta(description="http:// or https:// endpoint receiving POSTed JSON events", title="Url"),
    ]
    secret: Annotated[
        str,
        Meta(
            description="whsec_<base64 of 24-64 bytes>, or 16-200 characters used as UTF-8 bytes; signs each delivery as Standard Webhooks does (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>). Stored encrypted, never returned.",
            title="Secret",
        ),
    ]
    project: (
        Annotated[
            str,
            Meta(
                description="The project whose events it receives (its owners manage it); omitted: a global webhook (administrators)",
                title="Project",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    event_types: (
        Annotated[
            list[str],
            Meta(
                description="Subscribed event types; omitted: all (subscription.requested, subscription.approved, subscription.rejected, subscription.revoked, subscription.filters_changed, alert.opened, alert.resolved, connection.certificate_expiring)",
                title="Event Types",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    description: Annotated[str, Meta(title="Description")] | UnsetType | None = UNSET
    active: Annotated[bool, Meta(title="Active")] | UnsetType = True


class WebhookView(Struct):
    id: Annotated[str, Meta(title="Id")]
    url: Annotated[str, Meta(title="Url")]
    project: Annotated[str, Meta(title="Project")] | None
    event_types: Annotated[list[str], Meta(title="Event Types")]
    description: Annotated[str, Meta(title="Description")] | None
    active: Annotated[bool, Meta(title="Active")]
    created_by: Annotated[str, Meta(title="Created By")] | None
    created_at: Annotated[datetime, Meta(title="Created At")]


class WriteResultOut(Struct):
    version: Annotated[int, Meta(title="Version")]
    operation: Annotated[str, Meta(title="Operation")]
    rows_inserted: Annotated[int, Meta(title="Rows Inserted")]
    rows_updated: Annotated[int, Meta(title="Rows Updated")]
    rows_deleted: Annotated[int, Meta(title="Rows Deleted")]
    rows_written: Annotated[int, Meta(title="Rows Written")]
    schema_changes: Annotated[list[str], Meta(title="Schema Changes")]
    duplicates_collapsed: Annotated[
        int,
        Meta(
            description="Merge and CDC: batch rows dropped because a later row of the same key won (on_duplicate=last)",
            title="Duplicates Collapsed",
        ),
    ]
    no_op: Annotated[
        bool,
        Meta(
            description="True when nothing was written: version is the current one", title="No Op"
        ),
    ]
    message: Annotated[str, Meta(description="Why nothing was written", title="Message")] | None
    engine: Annotated[
        Literal["duckdb", "ray"],
        Meta(
            description="Where the write ran: duckdb (in process) or ray (tasks on the Ray cluster)",
            title="Engine",
        ),
    ]
    engine_note: (
        Annotated[
            str,
            Meta(
                description="Why a write asked for on the Ray cluster ran in process",
                title="Engine Note",
            ),
        ]
        | None
    )


class Error(Struct):
    error: Annotated[
        str,
        Meta(
            description="The error's type: invalid, unauthorized, forbidden, not_found, conflict, too_large, timeout, cancelled, rate_limited, source_unavailable, internal, ..."
        ),
    ]
    message: Annotated[str, Meta(description="What went wrong, for people")]
    field_: (
        Annotated[str, Meta(description="The input field at fault (dotted path), when known")]
        | UnsetType
        | None
    ) = field(name="field", default=UNSET)
    line: Annotated[int, Meta(description="Line of the input, when known")] | UnsetType | None = (
        UNSET
    )
    column: (
        Annotated[
            int | str,
            Meta(description="Column of the input (a number, or a column name), when known"),
        ]
        | UnsetType
        | None
    ) = UNSET
    request_id: (
        Annotated[str, Meta(description="The request's id, as in the X-Request-ID response header")]
        | UnsetType
        | None
    ) = UNSET


class ApproveIn(Struct):
    items: (
        Annotated[
            list[ItemIn],
            Meta(description="Filters per listing; listings left out: full access", title="Items"),
        ]
        | UnsetType
    ) = UNSET
    comment: Annotated[str, Meta(title="Comment")] | UnsetType | None = UNSET


class AssetMetadataView(Struct):
    project: Annotated[str, Meta(title="Project")]
    asset: Annotated[str, Meta(title="Asset")]
    glossary_terms: Annotated[list[str], Meta(title="Glossary Terms")]
    columns: Annotated[list[ColumnMetadataView], Meta(title="Columns")]


class AssetView(Struct):
    id: Annotated[str, Meta(title="Id")]
    project: Annotated[str, Meta(title="Project")]
    name: Annotated[str, Meta(title="Name")]
    qualified_name: Annotated[str, Meta(title="Qualified Name")]
    asset_type: Annotated[str, Meta(title="Asset Type")]
    description: Annotated[str, Meta(title="Description")] | None
    tags: Annotated[list[str], Meta(title="Tags")]
    key_columns: Annotated[list[str], Meta(title="Key Columns")]
    row_count: Annotated[int, Meta(title="Row Count")]
    size_bytes: Annotated[int, Meta(title="Size Bytes")]
    current_version: Annotated[int, Meta(title="Current Version")]
    created_at: Annotated[datetime, Meta(title="Created At")]
    updated_at: Annotated[datetime, Meta(title="Updated At")]
    columns: Annotated[list[ColumnView], Meta(title="Columns")]


class DomainUnitView(Struct):
    id: Annotated[str, Meta(title="Id")]
    domain: Annotated[str, Meta(title="Domain")]
    name: Annotated[str, Meta(title="Name")]
    path: Annotated[str, Meta(title="Path")]
    parent_id: Annotated[str, Meta(title="Parent Id")] | None
    depth: Annotated[int, Meta(title="Depth")]
    description: Annotated[str, Meta(title="Description")] | None
    owners: Annotated[list[OwnerView], Meta(title="Owners")]
    created_at: Annotated[datetime, Meta(title="Created At")]


class IssuedProfile(Struct):
    recipient: RecipientView
    token_id: Annotated[str, Meta(title="Token Id")]
    expires_at: Annotated[datetime, Meta(title="Expires At")]
    profile: SharingProfile


class Revoked(Struct):
    users: Annotated[int, Meta(title="Users")]
    tokens: Annotated[int, Meta(title="Tokens")]
    sessions: Annotated[int, Meta(title="Sessions")]
    credentials_valid_after: Annotated[datetime, Meta(title="Credentials Valid After")]
    token: TokenInfo | None


class ShareApproveIn(Struct):
    tables: (
        Annotated[
            list[ShareTableDecisionIn],
            Meta(description="Filters per table; tables left out: in full", title="Tables"),
        ]
        | UnsetType
    ) = UNSET
    comment: Annotated[str, Meta(title="Comment")] | UnsetType | None = UNSET


class WriteOut(Struct):
    result: WriteResultOut
    asset: AssetView
