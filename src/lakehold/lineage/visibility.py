"""Which lineage nodes a principal sees by name, and the placeholders of those it does not.

Nodes of Lakehold's namespace that name a table (datasets ``<project>.<table>``, jobs
``<project>.<operation>.<table>``) are decided by :func:`lakehold.kernel.discovery.discoverable`.
Nodes in the namespace of a project's connection (``postgres://host:port``, ``file://<folder>``:
what a sync job reads, :func:`lakehold.lineage.naming.source_dataset`) are seen by name only by
members of a project owning such a connection (ADR 0015): the namespace names a host or a path.
Every other node belongs to an external tool and is visible to any authenticated user.
Administrators see everything.

Physical locations of Lakehold tables (facets) are shown only to owners of the table's project
and administrators (:meth:`Visibility.shows_location`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.kernel import Action, allowed, roles
from lakehold.kernel.discovery import TableRef, discoverable
from lakehold.lineage.naming import asset_ref, source_dataset
from lakehold.security.principal import Principal
from lakehold.store.models import Project
from lakehold.store.sources import Connection

DATASET, JOB = "dataset", "job"
HIDDEN = "hidden"


def job_table(namespace: str, name: str, lakehold_namespace: str) -> TableRef | None:
    """``(project, table)`` a Lakehold job (``<project>.<operation>.<table>``) writes."""
    if namespace != lakehold_namespace:
        return None
    parts = name.split(".")
    return (parts[0], parts[-1]) if len(parts) == 3 and all(parts) else None


def placeholder_id(kind: str, opaque_id: str) -> str:
    """The node id shown instead of a hidden node's name: stable, and reveals nothing."""
    return f"{kind}:{HIDDEN}:{opaque_id}"


def connection_namespaces(session: Session) -> dict[str, set[str]]:
    """The lineage namespace of every connection -> ids of the projects owning one."""
    found: dict[str, set[str]] = {}
    rows = session.execute(select(Connection.kind, Connection.params, Connection.project_id))
    for kind, params, project_id in rows:
        try:
            namespace, _ = source_dataset(kind, params or {}, None)
        except (TypeError, ValueError, AttributeError):
            continue
        found.setdefault(namespace, set()).add(project_id)
    return found


class Visibility:
    """Visibility decisions for one principal, computed in bulk and cached."""

    def __init__(self, session: Session, principal: Principal, namespace: str) -> None:
        self.session = session
        self.principal = principal
        self.namespace = namespace
        self._decided: dict[TableRef, bool] = {}
        self._connections: dict[str, bool] | None = None
        self._owners: dict[str, bool] = {}
        self.sees_all = allowed(principal, Action.CATALOG_READ_ALL)

    def table_of(self, kind: str, namespace: str, name: str) -> TableRef | None:
        """The Lakehold table a node names, if any."""
        if kind == DATASET:
            return asset_ref(namespace, name, self.namespace)
        return job_table(namespace, name, self.namespace)

    def governed_namespaces(self) -> set[str]:
        """Namespaces whose nodes may be hidden from the principal."""
        if self.sees_all:
            return set()
        return {self.namespace, *self._connection_namespaces()}

    def _connection_namespaces(self) -> dict[str, bool]:
        """Connection namespace -> whether the principal is a member of an owning project."""
        if self._connections is None:
            owners = connection_namespaces(self.session)
            ids = {i for projects in owners.values() for i in projects}
            member = roles.project_roles(self.session, self.principal, ids) if ids else {}
            self._connections = {
                ns: any(p in member for p in projects) for ns, projects in owners.items()
            }
        return self._connections

    def namespace_visible(self, namespace: str) -> bool:
        """False for a connection's namespace the principal may not see."""
        if self.sees_all or namespace == self.namespace:
            return True
        return self._connection_namespaces().get(namespace, True)

    def decide(self, nodes: Iterable[tuple[str, str, str]]) -> None:
        """Decide ``(kind, namespace, name)`` nodes at once (a few queries)."""
        if self.sees_all:
            return
        tables = {t for node in nodes if (t := self.table_of(*node)) is not None}
        tables -= self._decided.keys()
        if tables:
            allowed = discoverable(self.session, self.principal, tables)
            self._decided.update({t: t in allowed for t in tables})

    def visible(self, kind: str, namespace: str, name: str) -> bool:
        """True when the principal may see the node by name."""
        if self.sees_all:
            return True
        if namespace != self.namespace:
            return self._connection_namespaces().get(namespace, True)
        table = self.table_of(kind, namespace, name)
        if table is None:
            return True
        if table not in self._decided:
            self.decide([(kind, namespace, name)])
        return self._decided[table]

    def decide_owners(self, projects: Iterable[str]) -> None:
        """Decide at once whether the principal owns each of ``projects`` (one query)."""
        wanted = set(projects) - self._owners.keys()
        if self.sees_all or not wanted:
            return
        found = self.session.scalars(select(Project).where(Project.name.in_(wanted)))
        action = Action.TABLE_LOCATION_READ
        owned = {p.name for p in found if allowed(self.principal, action, p, session=self.session)}
        self._owners.update({p: p in owned for p in wanted})

    def hidden_location(self, namespace: str, name: str) -> TableRef | None:
        """None when the principal may see the physical location of dataset ``namespace``/
        ``name``; else the Lakehold table it names (whose logical name to show instead)."""
        table = asset_ref(namespace, name, self.namespace)
        if table is None or self.sees_all:
            return None
        if table[0] not in self._owners:
            self.decide_owners([table[0]])
        return None if self._owners[table[0]] else table
