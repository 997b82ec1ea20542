"""How SCIM resources map onto Lakehold's rows (ADR 30): users and groups as responses
(:class:`~lakehold.security.scim_resources.User`, ``Group``), what a request asks Lakehold to
keep (checked, Invalid naming the SCIM attribute), and the columns filters compare.

``userName`` → username (lower case: SCIM user names are case-insensitive; the username
rules), ``displayName`` (else ``name.formatted``, else given and family names) → display
name, the primary email (else the first) → email, ``externalId``, ``active``; a group's
``displayName`` → its name (the group name rules), ``members`` → its users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import Email as CoreEmail
from scim2_models import GroupMember as CoreMember
from scim2_models import Meta
from sqlalchemy import ColumnElement, exists, func, select

from lakehold.errors import Invalid
from lakehold.names import check_group_name, check_username
from lakehold.security import scim_filters
from lakehold.security import scim_resources as res
from lakehold.store.models import Group, GroupMember, User, as_utc


def _meta(kind: str, created: datetime, updated: datetime | None) -> Meta:
    return Meta(
        resource_type=kind, created=as_utc(created), last_modified=as_utc(updated or created)
    )


def user_resource(user: User, groups: Sequence[tuple[str, str]]) -> res.User:
    return res.User(
        id=user.id,
        external_id=user.external_id,
        user_name=user.username,
        display_name=user.display_name,
        active=user.active,
        emails=[res.Email(value=user.email, primary=True)] if user.email else None,
        groups=[res.GroupRef(value=i, ref=None, display=name) for i, name in groups] or None,
        meta=_meta("User", user.created_at, user.updated_at),
    )


def group_resource(group: Group, members: Sequence[tuple[str, str]] | None) -> res.Group:
    listed = [res.Member(value=i, ref=None, display=name) for i, name in members or ()]
    return res.Group(
        id=group.id,
        external_id=group.external_id,
        display_name=group.name,
        members=listed or None,
        meta=_meta("Group", group.created_at, group.updated_at),
    )


@dataclass(frozen=True)
class UserValues:
    username: str
    display_name: str | None
    email: str | None
    external_id: str | None
    active: bool | None


def _bounded(value: str | None, limit: int, attribute: str) -> str | None:
    if value is not None and len(value) > limit:
        raise Invalid(
            f"{attribute} is longer than {limit} characters",
            field=attribute,
            scim_type="invalidValue",
        )
    return value or None


def user_values(resource: Any) -> UserValues:
    """What Lakehold keeps of a requested user, checked (Invalid naming the attribute)."""
    given = resource.user_name or ""
    try:
        username = check_username(given.strip().lower())  # userName is case-insensitive
    except Invalid:
        raise Invalid(
            f"userName '{given}' is not a valid Lakehold username: 1 to 64 letters, digits, "
            "'_', '.', '-', '@', '+' (an e-mail address is one), starting with a letter or digit",
            field="userName",
            scim_type="invalidValue",
        ) from None
    name = resource.name
    display = resource.display_name or (name.formatted if name else None)
    if not display and name is not None:
        display = " ".join(p for p in (name.given_name, name.family_name) if p) or None
    emails = resource.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    return UserValues(
        username=username,
        display_name=_bounded(display, 200, "displayName"),
        email=_bounded(primary.value if primary else None, 320, "emails"),
        external_id=_bounded(resource.external_id, 255, "externalId"),
        active=resource.active,
    )


def requested_user(user: User) -> Any:
    """The user as a full request model, for a PATCH to apply to."""
    return res.USER_REQUEST(
        id=user.id,
        user_name=user.username,
        display_name=user.display_name,
        active=user.active,
        emails=[CoreEmail(value=user.email, primary=True)] if user.email else None,
        external_id=user.external_id,
    )


def group_values(resource: Any) -> tuple[str, str | None, set[str]]:
    """A requested group's name, external id and member ids, checked."""
    name = resource.display_name or ""
    try:
        check_group_name(name, "displayName")
    except Invalid:
        raise Invalid(
            f"displayName '{name}' is not a valid Lakehold group name: 1 to 100 letters, "
            "digits, '_', '.', '-' (no spaces)",
            field="displayName",
            scim_type="invalidValue",
        ) from None
    members = {m.value for m in resource.members or () if m.value}
    return name, _bounded(resource.external_id, 255, "externalId"), members


def user_target(provider: str) -> scim_filters.Target:
    def in_groups(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists(
            select(GroupMember.user_id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(GroupMember.user_id == User.id, Group.identity_provider == provider, condition)
        )

    email = scim_filters.Attr(User.email)
    return scim_filters.Target(
        res.USER_SCHEMA,
        {
            "id": scim_filters.Attr(User.id, "exact", nullable=False),
            "username": scim_filters.Attr(User.username, nullable=False),
            "displayname": scim_filters.Attr(User.display_name),
            "active": scim_filters.Attr(User.active, "boolean", nullable=False),
            "externalid": scim_filters.Attr(User.external_id, "exact"),
            "emails": email,
            "emails.value": email,
            "meta.created": scim_filters.Attr(User.created_at, "datetime", nullable=False),
            "meta.lastmodified": scim_filters.Attr(
                func.coalesce(User.updated_at, User.created_at), "datetime", nullable=False
            ),
            "groups": scim_filters.Relation(
                in_groups,
                {
                    "value": scim_filters.Attr(Group.id, "exact", nullable=False),
                    "display": scim_filters.Attr(Group.name, nullable=False),
                },
            ),
        },
    )


def group_target() -> scim_filters.Target:
    def with_members(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists(
            select(GroupMember.group_id)
            .join(User, User.id == GroupMember.user_id)
            .where(GroupMember.group_id == Group.id, condition)
        )

    return scim_filters.Target(
        res.GROUP_SCHEMA,
        {
            "id": scim_filters.Attr(Group.id, "exact", nullable=False),
            "displayname": scim_filters.Attr(Group.name, nullable=False),
            "externalid": scim_filters.Attr(Group.external_id, "exact"),
            "meta.created": scim_filters.Attr(Group.created_at, "datetime", nullable=False),
            "meta.lastmodified": scim_filters.Attr(
                func.coalesce(Group.updated_at, Group.created_at), "datetime", nullable=False
            ),
            "members": scim_filters.Relation(
                with_members,
                {
                    "value": scim_filters.Attr(User.id, "exact", nullable=False),
                    "display": scim_filters.Attr(User.username, nullable=False),
                },
            ),
        },
    )


def requested_group(group: Group, members: Sequence[tuple[str, str]]) -> Any:
    """The group as a full request model, for a PATCH to apply to."""
    return res.GROUP_REQUEST(
        id=group.id,
        display_name=group.name,
        external_id=group.external_id,
        members=[CoreMember(value=i, ref=None, display=n, type="User") for i, n in members] or None,
    )
