"""Recipients: the external organisations a project shares with, and their bearer tokens.

- A recipient belongs to the producer project; its owners create it (with a first token),
  issue more tokens, revoke tokens and delete it; members see it; anyone else gets NotFound.
  Service principals never manage recipients (it mints credentials).
- A token always expires (``days``, 1 to 3650, and never after the security policy's
  maximum token lifetime); it is shown once, in the profile file the recipient reads with
  (``{shareCredentialsVersion, endpoint, bearerToken, expirationTime}``, written by the
  adapter); only its hash is stored. A revoked token is refused at once.
- Deleting a recipient ends its grants (their snapshots are removed) and its tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.service import readable_project
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance.sharing.snapshots import SharedSnapshots
from lakehold.kernel import Action, Command, allowed, governed
from lakehold.security import policy
from lakehold.security import recipients as recipient_tokens
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Project,
    RecipientToken,
    ShareGrant,
    ShareGrantTable,
    ShareRecipient,
    User,
    as_utc,
    utcnow,
)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")
MAX_DAYS = 3650
MAX_ORGANISATION = 200


@dataclass(frozen=True)
class RecipientTokenView:
    id: str
    prefix: str
    """``lhr_<lookup>``: the start of its value, not secret, to recognise it by."""
    created_at: datetime
    expires_at: datetime
    revoked: bool
    last_used_at: datetime | None


@dataclass(frozen=True)
class RecipientView:
    id: str
    name: str
    project: str
    organisation: str
    comment: str | None
    created_by: str
    created_at: datetime
    tokens: list[RecipientTokenView] = field(default_factory=list)

    @classmethod
    def of(cls, session: Session, recipient: ShareRecipient) -> RecipientView:
        rows = session.scalars(
            select(RecipientToken)
            .where(RecipientToken.recipient_id == recipient.id)
            .order_by(RecipientToken.created_at)
        )
        creator = session.get(User, recipient.created_by)
        return cls(
            id=recipient.id,
            name=recipient.name,
            project=recipient.project.name,
            organisation=recipient.organisation,
            comment=recipient.comment,
            created_by=creator.username if creator else "",
            created_at=recipient.created_at,
            tokens=[
                RecipientTokenView(
                    t.id,
                    f"{recipient_tokens.PREFIX}_{t.lookup}",
                    t.created_at,
                    as_utc(t.expires_at),
                    t.revoked_at is not None,
                    as_utc(t.last_used_at),
                )
                for t in rows
            ],
        )


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``value`` is the only time the secret is visible."""

    recipient: RecipientView
    token_id: str
    value: str
    expires_at: datetime


def visible_recipient(session: Session, principal: Principal, recipient_id: str) -> ShareRecipient:
    """The recipient if the principal is a member of its project; NotFound else."""
    recipient = session.get(ShareRecipient, recipient_id)
    if recipient is None or not allowed(
        principal, Action.PROJECT_READ, recipient.project, session=session
    ):
        raise NotFound(f"recipient '{recipient_id}' not found", field="recipient")
    return recipient


class RecipientService:
    """Create, list, read and delete recipients; issue and revoke their tokens."""

    def __init__(self, store: Store, snapshots: SharedSnapshots, *, token_days: int) -> None:
        self.store = store
        self.snapshots = snapshots
        self.token_days = token_days

    def create(
        self,
        principal: Principal,
        project: str,
        name: str,
        organisation: str,
        *,
        comment: str | None = None,
        days: int | None = None,
    ) -> IssuedToken:
        """A recipient of ``project`` (its owners) and its first token."""
        with governed(
            self.store,
            principal,
            "share_recipient.create",
            project=project,
            details={"recipient": name},
            decision=f"recipient '{name}' of project '{project}' already exists",
        ) as command:
            session = command.session
            owner = readable_project(session, principal, project)
            command.authorize(Action.SHARE_RECIPIENT_MANAGE, owner)
            if not isinstance(name, str) or not _NAME.match(name):
                raise Invalid(
                    "a recipient's name is 1 to 100 letters, digits, '_' or '-'", field="name"
                )
            if not isinstance(organisation, str) or not organisation.strip():
                raise Invalid("a recipient names its organisation", field="organisation")
            if len(organisation) > MAX_ORGANISATION:
                raise Invalid(
                    f"an organisation is at most {MAX_ORGANISATION} characters",
                    field="organisation",
                )
            taken = select(ShareRecipient.id).where(
                ShareRecipient.project_id == owner.id, ShareRecipient.name == name
            )
            if session.scalar(taken) is not None:
                raise Conflict(f"recipient '{name}' of project '{project}' already exists")
            recipient = ShareRecipient(
                project_id=owner.id,
                name=name,
                organisation=organisation.strip(),
                comment=comment,
                created_by=principal.user_id,
            )
            session.add(recipient)
            session.flush()
            command.details.update(id=recipient.id)
            return self._issue(command, recipient, days)

    def list_recipients(
        self, principal: Principal, *, project: str | None = None
    ) -> list[RecipientView]:
        """The recipients of the projects the principal is a member of (of ``project``)."""
        query = select(ShareRecipient).join(Project, Project.id == ShareRecipient.project_id)
        if project is not None:
            query = query.where(Project.name == project)
        query = query.order_by(Project.name, ShareRecipient.name)
        with self.store.session() as session:
            return [
                RecipientView.of(session, r)
                for r in session.scalars(query)
                if allowed(principal, Action.PROJECT_READ, r.project, session=session)
            ]

    def get(self, principal: Principal, recipient_id: str) -> RecipientView:
        with self.store.session() as session:
            return RecipientView.of(session, visible_recipient(session, principal, recipient_id))

    def issue_token(
        self, principal: Principal, recipient_id: str, *, days: int | None = None
    ) -> IssuedToken:
        """Another token of the recipient (its earlier tokens stay valid until revoked)."""
        with governed(
            self.store,
            principal,
            "share_recipient.token.issue",
            details={"recipient": recipient_id},
        ) as command:
            recipient = self._managed(command, recipient_id)
            return self._issue(command, recipient, days)

    def revoke_token(self, principal: Principal, recipient_id: str, token_id: str) -> RecipientView:
        """Revoke one token of the recipient: refused from the next request on."""
        with governed(
            self.store,
            principal,
            "share_recipient.token.revoke",
            details={"recipient": recipient_id, "token": token_id},
            decision=f"token '{token_id}' was revoked concurrently",
        ) as command:
            session = command.session
            recipient = self._managed(command, recipient_id)
            token = session.get(RecipientToken, token_id, with_for_update=True)
            if token is None or token.recipient_id != recipient.id:
                raise NotFound(f"token '{token_id}' of this recipient not found", field="token")
            if token.revoked_at is not None:
                raise Conflict(f"token '{token_id}' is already revoked")
            token.revoked_at, token.revoked_by = utcnow(), principal.user_id
            session.flush()
            return RecipientView.of(session, recipient)

    def delete(self, principal: Principal, recipient_id: str) -> None:
        """Delete the recipient, its tokens and its grants (their snapshots removed)."""
        with governed(
            self.store, principal, "share_recipient.delete", details={"recipient": recipient_id}
        ) as command:
            session = command.session
            recipient = self._managed(command, recipient_id)
            gone = list(
                session.scalars(
                    select(ShareGrantTable.id)
                    .join(ShareGrant, ShareGrant.id == ShareGrantTable.grant_id)
                    .where(ShareGrant.recipient_id == recipient.id)
                )
            )
            session.delete(recipient)
        self.snapshots.remove(gone)

    def _managed(self, command: Command, recipient_id: str) -> ShareRecipient:
        recipient = visible_recipient(command.session, command.principal, recipient_id)
        command.authorize(Action.SHARE_RECIPIENT_MANAGE, recipient.project)
        command.project = recipient.project.name
        command.details.update(name=recipient.name)
        return recipient

    def _issue(self, command: Command, recipient: ShareRecipient, days: int | None) -> IssuedToken:
        lifetime = self.token_days if days is None else days
        if not isinstance(lifetime, int) or not 1 <= lifetime <= MAX_DAYS:
            raise Invalid(f"a token lasts 1 to {MAX_DAYS} days", field="days")
        now = utcnow()
        expires_at = now + timedelta(days=lifetime)
        # the security policy's maximum token lifetime binds recipient tokens too: asked
        # for longer, refused; by default, cut to it
        longest = getattr(policy.current(command.session), "max_token_lifetime_seconds", None)
        if longest and timedelta(days=lifetime) > timedelta(seconds=longest):
            if days is not None:
                raise Invalid(
                    f"a token may live at most {policy.describe(longest)} (the security "
                    "policy's maximum token lifetime)",
                    field="days",
                    max_token_lifetime_seconds=longest,
                )
            expires_at = now + timedelta(seconds=longest)
        issued = recipient_tokens.issue()
        token = RecipientToken(
            recipient_id=recipient.id,
            lookup=issued.lookup,
            secret_hash=issued.secret_hash,
            created_by=command.principal.user_id,
            created_at=now,
            expires_at=expires_at,
        )
        command.session.add(token)
        command.session.flush()
        command.details.update(token=token.id, expires_at=token.expires_at.isoformat())
        return IssuedToken(
            RecipientView.of(command.session, recipient), token.id, issued.value, token.expires_at
        )
