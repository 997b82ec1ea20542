"""My account (issue 13, page 8): my API tokens -- listed with their prefix, scopes, last use
and expiry; created with scopes and an expiry date, the value shown once on the response to
the creation and never again; revoked -- and a link to my sign-in sessions.

Pages with a token value are never cached (``Cache-Control: no-store``); the value is in the
response body only, never in a URL, a log or a later page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lakehold.errors import Invalid, LakeholdError
from lakehold.security.principal import ADMIN_ONLY_SCOPES, SCIM, SCOPES, Principal
from lakehold.security.service import TokenInfo
from lakehold.web.forms import Refused
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

ACCOUNT = "/account"
NO_STORE = {"Cache-Control": "no-store"}
PORTAL_SCOPES = sorted(SCOPES - {SCIM})
"""The scopes the form offers: a ``scim`` token is bound to an identity provider and issued
to it by administrators (``lakehold token create --scope scim --provider``, or the API)."""
FORM_FIELDS = {"expires_at": "expires_on", "identity_provider": "scopes"}
"""The service's field names, as the form calls them (refusals show next to the field)."""


@dataclass(frozen=True)
class TokenForm:
    """The token form as submitted (shown again when refused) and what it was refused for."""

    values: dict[str, Any] = field(default_factory=dict)
    refused: Refused | None = None


def _account_page(
    request: Request,
    principal: Principal,
    *,
    form: TokenForm | None = None,
    created: TokenInfo | None = None,
    status_code: int = 200,
) -> Response:
    runtime = request.app.state.runtime
    mine = [t for t in runtime.security.list_tokens(principal) if t.username == principal.username]
    context = {
        "principal": principal,
        "tokens": sorted(mine, key=lambda t: t.created_at, reverse=True),
        "scopes": PORTAL_SCOPES,
        "admin_only": ADMIN_ONLY_SCOPES,
        "form": form or TokenForm(),
        "created": created,
        "states": {t.id: token_state(t) for t in mine},
        "today": datetime.now(UTC).date().isoformat(),
    }
    return render(request, "account.html", context, status_code=status_code, headers=NO_STORE)


def token_state(token: TokenInfo) -> str:
    """active, revoked or expired."""
    if token.revoked:
        return "revoked"
    ends = token.expires_at
    if ends is not None and ends.replace(tzinfo=ends.tzinfo or UTC) <= datetime.now(UTC):
        return "expired"
    return "active"


@router.get(ACCOUNT)
def account(request: Request, principal: PagePrincipal) -> Response:
    """My tokens and the form to create one."""
    return _account_page(request, principal)


def expiry(value: str) -> datetime | None:
    """The end of the chosen day (UTC), or None for no expiry; a day in the past: Invalid."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid("expected a date such as 2027-01-31", field="expires_on") from None
    if day < datetime.now(UTC).date():
        raise Invalid("choose today or a later day", field="expires_on")
    return datetime.combine(day, time.max, tzinfo=UTC)


@router.post(f"{ACCOUNT}/tokens")
async def create_token(request: Request, principal: PagePrincipal) -> Response:
    """Issue a token for myself and show its value this once; refused: the form again."""
    form = await request.form()
    name = str(form.get("name", "")).strip()
    expires_on = str(form.get("expires_on", "")).strip()
    scopes = [str(s) for s in form.getlist("scopes")]
    namespaces = str(form.get("namespaces", ""))
    values = {"name": name, "expires_on": expires_on, "scopes": scopes, "namespaces": namespaces}
    security = request.app.state.runtime.security

    def create() -> Response:
        try:
            created = security.create_token(
                principal,
                name,
                expires_at=expiry(expires_on),
                scopes=scopes,
                namespaces=[n.strip() for n in namespaces.splitlines() if n.strip()],
            )
        except LakeholdError as error:
            refused = Refused.of(error, FORM_FIELDS)
            by_field = {k.split("[", 1)[0]: v for k, v in refused.errors.items()}  # namespaces[0]
            refused = Refused(refused.message, refused.status, by_field)
            form_state = TokenForm(values, refused)
            return _account_page(request, principal, form=form_state, status_code=refused.status)
        return _account_page(request, principal, created=created, status_code=201)

    return await run_in_threadpool(create)


@router.post(f"{ACCOUNT}/tokens/{{token_id}}/revoke")
def revoke_token(request: Request, token_id: str, principal: PagePrincipal) -> Response:
    """Revoke one of my tokens at once (another's: "not found", as the API says)."""
    try:
        request.app.state.runtime.security.revoke_token(principal, token_id)
    except LakeholdError as error:
        form = TokenForm(refused=Refused.of(error))
        return _account_page(request, principal, form=form, status_code=error.status_code)
    return RedirectResponse(f"{ACCOUNT}#tokens", status_code=303)
