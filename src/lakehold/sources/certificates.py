"""The TLS certificates of server connections: read, recorded, reported, alerted before expiry.

A server connection's certificate is read (:mod:`lakehold.connectors.tls_probe`: the
protocol's own TLS start, the certificate read even when it would not verify) when the
connection is created, changed or tested, when an owner asks (:meth:`CertificateService.recheck`)
and once a day from the scheduler (:meth:`CertificateService.run_due`). Every probe passes the
network check first (``check_target``, ADR 0014) and goes to the address it returns. The result
is recorded on the connection (``certificate_*``): the certificate's expiry, subject, issuer and
fingerprint; a server that offers no TLS is recorded as such (no expiry), never as an error of
the connection; a server that cannot be reached keeps its last certificate and records why.
Each certificate read sets ``lakehold_connection_certificate_expiry_timestamp_seconds``.

Alerts: the first check that finds a certificate within 30, 7 or 1 days of its expiry, or
expired, records that threshold and calls ``alert`` in the same transaction (the runtime gives
``governance.events.emit`` of ``connection.certificate_expiring``: the owning project's
webhooks receive it through the outbox, signed, with retries). A threshold is claimed with a
conditional update, so checks racing in several processes alert once; a new certificate (a new
fingerprint) starts its thresholds again.

:meth:`CertificateService.report` lists the server connections the principal may see
(``connection.read``: their projects' owners, administrators), soonest expiry first.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, case, or_, select, update
from sqlalchemy.orm import Session

from lakehold.connectors import tls_probe
from lakehold.connectors.tls_probe import PeerCertificate
from lakehold.errors import Invalid, NotFound, SourceUnavailable
from lakehold.kernel import Action, allowed, audit
from lakehold.observability.metrics import CERTIFICATE_EXPIRY, connection_label, project_label
from lakehold.security.network_rules import NetworkPolicy
from lakehold.security.principal import Principal
from lakehold.sources.connections import find_connection, owned_project
from lakehold.sources.vetting import created_by_admin
from lakehold.store.db import Store
from lakehold.store.models import Project, as_utc
from lakehold.store.sources import Connection

log = logging.getLogger(__name__)

THRESHOLDS = (30, 7, 1)
"""Days before expiry at which an alert is sent (and 0: expired)."""
EXPIRING_DAYS = THRESHOLDS[0]
CHECK_INTERVAL = timedelta(days=1)
PROBE_TIMEOUT_S = 5.0
MAX_PER_TICK = 10
"""Connections checked per scheduler tick at most (the rest wait for the next ticks)."""
MAX_ERROR = 500

Alert = Callable[[Session, dict[str, Any]], object]
"""Called with the recording session and the payload of a threshold crossing."""


@dataclass(frozen=True)
class CertificateView:
    """A server connection's certificate as the report shows it. ``status``: ok, expiring
    (within 30 days), expired, no_tls (the server offers none), unreachable (the last check
    could not reach it; the last certificate read, if any, stays), unchecked."""

    project: str
    connection: str
    kind: str
    host: str
    port: int
    status: str
    not_after: datetime | None
    days_left: int | None
    """Whole days until ``not_after``, rounded down (negative once expired)."""
    subject: str | None
    issuer: str | None
    fingerprint: str | None
    checked_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class _Target:
    id: str
    project: str
    name: str
    kind: str
    host: str
    port: int
    database: str | None
    trusted: bool


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days from ``now`` to ``not_after``, rounded down."""
    return math.floor((as_utc(not_after) - now).total_seconds() / 86400)


def threshold(not_after: datetime, now: datetime) -> int | None:
    """The most severe threshold ``not_after`` has reached at ``now`` (0: expired); None
    while more than :data:`EXPIRING_DAYS` days are left."""
    left = as_utc(not_after) - now
    if left <= timedelta(0):
        return 0
    reached = [days for days in THRESHOLDS if left <= timedelta(days=days)]
    return min(reached) if reached else None


def status(connection: Connection, now: datetime) -> str:
    """The report's status of ``connection`` at ``now`` (see :class:`CertificateView`)."""
    if connection.certificate_error is not None:
        return "unreachable"
    if connection.certificate_tls is None:
        return "unchecked"
    if not connection.certificate_tls or connection.certificate_not_after is None:
        return "no_tls"
    reached = threshold(connection.certificate_not_after, now)
    if reached == 0:
        return "expired"
    return "ok" if reached is None else "expiring"


def _view(project: str, connection: Connection, now: datetime) -> CertificateView:
    not_after = as_utc(connection.certificate_not_after)
    params = connection.params or {}
    return CertificateView(
        project=project,
        connection=connection.name,
        kind=connection.kind,
        host=str(params.get("host", "")),
        port=int(params.get("port", 0)),
        status=status(connection, now),
        not_after=not_after,
        days_left=days_left(not_after, now) if not_after is not None else None,
        subject=connection.certificate_subject,
        issuer=connection.certificate_issuer,
        fingerprint=connection.certificate_fingerprint,
        checked_at=as_utc(connection.certificate_checked_at),
        error=connection.certificate_error,
    )


def _target(session: Session, connection: Connection, project: str) -> _Target:
    params = connection.params or {}
    database = params.get("database")
    return _Target(
        connection.id,
        project,
        connection.name,
        connection.kind,
        str(params["host"]),
        int(params["port"]),
        str(database) if database is not None else None,
        created_by_admin(session, connection),
    )


class CertificateService:
    """Check, record, report and alert on the TLS certificates of server connections."""

    def __init__(
        self,
        store: Store,
        network: NetworkPolicy,
        *,
        alert: Alert | None = None,
        timeout_s: float = PROBE_TIMEOUT_S,
        interval: timedelta = CHECK_INTERVAL,
        per_tick: int = MAX_PER_TICK,
    ) -> None:
        self.store = store
        self.network = network
        self.alert = alert
        self.timeout_s = timeout_s
        self.interval = interval
        self.per_tick = per_tick

    def forget(self, project: str, connection: str) -> None:
        """Drop a connection's expiry series (it was deleted, or its server stopped offering
        TLS). prometheus-client cannot remove a series in multiprocess mode: there it stays
        until the workers restart."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CERTIFICATE_EXPIRY.remove(project_label(project), connection_label(connection))

    # -- adapters ------------------------------------------------------------------------------

    def report(
        self,
        principal: Principal,
        *,
        within_days: int | None = None,
        now: datetime | None = None,
    ) -> list[CertificateView]:
        """The server connections the principal may see, soonest expiry first (no expiry
        last); with ``within_days``, only certificates expiring within that many days (or
        expired)."""
        if within_days is not None and not 0 <= within_days <= 36500:
            raise Invalid("within_days is a number of days from 0 to 36500", field="within_days")
        now = now or datetime.now(UTC)
        query = (
            select(Connection, Project)
            .join(Project, Project.id == Connection.project_id)
            .where(Connection.kind.in_(tls_probe.KINDS))
        )
        if within_days is not None:
            query = query.where(
                Connection.certificate_not_after.is_not(None),
                Connection.certificate_not_after <= now + timedelta(days=within_days),
            )
        with self.store.session() as session:
            rows = session.execute(query).all()
            projects = {project.id: project for _, project in rows}
            visible = {
                project_id
                for project_id, project in projects.items()
                if allowed(principal, Action.CONNECTION_READ, project, session=session)
            }
            views = [_view(p.name, c, now) for c, p in rows if p.id in visible]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(views, key=lambda v: (v.not_after or far, v.project, v.connection))

    def recheck(
        self, principal: Principal, project: str, name: str, now: datetime | None = None
    ) -> CertificateView:
        """Check connection ``name`` of ``project`` now (its owners); Invalid (400, audited,
        nothing recorded) when its target is not allowed, Invalid when it is not a server
        connection."""
        details = {"connection": name}
        with audit.denials(
            self.store, principal, "connection.certificate.check", project=project, details=details
        ):
            with self.store.session() as session:
                found = owned_project(session, principal, project, Action.CONNECTION_TEST)
                connection = find_connection(session, found, name)
                if connection.kind not in tls_probe.KINDS:
                    raise Invalid(
                        f"connection '{project}.{name}' is a {connection.kind} connection: it "
                        "has no server certificate",
                        field="connection",
                    )
                target = _target(session, connection, found.name)
            trusted = target.trusted and allowed(principal, Action.CONNECTION_UNRESTRICTED)
            address = self._address(target, trusted=trusted)
        view = self._record(target, self._read(target, address), now or datetime.now(UTC))
        if view is None:
            raise NotFound(f"connection '{project}.{name}' not found", field="connection")
        return view

    # -- checks --------------------------------------------------------------------------------

    def check(self, connection_id: str, now: datetime | None = None) -> CertificateView | None:
        """Check a server connection now and record what its server answered, a refusal by
        the network rules included (None: not a server connection, or gone)."""
        with self.store.session() as session:
            row = session.execute(
                select(Connection, Project.name)
                .join(Project, Project.id == Connection.project_id)
                .where(Connection.id == connection_id)
            ).first()
            if row is None or row[0].kind not in tls_probe.KINDS:
                return None
            target = _target(session, row[0], row[1])
        try:
            address = self._address(target, trusted=target.trusted)
        except Invalid as refused:
            outcome: PeerCertificate | str | None = f"refused: {refused.message}"
        else:
            outcome = self._read(target, address)
        return self._record(target, outcome, now or datetime.now(UTC))

    def check_quietly(self, connection_id: str) -> None:
        """:meth:`check` for a request that changed or tested a connection: whatever happens
        to the check is logged, never the request's error."""
        try:
            self.check(connection_id)
        except Exception:
            log.exception("the certificate check of connection %s failed", connection_id)

    def run_due(self, now: datetime | None = None) -> int:
        """Check the server connections last checked :attr:`interval` ago or never (at most
        :attr:`per_tick`), each claimed first so one process checks it; how many."""
        now = now or datetime.now(UTC)
        cutoff = now - self.interval
        due_condition = or_(
            Connection.certificate_checked_at.is_(None),
            Connection.certificate_checked_at <= cutoff,
        )
        with self.store.session() as session:
            due = session.scalars(
                select(Connection.id)
                .where(Connection.kind.in_(tls_probe.KINDS), due_condition)
                .order_by(Connection.certificate_checked_at.nulls_first(), Connection.id)
                .limit(self.per_tick)
            ).all()
        count = 0
        for connection_id in due:
            with self.store.session() as session:
                claimed = session.execute(
                    update(Connection)
                    .where(Connection.id == connection_id, due_condition)
                    .values(certificate_checked_at=now)
                    .execution_options(synchronize_session=False)
                )
                assert isinstance(claimed, CursorResult)  # an UPDATE's result has a rowcount
            if claimed.rowcount != 1:
                continue  # another process took it
            try:
                self.check(connection_id, now)
                count += 1
            except Exception:  # one connection must not stop the others
                log.exception("the certificate check of connection %s failed", connection_id)
        return count

    # -- steps ---------------------------------------------------------------------------------

    def _address(self, target: _Target, *, trusted: bool) -> str:
        """The checked address of the target's server (``check_target``); Invalid when the
        network rules refuse it or its name does not resolve."""
        address = self.network.check(
            target.host, target.port, public=trusted, database=target.database
        )
        assert address is not None  # unresolved_ok is off: a name that does not resolve raised
        return address

    def _read(self, target: _Target, address: str) -> PeerCertificate | str | None:
        """The server's certificate, None without TLS, or why it could not be read."""
        try:
            return tls_probe.read_certificate(
                target.kind, target.host, address, target.port, self.timeout_s
            )
        except SourceUnavailable as error:
            return error.message

    def _record(
        self, target: _Target, outcome: PeerCertificate | str | None, now: datetime
    ) -> CertificateView | None:
        """Record ``outcome`` (a certificate, None for no TLS, or an error) and alert a newly
        reached threshold, in one transaction; the connection as the report shows it."""
        values: dict[str, Any] = {"certificate_checked_at": now}
        if isinstance(outcome, str):
            values["certificate_error"] = outcome[:MAX_ERROR]
        elif outcome is None:
            values.update(
                certificate_error=None,
                certificate_tls=False,
                certificate_not_after=None,
                certificate_subject=None,
                certificate_issuer=None,
                certificate_fingerprint=None,
                certificate_alerted_days=None,
            )
        else:
            values.update(
                certificate_error=None,
                certificate_tls=True,
                certificate_not_after=outcome.not_after,
                certificate_subject=outcome.subject,
                certificate_issuer=outcome.issuer,
                # a new certificate starts its thresholds again (decided on the row, in SQL)
                certificate_alerted_days=case(
                    (
                        Connection.certificate_fingerprint == outcome.fingerprint,
                        Connection.certificate_alerted_days,
                    ),
                    else_=None,
                ),
                certificate_fingerprint=outcome.fingerprint,
            )
        with self.store.session(immediate=True) as session:
            written = session.execute(
                update(Connection)
                .where(Connection.id == target.id)
                .values(values)
                .execution_options(synchronize_session=False)
            )
            assert isinstance(written, CursorResult)  # an UPDATE's result has a rowcount
            if written.rowcount != 1:
                return None  # deleted meanwhile
            if isinstance(outcome, PeerCertificate):
                self._alert(session, target, outcome, now)
            connection = session.get(Connection, target.id)
            assert connection is not None  # updated just now, in this transaction
            view = _view(target.project, connection, now)
        if isinstance(outcome, PeerCertificate):
            CERTIFICATE_EXPIRY.labels(
                project_label(target.project), connection_label(target.name)
            ).set(outcome.not_after.timestamp())
        elif outcome is None:
            self.forget(target.project, target.name)
        return view

    def _alert(
        self, session: Session, target: _Target, certificate: PeerCertificate, now: datetime
    ) -> None:
        """Claim the threshold ``certificate`` has reached, if not yet alerted for it, and
        alert it."""
        reached = threshold(certificate.not_after, now)
        if reached is None:
            return
        claimed = session.execute(
            update(Connection)
            .where(
                Connection.id == target.id,
                Connection.certificate_fingerprint == certificate.fingerprint,
                or_(
                    Connection.certificate_alerted_days.is_(None),
                    Connection.certificate_alerted_days > reached,
                ),
            )
            .values(certificate_alerted_days=reached)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(claimed, CursorResult)  # an UPDATE's result has a rowcount
        if claimed.rowcount != 1 or self.alert is None:
            return
        self.alert(
            session,
            {
                "project": target.project,
                "connection": target.name,
                "kind": target.kind,
                "host": target.host,
                "port": target.port,
                "threshold_days": reached,
                "status": "expired" if reached == 0 else "expiring",
                "not_after": certificate.not_after,
                "days_left": days_left(certificate.not_after, now),
                "subject": certificate.subject,
                "issuer": certificate.issuer,
                "fingerprint": certificate.fingerprint,
                "checked_at": now,
            },
        )
