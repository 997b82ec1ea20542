"""The SDK's sources endpoints: connections, data sources (crawlers) and sync jobs."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from msgspec import UNSET, UnsetType

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment
from lakehold.errors import Invalid

Mode = Literal["full", "incremental"]
SHARING_KIND = "delta_sharing"


def share_profile(profile: Mapping[str, Any] | str | Path) -> tuple[dict[str, Any], str]:
    """A Delta Sharing profile -- its file, or its JSON object -- as a ``delta_sharing``
    connection's params (``endpoint``, ``expirationTime``) and its bearer token; Invalid
    naming ``profile`` when it is not a bearer-token profile (``shareCredentialsVersion`` 1)."""
    if not isinstance(profile, Mapping):
        try:
            profile = json.loads(Path(profile).read_text())
        except (OSError, ValueError) as error:
            raise Invalid(f"cannot read the profile file: {error}", field="profile") from None
    if not isinstance(profile, Mapping):
        raise Invalid("a profile is a JSON object", field="profile")
    version = profile.get("shareCredentialsVersion", 1)
    token = profile.get("bearerToken")
    if version != 1 or not isinstance(token, str) or not token:
        raise Invalid(
            "only bearer-token profiles (shareCredentialsVersion 1, with bearerToken) are read",
            field="profile",
        )
    params = {"endpoint": profile.get("endpoint")}
    if profile.get("expirationTime") is not None:
        params["expirationTime"] = profile["expirationTime"]
    return params, token


def _project(project: str, group: str, name: str | None = None, tail: str = "") -> str:
    path = f"/api/v1/projects/{segment(project)}/{group}"
    if name is not None:
        path += f"/{segment(name)}"
    return path + tail


class Connections(Resource):
    """Connections of a project to external databases and folders of files (its owners).
    Passwords are sent once, stored encrypted, and never returned (only ``has_secret``)."""

    def create(
        self,
        project: str,
        name: str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        password: str | None = None,
        description: str | None = None,
    ) -> m.ConnectionView:
        """Create a connection: ``kind`` is postgresql, mysql, sqlite, files or
        delta_sharing; ``params`` host, port, database, user (servers), path (a SQLite file, a
        folder of files) or endpoint and expirationTime (a share profile's; its bearer token
        is the ``password``: :meth:`create_from_profile` reads a profile file)."""
        body = m.ConnectionIn(
            name=name,
            kind=kind,
            params=params or {},
            password=password,
            description=description,
        )
        return self._post(_project(project, "connections"), m.ConnectionView, json=body)

    def create_from_profile(
        self,
        project: str,
        name: str,
        profile: Mapping[str, Any] | str | Path,
        *,
        description: str | None = None,
    ) -> m.ConnectionView:
        """Create a ``delta_sharing`` connection from another organisation's share profile
        (its file or its JSON object): the endpoint and expiry as params, the bearer token
        as the secret (stored encrypted, never returned)."""
        params, token = share_profile(profile)
        return self.create(
            project, name, SHARING_KIND, params, password=token, description=description
        )

    def update_profile(
        self, project: str, name: str, profile: Mapping[str, Any] | str | Path
    ) -> m.ConnectionView:
        """Replace a ``delta_sharing`` connection's endpoint, expiry and token with those of
        a new profile (the provider's, when the old token expires or is revoked)."""
        params, token = share_profile(profile)
        return self.update(project, name, params={"expirationTime": None, **params}, password=token)

    def list(self, project: str) -> builtins.list[m.ConnectionView]:
        """The project's connections."""
        return self._get(_project(project, "connections"), list[m.ConnectionView])

    def get(self, project: str, name: str) -> m.ConnectionView:
        """One connection, without its password."""
        return self._get(_project(project, "connections", name), m.ConnectionView)

    def update(
        self,
        project: str,
        name: str,
        *,
        params: dict[str, Any] | None = None,
        password: str | None = None,
        clear_password: bool = False,
        description: str | None = None,
    ) -> m.ConnectionView:
        """Change params (merged into the current ones; a ``None`` value removes a key), the
        password (or ``clear_password``) or the description; ``None``: unchanged."""
        body = m.ConnectionPatch(
            params=params,
            password=password,
            clear_password=clear_password,
            description=description,
        )
        return self._patch(_project(project, "connections", name), m.ConnectionView, json=body)

    def delete(self, project: str, name: str) -> None:
        """Delete a connection with its data sources and federated assets (``Conflict`` while
        an asset has an active grant or listing)."""
        self._delete(_project(project, "connections", name))

    def test(self, project: str, name: str) -> m.ConnectionTest:
        """Reach the source: its version and table count (``SourceUnavailable`` when it
        cannot be reached, ``Invalid`` when its target or role is not allowed)."""
        return self._post(_project(project, "connections", name, "/test"), m.ConnectionTest)

    def certificates(self, *, within_days: int | None = None) -> builtins.list[m.CertificateView]:
        """The TLS certificates of the server connections you may see (those of the projects
        you own), soonest expiry first; ``within_days``: only those expiring within that many
        days (or expired). ``status``: ok, expiring, expired, no_tls, unreachable, unchecked."""
        params = {"within_days": within_days} if within_days is not None else None
        return self._get("/api/v1/connections/certificates", list[m.CertificateView], params=params)

    def check_certificate(self, project: str, name: str) -> m.CertificateView:
        """Read the certificate of the connection's server now and record it (its project's
        owners; ``Invalid`` when its target is not allowed)."""
        return self._post(_project(project, "connections", name, "/certificate"), m.CertificateView)


class DataSources(Resource):
    """Data sources: crawlers importing a connection's tables as federated assets."""

    def create(
        self,
        project: str,
        name: str,
        connection: str,
        *,
        schemas: builtins.list[str] | None = None,
        include: builtins.list[str] | None = None,
        exclude: builtins.list[str] | None = None,
        schedule: str | None = None,
        enabled: bool = True,
        description: str | None = None,
    ) -> m.DataSourceView:
        """Create a data source crawling ``connection`` (of the same project): glob
        patterns of schemas and tables, and a cron ``schedule`` (UTC; ``None``: on demand)."""
        body = m.DataSourceIn(
            name=name,
            connection=connection,
            schemas=schemas,
            include=include,
            exclude=exclude,
            schedule=schedule,
            enabled=enabled,
            description=description,
        )
        return self._post(_project(project, "data-sources"), m.DataSourceView, json=body)

    def list(self, project: str) -> builtins.list[m.DataSourceView]:
        """The project's data sources."""
        return self._get(_project(project, "data-sources"), list[m.DataSourceView])

    def get(self, project: str, name: str) -> m.DataSourceView:
        """One data source, with its last and next run."""
        return self._get(_project(project, "data-sources", name), m.DataSourceView)

    def update(
        self,
        project: str,
        name: str,
        *,
        schemas: builtins.list[str] | UnsetType | None = UNSET,
        include: builtins.list[str] | UnsetType | None = UNSET,
        exclude: builtins.list[str] | UnsetType | None = UNSET,
        schedule: str | UnsetType | None = UNSET,
        enabled: bool | UnsetType | None = UNSET,
        description: str | UnsetType | None = UNSET,
    ) -> m.DataSourceView:
        """Change the fields given (``schedule=""`` removes the schedule)."""
        body = m.DataSourcePatch(
            schemas=schemas,
            include=include,
            exclude=exclude,
            schedule=schedule,
            enabled=enabled,
            description=description,
        )
        return self._patch(_project(project, "data-sources", name), m.DataSourceView, json=body)

    def delete(self, project: str, name: str) -> None:
        """Delete a data source and its runs; the assets it imported stay."""
        self._delete(_project(project, "data-sources", name))

    def run(self, project: str, name: str) -> m.RunView:
        """Crawl now and wait for the run (``SourceUnavailable`` naming the connection and
        the failed run when the source cannot be reached)."""
        return self._post(_project(project, "data-sources", name, "/runs"), m.RunView)

    def runs(self, project: str, name: str, *, limit: int = 20) -> builtins.list[m.RunView]:
        """The latest runs, newest first."""
        return self._get(
            _project(project, "data-sources", name, "/runs"),
            list[m.RunView],
            params={"limit": limit},
        )


class SyncJobs(Resource):
    """Sync jobs: copy a source table or query of a project's connection into a lakehouse
    table, fully or incrementally (by a watermark column, with keys and deletes)."""

    def create(
        self,
        project: str,
        name: str,
        *,
        connection: str,
        target_table: str,
        source_table: str | None = None,
        source_query: str | None = None,
        mode: Mode = "incremental",
        watermark_column: str | None = None,
        key_columns: builtins.list[str] | None = None,
        delete_column: str | None = None,
        operation_column: str | None = None,
        not_null_columns: builtins.list[str] | None = None,
        schedule: str | None = None,
        description: str | None = None,
    ) -> m.SyncJobView:
        """Create a sync job (owners and contributors) reading ``source_table``
        (schema.table) or ``source_query``; the source is read (no rows) to check the named
        columns (``Invalid`` naming the field, ``SourceUnavailable`` when it is down)."""
        body = m.SyncJobIn(
            name=name,
            connection=connection,
            target_table=target_table,
            source_table=source_table,
            source_query=source_query,
            mode=mode,
            watermark_column=watermark_column,
            key_columns=key_columns,
            delete_column=delete_column,
            operation_column=operation_column,
            not_null_columns=not_null_columns,
            schedule=schedule,
            description=description,
        )
        return self._post(_project(project, "sync-jobs"), m.SyncJobView, json=body)

    def list(self, project: str) -> builtins.list[m.SyncJobView]:
        """The project's sync jobs."""
        return self._get(_project(project, "sync-jobs"), list[m.SyncJobView])

    def get(self, project: str, name: str) -> m.SyncJobView:
        """One sync job, with its last watermark and next scheduled run."""
        return self._get(_project(project, "sync-jobs", name), m.SyncJobView)

    def update(
        self,
        project: str,
        name: str,
        *,
        connection: str | UnsetType = UNSET,
        target_table: str | UnsetType = UNSET,
        source_table: str | UnsetType | None = UNSET,
        source_query: str | UnsetType | None = UNSET,
        mode: Mode | UnsetType = UNSET,
        watermark_column: str | UnsetType | None = UNSET,
        key_columns: builtins.list[str] | UnsetType | None = UNSET,
        delete_column: str | UnsetType | None = UNSET,
        operation_column: str | UnsetType | None = UNSET,
        not_null_columns: builtins.list[str] | UnsetType | None = UNSET,
        schedule: str | UnsetType | None = UNSET,
        description: str | UnsetType | None = UNSET,
    ) -> m.SyncJobView:
        """Change the fields given (``None`` clears an optional one). A new connection,
        source or watermark column forgets the last watermark."""
        body = m.SyncJobFields(
            connection=connection,
            target_table=target_table,
            source_table=source_table,
            source_query=source_query,
            mode=mode,
            watermark_column=watermark_column,
            key_columns=key_columns,
            delete_column=delete_column,
            operation_column=operation_column,
            not_null_columns=not_null_columns,
            schedule=schedule,
            description=description,
        )
        return self._patch(_project(project, "sync-jobs", name), m.SyncJobView, json=body)

    def delete(self, project: str, name: str) -> None:
        """Delete the job and its run history; the target table stays."""
        self._delete(_project(project, "sync-jobs", name))

    def run(self, project: str, name: str) -> m.SyncRunView:
        """Run the job now and wait for the run (``SourceUnavailable`` when the source is
        down: the failed run is in the history, the watermark unchanged)."""
        return self._post(_project(project, "sync-jobs", name, "/runs"), m.SyncRunView)

    def runs(self, project: str, name: str, *, limit: int = 50) -> builtins.list[m.SyncRunView]:
        """The job's runs, newest first: status, counts, duration, error."""
        return self._get(
            _project(project, "sync-jobs", name, "/runs"),
            list[m.SyncRunView],
            params={"limit": limit},
        )
