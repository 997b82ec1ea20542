"""Organisation: domains with their unit trees, and groups of users, as the signed-in principal.

- ``/organisation``: every domain's unit tree with owners; create a domain (administrators) or
  a unit below one the principal owns (directly, through a group or an ancestor).
- ``/organisation/groups``: the groups the API shows the principal; a group's members, added
  and removed by administrators.

The services authorize every change; a refused form comes back with the service's status and
its message next to the field it names. The helpers here (:func:`submit`, :class:`Access`)
serve the other organisation pages too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lakehold.catalog.views import DomainUnitView, DomainView
from lakehold.errors import LakeholdError
from lakehold.kernel.roles import administers
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.web.forms import Refused
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

ORGANISATION = "/organisation"
GROUPS = f"{ORGANISATION}/groups"

Page = Callable[[FormData, Refused], Response]


def text(form: FormData, name: str) -> str:
    """A form field, stripped ("" when absent)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    """A form field, None when blank."""
    return text(form, name) or None


async def submit(
    request: Request,
    act: Callable[[FormData], str],
    page: Page,
    fields: Mapping[str, str] | None = None,
) -> Response:
    """Run ``act`` on the submitted form and redirect to the URL it returns; when a service
    refuses, ``page`` again with the refusal (its status, messages by form field)."""
    form = await request.form()

    def run() -> Response:
        try:
            target = act(form)
        except LakeholdError as error:
            return page(form, Refused.of(error, fields))
        return RedirectResponse(target, status_code=303)

    return await run_in_threadpool(run)


@dataclass(frozen=True)
class Failure:
    """Which form on a page a service refused (``form``), with the refusal and what was sent."""

    form: str = ""
    refused: Refused | None = None
    values: FormData = field(default_factory=FormData)

    def errors(self, form: str) -> dict[str, str]:
        """The field messages of ``form`` (none when another form failed)."""
        return self.refused.errors if self.refused and self.form == form else {}

    def message(self, form: str) -> str | None:
        return self.refused.message if self.refused and self.form == form else None

    def value(self, form: str, name: str, default: str = "") -> str:
        """What was sent in ``name`` of ``form`` when it failed, else ``default``."""
        if self.form != form:
            return default
        sent = self.values.get(name)
        return sent if isinstance(sent, str) else default

    def chosen(self, form: str, name: str) -> list[str]:
        """The values sent in ``name`` (a multiple choice) of ``form`` when it failed."""
        return [str(v) for v in self.values.getlist(name)] if self.form == form else []

    def sent(self, form: str) -> bool:
        """Whether ``form`` is the one that failed (its checkboxes keep what was sent)."""
        return self.refused is not None and self.form == form

    @property
    def status(self) -> int:
        return self.refused.status if self.refused else 200


@dataclass(frozen=True)
class Access:
    """What the page may offer the principal: the services decide, this hides what they would
    refuse anyway. ``groups`` are the principal's groups."""

    principal: Principal
    groups: frozenset[str]

    @classmethod
    def of(cls, runtime: Runtime, principal: Principal) -> Access:
        mine = runtime.organisation.list_groups(principal)  # administrators: every group
        return cls(principal, frozenset(g.name for g in mine))

    def is_owner(self, unit: DomainUnitView) -> bool:
        """Named as an owner of ``unit`` (itself, not an ancestor)."""
        return any(
            (o.kind == "user" and o.name == self.principal.username)
            or (o.kind == "group" and o.name in self.groups)
            for o in unit.owners
        )

    def owned(self, units: list[DomainUnitView]) -> list[DomainUnitView]:
        """The units of one domain's tree (depth first) the principal owns, through an
        ancestor too; every unit for administrators."""
        if administers(self.principal):
            return list(units)
        owned_ids: set[str] = set()
        for unit in units:  # parents come before their children
            if self.is_owner(unit) or unit.parent_id in owned_ids:
                owned_ids.add(unit.id)
        return [u for u in units if u.id in owned_ids]


@dataclass
class UnitNode:
    unit: DomainUnitView
    owned: bool
    children: list[UnitNode] = field(default_factory=list)


@dataclass(frozen=True)
class DomainTree:
    domain: DomainView
    units: list[DomainUnitView]
    owned: list[DomainUnitView]
    root: UnitNode | None


def domain_trees(runtime: Runtime, principal: Principal, access: Access) -> list[DomainTree]:
    """Every domain with its unit tree and the units the principal owns."""
    trees = []
    for domain in runtime.catalog.list_domains(principal):
        units = runtime.organisation.list_units(principal, domain.name)
        owned = access.owned(units)
        owned_ids = {u.id for u in owned}
        nodes = {u.id: UnitNode(u, u.id in owned_ids) for u in units}
        root = None
        for unit in units:
            parent = nodes.get(unit.parent_id or "")
            if parent is None:
                root = nodes[unit.id]
            else:
                parent.children.append(nodes[unit.id])
        trees.append(DomainTree(domain, units, owned, root))
    return trees


def unit_of(runtime: Runtime, principal: Principal, form: FormData, name: str) -> DomainUnitView:
    """The unit chosen in form field ``name`` (its id); Invalid or NotFound naming ``unit``."""
    return runtime.organisation.get_unit(principal, text(form, name))


# -- domains and units -------------------------------------------------------------------------


@router.get(ORGANISATION)
def organisation_page(request: Request, principal: PagePrincipal) -> Response:
    """Domains as trees of units, with the forms the principal may use."""
    return _organisation_page(request, principal, Failure())


def _organisation_page(request: Request, principal: Principal, failure: Failure) -> Response:
    runtime = runtime_of(request)
    access = Access.of(runtime, principal)
    trees = domain_trees(runtime, principal, access)
    context = {
        "trees": trees,
        "may_create_domain": administers(principal),
        "may_create_unit": any(t.owned for t in trees),
        "failure": failure,
    }
    return render(request, "organisation/index.html", context, status_code=failure.status)


def _refused_on(request: Request, principal: Principal, form_name: str) -> Page:
    def page(form: FormData, refused: Refused) -> Response:
        return _organisation_page(request, principal, Failure(form_name, refused, form))

    return page


@router.post(f"{ORGANISATION}/domains")
async def create_domain(request: Request, principal: PagePrincipal) -> Response:
    """Create a domain (administrators; others get the service's 403)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        made = runtime.catalog.create_domain(
            principal, text(form, "name"), optional(form, "description")
        )
        return f"{ORGANISATION}#domain-{made.id}"

    return await submit(request, act, _refused_on(request, principal, "domain"))


@router.post(f"{ORGANISATION}/units")
async def create_unit(request: Request, principal: PagePrincipal) -> Response:
    """Create a unit below a parent unit (owners of the parent or an ancestor)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        parent = unit_of(runtime, principal, form, "parent")
        made = runtime.organisation.create_unit(
            principal,
            parent.domain,
            text(form, "name"),
            parent=parent.id,
            description=optional(form, "description"),
        )
        return f"{ORGANISATION}#unit-{made.id}"

    page = _refused_on(request, principal, "unit")
    return await submit(request, act, page, {"unit": "parent"})


# -- groups ------------------------------------------------------------------------------------


@router.get(GROUPS)
def groups_page(request: Request, principal: PagePrincipal) -> Response:
    """The groups the principal may see (administrators: all; others: their own)."""
    groups = runtime_of(request).organisation.list_groups(principal)
    return render(request, "organisation/groups.html", {"groups": groups})


@router.get(GROUPS + "/{group}")
def group_page(request: Request, group: str, principal: PagePrincipal) -> Response:
    """A group's members (administrators and members); administrators change them."""
    return _group_page(request, principal, group, Failure())


def _group_page(request: Request, principal: Principal, group: str, failure: Failure) -> Response:
    found = runtime_of(request).organisation.get_group(principal, group)
    context: dict[str, Any] = {
        "group": found,
        "may_manage": administers(principal),
        "failure": failure,
    }
    return render(request, "organisation/group.html", context, status_code=failure.status)


def _group_refused(request: Request, principal: Principal, group: str, form_name: str) -> Page:
    def page(form: FormData, refused: Refused) -> Response:
        return _group_page(request, principal, group, Failure(form_name, refused, form))

    return page


@router.post(GROUPS + "/{group}/members")
async def add_group_member(request: Request, group: str, principal: PagePrincipal) -> Response:
    """Add a user to a group (administrators)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        runtime.organisation.add_group_member(principal, group, text(form, "user"))
        return f"{GROUPS}/{group}"

    return await submit(request, act, _group_refused(request, principal, group, "add"))


@router.post(GROUPS + "/{group}/members/{user}/remove")
async def remove_group_member(
    request: Request, group: str, user: str, principal: PagePrincipal
) -> Response:
    """Remove a user from a group (administrators)."""
    runtime = runtime_of(request)

    def act(form: FormData) -> str:
        runtime.organisation.remove_group_member(principal, group, user)
        return f"{GROUPS}/{group}"

    return await submit(request, act, _group_refused(request, principal, group, f"user:{user}"))
