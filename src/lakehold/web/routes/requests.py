"""Request and approve (the subscription workflow) as the signed-in principal.

- ``/listings/{id}/request``: ask for a published listing for one of one's projects, with a
  reason and the metadata forms that rules require at subscription time.
- ``/requests``: incoming requests (approve fully or with row/column filters, existing or
  written there and then; reject with a comment), outgoing requests with their status, and
  grants (incoming: change filters in place, revoke; outgoing: read).

Every change goes through the services, which authorize and audit it. A written filter is
validated first (also live, through htmx) and created just before the decision; when the
decision is refused, the filters created for it are deleted again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lakehold.errors import Invalid, LakeholdError
from lakehold.governance.subscriptions import ItemDecision, SubscriptionRequestView
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.web.forms import Refused
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

NEW = "_new"
"""The filter choice "write a new filter" (filter names start with a letter or digit)."""
Kind = Literal["row", "column"]
KINDS: tuple[Kind, ...] = ("row", "column")
REQUESTS = "/requests"


# -- asking for access -------------------------------------------------------------------------


@router.get("/listings/{listing_id}/request")
def request_form(request: Request, listing_id: str, principal: PagePrincipal) -> Response:
    """The "Request access" form of a published listing."""
    try:
        return _request_page(request, principal, listing_id)
    except LakeholdError as error:
        return _request_page(request, principal, listing_id, Refused.of(error))


@router.post("/listings/{listing_id}/request")
async def send_request(request: Request, listing_id: str, principal: PagePrincipal) -> Response:
    """Send the request; refused: the form again, each message next to its field."""
    form = await request.form()
    runtime = runtime_of(request)

    def send() -> Response:
        try:
            forms = runtime.rules.subscription_forms(principal, [listing_id])
            values = {
                required.form: {
                    f.name: form.get(f"forms.{required.form}.{f.name}", "")
                    for f in runtime.forms.get_form(principal, required.form_id).fields
                }
                for required in forms
            }
            runtime.subscriptions.request(
                principal,
                str(form.get("project", "")),
                [listing_id],
                str(form.get("reason", "")),
                form_values=values,
            )
        except LakeholdError as error:
            return _request_page(request, principal, listing_id, Refused.of(error), form)
        return RedirectResponse(f"{REQUESTS}#outgoing", status_code=303)

    return await run_in_threadpool(send)


def _request_page(
    request: Request,
    principal: Principal,
    listing_id: str,
    refused: Refused | None = None,
    form: FormData | None = None,
) -> Response:
    runtime = runtime_of(request)
    context: dict[str, Any] = {
        "listing": None,
        "projects": [],
        "forms": [],
        "refused": refused,
        "values": form or FormData(),
    }
    try:
        listing = runtime.listings.get_listing(principal, listing_id)
        required = runtime.rules.subscription_forms(principal, [listing_id])
    except LakeholdError as error:
        return render(request, "request_form.html", context, status_code=error.status_code)
    context.update(
        listing=listing,
        projects=[p for p in runtime.catalog.list_projects(principal) if p.name != listing.project],
        forms=[(r, runtime.forms.get_form(principal, r.form_id)) for r in required],
    )
    status = refused.status if refused else 200
    return render(request, "request_form.html", context, status_code=status)


# -- the inbox ---------------------------------------------------------------------------------


@router.get(REQUESTS)
def requests_page(request: Request, principal: PagePrincipal) -> Response:
    """Incoming and outgoing requests, and the grants they made."""
    return _requests_page(request, principal)


@dataclass(frozen=True)
class AssetChoices:
    """What an owner may choose from for an asset: its filters by kind and its columns."""

    row_filters: list[Any] = field(default_factory=list)
    column_filters: list[Any] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def _choices(runtime: Runtime, principal: Principal, assets: set[str]) -> dict[str, AssetChoices]:
    found = {}
    for qualified in sorted(assets):
        project, table = qualified.split(".", 1)
        try:
            filters = runtime.filters.list_filters(principal, project, table)
            columns = [c.name for c in runtime.catalog.get_asset(principal, project, table).columns]
        except LakeholdError:
            found[qualified] = AssetChoices()
            continue
        found[qualified] = AssetChoices(
            [f for f in filters if f.kind == "row"],
            [f for f in filters if f.kind == "column"],
            columns,
        )
    return found


def _requests_page(
    request: Request,
    principal: Principal,
    *,
    failed: str | None = None,
    refused: Refused | None = None,
    form: FormData | None = None,
) -> Response:
    """The page; ``failed`` names the request or grant whose form ``refused`` refused."""
    runtime = runtime_of(request)
    incoming = runtime.subscriptions.list_requests(principal, direction="incoming")
    outgoing = runtime.subscriptions.list_requests(principal, direction="outgoing")
    owned = {r.owning_project for r in incoming}
    asked = {r.id for r in outgoing}
    grants = runtime.grants.list_grants(principal)
    granted_in = [g for g in grants if g.asset.split(".", 1)[0] in owned]
    granted_out = [g for g in grants if g.request_id in asked]
    pending = [i.asset for r in incoming if r.status == "requested" for i in r.items]
    choices = _choices(runtime, principal, {*pending, *(g.asset for g in granted_in)})
    context = {
        "incoming": incoming,
        "outgoing": outgoing,
        "grants_in": granted_in,
        "grants_out": granted_out,
        "choices": choices,
        "new": NEW,
        "failed": failed,
        "refused": refused,
        "values": form or FormData(),
        "empty_form": FormData(),
    }
    return render(request, "requests.html", context, status_code=refused.status if refused else 200)


# -- filters chosen or written in a form ---------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One filter of a decision: none, an existing one by name, or a new one written in the
    form. Its form fields end in ``.{key}`` (the listing's or the grant's id)."""

    kind: Kind
    key: str
    existing: str | None = None
    new_name: str | None = None
    expression: str | None = None
    columns: list[str] | None = None

    @property
    def is_new(self) -> bool:
        return self.new_name is not None

    @property
    def fields(self) -> dict[str, str]:
        """Service field names -> this choice's form fields."""
        detail = "expression" if self.kind == "row" else "columns"
        return {
            detail: f"{self.kind}_{detail}.{self.key}",
            "name": f"{self.kind}_name.{self.key}",
            f"{self.kind}_filter": f"{self.kind}_choice.{self.key}",
        }


def _choice(form: FormData, kind: Kind, key: str) -> Choice:
    picked = str(form.get(f"{kind}_choice.{key}") or "")
    if picked != NEW:
        return Choice(kind, key, existing=picked or None)
    name = str(form.get(f"{kind}_name.{key}") or "").strip()
    if kind == "row":
        return Choice(kind, key, new_name=name, expression=str(form.get(f"row_expression.{key}")))
    columns = [str(c) for c in form.getlist(f"column_columns.{key}")]
    return Choice(kind, key, new_name=name, columns=columns)


def _check(runtime: Runtime, principal: Principal, asset: str, choice: Choice) -> None:
    project, table = asset.split(".", 1)
    runtime.filters.check_filter(
        principal,
        project,
        table,
        kind=choice.kind,
        expression=choice.expression,
        columns=choice.columns,
    )


@dataclass
class Written:
    """The filters created for one decision, deleted again (:meth:`undo`) if it is refused."""

    runtime: Runtime
    principal: Principal
    created: list[tuple[str, str]] = field(default_factory=list)

    def settle(self, asset: str, choices: list[Choice]) -> dict[Kind, str | None]:
        """The filter name of each choice, new filters created (all validated first)."""
        errors: dict[str, str] = {}
        for choice in choices:
            if choice.is_new:
                try:
                    _check(self.runtime, self.principal, asset, choice)
                except Invalid as error:
                    errors.update(Refused.of(error, choice.fields).errors)
                except LakeholdError as error:  # not the owners' asset: as the API says
                    raise Refused.of(error) from None
        if errors:
            raise Refused("the filters written are not valid: see the fields", 400, errors)
        project, table = asset.split(".", 1)
        names: dict[Kind, str | None] = {}
        for choice in choices:
            if not choice.is_new:
                names[choice.kind] = choice.existing
                continue
            try:
                made = self.runtime.filters.create_filter(
                    self.principal,
                    project,
                    table,
                    choice.new_name or "",
                    kind=choice.kind,
                    expression=choice.expression,
                    columns=choice.columns,
                )
            except LakeholdError as error:
                raise Refused.of(error, choice.fields) from None
            self.created.append((asset, made.name))
            names[choice.kind] = made.name
        return names

    def undo(self) -> None:
        for asset, name in reversed(self.created):
            project, table = asset.split(".", 1)
            self.runtime.filters.delete_filter(self.principal, project, table, name)
        self.created.clear()


async def _decide(
    request: Request,
    principal: Principal,
    target: str,
    decide: Callable[[FormData, Written], None],
) -> Response:
    """Run ``decide`` on the submitted form; refused: the page again, with the messages next
    to the fields of ``target``'s form and the status the API would give."""
    form = await request.form()
    runtime = runtime_of(request)

    def run() -> Response:
        written = Written(runtime, principal)
        try:
            decide(form, written)
        except (LakeholdError, Refused) as error:
            written.undo()
            refused = error if isinstance(error, Refused) else Refused.of(error)
            return _requests_page(request, principal, failed=target, refused=refused, form=form)
        return RedirectResponse(f"{REQUESTS}#{target}", status_code=303)

    return await run_in_threadpool(run)


@router.post("/requests/{request_id}/approve")
async def approve(request: Request, request_id: str, principal: PagePrincipal) -> Response:
    """Approve: each listing fully, or with the filters chosen or written for it."""
    runtime = runtime_of(request)

    def decide(form: FormData, written: Written) -> None:
        asked = runtime.subscriptions.get_request(principal, request_id)
        items = []
        for item in asked.items:
            names = written.settle(item.asset, [_choice(form, k, item.listing_id) for k in KINDS])
            items.append(ItemDecision(item.listing_id, names["row"], names["column"]))
        try:
            runtime.subscriptions.approve(
                principal, request_id, items=items, comment=_comment(form)
            )
        except LakeholdError as error:
            raise Refused.of(error, _item_fields(asked)) from None

    return await _decide(request, principal, request_id, decide)


def _item_fields(asked: SubscriptionRequestView) -> dict[str, str]:
    """An approval's filter fields, next to the choices of a one-listing request."""
    if len(asked.items) != 1:
        return {}
    return {f"{k}_filter": f"{k}_choice.{asked.items[0].listing_id}" for k in KINDS}


@router.post("/requests/{request_id}/reject")
async def reject(request: Request, request_id: str, principal: PagePrincipal) -> Response:
    """Reject, with a comment for the requester."""
    runtime = runtime_of(request)

    def decide(form: FormData, written: Written) -> None:
        runtime.subscriptions.reject(principal, request_id, comment=_comment(form))

    return await _decide(request, principal, request_id, decide)


@router.post("/grants/{grant_id}/filters")
async def change_filters(request: Request, grant_id: str, principal: PagePrincipal) -> Response:
    """Change a grant's filters in place: the same grant reads through the new ones."""
    runtime = runtime_of(request)

    def decide(form: FormData, written: Written) -> None:
        grant = runtime.grants.get_grant(principal, grant_id)
        names = written.settle(grant.asset, [_choice(form, k, grant_id) for k in KINDS])
        try:
            runtime.grants.change_filters(
                principal, grant_id, row_filter=names["row"], column_filter=names["column"]
            )
        except LakeholdError as error:
            fields = {f"{k}_filter": f"{k}_choice.{grant_id}" for k in KINDS}
            raise Refused.of(error, fields) from None

    return await _decide(request, principal, grant_id, decide)


@router.post("/grants/{grant_id}/revoke")
async def revoke(request: Request, grant_id: str, principal: PagePrincipal) -> Response:
    """Revoke a grant: the subscribers' next statement no longer reads the asset."""
    runtime = runtime_of(request)

    def decide(form: FormData, written: Written) -> None:
        runtime.grants.revoke(principal, grant_id)

    return await _decide(request, principal, grant_id, decide)


def _comment(form: FormData) -> str | None:
    return str(form.get("comment") or "").strip() or None


# -- live validation (htmx) ----------------------------------------------------------------------


@router.post("/requests/{request_id}/check/{kind}/{listing_id}")
async def check_item_filter(
    request: Request, request_id: str, kind: Kind, listing_id: str, principal: PagePrincipal
) -> Response:
    """The written filter of one listing of a request, validated by the filter service."""
    runtime = runtime_of(request)

    def asset() -> str:
        asked = runtime.subscriptions.get_request(principal, request_id)
        for item in asked.items:
            if item.listing_id == listing_id:
                return item.asset
        raise Invalid(f"listing '{listing_id}' is not part of this request", field="listing")

    return await _checked(request, principal, kind, listing_id, asset)


@router.post("/grants/{grant_id}/check/{kind}")
async def check_grant_filter(
    request: Request, grant_id: str, kind: Kind, principal: PagePrincipal
) -> Response:
    """The written filter of a grant's change, validated by the filter service."""
    runtime = runtime_of(request)
    return await _checked(
        request,
        principal,
        kind,
        grant_id,
        lambda: runtime.grants.get_grant(principal, grant_id).asset,
    )


async def _checked(
    request: Request, principal: Principal, kind: Kind, key: str, asset: Callable[[], str]
) -> Response:
    """The check's message as a fragment (200: htmx swaps it next to the field)."""
    form = await request.form()
    runtime = runtime_of(request)
    choice = _choice(form, kind, key)

    def check() -> str | None:
        if not choice.is_new:
            return None
        try:
            _check(runtime, principal, asset(), choice)
        except LakeholdError as error:
            return error.message
        return None

    message = await run_in_threadpool(check)
    context = {"message": message, "checked": choice.is_new}
    return render(request, "requests/_check.html", context)
