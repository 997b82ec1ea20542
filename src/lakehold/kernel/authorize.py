"""The one decision point: may ``principal`` take ``action`` on ``resource``?

:func:`authorize` raises when the answer is no -- NotFound when the principal may not even
know the resource (a project it is not a member of), Forbidden naming the action otherwise --
and :func:`allowed` answers the same question as a boolean (for lists and visibility). Both
read the rule of the action in :data:`lakehold.kernel.actions.RULES`; nothing else in Lakehold
checks roles.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from lakehold.errors import Forbidden, LakeholdError, NotFound
from lakehold.kernel import roles
from lakehold.kernel.actions import RULES, Action, Allow, Rule
from lakehold.observability import instruments
from lakehold.security.principal import Principal
from lakehold.store.models import DomainUnit, Project, ShareGrant

_T = TypeVar("_T")

_BEYOND_A_PROJECT = (Allow.UNIT_OWNER, Allow.PROJECT_CREATOR)
"""Decided outside any one project: a service principal, bound to its project, never takes
them."""

#: what an action acts on: a project, a domain unit, a user id (Allow.SELF), a share grant
#: (Allow.RECIPIENT) or nothing (system)
Resource = Project | DomainUnit | ShareGrant | str | None

RECIPIENT_ONLY = "a Delta Sharing recipient may only read the shares granted to it"


def authorize(
    principal: Principal,
    action: Action,
    resource: Resource = None,
    *,
    session: Session | None = None,
) -> None:
    """Return when ``principal`` may take ``action`` on ``resource``; raise otherwise.

    ``session`` reads the principal's roles; decisions on projects and units need one. Each
    decision is counted (``lakehold_decisions_total``)."""
    try:
        _decide(principal, action, resource, session)
    except LakeholdError:
        instruments.decision(action.value, False)
        raise
    instruments.decision(action.value, True)


def _decide(
    principal: Principal, action: Action, resource: Resource, session: Session | None
) -> None:
    rule = RULES[action]
    if principal.recipient is not None or rule.allow is Allow.RECIPIENT:
        _recipient(principal, action, rule, resource)
        return
    if principal.service and rule.allow is not Allow.ROLE:
        _refuse_service(rule)
    if rule.allow is Allow.ANYONE:
        return
    if rule.allow is Allow.ADMIN:
        if not principal.is_admin:
            raise Forbidden(f"only administrators may {rule.phrase}")
    elif rule.allow is Allow.ROLE:
        project = _of(resource, Project, action)
        role = roles.project_role(_needed(session, action), principal, project)
        if role is None and not rule.known:
            raise NotFound(f"project '{project.name}' not found", field="project")
        if principal.service:  # after "not found": other projects stay unknown to it
            _refuse_service(rule)
        assert rule.role is not None
        if role is None or roles.ROLES.index(role) < roles.ROLES.index(rule.role):
            raise Forbidden(f"only {rule.role}s of project '{project.name}' may {rule.phrase}")
    elif rule.allow in (Allow.UNIT_OWNER, Allow.PROJECT_CREATOR):
        unit = _of(resource, DomainUnit, action)
        if rule.allow is Allow.PROJECT_CREATOR and unit.parent_id is None:
            return  # anyone may create a project in a domain's root unit
        if not roles.owns_unit(_needed(session, action), principal, unit):
            raise Forbidden(f"only owners of domain unit '{unit.name}' may {rule.phrase}")
    elif rule.allow is Allow.SELF:
        if not isinstance(resource, str):
            raise TypeError(f"{action} acts on a user id")
        if not (principal.is_admin or principal.user_id == resource):
            raise Forbidden(f"only its owner may {rule.phrase}")
    elif rule.allow is Allow.SCOPE and rule.scope not in principal.scopes:
        raise Forbidden(f"only a token with the '{rule.scope}' scope may {rule.phrase}")
    elif rule.allow is Allow.ADMIN_OR_SCOPE and not principal.can(str(rule.scope)):
        raise Forbidden(
            f"only administrators and tokens with the '{rule.scope}' scope may {rule.phrase}"
        )


def allowed(
    principal: Principal,
    action: Action,
    resource: Resource = None,
    *,
    session: Session | None = None,
) -> bool:
    """Whether :func:`authorize` would let ``principal`` take ``action`` on ``resource`` (a
    question for filtering and showing, not a decision: not counted)."""
    try:
        _decide(principal, action, resource, session)
    except LakeholdError:
        return False
    return True


def _recipient(principal: Principal, action: Action, rule: Rule, resource: Resource) -> None:
    """A recipient (ADR 37) takes no action but reading a share through an approved grant of
    its own; nobody else reads a share as a recipient."""
    if rule.allow is not Allow.RECIPIENT or principal.recipient is None:
        raise Forbidden(
            RECIPIENT_ONLY
            if principal.recipient is not None
            else f"only a Delta Sharing recipient may {rule.phrase}"
        )
    grant = _of(resource, ShareGrant, action)
    if grant.recipient_id != principal.recipient or grant.status != "approved":
        raise Forbidden(f"this recipient may not {rule.phrase}: its access is not approved")


def _refuse_service(rule: Rule) -> None:
    """Forbidden when a service principal may not take an action of ``rule`` (ADR 32)."""
    if not rule.service or rule.allow in _BEYOND_A_PROJECT:
        raise Forbidden(f"a service principal may not {rule.phrase}")


def _of(resource: Resource, kind: type[_T], action: Action) -> _T:
    if not isinstance(resource, kind):
        raise TypeError(f"{action} acts on a {kind.__name__}, not {type(resource).__name__}")
    return resource


def _needed(session: Session | None, action: Action) -> Session:
    if session is None:
        raise TypeError(f"deciding {action} reads roles: pass a session")
    return session
