"""Which lineage nodes a principal sees by name, and the placeholders of those it does not.

Nodes of Lakehold's namespace that name a table (datasets ``<project>.<table>``, jobs
``<project>.<operation>.<table>``) are decided by :func:`lakehold.governance.lineage.discoverable`;
every other node belongs to an external tool and is visible to any authenticated user.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from lakehold.governance.lineage import TableRef, discoverable
from lakehold.lineage.naming import asset_ref
from lakehold.security.principal import Principal

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


class Visibility:
    """Visibility decisions for one principal, computed in bulk and cached."""

    def __init__(self, session: Session, principal: Principal, namespace: str) -> None:
        self.session = session
        self.principal = principal
        self.namespace = namespace
        self._decided: dict[TableRef, bool] = {}

    def table_of(self, kind: str, namespace: str, name: str) -> TableRef | None:
        """The Lakehold table a node names, if any."""
        if kind == DATASET:
            return asset_ref(namespace, name, self.namespace)
        return job_table(namespace, name, self.namespace)

    def decide(self, nodes: Iterable[tuple[str, str, str]]) -> None:
        """Decide ``(kind, namespace, name)`` nodes at once (a few queries)."""
        if self.principal.is_admin:
            return
        tables = {t for node in nodes if (t := self.table_of(*node)) is not None}
        tables -= self._decided.keys()
        if tables:
            allowed = discoverable(self.session, self.principal, tables)
            self._decided.update({t: t in allowed for t in tables})

    def visible(self, kind: str, namespace: str, name: str) -> bool:
        """True when the principal may see the node by name."""
        if namespace != self.namespace or self.principal.is_admin:
            return True  # other tools' nodes; administrators see everything
        table = self.table_of(kind, namespace, name)
        if table is None:
            return True
        if table not in self._decided:
            self.decide([(kind, namespace, name)])
        return self._decided[table]
