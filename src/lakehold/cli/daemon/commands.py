"""``lakehold daemon``: the home's warm process (ADR 42), seen and stopped."""

from __future__ import annotations

import os

import typer

from lakehold.cli.daemon.place import Place, alive
from lakehold.cli.daemon.stamp import home_of, stamp
from lakehold.cli.daemon.warm import enabled, serves, stop
from lakehold.cli.session import console

daemon = typer.Typer(
    help="The home's warm process: commands on a local home are served by it once started "
    "(LAKEHOLD_DAEMON=off: never); it leaves after LAKEHOLD_DAEMON_IDLE_SECONDS unused.",
    no_args_is_help=True,
)


@daemon.command("status")
def status() -> None:
    """Whether the home's warm process runs, since when, and whether it serves this shell's
    commands (same code, interpreter and environment). Exit code 1 when none runs.

    Example: lakehold daemon status
    """
    home = home_of(os.environ)
    place = Place(home)
    state = place.read_state() if place.owned() else None
    if state is not None and not alive(state.pid):
        state = None  # what a killed process left
    running = place.running()
    if state is None or not running:
        console.print(
            f"a warm process for {home} is starting or leaving"
            if running
            else f"no warm process for {home}",
            highlight=False,
        )
        if not enabled(os.environ):
            console.print("(LAKEHOLD_DAEMON=off: commands run in their own process)")
        elif os.path.lexists(place.directory) and not place.owned():
            console.print(
                f"({place.directory} is not a private directory of yours: it is not used; "
                "remove it and the next command starts one)",
                highlight=False,
            )
        raise typer.Exit(1)
    try:
        fits = serves(state, stamp(os.environ, home), os.getcwd())
    except FileNotFoundError:  # this directory was removed: no command here is served
        fits = False
    console.print(
        f"warm process {state.pid} for {home}, since {state.started_at}, leaves after "
        f"{state.idle_seconds} s unused; serves this shell: "
        + ("yes" if fits else "no (code, interpreter, environment or directory differ)"),
        highlight=False,
    )


@daemon.command("stop")
def stop_command() -> None:
    """Stop the home's warm process (the next command starts another).

    Example: lakehold daemon stop
    """
    home = home_of(os.environ)
    if stop(Place(home)):
        console.print(f"stopped the warm process for {home}", highlight=False)
    else:
        console.print(f"no warm process for {home}", highlight=False)
