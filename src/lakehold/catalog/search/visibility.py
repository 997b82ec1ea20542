"""Which search documents a principal may find: active listings for everyone, and the
inventories of their own projects (members, any role; administrators see every project).

A viewer sees a fraction of the index (a fifth in the benchmark), so reading their newest
matches from the whole index visits about five documents per visible one. On PostgreSQL the
window can instead be read per visible **part** -- the listings, then each project's inventory,
through the partial indexes of migrations ``0020_search_storage`` and ``0025`` -- and merged
newest first (ADR 24): only visible documents are visited. A browsing window (no text) is
always read so, from the indexes alone. A text window is read so when the planner would read
one window backwards by id; when it would read the matches from the GIN index instead (a rare
word), one read is cheaper than one per part (``reads_backwards``).

The SQL depends on the shape of what is visible (``Visibility.reach``, ``part_shape``), not on
the projects, which are bound as parameters: statements are built once per shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select, true
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
PartShape = tuple[bool, int]  # the visible parts of a read: the listings?, how many projects
EVERY, SOME, NONE = "every", "some", "none"  # whose inventories a principal sees


@dataclass(frozen=True)
class Visibility:
    """The projects whose inventories a principal sees (None: every project's)."""

    projects: tuple[str, ...] | None

    @property
    def reach(self) -> str:
        """``EVERY`` project's inventory, ``SOME`` (``projects``) or ``NONE``: what the SQL of
        ``condition`` depends on; the projects are bound as parameters (``params``)."""
        if self.projects is None:
            return EVERY
        return SOME if self.projects else NONE

    def params(self) -> dict[str, Any]:
        """The values of ``condition(reach)`` and of the parts' conditions (``part_<n>``)."""
        projects = self.projects or ()
        return {"projects": list(projects)} | {f"part_{n}": p for n, p in enumerate(projects)}

    def part_shape(self, kinds: tuple[str, ...]) -> PartShape | None:
        """The visible parts of the documents of ``kinds``: the listings, each project's
        inventory; None for every project's (nothing to leave out) or for too many parts."""
        if self.projects is None:
            return None
        shape = (LISTING in kinds, len(self.projects) if ASSET in kinds else 0)
        return shape if 0 < shape[0] + shape[1] <= MAX_PARTS else None


def condition(reach: str) -> ColumnElement[bool]:
    """Active listings, and assets of the projects of ``reach`` (bound as ``projects``, a list
    the planner sees as a few literal ids)."""
    if reach == EVERY:
        inventory: ColumnElement[bool] = true()
    elif reach == SOME:
        inventory = SearchDocument.project_id.in_(bindparam("projects", expanding=True))
    else:
        inventory = false()
    return or_(SearchDocument.kind == LISTING, and_(SearchDocument.kind == ASSET, inventory))


def parts(shape: PartShape) -> list[Part]:
    """The conditions of each visible part: the listings, then project ``part_<n>``."""
    listings, projects = shape
    found: list[Part] = [[SearchDocument.kind == LISTING]] if listings else []
    return found + [
        [SearchDocument.kind == ASSET, SearchDocument.project_id == bindparam(f"part_{n}")]
        for n in range(projects)
    ]


_GROUPS = select(GroupMember.group_id).where(GroupMember.user_id == bindparam("user"))
_MEMBER_OF = select(ProjectMember.project_id).where(
    or_(ProjectMember.user_id == bindparam("user"), ProjectMember.group_id.in_(_GROUPS))
)


def visibility(session: Session, principal: Principal) -> Visibility:
    """What ``principal`` may find."""
    if allowed(principal, Action.CATALOG_READ_ALL):  # administrators see every project's inventory
        return Visibility(None)
    found = session.connection().scalars(_MEMBER_OF, {"user": principal.user_id})
    return Visibility(tuple(sorted(set(found))))


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


@lru_cache(maxsize=256)
def _explained(statement: Select) -> _Explain:
    return _Explain(statement)  # one per (cached) statement: its cache key is computed once


def reads_backwards(session: Session, statement: Select, params: dict[str, Any]) -> bool:
    """Whether PostgreSQL would read ``statement`` (a window) without a bitmap of the GIN
    index, i.e. by an index backwards (``EXPLAIN``: planning only, well under a millisecond)."""
    explained = session.connection().execute(_explained(statement), params).scalar_one()
    if isinstance(explained, str):
        explained = json.loads(explained)
    return not any(node["Node Type"].startswith("Bitmap") for node in _nodes(explained[0]["Plan"]))
