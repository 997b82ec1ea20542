"""Service principals: a project's non-human identities for jobs and external engines (ADR 32).

A service principal is a ``users`` row of kind ``service``, named ``sp-<project>-<name>``, with
no password, a member of its project (and of no other) with a role, and a public client id
with one or more client secrets (each shown once; only its SHA-256 is stored). Its tokens
come from the client credentials grant (:mod:`lakehold.security.client_credentials`), never
from ``POST /tokens``. Owners of the project create, rotate, revoke and delete them
(``service_principal.manage``); its members list them. A rotation keeps the older secrets
working for an overlap; a revoked secret's tokens are refused at once; a deleted principal's
user is deactivated (never reused: the audit log names it) and all its tokens are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, authorize, governed, roles
from lakehold.security import credential_cache
from lakehold.security.client_secrets import new_client_id, new_secret, token_name
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    ApiToken,
    Project,
    ProjectMember,
    ServicePrincipal,
    ServicePrincipalSecret,
    User,
    as_utc,
    utcnow,
)

USERNAME_PREFIX = "sp-"
MAX_USERNAME = 64
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_OVERLAP_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class SecretView:
    """A client secret as listed: never its value."""

    id: str
    created_at: datetime
    expires_at: datetime | None
    """When it stops working (set by a later rotation), or None."""
    revoked_at: datetime | None
    active: bool
    """It can be exchanged for a token now."""


@dataclass(frozen=True)
class ServicePrincipalView:
    """A service principal as its project's members see it."""

    name: str
    project: str
    username: str
    client_id: str
    role: str | None
    """Its role in the project (None once an owner removed it from the members)."""
    created_by: str
    created_at: datetime
    active_secrets: int


@dataclass(frozen=True)
class IssuedSecret:
    """A new client secret: ``value`` is shown this once."""

    client_id: str
    secret_id: str
    value: str
    created_at: datetime
    previous_expire_at: datetime | None = None
    """After a rotation: when the older secrets stop working (None: there were none)."""


@dataclass(frozen=True)
class CreatedServicePrincipal:
    """A new service principal and its first secret."""

    principal: ServicePrincipalView
    secret: IssuedSecret


def username_of(project: str, name: str) -> str:
    """The user name of service principal ``name`` of ``project``."""
    return f"{USERNAME_PREFIX}{project}-{name}"


def check_name(name: str, project: str) -> str:
    """A service principal's name: lower-case letters, digits, ``_``, ``-``, short enough for
    its user name (``sp-<project>-<name>``, at most 64 characters)."""
    longest = MAX_USERNAME - len(username_of(project, ""))
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > longest:
        raise Invalid(
            f"service principal name '{name}' is not valid: 1 to {max(longest, 0)} lower-case "
            "letters, digits, '_' or '-', starting with a letter or digit",
            field="name",
        )
    return name


def _check_role(role: str) -> roles.Role:
    if role not in roles.ROLES:
        raise Invalid(f"role '{role}' is not one of {', '.join(roles.ROLES)}", field="role")
    return role


def _active(secret: ServicePrincipalSecret, now: datetime) -> bool:
    expires = as_utc(secret.expires_at)
    return secret.revoked_at is None and (expires is None or expires > now)


def _secret_view(secret: ServicePrincipalSecret, now: datetime) -> SecretView:
    return SecretView(
        id=secret.id,
        created_at=as_utc(secret.created_at),
        expires_at=as_utc(secret.expires_at),
        revoked_at=as_utc(secret.revoked_at),
        active=_active(secret, now),
    )


def _project(session: Session, name: str) -> Project:
    """The project named ``name`` (whether the principal may know it is the kernel's call)."""
    found = session.scalar(select(Project).where(Project.name == name))
    if found is None:
        raise NotFound(f"project '{name}' not found", field="project")
    return found


def _find(session: Session, project: Project, name: str) -> ServicePrincipal:
    found = session.scalar(
        select(ServicePrincipal)
        .join(User, User.id == ServicePrincipal.user_id)
        .where(
            ServicePrincipal.project_id == project.id,
            User.username == username_of(project.name, name),
        )
    )
    if found is None:
        raise NotFound(
            f"service principal '{name}' not found in project '{project.name}'", field="name"
        )
    return found


def _secrets(session: Session, principal_id: str) -> list[ServicePrincipalSecret]:
    return list(
        session.scalars(
            select(ServicePrincipalSecret)
            .where(ServicePrincipalSecret.service_principal_id == principal_id)
            .order_by(ServicePrincipalSecret.created_at, ServicePrincipalSecret.id)
        )
    )


def _view(session: Session, sp: ServicePrincipal, project: Project) -> ServicePrincipalView:
    now = utcnow()
    user = session.get(User, sp.user_id)
    creator = session.get(User, sp.created_by)
    assert user is not None and creator is not None  # foreign keys
    role = session.scalar(
        select(ProjectMember.role).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == user.id
        )
    )
    return ServicePrincipalView(
        name=user.username.removeprefix(username_of(project.name, "")),
        project=project.name,
        username=user.username,
        client_id=sp.client_id,
        role=role,
        created_by=creator.username,
        created_at=as_utc(sp.created_at),
        active_secrets=sum(_active(s, now) for s in _secrets(session, sp.id)),
    )


def _issue_secret(session: Session, sp: ServicePrincipal, now: datetime) -> IssuedSecret:
    value, secret_hash = new_secret()
    row = ServicePrincipalSecret(
        service_principal_id=sp.id, secret_hash=secret_hash, created_at=now
    )
    session.add(row)
    session.flush()
    return IssuedSecret(sp.client_id, row.id, value, now)


def _revoke_tokens(session: Session, user_id: str, now: datetime, name: str | None = None) -> int:
    """Set ``revoked_at`` on the open tokens of ``user_id`` (named ``name``, if given); this
    process's validated-token caches forget them at once (others within their second)."""
    credential_cache.invalidate(session)
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if name is not None:
        query = query.where(ApiToken.name == name)
    return session.execute(query.values(revoked_at=now)).rowcount  # type: ignore[attr-defined]


class ServicePrincipalService:
    """Create, list, rotate, revoke and delete the service principals of projects."""

    def __init__(self, store: Store, *, secret_overlap_seconds: int) -> None:
        self.store = store
        self.secret_overlap_seconds = secret_overlap_seconds

    def create(
        self, principal: Principal, project: str, name: str, role: str = "viewer"
    ) -> CreatedServicePrincipal:
        """A new service principal of ``project`` with ``role`` (project owners: never above
        their own role) and its first secret, shown once."""
        details = {"name": name, "role": role}
        conflict = f"service principal '{name}' already exists in project '{project}'"
        with governed(
            self.store,
            principal,
            "service_principal.create",
            project=project,
            details=details,
            decision=conflict,
        ) as command:
            session = command.session
            found = _project(session, project)
            command.authorize(Action.SERVICE_PRINCIPAL_MANAGE, found)
            check_name(name, found.name)
            _check_role(role)
            username = username_of(found.name, name)
            taken = session.scalar(select(User).where(User.username == username))
            if taken is not None:
                deleted = taken.kind == "service" and not taken.active
                raise Conflict(
                    f"a deleted service principal of project '{project}' was named '{name}': "
                    "names are not reused (the audit log refers to them); choose another"
                    if deleted
                    else conflict,
                    field="name",
                )
            now = utcnow()
            user = User(username=username, display_name=name, kind="service", updated_at=now)
            session.add(user)
            session.flush()
            sp = ServicePrincipal(
                user_id=user.id,
                project_id=found.id,
                client_id=new_client_id(),
                created_by=principal.user_id,
                created_at=now,
            )
            session.add(sp)
            session.add(ProjectMember(project_id=found.id, user_id=user.id, role=role))
            session.flush()
            secret = _issue_secret(session, sp, now)
            command.details.update(
                username=username, client_id=sp.client_id, secret=secret.secret_id
            )
            return CreatedServicePrincipal(_view(session, sp, found), secret)

    def get(self, principal: Principal, project: str, name: str) -> ServicePrincipalView:
        """One service principal of ``project`` (its members)."""
        with self.store.session() as session:
            found = _project(session, project)
            authorize(principal, Action.PROJECT_READ, found, session=session)
            return _view(session, _find(session, found, name), found)

    def list_secrets(self, principal: Principal, project: str, name: str) -> list[SecretView]:
        """A service principal's secrets, oldest first, without their values (members)."""
        with self.store.session() as session:
            found = _project(session, project)
            authorize(principal, Action.PROJECT_READ, found, session=session)
            sp = _find(session, found, name)
            now = utcnow()
            return [_secret_view(s, now) for s in _secrets(session, sp.id)]

    def rotate(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        overlap_seconds: int | None = None,
    ) -> IssuedSecret:
        """A new secret (shown once); the older ones keep working for ``overlap_seconds``
        (default: the setting, 24 h) unless revoked sooner (project owners)."""
        overlap = self.secret_overlap_seconds if overlap_seconds is None else overlap_seconds
        details = {"name": name, "overlap_seconds": overlap}
        with governed(
            self.store, principal, "service_principal.rotate", project=project, details=details
        ) as command:
            session = command.session
            found = _project(session, project)
            command.authorize(Action.SERVICE_PRINCIPAL_MANAGE, found)
            if not 0 <= overlap <= MAX_OVERLAP_SECONDS:
                raise Invalid(
                    f"overlap_seconds must be 0 to {MAX_OVERLAP_SECONDS} (30 days)",
                    field="overlap_seconds",
                )
            sp = _find(session, found, name)
            now = utcnow()
            ends = now + timedelta(seconds=overlap)
            previous = [s for s in _secrets(session, sp.id) if _active(s, now)]
            for secret in previous:
                expires = as_utc(secret.expires_at)
                if expires is None or expires > ends:
                    secret.expires_at = ends
            issued = _issue_secret(session, sp, now)
            command.details.update(secret=issued.secret_id, client_id=sp.client_id)
            return IssuedSecret(
                issued.client_id,
                issued.secret_id,
                issued.value,
                issued.created_at,
                ends if previous else None,
            )

    def revoke_secret(self, principal: Principal, project: str, name: str, secret_id: str) -> None:
        """Revoke one secret at once, and the tokens issued for it (project owners)."""
        details = {"name": name, "secret": secret_id}
        with governed(
            self.store,
            principal,
            "service_principal.secret_revoke",
            project=project,
            details=details,
        ) as command:
            session = command.session
            found = _project(session, project)
            command.authorize(Action.SERVICE_PRINCIPAL_MANAGE, found)
            sp = _find(session, found, name)
            secret = session.get(ServicePrincipalSecret, secret_id)
            if secret is None or secret.service_principal_id != sp.id:
                raise NotFound(
                    f"secret '{secret_id}' of service principal '{name}' not found",
                    field="secret_id",
                )
            now = utcnow()
            secret.revoked_at = secret.revoked_at or now
            revoked = _revoke_tokens(session, sp.user_id, now, token_name(secret.id))
            command.details["tokens_revoked"] = revoked

    def delete(self, principal: Principal, project: str, name: str) -> None:
        """Delete a service principal (project owners): its secrets go, every token it holds
        is refused at once, its user is deactivated and leaves its project."""
        details = {"name": name}
        with governed(
            self.store, principal, "service_principal.delete", project=project, details=details
        ) as command:
            session = command.session
            found = _project(session, project)
            command.authorize(Action.SERVICE_PRINCIPAL_MANAGE, found)
            sp = _find(session, found, name)
            user = session.get(User, sp.user_id)
            assert user is not None  # foreign key
            now = utcnow()
            user.active = False
            user.credentials_valid_after = now
            user.updated_at = now
            revoked = _revoke_tokens(session, user.id, now)
            session.execute(delete(ProjectMember).where(ProjectMember.user_id == user.id))
            session.execute(
                delete(ServicePrincipalSecret).where(
                    ServicePrincipalSecret.service_principal_id == sp.id
                )
            )
            command.details.update(
                username=user.username, client_id=sp.client_id, tokens_revoked=revoked
            )
            session.delete(sp)

    def list(self, principal: Principal, project: str) -> list[ServicePrincipalView]:
        """The service principals of ``project`` (its members), by name."""
        with self.store.session() as session:
            found = _project(session, project)
            authorize(principal, Action.PROJECT_READ, found, session=session)
            rows = session.scalars(
                select(ServicePrincipal).where(ServicePrincipal.project_id == found.id)
            )
            return sorted((_view(session, sp, found) for sp in rows), key=lambda v: v.name)
