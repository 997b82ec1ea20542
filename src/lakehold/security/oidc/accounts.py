"""The Lakehold user of a verified OpenID Connect identity: matched by issuer + subject,
linked to a user the same provider provisioned (SCIM), or created when the provider allows
it; refused when deactivated. At each sign-in the user's membership of the groups this
provider manages follows the mapped group claims, and (with ``admin_groups``) so does the
administrator flag of the users it provisioned. Every outcome is audited (ADR 0031).

A sign-in is not a request by a principal who holds a right: it is the provider's assertion,
checked (:mod:`~lakehold.security.oidc.tokens`) and answered here. So, as for password
sign-in (:mod:`~lakehold.security.sessions`), its audit events are written with
:func:`lakehold.kernel.audit.record` in the transaction of the changes they describe.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.orm import Session

from lakehold.config import OidcProvider
from lakehold.errors import LakeholdError
from lakehold.kernel.audit import record
from lakehold.names import check_username
from lakehold.security.oidc.claims import Identity, numbered, username_base
from lakehold.security.oidc.refusals import DEACTIVATED, UNKNOWN_USER, reason_of, refused
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Group, GroupMember, User, UserIdentity, utcnow

LOGIN = "oidc.login"
"""The audit action of every OpenID Connect sign-in, allowed or refused."""
BUSY = "another sign-in of this person is in progress; try again"


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin)


class OidcAccounts:
    """Signing in the user of a verified identity. ``clock`` gives the time (aware UTC)."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def sign_in(
        self,
        provider: OidcProvider,
        identity: Identity,
        *,
        via: str,
        address: str | None = None,
    ) -> Principal:
        """The principal of ``identity`` (see the module docstring); refused, Forbidden, for
        an unknown person the provider may not create (``unknown user not allowed``) and a
        deactivated user (``deactivated user``). ``via``: ``web`` or ``cli``."""
        details: dict[str, Any] = {
            "provider": provider.name,
            "via": via,
            "issuer": identity.issuer,
            "subject": identity.subject,
            "claimed_username": identity.username,
            "address": address,
        }
        resource: str | None = None
        try:
            with self.store.decision(BUSY) as session:
                user = self._match(session, provider, identity)
                if user is None:
                    user = self._create(session, provider, identity, details)
                elif not user.active:
                    resource, details["username"] = _of(user), user.username
                    raise refused(
                        DEACTIVATED,
                        f"the Lakehold account '{user.username}' is deactivated: ask an "
                        "administrator",
                        forbidden=True,
                    )
                details.update(self._sync(session, provider, user, identity))
                principal = _principal(user)
                details["username"] = user.username
                record(session, principal, LOGIN, allowed=True, details=details, resource=_of(user))
                return principal
        except LakeholdError as error:
            self._refused(error, details, resource)
            raise

    def fail(
        self,
        provider: str,
        error: LakeholdError,
        *,
        via: str,
        address: str | None = None,
        **details: Any,
    ) -> None:
        """Audit a sign-in refused before an identity was verified (bad state, invalid
        token...)."""
        self._refused(error, {"provider": provider, "via": via, "address": address, **details})

    def _refused(
        self, error: LakeholdError, details: dict[str, Any], resource: str | None = None
    ) -> None:
        with self.store.session() as session:
            record(
                session,
                None,
                LOGIN,
                allowed=False,
                reason=reason_of(error),
                details={**details, "error": error.code},
                resource=resource,
            )

    # -- who ----------------------------------------------------------------------------------

    def _match(self, session: Session, provider: OidcProvider, who: Identity) -> User | None:
        """The user linked to ``who``'s issuer + subject, else the one user this provider
        provisioned (SCIM) with the subject as external id, or the same email or username,
        and no identity at this issuer yet: linked now."""
        linked = session.scalar(
            select(UserIdentity).where(
                UserIdentity.issuer == who.issuer, UserIdentity.subject == who.subject
            )
        )
        now = self.clock()
        if linked is not None:
            linked.last_login_at = now
            return linked.user
        same = [User.external_id == who.subject]
        if who.username:
            same.append(User.username == username_base(who.username, who.subject))
        if who.email:
            same.append(User.email == who.email)
        already = select(UserIdentity.user_id).where(UserIdentity.issuer == who.issuer)
        candidates = session.scalars(
            select(User).where(
                User.identity_provider == provider.name,
                User.kind == "user",
                or_(*same),
                User.id.not_in(already),
            )
        ).all()
        if len(candidates) != 1:
            return None
        user = candidates[0]
        self._link(session, provider, user, who, now)
        return user

    @staticmethod
    def _link(
        session: Session, provider: OidcProvider, user: User, who: Identity, now: datetime
    ) -> None:
        session.add(
            UserIdentity(
                user_id=user.id,
                provider=provider.name,
                issuer=who.issuer,
                subject=who.subject,
                created_at=now,
                last_login_at=now,
            )
        )
        session.flush()

    def _create(
        self, session: Session, provider: OidcProvider, who: Identity, details: dict[str, Any]
    ) -> User:
        if not provider.create_users:
            raise refused(
                UNKNOWN_USER,
                f"you have no Lakehold account, and sign-in with {provider.label} does not "
                "create one: ask an administrator for an account",
                forbidden=True,
            )
        base = username_base(who.username, who.subject)
        username, number = base, 1
        while session.scalar(select(User.id).where(User.username == username)) is not None:
            number += 1
            username = numbered(base, number)
        check_username(username)
        now = self.clock()
        user = User(
            username=username,
            display_name=who.display_name,
            email=who.email,
            identity_provider=provider.name,
            kind="user",
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        session.flush()
        self._link(session, provider, user, who, now)
        record(
            session,
            _principal(user),
            "user.create",
            allowed=True,
            details={"username": username, "provider": provider.name, "via": details["via"]},
            resource=_of(user),
        )
        details["created"] = True
        return user

    # -- what they are ------------------------------------------------------------------------

    def _sync(
        self, session: Session, provider: OidcProvider, user: User, who: Identity
    ) -> dict[str, Any]:
        """Profile, administrator flag (users this provider provisioned) and group
        membership (groups this provider manages) as the claims say; what changed."""
        changes: dict[str, Any] = {}
        now = self.clock()
        if user.identity_provider == provider.name:
            for field in ("display_name", "email"):
                value = getattr(who, field)
                if value is not None and getattr(user, field) != value:
                    setattr(user, field, value)
                    user.updated_at = now
            if provider.admin_groups:
                admin = any(group in provider.admin_groups for group in who.groups)
                user.is_admin = admin  # the stored flag follows the provider's groups
                if inspect(user).attrs["is_admin"].history.has_changes():
                    user.updated_at = now
                    changes["is_admin"] = admin
                    record(
                        session,
                        _principal(user),
                        "user.update",
                        allowed=True,
                        details={"is_admin": admin, "provider": provider.name},
                        resource=_of(user),
                    )
        changes.update(self._sync_groups(session, provider, user, who, now))
        return changes

    def _sync_groups(
        self,
        session: Session,
        provider: OidcProvider,
        user: User,
        who: Identity,
        now: datetime,
    ) -> dict[str, Any]:
        """The user's membership of the groups ``provider`` manages, as mapped from the group
        claims. A mapped group that does not exist is created, managed by the provider; a
        local one (managed by no provider) is taken over; another provider's is left alone."""
        mapping = provider.group_mapping
        wanted = sorted({mapping[g] for g in who.groups if g in mapping})
        principal = _principal(user)
        managed: set[str] = set()
        skipped: list[str] = []
        for name in wanted:
            group = session.scalar(select(Group).where(Group.name == name))
            if group is None:
                group = Group(
                    name=name,
                    description=f"Members come from sign-in with {provider.label}.",
                    identity_provider=provider.name,
                    created_at=now,
                    updated_at=now,
                )
                session.add(group)
                session.flush()
                record(
                    session,
                    principal,
                    "group.create",
                    allowed=True,
                    details={"group": name, "provider": provider.name, "via": "oidc"},
                )
            elif group.identity_provider is None:
                group.identity_provider = provider.name
                group.updated_at = now
                record(
                    session,
                    principal,
                    "group.update",
                    allowed=True,
                    details={"group": name, "identity_provider": provider.name, "via": "oidc"},
                )
            elif group.identity_provider != provider.name:
                skipped.append(name)
                continue
            managed.add(group.id)
        current = session.execute(
            select(Group.id, Group.name)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user.id, Group.identity_provider == provider.name)
        ).all()
        held = {group_id for group_id, _ in current}
        removed = sorted(name for group_id, name in current if group_id not in managed)
        if removed:
            session.execute(
                delete(GroupMember).where(
                    GroupMember.user_id == user.id,
                    GroupMember.group_id.in_([gid for gid, _ in current if gid not in managed]),
                )
            )
        added_ids = managed - held
        for group_id in sorted(added_ids):
            session.add(GroupMember(group_id=group_id, user_id=user.id))
        added = sorted(
            session.scalars(select(Group.name).where(Group.id.in_(added_ids))) if added_ids else []
        )
        changes: dict[str, Any] = {}
        if added or removed:
            changes.update(groups_added=added, groups_removed=removed)
            record(
                session,
                principal,
                "group.members.manage",
                allowed=True,
                details={
                    "user": user.username,
                    "added": added,
                    "removed": removed,
                    "provider": provider.name,
                    "via": "oidc",
                },
                resource=_of(user),
            )
        if skipped:
            changes["groups_not_managed"] = skipped
        return changes


def _of(user: User) -> str:
    return f"user:{user.id}"
