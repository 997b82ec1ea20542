"""Who may discover which Lakehold table in lineage.

A lineage dataset that names a Lakehold table (``lineage.naming.asset_ref``) -- and a job of
Lakehold's namespace named after the table it writes -- is discoverable by a principal who is an
administrator, a member of the table's project (directly or through a group), or when the table
has an active listing (it was published). Every other Lakehold-named node is shown only as an
opaque placeholder. Nodes outside Lakehold's namespace belong to external tools and are visible
to every authenticated user.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lakehold.kernel.actions import Action
from lakehold.kernel.authorize import allowed
from lakehold.security.principal import Principal
from lakehold.store.models import ACTIVE, Asset, GroupMember, Listing, Project, ProjectMember

TableRef = tuple[str, str]  # (project, table)


def discoverable(
    session: Session, principal: Principal, tables: Iterable[TableRef]
) -> set[TableRef]:
    """Which of ``tables`` the principal may discover; three queries whatever their number."""
    wanted = set(tables)
    if not wanted or allowed(principal, Action.CATALOG_READ_ALL):
        return wanted
    groups = select(GroupMember.group_id).where(GroupMember.user_id == principal.user_id)
    member_of = set(
        session.scalars(
            select(Project.name)
            .join(ProjectMember, ProjectMember.project_id == Project.id)
            .where(
                Project.name.in_({project for project, _ in wanted}),
                or_(ProjectMember.user_id == principal.user_id, ProjectMember.group_id.in_(groups)),
            )
        )
    )
    visible = {t for t in wanted if t[0] in member_of}
    rest = wanted - visible
    if rest:
        published = session.execute(
            select(Project.name, Asset.name)
            .join(Asset, Asset.project_id == Project.id)
            .join(Listing, Listing.asset_id == Asset.id)
            .where(
                Project.name.in_({project for project, _ in rest}),
                Asset.name.in_({table for _, table in rest}),
                Listing.status == ACTIVE,
            )
        )
        visible |= {(p, t) for p, t in published} & rest
    return visible
