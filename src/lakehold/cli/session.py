"""What every CLI command needs: the runtime, the acting principal, and error handling."""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer
from rich.console import Console

from lakehold.errors import LakeholdError

if TYPE_CHECKING:
    # the runtime (and the engines, services and store it brings) is imported by the commands
    # that open one, not when the CLI starts: ``lakehold --help`` stays fast
    from lakehold.client import Client
    from lakehold.config import Settings
    from lakehold.runtime import Runtime
    from lakehold.security.principal import Principal

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")

ADMIN_TOKEN_FILE = "admin_token"


def token_file(settings: Settings) -> Path:
    return settings.home / ADMIN_TOKEN_FILE


def save_admin_token(settings: Settings, value: str) -> Path:
    """Keep the bootstrap admin token in the home directory, readable by its owner only."""
    path = token_file(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: narrow it
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return path


def _home_is_implicit() -> bool:
    """True when ``LAKEHOLD_HOME`` is not set (settings read it case-insensitively)."""
    return not any(name.upper() == "LAKEHOLD_HOME" for name in os.environ)


def require_home(settings: Settings) -> None:
    """Stop (exit 2) when ``LAKEHOLD_HOME`` is unset and the default home does not exist:
    only ``lakehold demo`` and ``lakehold serve`` create a home."""
    if _home_is_implicit() and not settings.home.exists():
        default = Path.home() / ".lakehold"
        shown = "~/.lakehold" if settings.home == default else str(settings.home)
        errors.print(
            f"[red]error:[/red] no Lakehold home at {shown}: set LAKEHOLD_HOME or run "
            "`lakehold demo`/`lakehold serve` first",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(2)


def open_runtime(
    settings: Settings | None = None, *, create_home: bool = False
) -> tuple[Runtime, str | None]:
    """A runtime; on first start also the new admin token (saved to the home directory).
    The command is one request: its audit events share a request id. Without
    ``create_home`` (``demo`` and ``serve`` pass it) a missing default home is an error."""
    from lakehold.config import Settings
    from lakehold.kernel import requests
    from lakehold.runtime import Runtime

    settings = settings or Settings()
    if not create_home:
        require_home(settings)
    requests.begin(requests.new_request_id(os.environ.get("LAKEHOLD_REQUEST_ID")))
    runtime = Runtime(settings)
    created = runtime.security.bootstrap()
    if created is None:
        return runtime, None
    save_admin_token(runtime.settings, created[1])
    return runtime, created[1]


def connect() -> Client:
    """The SDK client a command acts through: a server's (``LAKEHOLD_URL`` and
    ``LAKEHOLD_TOKEN``, or a profile), else this home's: its warm process's when one serves
    this command (ADR 42), else its application served in process. On a home the command acts
    as ``LAKEHOLD_TOKEN`` or the saved admin token. Without a token, a service principal's
    ``LAKEHOLD_CLIENT_ID`` and ``LAKEHOLD_CLIENT_SECRET`` (or a profile's) get one. Either
    way the command takes the HTTP API's route; its requests share one request id."""
    from lakehold.client import Client
    from lakehold.client.profiles import resolve

    request_id = os.environ.get("LAKEHOLD_REQUEST_ID") or uuid.uuid4().hex[:16]  # server checks it
    found = resolve()
    if found is not None:
        client = Client(
            found.url,
            found.token,
            client_id=found.client_id,  # a service principal's, used without a token
            client_secret=found.client_secret,
        )
    else:
        client = _home_client()
    client.session.request_id = request_id
    return client


def _home_client() -> Client:
    """The client of this home: through its warm process, else in process."""
    from lakehold.cli.daemon.warm import warm_transport
    from lakehold.client import Client
    from lakehold.client.client import DEFAULT_TIMEOUT
    from lakehold.client.transport import Transport

    warm = warm_transport(timeout=DEFAULT_TIMEOUT)
    transport: Transport
    if warm is not None:
        transport, home = warm, warm.home
    else:
        from lakehold.api.inprocess import InProcessTransport

        runtime, _ = open_runtime()
        transport = InProcessTransport(runtime)  # an app of each path's routers (ADR 26)
        home = runtime.settings.home
    client_id = os.environ.get("LAKEHOLD_CLIENT_ID") or None
    if client_id is not None and not os.environ.get("LAKEHOLD_TOKEN"):
        secret = os.environ.get("LAKEHOLD_CLIENT_SECRET") or None
        return Client(transport=transport, client_id=client_id, client_secret=secret)
    return Client(token=local_token(home), transport=transport)


def local_token(home: Path) -> str | None:
    """``LAKEHOLD_TOKEN``, else the admin token saved in the home directory."""
    value = os.environ.get("LAKEHOLD_TOKEN") or None
    path = home / ADMIN_TOKEN_FILE
    if value is None and path.exists():
        value = path.read_text().strip()
    return value


def principal_of(runtime: Runtime, project: str | None = None) -> Principal:
    """The principal of :func:`local_token`."""
    return runtime.security.authenticate(local_token(runtime.settings.home)).in_project(project)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print typed errors as one line on stderr and exit with their code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LakeholdError as error:
            where = ", ".join(
                f"{k}={v}" for k, v in error.details.items() if k not in {"problems", "request_id"}
            )
            errors.print(f"[red]error:[/red] {error.message}" + (f" ({where})" if where else ""))
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def split_qualified(name: str) -> tuple[str, str]:
    """``project.table`` → ``(project, table)``."""
    project, dot, table = name.partition(".")
    if not dot or not project or not table:
        errors.print(f"[red]error:[/red] '{name}' is not of the form project.table")
        raise typer.Exit(2)
    return project, table
