"""SCIM 2.0 provisioning (RFC 7643/7644, ADR 30): an identity provider creates, updates,
deactivates and deletes its users and groups, and manages group members.

The principal is a ``scim`` token bound to an identity provider (``Principal.
identity_provider``); it sees and changes only that provider's users (``users.
identity_provider``, kind ``user``) and groups. Reads are decided by the kernel
(``scim.read``); every change is one governed command (``scim.provision``: audited as
``scim.user.create``, ``scim.group.patch``, ...). The mapping of attributes is
:mod:`lakehold.security.scim_mapping`'s, filters and pages :mod:`~lakehold.security.
scim_filters`'.

``active: false`` deactivates the user: every session and token is refused from the next
request on (:func:`lakehold.security.revocation.deactivate_user`). DELETE of a user
deactivates and detaches it (no longer the provider's, out of the provider's groups) but
keeps the row, so the audit log, ownership and grants keep naming it; DELETE of a group that
holds project roles detaches it the same way (emptied), else deletes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from scim2_models import PatchOp, SCIMException
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Forbidden, Invalid, NotFound
from lakehold.kernel import Action, authorize, governed
from lakehold.kernel.governed import Command
from lakehold.security import scim_mapping as mapping
from lakehold.security import scim_resources as res
from lakehold.security.principal import Principal
from lakehold.security.revocation import activate_user, deactivate_user
from lakehold.security.scim_filters import ScimPage, ScimQuery, listing
from lakehold.store.db import Store
from lakehold.store.models import (
    DomainUnitOwner,
    Group,
    GroupMember,
    ProjectMember,
    User,
    utcnow,
)

__all__ = ["ScimPage", "ScimQuery", "ScimService"]

_AUDITED_IDS = 100  # member ids named in one audit event (beyond: counted)


# -- lookups and changes -----------------------------------------------------------------------


def _bound(principal: Principal) -> str:
    """The identity provider the principal's ``scim`` token is bound to."""
    if principal.identity_provider is None:  # a scim token is always bound (check_provider)
        raise Forbidden("SCIM needs a token bound to an identity provider")
    return principal.identity_provider


def _reader(principal: Principal) -> str:
    """The provider whose users and groups the principal may read (the kernel decides)."""
    authorize(principal, Action.SCIM_READ)
    return _bound(principal)


def _find_user(session: Session, provider: str, user_id: str) -> User:
    user = session.scalar(
        select(User).where(
            User.id == user_id, User.identity_provider == provider, User.kind == "user"
        )
    )
    if user is None:
        raise NotFound(f"user '{user_id}' not found", field="id")
    return user


def _find_group(session: Session, provider: str, group_id: str) -> Group:
    group = session.scalar(
        select(Group).where(Group.id == group_id, Group.identity_provider == provider)
    )
    if group is None:
        raise NotFound(f"group '{group_id}' not found", field="id")
    return group


def _user_groups(
    session: Session, provider: str, user_ids: Iterable[str]
) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    rows = session.execute(
        select(GroupMember.user_id, Group.id, Group.name)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.user_id.in_(list(user_ids)), Group.identity_provider == provider)
        .order_by(Group.name)
    )
    for user_id, group_id, name in rows:
        found.setdefault(user_id, []).append((group_id, name))
    return found


def _group_members(session: Session, group_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    rows = session.execute(
        select(GroupMember.group_id, User.id, User.username)
        .join(User, User.id == GroupMember.user_id)
        .where(GroupMember.group_id.in_(list(group_ids)))
        .order_by(User.username)
    )
    for group_id, user_id, username in rows:
        found.setdefault(group_id, []).append((user_id, username))
    return found


def _check_username_free(session: Session, username: str, user_id: str | None = None) -> None:
    other = session.scalar(select(User.id).where(User.username == username))
    if other is not None and other != user_id:
        raise Conflict(
            f"userName '{username}' is already taken", field="userName", scim_type="uniqueness"
        )


def _check_group_name_free(session: Session, name: str, group_id: str | None = None) -> None:
    other = session.scalar(select(Group.id).where(Group.name == name))
    if other is not None and other != group_id:
        raise Conflict(
            f"displayName '{name}' is already taken", field="displayName", scim_type="uniqueness"
        )


def _apply_user(
    session: Session, user: User, values: mapping.UserValues, details: dict[str, Any]
) -> None:
    """Write ``values`` to ``user``; ``active`` turned false deactivates it (every session
    and token refused), turned true reactivates it (revoked credentials stay revoked)."""
    now = utcnow()
    if values.username != user.username:
        _check_username_free(session, values.username, user.id)
    changed = []
    for field in ("username", "display_name", "email", "external_id"):
        if getattr(user, field) != getattr(values, field):
            setattr(user, field, getattr(values, field))
            changed.append(field)
    if values.active is not None and values.active != user.active:
        if values.active:
            activate_user(session, user, now)
        else:
            revoked = deactivate_user(session, user, now)
            details.update(tokens_revoked=revoked.tokens, sessions_revoked=revoked.sessions)
        changed.append("active")
    if changed:
        user.updated_at = now
    details["changed"] = changed


def _set_members(
    session: Session, provider: str, group: Group, wanted: set[str], details: dict[str, Any]
) -> None:
    """Make ``wanted`` (user ids) the group's members; an added member must be a user of the
    provider (Invalid, scimType invalidValue, naming ``members``)."""
    current = set(
        session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group.id))
    )
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if added:
        known = set(
            session.scalars(
                select(User.id).where(
                    User.id.in_(added), User.identity_provider == provider, User.kind == "user"
                )
            )
        )
        missing = [i for i in added if i not in known]
        if missing:
            raise Invalid(
                f"members: no user '{missing[0]}' of identity provider '{provider}' (members "
                "are users provisioned by it; nested groups are not supported)",
                field="members",
                scim_type="invalidValue",
            )
        session.add_all(GroupMember(group_id=group.id, user_id=i) for i in added)
    if removed:
        session.execute(
            delete(GroupMember).where(
                GroupMember.group_id == group.id, GroupMember.user_id.in_(removed)
            )
        )
    if added or removed:
        group.updated_at = utcnow()
    details.update(added=added[:_AUDITED_IDS], removed=removed[:_AUDITED_IDS])
    if len(added) > _AUDITED_IDS or len(removed) > _AUDITED_IDS:
        details.update(added_count=len(added), removed_count=len(removed))


def _patched(patch: PatchOp[Any], resource: Any) -> Any:
    try:
        patch.patch(resource, res.POLICY)
    except SCIMException as error:
        raise Invalid(
            error.detail, field="Operations", scim_type=error.scim_type or "invalidValue"
        ) from None
    return resource


class ScimService:
    """The SCIM service provider's store operations (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _command(
        self,
        principal: Principal,
        action: str,
        details: dict[str, Any],
        decision: str | None = None,
    ) -> AbstractContextManager[Command]:
        """A governed provisioning command (``decision``: the Conflict of a duplicate a
        concurrent command wrote first)."""
        details = {"provider": principal.identity_provider, **details}
        return governed(self.store, principal, action, details=details, decision=decision)

    @staticmethod
    def _decide(command: Command) -> str:
        command.authorize(Action.SCIM_PROVISION)
        return _bound(command.principal)

    # -- users ---------------------------------------------------------------------------------

    def list_users(self, principal: Principal, query: ScimQuery) -> ScimPage[res.User]:
        """The provider's users matching ``query``, one page."""
        provider = _reader(principal)
        base = select(User).where(User.identity_provider == provider, User.kind == "user")
        page, counted, start = listing(res.User, mapping.user_target(provider), query, base)
        with self.store.session() as session:
            users = list(session.scalars(page))
            groups = _user_groups(session, provider, [u.id for u in users])
            found = [mapping.user_resource(u, groups.get(u.id, [])) for u in users]
            return ScimPage(session.scalar(counted) or 0, start, found)

    def get_user(self, principal: Principal, user_id: str) -> res.User:
        """One of the provider's users; NotFound otherwise."""
        provider = _reader(principal)
        with self.store.session() as session:
            user = _find_user(session, provider, user_id)
            return mapping.user_resource(
                user, _user_groups(session, provider, [user.id]).get(user.id, [])
            )

    def create_user(self, principal: Principal, resource: Any) -> res.User:
        """Provision a user (kind ``user``, the token's identity provider); Conflict
        (uniqueness) when its username is taken."""
        details: dict[str, Any] = {"userName": resource.user_name}
        taken = f"userName '{resource.user_name}' is already taken"
        with self._command(principal, "scim.user.create", details, taken) as command:
            provider = self._decide(command)
            values = mapping.user_values(resource)
            session = command.session
            _check_username_free(session, values.username)
            now = utcnow()
            user = User(
                username=values.username,
                display_name=values.display_name,
                email=values.email,
                external_id=values.external_id,
                active=values.active is not False,
                kind="user",
                identity_provider=provider,
                created_at=now,
                updated_at=now,
            )
            session.add(user)
            session.flush()
            command.resource = f"user:{user.id}"
            return mapping.user_resource(user, [])

    def replace_user(self, principal: Principal, user_id: str, resource: Any) -> res.User:
        """Replace a user's attributes (PUT); an ``active`` left out is kept."""
        with self._command(principal, "scim.user.replace", {"user": user_id}) as command:
            provider = self._decide(command)
            session = command.session
            user = _find_user(session, provider, user_id)
            command.resource = f"user:{user.id}"
            _apply_user(session, user, mapping.user_values(resource), command.details)
            groups = _user_groups(session, provider, [user.id]).get(user.id, [])
            return mapping.user_resource(user, groups)

    def patch_user(self, principal: Principal, user_id: str, patch: PatchOp[Any]) -> res.User:
        """Apply PATCH operations to a user (``replace`` of ``active``, ``displayName``, ...)."""
        with self._command(principal, "scim.user.patch", {"user": user_id}) as command:
            provider = self._decide(command)
            session = command.session
            user = _find_user(session, provider, user_id)
            command.resource = f"user:{user.id}"
            patched = _patched(patch, mapping.requested_user(user))
            _apply_user(session, user, mapping.user_values(patched), command.details)
            groups = _user_groups(session, provider, [user.id]).get(user.id, [])
            return mapping.user_resource(user, groups)

    def delete_user(self, principal: Principal, user_id: str) -> None:
        """Deactivate a user (every session and token refused) and detach it from the
        provider: out of its groups, no longer its user (GET answers 404). The row stays for
        the audit log, ownership and grants, which keep naming it."""
        with self._command(principal, "scim.user.delete", {"user": user_id}) as command:
            provider = self._decide(command)
            session = command.session
            user = _find_user(session, provider, user_id)
            command.resource = f"user:{user.id}"
            revoked = deactivate_user(session, user)
            provider_groups = select(Group.id).where(Group.identity_provider == provider)
            session.execute(
                delete(GroupMember).where(
                    GroupMember.user_id == user.id, GroupMember.group_id.in_(provider_groups)
                )
            )
            user.identity_provider = None
            user.external_id = None
            command.details.update(
                username=user.username,
                tokens_revoked=revoked.tokens,
                sessions_revoked=revoked.sessions,
            )

    # -- groups --------------------------------------------------------------------------------

    def list_groups(
        self, principal: Principal, query: ScimQuery, *, members: bool = True
    ) -> ScimPage[res.Group]:
        """The provider's groups matching ``query``, one page (``members`` False: without
        their members, as ``excludedAttributes=members`` asks)."""
        provider = _reader(principal)
        base = select(Group).where(Group.identity_provider == provider)
        page, counted, start = listing(res.Group, mapping.group_target(), query, base)
        with self.store.session() as session:
            groups = list(session.scalars(page))
            listed = _group_members(session, [g.id for g in groups]) if members else {}
            found = [mapping.group_resource(g, listed.get(g.id)) for g in groups]
            return ScimPage(session.scalar(counted) or 0, start, found)

    def get_group(self, principal: Principal, group_id: str, *, members: bool = True) -> res.Group:
        """One of the provider's groups; NotFound otherwise."""
        provider = _reader(principal)
        with self.store.session() as session:
            group = _find_group(session, provider, group_id)
            listed = _group_members(session, [group.id]) if members else {}
            return mapping.group_resource(group, listed.get(group.id))

    def create_group(self, principal: Principal, resource: Any) -> res.Group:
        """Provision a group with its members (users of the provider); Conflict (uniqueness)
        when its name is taken."""
        details: dict[str, Any] = {"displayName": resource.display_name}
        taken = f"displayName '{resource.display_name}' is already taken"
        with self._command(principal, "scim.group.create", details, taken) as command:
            provider = self._decide(command)
            name, external_id, wanted = mapping.group_values(resource)
            session = command.session
            _check_group_name_free(session, name)
            now = utcnow()
            group = Group(
                name=name,
                external_id=external_id,
                identity_provider=provider,
                created_at=now,
                updated_at=now,
            )
            session.add(group)
            session.flush()
            command.details["group"] = group.id
            _set_members(session, provider, group, wanted, command.details)
            session.flush()
            return mapping.group_resource(group, _group_members(session, [group.id]).get(group.id))

    def replace_group(self, principal: Principal, group_id: str, resource: Any) -> res.Group:
        """Replace a group's name, external id and members (PUT)."""
        with self._command(principal, "scim.group.replace", {"group": group_id}) as command:
            provider = self._decide(command)
            session = command.session
            group = _find_group(session, provider, group_id)
            self._write_group(
                session, provider, group, *mapping.group_values(resource), command.details
            )
            return mapping.group_resource(group, _group_members(session, [group.id]).get(group.id))

    def patch_group(self, principal: Principal, group_id: str, patch: PatchOp[Any]) -> res.Group:
        """Apply PATCH operations to a group: members added (``add`` of ``members``), removed
        (``remove`` of ``members[value eq "<id>"]``) or replaced, ``displayName`` replaced."""
        with self._command(principal, "scim.group.patch", {"group": group_id}) as command:
            provider = self._decide(command)
            session = command.session
            group = _find_group(session, provider, group_id)
            current = _group_members(session, [group.id]).get(group.id, [])
            requested = mapping.requested_group(group, current)
            patched = _patched(patch, requested)
            self._write_group(
                session, provider, group, *mapping.group_values(patched), command.details
            )
            return mapping.group_resource(group, _group_members(session, [group.id]).get(group.id))

    def delete_group(self, principal: Principal, group_id: str) -> None:
        """Delete a group; one that holds project roles or owns domain units is emptied and
        detached from the provider instead (its roles stay for an administrator to move)."""
        with self._command(principal, "scim.group.delete", {"group": group_id}) as command:
            provider = self._decide(command)
            session = command.session
            group = _find_group(session, provider, group_id)
            command.details["displayName"] = group.name
            session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
            holds_roles = session.scalar(
                select(
                    exists().where(ProjectMember.group_id == group.id)
                    | exists().where(DomainUnitOwner.group_id == group.id)
                )
            )
            if holds_roles:
                group.identity_provider = None
                group.external_id = None
                group.updated_at = utcnow()
                command.details["detached"] = True
            else:
                session.delete(group)

    @staticmethod
    def _write_group(
        session: Session,
        provider: str,
        group: Group,
        name: str,
        external_id: str | None,
        members: set[str],
        details: dict[str, Any],
    ) -> None:
        if name != group.name:
            _check_group_name_free(session, name, group.id)
            details["renamed"] = {"from": group.name, "to": name}
            group.name = name
            group.updated_at = utcnow()
        if external_id != group.external_id:
            group.external_id = external_id
            group.updated_at = utcnow()
        _set_members(session, provider, group, members, details)
        session.flush()
