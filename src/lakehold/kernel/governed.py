"""The one way to run a governed command: open the transaction, authorize, act, audit both
outcomes, commit.

    with governed(store, principal, "glossary.create", details={"name": name}) as command:
        unit = resolve_unit(command.session, unit_name)
        command.authorize(Action.UNIT_OWNERS_MANAGE, unit)
        ...  # act in command.session
        command.details["id"] = glossary.id

An allowed command is audited in its own transaction (committed with the change); a refused or
failed one (any Lakehold error: not found, forbidden, invalid, conflict) is rolled back and
audited as denied in a transaction of its own, with the reason, then re-raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from lakehold.kernel import audit
from lakehold.kernel.actions import Action
from lakehold.kernel.authorize import Resource, authorize
from lakehold.security.principal import Principal
from lakehold.store.db import Store


@dataclass
class Command:
    """A governed command in progress: its session, and what its audit record will say."""

    session: Session
    principal: Principal
    project: str | None = None
    assets: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def authorize(self, action: Action, resource: Resource = None) -> None:
        """:func:`lakehold.kernel.authorize.authorize` within this command."""
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
) -> Iterator[Command]:
    """Run the body as one audited transaction named ``action`` (see the module docstring)."""
    command: Command | None = None
    with (
        audit.denials(
            store, principal, str(action), project=project, assets=assets, details=details
        ),
        store.session() as session,
    ):
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
        )
