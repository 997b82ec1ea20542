"""The lineage service: OpenLineage ingest and Marquez-compatible reads, governed per principal.

``record`` is the trusted internal path (Lakehold's own jobs): validate, store, fold. ``ingest``
is the API path (ADR 0015): the principal needs the ``lineage:write`` scope, events are bounded
(:mod:`~lakehold.lineage.limits`), may change only the namespaces the token is bound to and
never Lakehold's own (:mod:`~lakehold.lineage.writers`); refusals are audited. Every read
takes the principal; datasets of Lakehold tables it may not discover are hidden (see
:mod:`lakehold.kernel.discovery`). Read results are Marquez-shaped JSON (dicts).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from sqlalchemy.exc import IntegrityError

from lakehold.errors import Forbidden, Invalid
from lakehold.kernel import audit
from lakehold.lineage.events import Event, parse_events
from lakehold.lineage.fold import fold
from lakehold.lineage.graph_source import SnapshotCache
from lakehold.lineage.limits import EventLimits
from lakehold.lineage.reads import LineageReads, page
from lakehold.lineage.visibility import Visibility
from lakehold.lineage.writers import WRITE_ACTION, authorize_writes
from lakehold.observability import instruments
from lakehold.security.principal import LINEAGE_WRITE, Principal
from lakehold.store.db import Store

DEFAULT_DEPTH = 20
MAX_DEPTH = 100
MAX_BATCH = 10_000


def _depth(depth: int) -> int:
    if depth < 0 or depth > MAX_DEPTH:
        raise Invalid(f"depth must be between 0 and {MAX_DEPTH}", field="depth")
    return depth


class LineageService:
    """Store OpenLineage events and answer lineage questions."""

    def __init__(self, store: Store, namespace: str, limits: EventLimits | None = None) -> None:
        self.store = store
        self.namespace = namespace
        self.limits = limits or EventLimits()
        self.graphs = SnapshotCache()

    # -- writes ----------------------------------------------------------------------------

    def record(self, events: list[dict[str, Any]]) -> int:
        """Validate, store and fold ``events`` atomically: all or nothing. Returns the number
        newly stored; duplicates of events already stored are skipped. No permission check."""
        if isinstance(events, list) and len(events) > MAX_BATCH:
            raise Invalid(f"at most {MAX_BATCH} events per batch", field="events")
        return self._fold(parse_events(events))

    def _fold(self, parsed: list[Event]) -> int:
        try:
            with self.store.session() as session:
                return fold(session, parsed)
        except IntegrityError:
            # A concurrent writer stored some of the same rows first: fold again over them.
            with self.store.session() as session:
                return fold(session, parsed)

    def ingest(
        self,
        principal: Principal,
        events: list[dict[str, Any]],
        limits: EventLimits | None = None,
    ) -> int:
        """Events from an external producer: the principal needs the ``lineage:write`` scope
        (administrators hold it), every event is bounded by ``limits`` (default: the
        service's), and may change only namespaces the principal may write -- never
        Lakehold's own. Refusals are audited (action ``lineage.write``)."""
        with instruments.lineage_batch(events):  # lakehold_lineage_events_total (ADR 33)
            self.require_writer(principal)
            parsed = parse_events(events, limits or self.limits)
            try:
                limit = limits or self.limits
                authorized = authorize_writes(principal, parsed, self.namespace, limit)
            except Forbidden as refused:
                self._denied(principal, refused)
            return self._fold(authorized)

    def require_writer(self, principal: Principal) -> None:
        """Forbidden (audited) unless the principal holds the ``lineage:write`` scope."""
        if not principal.can(LINEAGE_WRITE):
            self._denied(
                principal,
                Forbidden(
                    f"posting lineage needs a token with the '{LINEAGE_WRITE}' scope, issued by "
                    "an administrator"
                ),
            )

    def _denied(self, principal: Principal, refused: Forbidden) -> NoReturn:
        with self.store.session() as session:
            audit.record(
                session,
                principal,
                WRITE_ACTION,
                allowed=False,
                reason=refused.message,
                details={"error": refused.code, **refused.details},
            )
        raise refused

    # -- reads -----------------------------------------------------------------------------

    @contextmanager
    def _reads(self, principal: Principal) -> Iterator[LineageReads]:
        with self.store.session() as session:
            visibility = Visibility(session, principal, self.namespace)
            yield LineageReads(session, visibility, self.graphs)

    def namespaces(self, principal: Principal) -> dict[str, Any]:
        """Every namespace: ``{"namespaces": [...]}``."""
        with self._reads(principal) as reads:
            return reads.namespaces()

    def get_namespace(self, principal: Principal, name: str) -> dict[str, Any]:
        """One namespace (``namespace`` is the attribute naming Lakehold's own)."""
        with self._reads(principal) as reads:
            return reads.namespace(name)

    def datasets(
        self, principal: Principal, namespace: str, *, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """Visible datasets of a namespace: ``{"totalCount", "datasets"}``."""
        limit, offset = page(limit, offset)
        with self._reads(principal) as reads:
            return reads.datasets(namespace, limit, offset)

    def dataset(self, principal: Principal, namespace: str, name: str) -> dict[str, Any]:
        with self._reads(principal) as reads:
            return reads.dataset(namespace, name)

    def dataset_versions(
        self, principal: Principal, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        limit, offset = page(limit, offset)
        with self._reads(principal) as reads:
            return reads.dataset_versions(namespace, name, limit, offset)

    def jobs(
        self,
        principal: Principal,
        namespace: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Visible jobs of a namespace (all namespaces when None): ``{"totalCount", "jobs"}``."""
        limit, offset = page(limit, offset)
        with self._reads(principal) as reads:
            return reads.jobs(namespace, limit, offset)

    def job(self, principal: Principal, namespace: str, name: str) -> dict[str, Any]:
        with self._reads(principal) as reads:
            return reads.job(namespace, name)

    def job_versions(
        self, principal: Principal, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        limit, offset = page(limit, offset)
        with self._reads(principal) as reads:
            return reads.job_versions(namespace, name, limit, offset)

    def runs(
        self, principal: Principal, namespace: str, name: str, *, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """Runs of a job, newest first: ``{"totalCount", "runs"}``."""
        limit, offset = page(limit, offset)
        with self._reads(principal) as reads:
            return reads.runs(namespace, name, limit, offset)

    def run(self, principal: Principal, run_id: str) -> dict[str, Any]:
        with self._reads(principal) as reads:
            return reads.run(run_id)

    def lineage(
        self, principal: Principal, node_id: str, *, depth: int = DEFAULT_DEPTH
    ) -> dict[str, Any]:
        """The graph within ``depth`` jobs of ``node_id``: ``{"graph": [...]}``."""
        with self._reads(principal) as reads:
            return reads.lineage(node_id, _depth(depth))

    def column_lineage(
        self,
        principal: Principal,
        node_id: str,
        *,
        depth: int = DEFAULT_DEPTH,
        with_downstream: bool = False,
    ) -> dict[str, Any]:
        """Column lineage of a dataset, dataset field or job: ``{"graph": [...]}``."""
        with self._reads(principal) as reads:
            return reads.column_lineage(node_id, _depth(depth), with_downstream)

    def search(
        self,
        principal: Principal,
        q: str,
        *,
        kind: str = "",
        sort: str = "NAME",
        limit: int = 10,
    ) -> dict[str, Any]:
        """Datasets and jobs whose name contains ``q``: ``{"totalCount", "results"}``."""
        limit, _ = page(limit, 0)
        with self._reads(principal) as reads:
            return reads.search(q, kind.upper(), sort.upper(), limit)

    def tags(self, principal: Principal) -> dict[str, Any]:
        """Tags of visible datasets: ``{"tags": [...]}``."""
        with self._reads(principal) as reads:
            return reads.tags()
