"""``lakehold profile``: named servers for the CLI and the SDK (``~/.config/lakehold``)."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehold.cli.output import print_rows
from lakehold.cli.session import console, handles_errors

profiles = typer.Typer(
    help="Servers to work against: a URL and a token, chosen with LAKEHOLD_PROFILE or "
    "--profile (LAKEHOLD_URL and LAKEHOLD_TOKEN override them).",
    no_args_is_help=True,
)


@profiles.command("set")
@handles_errors
def set_profile(
    name: str,
    url: Annotated[str, typer.Option(help="The server, e.g. https://lakehold.example.com")],
    token: Annotated[
        str | None,
        typer.Option(help="An API token (default: ask for it, hidden)", show_default=False),
    ] = None,
) -> None:
    """Save a profile (the file is readable by you only); `default` is used when neither
    LAKEHOLD_URL nor LAKEHOLD_HOME is set.

    Example: lakehold profile set default --url https://lakehold.example.com
    """
    from lakehold.client.profiles import Profile, save_profile

    if token is None:
        token = typer.prompt("token", hide_input=True, default="", show_default=False) or None
    path = save_profile(Profile(url, token, name))
    console.print(f"saved profile [bold]{name}[/bold] in {path}")


@profiles.command("list")
@handles_errors
def list_profiles() -> None:
    """List the saved profiles (never their tokens).

    Example: lakehold profile list
    """
    from lakehold.client.profiles import read_profiles

    rows = read_profiles()
    print_rows(
        "profiles",
        ["name", "url", "token"],
        [(p.name, p.url, "saved" if p.token else "") for p in rows.values()],
    )
