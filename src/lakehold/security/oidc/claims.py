"""Who a validated ID token says the user is: issuer and subject (the key Lakehold matches
users by), the username, name, email and group claims, completed from the provider's
UserInfo endpoint when the ID token leaves them out (ADR 0031)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from lakehold.config import OidcProvider
from lakehold.security.oidc.discovery import ProviderMetadata, ProviderUnavailable, get_json
from lakehold.security.oidc.refusals import INVALID_TOKEN, refused

MAX_GROUPS = 1000
_USERNAME_LENGTH = 64
_NOT_USERNAME = re.compile(r"[^a-z0-9_.-]+")


@dataclass(frozen=True)
class Identity:
    """A person as a provider asserts them."""

    provider: str
    issuer: str
    subject: str
    username: str | None
    """The raw value of the provider's username claim."""
    display_name: str | None = None
    email: str | None = None
    groups: tuple[str, ...] = ()
    """The raw values of the provider's group claim."""


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(v for v in value[:MAX_GROUPS] if isinstance(v, str) and v))


def identity_of(provider: OidcProvider, claims: dict[str, Any]) -> Identity:
    """The identity of validated ``claims`` (those of the ID token, completed by UserInfo)."""
    return Identity(
        provider=provider.name,
        issuer=claims["iss"],
        subject=claims["sub"],
        username=_text(claims.get(provider.username_claim), 320),
        display_name=_text(claims.get("name"), 200),
        email=_text(claims.get("email"), 320),
        groups=_groups(claims.get(provider.groups_claim)),
    )


def needs_userinfo(provider: OidcProvider, claims: dict[str, Any]) -> bool:
    """Whether the ID token lacks a claim Lakehold uses (username; groups, when mapped)."""
    wants_groups = bool(provider.group_mapping or provider.admin_groups)
    return provider.username_claim not in claims or (
        wants_groups and provider.groups_claim not in claims
    )


def with_userinfo(
    provider: OidcProvider,
    metadata: ProviderMetadata,
    claims: dict[str, Any],
    access_token: str | None,
    timeout: float,
) -> dict[str, Any]:
    """``claims`` completed from the UserInfo endpoint with ``access_token`` when they lack a
    claim Lakehold uses; the ID token's own claims win, and UserInfo must be about the same
    subject (refused, ``invalid token``, otherwise)."""
    if not access_token or not metadata.userinfo_endpoint or not needs_userinfo(provider, claims):
        return claims
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"Authorization": f"Bearer {access_token}"},
    ) as http:
        try:
            info = get_json(http, metadata.userinfo_endpoint, "the user's claims (UserInfo)")
        except ProviderUnavailable as error:
            message = f"the access token was not accepted: {error.message}"
            raise refused(INVALID_TOKEN, message) from None
    if info.get("sub") != claims["sub"]:
        raise refused(INVALID_TOKEN, "the provider's UserInfo is about another subject")
    return {**info, **claims}


def username_base(value: str | None, subject: str) -> str:
    """A valid Lakehold username made of a claim's value (:func:`lakehold.names.
    check_username` rules): lower case, an email's local part, other characters as ``-``,
    at most 64 characters; from the subject when nothing is left."""
    text = (value or "").strip().lower()
    if "@" in text:
        text = text.split("@", 1)[0]
    text = _NOT_USERNAME.sub("-", text).strip("-_.")
    if not text:
        text = "user-" + _NOT_USERNAME.sub("-", subject.lower()).strip("-_.")[:32]
    return text[:_USERNAME_LENGTH].rstrip("-_.") or "user"


def numbered(base: str, number: int) -> str:
    """``base`` with ``-<number>``, shortened to stay a valid username."""
    suffix = f"-{number}"
    return base[: _USERNAME_LENGTH - len(suffix)].rstrip("-_.") + suffix
