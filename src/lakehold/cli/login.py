"""``lakehold login --provider NAME``: sign in to a server with one of its OpenID Connect
providers and keep the short-lived API token it issues in a profile (ADR 0031)."""

from __future__ import annotations

import os
import sys
import webbrowser
from typing import Annotated, Literal

import typer

from lakehold.cli.session import console, errors, handles_errors

Flow = Literal["auto", "device", "loopback"]


def _server(url: str | None, profile: str) -> str:
    """The server to sign in to: ``--url``, else ``LAKEHOLD_URL``, else the profile's."""
    from lakehold.client.profiles import read_profiles
    from lakehold.errors import Invalid

    url = url or os.environ.get("LAKEHOLD_URL") or None
    if url is None:
        found = read_profiles().get(profile)
        url = found.url if found is not None else None
    if url is None:
        raise Invalid(f"which server? pass --url (profile {profile!r} has none yet)", field="url")
    return url.rstrip("/")


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)
    sys.stdout.flush()


@handles_errors
def login(
    provider: Annotated[
        str, typer.Option("--provider", help="The server's sign-in provider (its name).")
    ],
    url: Annotated[
        str | None,
        typer.Option(help="The server (default: LAKEHOLD_URL, else the profile's URL)."),
    ] = None,
    flow: Annotated[
        Flow,
        typer.Option(
            help="device: a code to confirm in any browser; loopback: a browser on this "
            "machine; auto: device when the provider offers it."
        ),
    ] = "auto",
    browser: Annotated[
        bool, typer.Option(help="Open the sign-in page in a browser (loopback).")
    ] = True,
) -> None:
    """Sign in to a server with an OpenID Connect provider; save the token in a profile.

    The server checks the ID token the provider (Okta, Entra ID, Keycloak, Google...) issues
    and gives you an API token, saved with the server's URL in the profile (LAKEHOLD_PROFILE
    or --profile; default: `default`). It expires after the security policy's default
    lifetime, else 12 hours.

    Example: lakehold login --provider okta --url https://lakehold.example.com
    """
    from lakehold.cli.oidc_flows import (
        DeviceGrantRefused,
        device_flow,
        discover,
        loopback_flow,
    )
    from lakehold.client import Client
    from lakehold.client.profiles import DEFAULT, Profile, save_profile
    from lakehold.errors import NotFound

    name = os.environ.get("LAKEHOLD_PROFILE") or DEFAULT
    server = _server(url, name)
    with Client(server, token=None) as client:
        offered = {p.name: p for p in client.sso.providers()}
        chosen = offered.get(provider)
        if chosen is None:
            known = ", ".join(sorted(offered)) or "none"
            raise NotFound(
                f"the server has no sign-in provider '{provider}' (it has: {known})",
                field="provider",
            )
        if not chosen.cli_client_id:
            raise NotFound(
                f"sign-in provider '{provider}' has no CLI client on this server",
                field="provider",
            )
        endpoints = discover(chosen.issuer, timeout=30)

        def show_code(link: str, code: str) -> None:
            _say(f"To sign in with {chosen.display_name}, open {link}")
            _say(f"and confirm the code {code}. Waiting...")

        def show_link(link: str) -> None:
            _say(f"To sign in with {chosen.display_name}, open {link}")
            if browser:
                webbrowser.open(link)

        tokens = None
        if flow == "device" or (flow == "auto" and endpoints.device_authorization):
            if endpoints.device_authorization is None:
                raise NotFound(
                    f"{chosen.display_name} offers no device authorization; use --flow loopback",
                    field="flow",
                )
            try:
                tokens = device_flow(
                    endpoints, chosen.cli_client_id, chosen.scopes, show_code, timeout=30
                )
            except DeviceGrantRefused:
                if flow == "device":
                    raise
                errors.print("the provider refused the device grant; using a browser instead")
        if tokens is None:
            tokens = loopback_flow(
                endpoints, chosen.cli_client_id, chosen.scopes, show_link, timeout=30
            )
        issued = client.sso.exchange(
            provider, tokens.id_token, access_token=tokens.access_token, nonce=tokens.nonce
        )
    path = save_profile(Profile(server, issued.value, name))
    expiry = f", until {issued.expires_at:%Y-%m-%d %H:%M} UTC" if issued.expires_at else ""
    _say(f"signed in as {issued.username}{expiry}; token saved in profile {name!r} ({path})")
