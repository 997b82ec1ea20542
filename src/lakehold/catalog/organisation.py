"""The organisation: domain units and their owners, groups of users, project members.

Domain units form a tree under each domain (the root unit is named like the domain). Owners of
a unit — users, or groups whose members act for them — own every unit below it: they create
sub-units, manage owners and create projects there. Projects have members (users or groups)
with a role: owner, contributor or viewer. A project never loses its last owner.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakehold.catalog.service import readable_project
from lakehold.catalog.units import contents as unit_contents
from lakehold.catalog.units import reindex_paths, resolve_unit, root_unit, unit_path
from lakehold.catalog.views import (
    DomainUnitView,
    GroupView,
    MemberView,
    OwnerView,
    ProjectView,
)
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, allowed, governed, roles
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Domain,
    DomainUnit,
    DomainUnitOwner,
    Group,
    GroupMember,
    MetadataRule,
    Project,
    ProjectMember,
    ServicePrincipal,
    UnitPolicy,
    User,
)

_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


# -- validation and lookups --------------------------------------------------------------------


def _check_unit_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise Invalid("a domain unit needs a name of 1 to 100 characters", field="name")
    if "/" in name:
        raise Invalid(f"domain unit name '{name}' may not contain '/'", field="name")
    return name.strip()


def _check_group_name(name: str) -> str:
    if not isinstance(name, str) or not _GROUP_NAME.match(name):
        raise Invalid(
            f"group name '{name}' is not valid: 1 to 100 letters, digits, '_', '.', '-'",
            field="name",
        )
    return name


def _check_role(role: str) -> roles.Role:
    if role not in roles.ROLES:
        raise Invalid(
            f"role '{role}' is not one of {', '.join(roles.ROLES)}", field="role", value=role
        )
    return role


def _one_of(user: str | None, group: str | None) -> None:
    if (user is None) == (group is None):
        raise Invalid("name exactly one of a user or a group", field="user")


def _find_domain(session: Session, name: str) -> Domain:
    found = session.scalar(select(Domain).where(Domain.name == name))
    if found is None:
        raise NotFound(f"domain '{name}' not found", field="domain")
    return found


def _find_user(session: Session, username: str, field: str = "user") -> User:
    found = session.scalar(select(User).where(User.username == username))
    if found is None:
        raise NotFound(f"user '{username}' not found", field=field)
    return found


def _own_project_only(
    session: Session, user: User, project_id: str | None = None, field: str = "user"
) -> User:
    """``user``, unless it is a service principal outside its own project: it belongs to no
    group, owns no unit and is a member of its project only (ADR 32)."""
    if user.kind == "service":
        own = session.scalar(
            select(ServicePrincipal.project_id).where(ServicePrincipal.user_id == user.id)
        )
        if project_id is None or own != project_id:
            raise Invalid(
                f"'{user.username}' is a service principal: it belongs to its own project only",
                field=field,
            )
    return user


def _find_group(session: Session, name: str, field: str = "group") -> Group:
    found = session.scalar(select(Group).where(Group.name == name))
    if found is None:
        raise NotFound(f"group '{name}' not found", field=field)
    return found


def _clean(details: dict) -> dict:
    return {k: v for k, v in details.items() if v is not None}


# -- read models -------------------------------------------------------------------------------


def _owners(session: Session, unit_ids: list[str]) -> dict[str, list[OwnerView]]:
    rows = session.execute(
        select(DomainUnitOwner.unit_id, User.username, Group.name)
        .select_from(DomainUnitOwner)
        .outerjoin(User, User.id == DomainUnitOwner.user_id)
        .outerjoin(Group, Group.id == DomainUnitOwner.group_id)
        .where(DomainUnitOwner.unit_id.in_(unit_ids))
    )
    owners: dict[str, list[OwnerView]] = {i: [] for i in unit_ids}
    for unit_id, username, group in rows:
        owners[unit_id].append(
            OwnerView("user", username) if username is not None else OwnerView("group", group)
        )
    for listed in owners.values():
        listed.sort(key=lambda o: (o.kind, o.name))
    return owners


def _unit_view(session: Session, unit: DomainUnit) -> DomainUnitView:
    lineage = roles.unit_lineage(session, unit)
    domain = session.get(Domain, unit.domain_id)
    assert domain is not None  # domain_units.domain_id is a foreign key to domains
    return DomainUnitView(
        id=unit.id,
        domain=domain.name,
        name=unit.name,
        path=unit_path(session, unit),
        parent_id=unit.parent_id,
        depth=len(lineage) - 1,
        description=unit.description,
        owners=_owners(session, [unit.id])[unit.id],
        created_at=unit.created_at,
    )


def _group_view(session: Session, group: Group) -> GroupView:
    members = session.scalars(
        select(User.username)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group.id)
        .order_by(User.username)
    )
    return GroupView(group.id, group.name, group.description, list(members), group.created_at)


def _member_view(session: Session, member: ProjectMember) -> MemberView:
    # project_members.user_id / group_id are foreign keys (ON DELETE CASCADE): one is set.
    if member.user_id is not None:
        user = session.get(User, member.user_id)
        assert user is not None
        return MemberView("user", user.username, member.role, member.created_at)
    assert member.group_id is not None
    group = session.get(Group, member.group_id)
    assert group is not None
    return MemberView("group", group.name, member.role, member.created_at)


# -- invariants --------------------------------------------------------------------------------


def _has_owner(session: Session, project_id: str) -> bool:
    """True when a user owns the project directly or through a group with members."""
    owners = select(ProjectMember).where(
        ProjectMember.project_id == project_id, ProjectMember.role == "owner"
    )
    direct = session.scalar(
        owners.with_only_columns(ProjectMember.id)
        .join(User, User.id == ProjectMember.user_id)
        .where(User.kind != "service")  # a service principal never keeps a project owned
        .limit(1)
    )
    if direct is not None:
        return True
    owning_groups = owners.with_only_columns(ProjectMember.group_id).where(
        ProjectMember.group_id.is_not(None)
    )
    member = session.scalar(
        select(GroupMember.user_id).where(GroupMember.group_id.in_(owning_groups)).limit(1)
    )
    return member is not None


def _keep_owned(session: Session, project_ids: list[str], field: str) -> None:
    """Conflict (rolling back the change) if one of the projects would be left without owner.

    The projects' rows are locked first, so two concurrent changes cannot each remove "the
    other" owner (PostgreSQL re-reads the members after the lock is granted).
    """
    session.flush()
    ids = sorted(set(project_ids))
    if ids:
        session.execute(select(Project.id).where(Project.id.in_(ids)).with_for_update())
    for project_id in ids:
        project = session.get(Project, project_id)
        assert project is not None  # a project member's or a found project's id
        if not _has_owner(session, project_id):
            raise Conflict(
                f"project '{project.name}' would be left without an owner; add another owner first",
                field=field,
            )
        _refresh_owner(session, project)


def _refresh_owner(session: Session, project: Project) -> None:
    """Keep ``Project.owner`` (shown in project views) on a user who still owns the project."""
    direct = list(
        session.scalars(
            select(ProjectMember.user_id)
            .join(User, User.id == ProjectMember.user_id)
            .where(
                ProjectMember.project_id == project.id,
                ProjectMember.role == "owner",
                User.kind != "service",
            )
            .order_by(ProjectMember.created_at, ProjectMember.id)
        )
    )
    if direct and project.owner_id not in direct:
        first = direct[0]
        assert first is not None  # the query keeps user_id IS NOT NULL
        project.owner_id = first


def _owned_by_group(session: Session, group: Group) -> list[str]:
    return list(
        session.scalars(
            select(ProjectMember.project_id).where(
                ProjectMember.group_id == group.id, ProjectMember.role == "owner"
            )
        )
    )


class OrganisationService:
    """Domain units, groups and project members."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- domain units --------------------------------------------------------------------------

    def create_unit(
        self,
        principal: Principal,
        domain: str,
        name: str,
        *,
        parent: str | None = None,
        description: str | None = None,
    ) -> DomainUnitView:
        """Create a unit below ``parent`` (id or path; default: the domain's root unit).

        Administrators and owners of the parent unit or an ancestor may.
        """
        with governed(self.store, principal, "domain_unit.create") as command:
            session = command.session
            found = _find_domain(session, domain)
            above = (
                root_unit(session, found)
                if parent is None
                else resolve_unit(session, parent, domain=found, field="parent")
            )
            command.details["unit"] = f"{unit_path(session, above)}/{name}"
            command.authorize(Action.UNIT_CREATE, above)
            name = _check_unit_name(name)
            if session.scalar(
                select(DomainUnit).where(DomainUnit.parent_id == above.id, DomainUnit.name == name)
            ):
                raise Conflict(
                    f"domain unit '{unit_path(session, above)}/{name}' already exists",
                    field="name",
                )
            unit = DomainUnit(
                domain_id=found.id,
                parent_id=above.id,
                name=name,
                description=description,
                created_by=principal.user_id,
            )
            session.add(unit)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"domain unit '{name}' already exists", field="name") from None
            view = _unit_view(session, unit)
            command.details["unit"] = view.path
            return view

    def list_units(self, principal: Principal, domain: str) -> list[DomainUnitView]:
        """A domain's unit tree, depth first, siblings by name (any user may read it)."""
        with self.store.session() as session:
            found = _find_domain(session, domain)
            root = root_unit(session, found)
            units = list(
                session.scalars(select(DomainUnit).where(DomainUnit.domain_id == found.id))
            )
            children: dict[str | None, list[DomainUnit]] = {}
            for unit in units:
                children.setdefault(unit.parent_id, []).append(unit)
            owners = _owners(session, [u.id for u in units])
            ordered: list[DomainUnitView] = []

            def visit(unit: DomainUnit, path: str, depth: int) -> None:
                ordered.append(
                    DomainUnitView(
                        id=unit.id,
                        domain=found.name,
                        name=unit.name,
                        path=path,
                        parent_id=unit.parent_id,
                        depth=depth,
                        description=unit.description,
                        owners=owners.get(unit.id, []),
                        created_at=unit.created_at,
                    )
                )
                for child in sorted(children.get(unit.id, []), key=lambda u: u.name):
                    visit(child, f"{path}/{child.name}", depth + 1)

            visit(root, root.name, 0)
            return ordered

    def get_unit(self, principal: Principal, unit: str) -> DomainUnitView:
        """One unit, by id or full path (``Sales/Marketing``)."""
        with self.store.session() as session:
            return _unit_view(session, resolve_unit(session, unit, field="unit"))

    def add_unit_owner(
        self,
        principal: Principal,
        unit: str,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> DomainUnitView:
        """Make a user or a group an owner of ``unit`` (its owners, or an ancestor's)."""
        details = _clean({"unit": unit, "user": user, "group": group})
        with governed(self.store, principal, "domain_unit.owner_add", details=details) as command:
            _one_of(user, group)
            session = command.session
            found = resolve_unit(session, unit, field="unit")
            command.details["unit"] = unit_path(session, found)
            command.authorize(Action.UNIT_OWNERS_MANAGE, found)
            owner = DomainUnitOwner(unit_id=found.id)
            if user is not None:
                owner.user_id = _own_project_only(session, _find_user(session, user)).id
                clash = DomainUnitOwner.user_id == owner.user_id
            else:
                assert group is not None  # _one_of: a user or a group
                owner.group_id = _find_group(session, group).id
                clash = DomainUnitOwner.group_id == owner.group_id
            if session.scalar(
                select(DomainUnitOwner).where(DomainUnitOwner.unit_id == found.id, clash)
            ):
                field = "user" if user is not None else "group"
                raise Conflict(
                    f"{field} '{user or group}' already owns domain unit '{found.name}'",
                    field=field,
                )
            session.add(owner)
            session.flush()
            view = _unit_view(session, found)
            command.details["unit"] = view.path
            return view

    def remove_unit_owner(
        self,
        principal: Principal,
        unit: str,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> None:
        """Remove an owner (a user or a group) of ``unit``."""
        details = _clean({"unit": unit, "user": user, "group": group})
        action = "domain_unit.owner_remove"
        with governed(self.store, principal, action, details=details) as command:
            _one_of(user, group)
            session = command.session
            found = resolve_unit(session, unit, field="unit")
            command.details["unit"] = unit_path(session, found)
            command.authorize(Action.UNIT_OWNERS_MANAGE, found)
            query = select(DomainUnitOwner).where(DomainUnitOwner.unit_id == found.id)
            if user is not None:
                query = query.where(DomainUnitOwner.user_id == _find_user(session, user).id)
            else:
                assert group is not None  # _one_of: a user or a group
                query = query.where(DomainUnitOwner.group_id == _find_group(session, group).id)
            owner = session.scalar(query)
            if owner is None:
                field = "user" if user is not None else "group"
                raise NotFound(
                    f"{field} '{user or group}' does not own domain unit '{found.name}'",
                    field=field,
                )
            session.delete(owner)

    def update_unit(
        self,
        principal: Principal,
        unit: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> DomainUnitView:
        """Rename a unit and/or change its description (``""`` clears it); owners of the unit
        or an ancestor. The root unit keeps the domain's name."""
        with governed(
            self.store, principal, "domain_unit.update", details={"unit": unit}
        ) as command:
            session = command.session
            found = resolve_unit(session, unit, field="unit")
            before, renamed = unit_path(session, found), False
            command.details["unit"] = before
            command.authorize(Action.UNIT_UPDATE, found)
            if name is not None:
                name = _check_unit_name(name)
                if found.parent_id is None and name != found.name:
                    raise Invalid("the root unit is named like its domain", field="name")
                if name != found.name and session.scalar(
                    select(DomainUnit.id).where(
                        DomainUnit.parent_id == found.parent_id, DomainUnit.name == name
                    )
                ):
                    raise Conflict(f"a sibling domain unit is already named '{name}'", field="name")
                renamed, found.name = name != found.name, name
            if description is not None:
                found.description = description or None
            if renamed:
                reindex_paths(session, found)
            view = _unit_view(session, found)
            command.details.update(_clean({"path": view.path, "description": description}))
            return view

    def delete_unit(self, principal: Principal, unit: str) -> None:
        """Delete an empty unit with its owners, rules and policies (owners of the unit or an
        ancestor). Conflict naming what is inside: child units, projects, glossaries, forms."""
        with governed(
            self.store, principal, "domain_unit.delete", details={"unit": unit}
        ) as command:
            session = command.session
            found = resolve_unit(session, unit, field="unit")
            path = command.details["unit"] = unit_path(session, found)
            command.authorize(Action.UNIT_DELETE, found)
            if found.parent_id is None:
                raise Conflict(
                    f"'{path}' is the root unit of its domain and cannot be deleted", field="unit"
                )
            inside = unit_contents(session, found)
            if inside:
                listed = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in inside.items())
                raise Conflict(
                    f"domain unit '{path}' is not empty ({listed}); move or delete them first",
                    field="unit",
                    contents=inside,
                )
            rules = session.scalars(
                select(MetadataRule.name).where(MetadataRule.unit_id == found.id)
            ).all()
            for model in (MetadataRule, UnitPolicy, DomainUnitOwner):
                session.execute(delete(model).where(model.unit_id == found.id))
            session.delete(found)
            session.flush()
            command.details.update(_clean({"rules": list(rules) or None}))

    def list_unit_projects(self, principal: Principal, unit: str) -> list[ProjectView]:
        """The projects in ``unit`` the principal may see (its owners: all of them)."""
        with self.store.session() as session:
            found = resolve_unit(session, unit, field="unit")
            owner = allowed(principal, Action.UNIT_PROJECTS_READ, found, session=session)
            projects = session.scalars(
                select(Project).where(Project.domain_unit_id == found.id).order_by(Project.name)
            )
            return [
                ProjectView.of(p)
                for p in projects
                if owner or allowed(principal, Action.PROJECT_READ, p, session=session)
            ]

    # -- groups --------------------------------------------------------------------------------

    def create_group(
        self, principal: Principal, name: str, description: str | None = None
    ) -> GroupView:
        """Create a group of users (administrators)."""
        details = _clean({"group": name})
        with governed(self.store, principal, "group.create", details=details) as command:
            command.authorize(Action.GROUP_CREATE)
            session = command.session
            name = _check_group_name(name)
            if session.scalar(select(Group).where(Group.name == name)):
                raise Conflict(f"group '{name}' already exists", field="name")
            group = Group(name=name, description=description)
            session.add(group)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"group '{name}' already exists", field="name") from None
            return _group_view(session, group)

    def delete_group(self, principal: Principal, name: str) -> None:
        """Delete a group (administrators); refused if a project would lose its last owner."""
        details = _clean({"group": name})
        with governed(self.store, principal, "group.delete", details=details) as command:
            command.authorize(Action.GROUP_DELETE)
            session = command.session
            group = _find_group(session, name)
            owned = _owned_by_group(session, group)
            session.execute(delete(ProjectMember).where(ProjectMember.group_id == group.id))
            session.execute(delete(DomainUnitOwner).where(DomainUnitOwner.group_id == group.id))
            session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
            session.delete(group)
            _keep_owned(session, owned, "group")

    def list_groups(self, principal: Principal) -> list[GroupView]:
        """Every group (administrators); other users see the groups they belong to."""
        with self.store.session() as session:
            query = select(Group).order_by(Group.name)
            if not allowed(principal, Action.CATALOG_READ_ALL):
                mine = select(GroupMember.group_id).where(GroupMember.user_id == principal.user_id)
                query = query.where(Group.id.in_(mine))
            return [_group_view(session, g) for g in session.scalars(query)]

    def get_group(self, principal: Principal, name: str) -> GroupView:
        """One group (administrators and its members)."""
        with self.store.session() as session:
            group = session.scalar(select(Group).where(Group.name == name))
            if group is not None and not allowed(principal, Action.CATALOG_READ_ALL):
                member = session.get(GroupMember, (group.id, principal.user_id))
                group = group if member is not None else None
            if group is None:
                raise NotFound(f"group '{name}' not found", field="group")
            return _group_view(session, group)

    def add_group_member(self, principal: Principal, group: str, user: str) -> GroupView:
        """Add a user to a group (administrators); it takes effect at once."""
        details = _clean({"group": group, "user": user})
        with governed(self.store, principal, "group.member_add", details=details) as command:
            command.authorize(Action.GROUP_MEMBERS_MANAGE)
            session = command.session
            found = _find_group(session, group)
            member = _own_project_only(session, _find_user(session, user))
            if session.get(GroupMember, (found.id, member.id)) is not None:
                raise Conflict(f"user '{user}' is already in group '{group}'", field="user")
            session.add(GroupMember(group_id=found.id, user_id=member.id))
            session.flush()
            return _group_view(session, found)

    def remove_group_member(self, principal: Principal, group: str, user: str) -> None:
        """Remove a user from a group (administrators); refused if that orphans a project."""
        details = _clean({"group": group, "user": user})
        with governed(self.store, principal, "group.member_remove", details=details) as command:
            command.authorize(Action.GROUP_MEMBERS_MANAGE)
            session = command.session
            found = _find_group(session, group)
            member = _find_user(session, user)
            row = session.get(GroupMember, (found.id, member.id))
            if row is None:
                raise NotFound(f"user '{user}' is not in group '{group}'", field="user")
            session.delete(row)
            _keep_owned(session, _owned_by_group(session, found), "user")

    # -- project members -----------------------------------------------------------------------

    def list_members(self, principal: Principal, project: str) -> list[MemberView]:
        """A project's members (any member may read them)."""
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            members = session.scalars(
                select(ProjectMember).where(ProjectMember.project_id == found.id)
            )
            views = [_member_view(session, m) for m in members]
            order: dict[str, int] = {r: i for i, r in enumerate(reversed(roles.ROLES))}
            return sorted(views, key=lambda m: (order[m.role], m.kind, m.name))

    def _member(
        self, session: Session, project: Project, user: str | None, group: str | None
    ) -> ProjectMember | None:
        query = select(ProjectMember).where(ProjectMember.project_id == project.id)
        if user is not None:
            query = query.where(ProjectMember.user_id == _find_user(session, user).id)
        else:
            assert group is not None  # callers check _one_of: a user or a group
            query = query.where(ProjectMember.group_id == _find_group(session, group).id)
        return session.scalar(query)

    def _existing_member(
        self, session: Session, project: Project, user: str | None, group: str | None
    ) -> ProjectMember:
        """The member ``user`` or ``group`` of ``project``; NotFound naming the field otherwise."""
        member = self._member(session, project, user, group)
        if member is None:
            field = "user" if user is not None else "group"
            raise NotFound(
                f"{field} '{user or group}' is not a member of project '{project.name}'",
                field=field,
            )
        return member

    def add_member(
        self,
        principal: Principal,
        project: str,
        role: str,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> MemberView:
        """Add a user or a group to a project with a role (project owners)."""
        details = _clean({"user": user, "group": group, "role": role})
        with governed(
            self.store, principal, "project.member_add", project=project, details=details
        ) as command:
            _one_of(user, group)
            session = command.session
            found = readable_project(session, principal, project)
            command.authorize(Action.PROJECT_MEMBERS_MANAGE, found)
            role = _check_role(role)
            if self._member(session, found, user, group) is not None:
                field = "user" if user is not None else "group"
                raise Conflict(
                    f"{field} '{user or group}' is already a member of project '{project}'",
                    field=field,
                )
            member = ProjectMember(project_id=found.id, role=role)
            if user is not None:
                member.user_id = _own_project_only(session, _find_user(session, user), found.id).id
            else:
                assert group is not None  # _one_of: a user or a group
                member.group_id = _find_group(session, group).id
            session.add(member)
            try:
                session.flush()
            except IntegrityError:  # a concurrent add of the same member won (unique index)
                field = "user" if user is not None else "group"
                raise Conflict(
                    f"{field} '{user or group}' is already a member of project '{project}'",
                    field=field,
                ) from None
            return _member_view(session, member)

    def update_member(
        self,
        principal: Principal,
        project: str,
        role: str,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> MemberView:
        """Change a member's role (project owners); the last owner cannot be demoted."""
        details = _clean({"user": user, "group": group, "role": role})
        with governed(
            self.store, principal, "project.member_update", project=project, details=details
        ) as command:
            _one_of(user, group)
            session = command.session
            found = readable_project(session, principal, project)
            command.authorize(Action.PROJECT_MEMBERS_MANAGE, found)
            role = _check_role(role)
            member = self._existing_member(session, found, user, group)
            member.role = role
            _keep_owned(session, [found.id], "role")
            return _member_view(session, member)

    def remove_member(
        self,
        principal: Principal,
        project: str,
        *,
        user: str | None = None,
        group: str | None = None,
    ) -> None:
        """Remove a member (project owners); the last owner cannot be removed."""
        field = "user" if user is not None else "group"
        details = _clean({"user": user, "group": group})
        with governed(
            self.store, principal, "project.member_remove", project=project, details=details
        ) as command:
            _one_of(user, group)
            session = command.session
            found = readable_project(session, principal, project)
            command.authorize(Action.PROJECT_MEMBERS_MANAGE, found)
            member = self._existing_member(session, found, user, group)
            session.delete(member)
            _keep_owned(session, [found.id], field)
