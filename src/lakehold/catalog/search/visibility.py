"""Which search documents a principal may find: active listings for everyone, and the
inventories of their own projects (members, any role; administrators see every project).

A viewer sees a fraction of the index (a fifth in the benchmark), so reading their newest
matches from the whole index visits about five documents per visible one. On PostgreSQL, when
the planner reads a window of matches backwards by id, the window can instead be read per
visible **part** -- the listings, then each project's inventory, through partial indexes of
migration ``0020_search_storage`` -- and merged newest first (ADR 24): only visible documents
are visited. When the planner reads the matches from the GIN index instead (a rare word), one
read is cheaper than one per part; the plan of the single read decides (``reads_backwards``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal

from lakehold.kernel import Action, allowed
from lakehold.security.principal import Principal
from lakehold.store.models import GroupMember, ProjectMember
from lakehold.store.search import ASSET, LISTING, SearchDocument

MAX_PARTS = 9  # the listings and up to 8 projects; past that one read is planned faster
Part = list[ColumnElement[bool]]  # the conditions of one visible part


@dataclass(frozen=True)
class Visibility:
    """The projects whose inventories a principal sees (None: every project's)."""

    projects: tuple[str, ...] | None

    def condition(self) -> ColumnElement[bool]:
        """Active listings, and assets of the projects (listed, so the planner sees a few
        literal ids)."""
        if self.projects is None:
            inventory: ColumnElement[bool] = true()
        elif self.projects:
            inventory = SearchDocument.project_id.in_(self.projects)
        else:
            inventory = false()
        return or_(SearchDocument.kind == LISTING, and_(SearchDocument.kind == ASSET, inventory))

    def parts(self, kinds: tuple[str, ...]) -> list[Part] | None:
        """The visible parts of the documents of ``kinds``: the listings, each project's
        inventory; None for every project's (nothing to leave out) or for too many parts."""
        if self.projects is None:
            return None
        parts: list[Part] = [[SearchDocument.kind == LISTING]] if LISTING in kinds else []
        if ASSET in kinds:
            parts += [
                [SearchDocument.kind == ASSET, SearchDocument.project_id == project]
                for project in self.projects
            ]
        return parts if 0 < len(parts) <= MAX_PARTS else None


def visibility(session: Session, principal: Principal) -> Visibility:
    """What ``principal`` may find."""
    if allowed(principal, Action.CATALOG_READ_ALL):  # administrators see every project's inventory
        return Visibility(None)
    groups = select(GroupMember.group_id).where(GroupMember.user_id == principal.user_id)
    member_of = select(ProjectMember.project_id).where(
        or_(ProjectMember.user_id == principal.user_id, ProjectMember.group_id.in_(groups))
    )
    return Visibility(tuple(sorted(set(session.connection().scalars(member_of)))))


def _nodes(plan: dict[str, Any]):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a select, compiled once per shape of select (cached)."""

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement: Select) -> None:
        self.statement = statement

    @property
    def _all_selected_columns(self):  # what a cached compilation's result is matched with
        return self.statement._all_selected_columns


@compiles(_Explain, "postgresql")
def _explain(element: _Explain, compiler, **kw) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def reads_backwards(session: Session, statement: Select) -> bool:
    """Whether PostgreSQL would read ``statement`` (a window) without a bitmap of the GIN
    index, i.e. by an index backwards (``EXPLAIN``: planning only, well under a millisecond)."""
    explained = session.connection().execute(_Explain(statement)).scalar_one()
    if isinstance(explained, str):
        explained = json.loads(explained)
    return not any(node["Node Type"].startswith("Bitmap") for node in _nodes(explained[0]["Plan"]))
