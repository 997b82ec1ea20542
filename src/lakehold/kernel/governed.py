"""The one way to run a governed command: open the transaction, authorize, act, audit both
outcomes, commit.

    with governed(store, principal, "glossary.create", details={"name": name}) as command:
        unit = resolve_unit(command.session, unit_name)
        command.authorize(Action.UNIT_OWNERS_MANAGE, unit)
        ...  # act in command.session
        command.details["id"] = glossary.id

An allowed command is audited in the same transaction as the change (committed with it); a
refused or failed one (any Lakehold error: not found, forbidden, invalid, conflict) is rolled
back and audited as denied in a transaction of its own, with the reason, then re-raised.

Slow work (a connection test, a crawl, a sync run, a Delta commit) is not done inside a
transaction: such commands decide in a short governed transaction, or audit their outcome
with :func:`lakehold.kernel.audit.audited` / :func:`~lakehold.kernel.audit.denials`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from lakehold.errors import LakeholdError
from lakehold.kernel import audit
from lakehold.kernel.actions import Action
from lakehold.kernel.authorize import Resource, authorize
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import DomainUnit, Project, ShareGrant


@dataclass
class Command:
    """A governed command in progress: its session, and what its audit record will say."""

    session: Session
    principal: Principal
    project: str | None = None
    assets: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    resource: str | None = None

    def authorize(self, action: Action, resource: Resource = None) -> None:
        """:func:`lakehold.kernel.authorize.authorize` within this command; the resource is
        named in the audit record."""
        if self.resource is None:
            self.resource = resource_name(resource)
        authorize(self.principal, action, resource, session=self.session)


@contextmanager
def governed(
    store: Store,
    principal: Principal,
    action: str | Action,
    *,
    project: str | None = None,
    assets: Sequence[str] = (),
    details: dict[str, Any] | None = None,
    decision: str | None = None,
) -> Iterator[Command]:
    """Run the body as one audited transaction named ``action`` (see the module docstring).

    With ``decision`` (the Conflict message), the transaction is a serialised decision
    (:meth:`Store.decision`: an immediate write transaction on SQLite, and a duplicate that a
    unique index refuses is that Conflict)."""
    command: Command | None = None
    transaction = store.decision(decision) if decision is not None else store.session()
    try:
        with transaction as session:
            command = Command(session, principal, project, list(assets), dict(details or {}))
            yield command
            audit.record(
                session,
                principal,
                str(action),
                allowed=True,
                project=command.project,
                assets=command.assets,
                details=command.details,
                resource=command.resource,
            )
    except LakeholdError as error:
        if command is not None:  # what the command had said before it failed
            project, assets, details = command.project, command.assets, command.details
        with store.session() as session:
            audit.record(
                session,
                principal,
                str(action),
                allowed=False,
                reason=getattr(error, "audit_reason", None) or error.message,
                project=project,
                assets=assets,
                details={**(details or {}), "error": error.code},
                resource=command.resource if command is not None else None,
            )
        raise


def resource_name(resource: Resource) -> str | None:
    """How the audit log names a resource: ``project:p``, ``unit:<id>``, ``user:<id>``,
    ``share_grant:<id>``."""
    if isinstance(resource, Project):
        return f"project:{resource.name}"
    if isinstance(resource, ShareGrant):
        return f"share_grant:{resource.id}"
    if isinstance(resource, DomainUnit):
        return f"unit:{resource.id}"
    if isinstance(resource, str):
        return f"user:{resource}"
    return None
