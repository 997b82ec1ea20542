"""Connections: how a project reaches an external database or a folder of files.

Only owners of the connection's project (and administrators) may create, see, change, test
or delete it: non-members get NotFound (as if the project did not exist), other members
Forbidden. The password is encrypted at rest (:mod:`lakehold.security.secrets`) and leaves
the service only inside a :class:`~lakehold.connectors.attach.ConnectionSpec`, through
:meth:`ConnectionService.spec`, for engines.

:meth:`ConnectionService.test` attaches the source with a short timeout and returns its
version; an unreachable source raises SourceUnavailable (HTTP 502) naming the connection.
Deleting a connection deletes its federated assets, and is refused (Conflict naming them)
while any of them has an active grant or listing.

Every server target is vetted (ADR 0014) when it is set and before every use -- a test, a
crawl, a sync, a federated query: its host must pass the network allow-list
(:class:`~lakehold.security.network_rules.NetworkPolicy`) and is pinned to the checked
address (:meth:`ConnectionService.spec` reuses a connection's vetted spec for at most
:data:`~lakehold.sources.spec_cache.SPEC_CACHE_S` seconds: the bound within which a removed
rule, a DNS change or another process's change to the connection takes effect; this
service's own changes take effect at once); Lakehold's own metadata database is refused for
everyone, on every use; and the connection of a non-administrator may not use a role with
superuser or server-file privileges (Invalid, HTTP 400, naming why). A connection counts as
an administrator's while the user who created it is one and, when someone changes it, that
someone is one too.

Creating, changing the parameters of, or testing a server connection also reads the TLS
certificate its server presents (:mod:`lakehold.sources.certificates`), after the change
commits; what happens to that check is never the request's error.

A ``delta_sharing`` connection is another organisation's share profile: its endpoint in the
params (vetted like a server's host), its bearer token as the secret (required), its
``expirationTime`` recorded. :meth:`ConnectionService.sharing_client` opens the protocol
client (:mod:`lakehold.connectors.delta_sharing_client`) through a transport that checks every
URL it opens against the network allow-list -- the endpoint's and each file's -- and pins the
checked address; its test lists the shares the profile reads.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakehold.catalog.service import readable_project
from lakehold.connectors import introspect
from lakehold.connectors.attach import ConnectionSpec
from lakehold.connectors.params import SHARING_KIND, check_kind, check_params
from lakehold.errors import Conflict, Invalid, NotFound, SourceUnavailable
from lakehold.kernel import Action, Command, allowed, audit, authorize, governed
from lakehold.names import check_sql_name
from lakehold.security import network as network_check
from lakehold.security.network_rules import NetworkPolicy, PinnedTransport
from lakehold.security.principal import Principal
from lakehold.security.secrets import Secrets
from lakehold.sources.lookup import all_named, check_name_free, find_named
from lakehold.sources.spec_cache import SPEC_CACHE_S, SpecCache
from lakehold.sources.vetting import Vetter, cache_key, created_by_admin
from lakehold.store.db import Store
from lakehold.store.models import Asset, Grant, Listing, Project, User, utcnow
from lakehold.store.sources import Connection, FederatedTable

if TYPE_CHECKING:  # the Delta Sharing client (delta-rs, Parquet) is loaded at its first use
    from lakehold.connectors.delta_sharing_client import SharingClient
    from lakehold.sources.certificates import CertificateService

TEST_TIMEOUT_S = 10.0
MAX_SECRET = 1000
MAX_DOWNLOAD_BYTES = 10 * 1024**3

#: a connection and its creator (for :func:`created_by_admin`), in one round trip
_CONNECTION = (
    select(Connection, User)
    .outerjoin(User, User.id == Connection.created_by)
    .where(Connection.id == bindparam("id"))
)


@dataclass(frozen=True)
class ConnectionView:
    """A connection as adapters see it: no secret, only whether one is set."""

    id: str
    project: str
    name: str
    kind: str
    description: str | None
    params: dict[str, Any]
    has_secret: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: Session, connection: Connection) -> ConnectionView:
        project = session.get(Project, connection.project_id)
        creator = session.get(User, connection.created_by)
        return cls(
            connection.id,
            project.name if project else "",
            connection.name,
            connection.kind,
            connection.description,
            dict(connection.params or {}),
            connection.secret_ciphertext is not None,
            creator.username if creator else connection.created_by,
            connection.created_at,
            connection.updated_at,
        )


@dataclass(frozen=True)
class ConnectionTest:
    """A successful connection test."""

    ok: bool
    connection: str
    kind: str
    version: str
    tables: int
    elapsed_ms: int


def owned_project(session: Session, principal: Principal, project: str, action: Action) -> Project:
    """``project`` if the principal owns it; NotFound for non-members, Forbidden for others."""
    found = readable_project(session, principal, project)
    authorize(principal, action, found, session=session)
    return found


def command_project(command: Command, project: str, action: Action) -> Project:
    """:func:`owned_project` within a governed command (the project is its resource)."""
    found = readable_project(command.session, command.principal, project)
    command.authorize(action, found)
    return found


def find_connection(session: Session, project: Project, name: str) -> Connection:
    """The connection ``name`` of ``project``; NotFound otherwise."""
    return find_named(session, Connection, project, name, "connection", field="connection")


def _check_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET:
        raise Invalid(f"a password is 1 to {MAX_SECRET} characters", field="password")
    return secret


def _needs_token(kind: str, secret: str | None) -> None:
    """A delta_sharing connection reads with its profile's bearer token, always."""
    if kind == SHARING_KIND and secret is None:
        raise Invalid(
            "a delta_sharing connection needs the profile's bearer token as its secret (password)",
            field="password",
        )


class ConnectionService:
    """Create, list, change, test and delete connections; build specs for engines."""

    def __init__(
        self,
        store: Store,
        secrets: Secrets,
        *,
        forbidden_paths: tuple[Path, ...] = (),
        source_roots: tuple[Path, ...] = (),
        network: NetworkPolicy | None = None,
        test_timeout_s: float = TEST_TIMEOUT_S,
        spec_cache_s: float = SPEC_CACHE_S,
        certificates: CertificateService | None = None,
        staging: Path | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.forbidden_paths = forbidden_paths
        self.source_roots = source_roots
        self.network = network or NetworkPolicy(store)
        self.test_timeout_s = test_timeout_s
        self.vetter = Vetter(self.network, test_timeout_s)
        self.spec_cache = SpecCache(spec_cache_s)
        self.certificates = certificates
        """Reads a server's TLS certificate when a connection is created, changed or tested."""
        self.staging = staging or Path(tempfile.gettempdir())
        """Where a shared table's files are downloaded while a sync reads them."""
        self.max_download_bytes = max_download_bytes
        """What one read of a shared table may download at most."""

    def _roots(self, principal: Principal) -> tuple[Path, ...] | None:
        """Where the principal's file and SQLite connections may point (None: anywhere)."""
        return None if allowed(principal, Action.CONNECTION_UNRESTRICTED) else self.source_roots

    def create(
        self,
        principal: Principal,
        project: str,
        name: str,
        kind: str,
        params: dict[str, Any],
        *,
        password: str | None = None,
        description: str | None = None,
    ) -> ConnectionView:
        """A new connection of ``project``; ``password`` is stored encrypted."""
        details = {"connection": name}
        with governed(
            self.store, principal, "connection.create", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.CONNECTION_MANAGE)
            check_sql_name("name", name)
            kind = check_kind(kind)
            cleaned = check_params(kind, params, self.forbidden_paths, self._roots(principal))
            check_name_free(session, Connection, found, name, "connection")
            if password is not None:
                _check_secret(password)
            _needs_token(kind, password)
            self.vetter.vet(
                ConnectionSpec(name, kind, cleaned, password),
                trusted=allowed(principal, Action.CONNECTION_UNRESTRICTED),
                require_reachable=False,
            )
            connection = Connection(
                project_id=found.id,
                name=name,
                kind=kind,
                description=description,
                params=cleaned,
                secret_ciphertext=(
                    self.secrets.encrypt(_check_secret(password)) if password is not None else None
                ),
                created_by=principal.user_id,
            )
            session.add(connection)
            session.flush()
            command.details["kind"] = kind
            view = ConnectionView.of(session, connection)
        self._check_certificate(view.id)
        return view

    def list(self, principal: Principal, project: str) -> list[ConnectionView]:
        with self.store.session() as session:
            found = owned_project(session, principal, project, Action.CONNECTION_READ)
            rows = all_named(session, Connection, found)
            return [ConnectionView.of(session, c) for c in rows]

    def get(self, principal: Principal, project: str, name: str) -> ConnectionView:
        with self.store.session() as session:
            found = owned_project(session, principal, project, Action.CONNECTION_READ)
            return ConnectionView.of(session, find_connection(session, found, name))

    def update(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        params: dict[str, Any] | None = None,
        password: str | None = None,
        clear_password: bool = False,
        description: str | None = None,
    ) -> ConnectionView:
        """Change parameters (merged: a key set to None is removed), the password (or clear
        it) and the description; the kind never changes."""
        details = {"connection": name}
        with governed(
            self.store, principal, "connection.update", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.CONNECTION_MANAGE)
            connection = find_connection(session, found, name)
            admins = created_by_admin(session, connection)
            trusted = allowed(principal, Action.CONNECTION_UNRESTRICTED) and admins
            if params is not None:
                merged = {**connection.params, **params}
                merged = {k: v for k, v in merged.items() if v is not None}
                connection.params = check_params(
                    connection.kind, merged, self.forbidden_paths, self._roots(principal)
                )
            if password is not None and clear_password:
                raise Invalid("give a password or clear it, not both", field="password")
            if password is not None:
                connection.secret_ciphertext = self.secrets.encrypt(_check_secret(password))
            elif clear_password:
                _needs_token(connection.kind, None)
                connection.secret_ciphertext = None
            if description is not None:
                connection.description = description
            if params is not None or password is not None or clear_password:
                # an administrator's connection stays trusted later: a non-administrator
                # changing it must pass the privilege check now, not only when it answers
                self.vetter.vet(self._spec(connection), trusted=trusted, require_reachable=admins)
            connection.updated_at = utcnow()
            command.details["password_changed"] = password is not None
            view = ConnectionView.of(session, connection)
        self.spec_cache.invalidate(view.id)
        if params is not None:
            self._check_certificate(view.id)
        return view

    def delete(self, principal: Principal, project: str, name: str) -> None:
        """Delete a connection, its data sources and its federated assets; Conflict naming the
        assets while any has an active grant or listing."""
        details = {"connection": name}
        with governed(
            self.store, principal, "connection.delete", project=project, details=details
        ) as command:
            session = command.session
            found = command_project(command, project, Action.CONNECTION_MANAGE)
            connection = find_connection(session, found, name)
            assets = list(
                session.scalars(
                    select(Asset)
                    .join(FederatedTable, FederatedTable.asset_id == Asset.id)
                    .where(FederatedTable.connection_id == connection.id)
                    .order_by(Asset.name)
                )
            )
            in_use = in_use_assets(session, [a.id for a in assets])
            if in_use:
                names = ", ".join(f"{project}.{a.name}" for a in assets if a.id in in_use)
                raise Conflict(
                    f"connection '{project}.{name}' has assets with active grants or "
                    f"listings: {names}; revoke and withdraw them first",
                    field="connection",
                )
            for asset in assets:
                session.delete(asset)
            session.flush()
            session.delete(connection)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(
                    f"connection '{project}.{name}' is still referenced", field="connection"
                ) from None
            command.details["assets_deleted"] = [a.name for a in assets]
            deleted = connection.id
        self.spec_cache.invalidate(deleted)
        if self.certificates is not None:
            self.certificates.forget(project, name)

    def test(self, principal: Principal, project: str, name: str) -> ConnectionTest:
        """Reach the source with a short timeout; SourceUnavailable (502) when it cannot,
        Invalid (400, audited as a denial) when its target or role is not allowed."""
        # not governed(): the vetting (DNS, the privilege check) and the test itself reach
        # the source, outside any transaction; only refusals are audited
        details = {"connection": name}
        with audit.denials(
            self.store, principal, "connection.test", project=project, details=details
        ):
            with self.store.session() as session:
                found = owned_project(session, principal, project, Action.CONNECTION_TEST)
                connection = find_connection(session, found, name)
                trusted = allowed(principal, Action.CONNECTION_UNRESTRICTED) and created_by_admin(
                    session, connection
                )
                spec, key = self._spec(connection), cache_key(connection)
                connection_id = connection.id
            started = time.monotonic()
            try:
                spec = self.vetter.vet(spec, trusted=trusted, cache_key=key)
            except SourceUnavailable:  # the target passed, the role check could not connect:
                self._check_certificate(connection_id)  # its certificate may say why
                raise
        self._check_certificate(connection_id)  # also when the source then fails the test
        if spec.kind == SHARING_KIND:
            from lakehold.connectors.shared_tables import server_version

            with self.sharing_client(spec, timeout_s=self.test_timeout_s) as client:
                version, tables = server_version(client)
        else:
            version, tables = introspect.server_version(spec, self.test_timeout_s)
        elapsed = int((time.monotonic() - started) * 1000)
        return ConnectionTest(True, name, spec.kind, version, tables, elapsed)

    def sharing_client(self, spec: ConnectionSpec, **options: float) -> SharingClient:
        """The Delta Sharing client of a delta_sharing connection's vetted ``spec`` (engines
        only, like :meth:`spec`): every URL it opens is checked against the network allow-list
        and goes to the checked address (a file URL, chosen by the provider, as a webhook's:
        a public address or one a rule covers)."""
        from lakehold.connectors.delta_sharing_client import SharingClient

        return SharingClient(
            spec, staging=self.staging, transport=PinnedTransport(self.network), **options
        )

    def _check_certificate(self, connection_id: str) -> None:
        if self.certificates is not None:
            self.certificates.check_quietly(connection_id)

    def spec(self, connection_id: str) -> ConnectionSpec:
        """How to reach connection ``connection_id``, its secret decrypted and its target
        vetted and pinned (engines only: no authorization here, never hand it to an
        adapter). Invalid when the target is not allowed (any more); SourceUnavailable
        when the privileges of a non-administrator's connection cannot be checked.

        The vetted spec is kept for a few seconds per connection, without reading its row
        again (:mod:`lakehold.sources.spec_cache`); the metadata-database guard runs every
        time."""
        cached = self.spec_cache.get(connection_id)
        if cached is not None:
            self._refuse_metadata(cached)
            return cached
        generation = self.spec_cache.generation
        with self.store.session() as session:
            row = session.execute(_CONNECTION, {"id": connection_id}).first()
            if row is None:
                raise NotFound(f"connection '{connection_id}' not found", field="connection")
            connection = row[0]
            trusted = created_by_admin(session, connection)
            spec, key = self._spec(connection), cache_key(connection)
        vetted = self.vetter.vet(spec, trusted=trusted, cache_key=key)
        self.spec_cache.put(connection_id, vetted, generation)
        return vetted

    def _refuse_metadata(self, spec: ConnectionSpec) -> None:
        """The metadata-database guard (ADR 0014) on a cached spec's pinned address."""
        if spec.hostaddr is None:
            return
        params = spec.params
        network_check.refuse_metadata(
            str(params["host"]),
            spec.hostaddr,
            int(params["port"]),
            self.network.metadata,
            database=str(params.get("database")),
        )

    def _spec(self, connection: Connection) -> ConnectionSpec:
        secret = None
        if connection.secret_ciphertext is not None:
            secret = self.secrets.decrypt(
                connection.secret_ciphertext, what=f"the secret of connection {connection.name!r}"
            )
        return ConnectionSpec(connection.name, connection.kind, dict(connection.params), secret)

    def rotate_key(self, principal: Principal) -> int:
        """Re-encrypt every stored secret with a new key (administrators); how many."""
        # not governed(): the re-encryption (audited with it) must commit before the key file
        # drops the old key, inside Secrets.rotate, not when a governed body ends
        with audit.denials(self.store, principal, "connection.rotate_key"):
            authorize(principal, Action.SECRET_KEY_ROTATE)

        def reencrypt(rotate) -> int:
            with self.store.session() as session:
                rows = session.scalars(
                    select(Connection).where(Connection.secret_ciphertext.is_not(None))
                ).all()
                for connection in rows:
                    connection.secret_ciphertext = rotate(connection.secret_ciphertext)
                audit.record(
                    session,
                    principal,
                    "connection.rotate_key",
                    allowed=True,
                    details={"secrets": len(rows)},
                )
                return len(rows)

        try:
            return self.secrets.rotate(reencrypt)
        finally:
            self.spec_cache.clear()


def in_use_assets(session: Session, asset_ids: list[str]) -> set[str]:
    """Those of ``asset_ids`` with an active grant or an active listing."""
    if not asset_ids:
        return set()
    granted = session.scalars(
        select(Grant.asset_id).where(Grant.asset_id.in_(asset_ids), Grant.revoked_at.is_(None))
    )
    listed = session.scalars(
        select(Listing.asset_id).where(Listing.asset_id.in_(asset_ids), Listing.status == "active")
    )
    return set(granted) | set(listed)
