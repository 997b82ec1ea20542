"""``lakehold connection`` and ``lakehold datasource``: federated sources and their crawlers.

A password is never a plain argument (it would show in ``ps`` and shell history): it comes
from standard input (``--password-stdin``), an environment variable (``--password-env``) or
a hidden prompt (``--ask-password``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakehold.cli.output import as_dict, print_json, print_records
from lakehold.cli.session import (
    connect,
    console,
    errors,
    handles_errors,
    open_runtime,
    principal_of,
    split_qualified,
)

if TYPE_CHECKING:
    from lakehold.client.models import CertificateView, ConnectionView, DataSourceView, RunView

connections = typer.Typer(help="Connections to external databases and files.", no_args_is_help=True)
datasources = typer.Typer(help="Data sources: crawlers importing tables.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="project.name")]
ProjectArg = Annotated[str, typer.Argument(help="The project")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
HostOpt = Annotated[str | None, typer.Option(help="Server host (postgresql, mysql)")]
PortOpt = Annotated[int | None, typer.Option(help="Server port (postgresql, mysql)")]
DatabaseOpt = Annotated[str | None, typer.Option(help="Database name (postgresql, mysql)")]
UserOpt = Annotated[str | None, typer.Option(help="User name (postgresql, mysql)")]
PathOpt = Annotated[str | None, typer.Option(help="Absolute path: SQLite file or folder")]
SslModeOpt = Annotated[
    str | None,
    typer.Option(
        "--sslmode",
        help="TLS mode: postgresql disable|allow|prefer|require|verify-ca|verify-full "
        "(sslmode); mysql disabled|preferred|required|verify_ca|verify_identity (ssl_mode)",
    ),
]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input")
]
EnvOpt = Annotated[
    str | None, typer.Option("--password-env", help="Read the password from this variable")
]
AskOpt = Annotated[bool, typer.Option("--ask-password", help="Prompt for the password")]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile-file",
        help="delta_sharing: the share profile file another organisation gave you (its "
        "endpoint, bearer token and expiry)",
    ),
]


def _password(stdin: bool, env: str | None, ask: bool) -> str | None:
    if sum((stdin, env is not None, ask)) > 1:
        errors.print(
            "[red]error:[/red] use one of --password-stdin, --password-env, --ask-password"
        )
        raise typer.Exit(2)
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if env is not None:
        if env not in os.environ:
            errors.print(f"[red]error:[/red] environment variable {env} is not set")
            raise typer.Exit(2)
        return os.environ[env]
    if ask:
        return typer.prompt("Password", hide_input=True)
    return None


def _profile_only(profile: str | None, kind: str | None, *others: object) -> bool:
    """Whether a profile file is given; exit 2 when it is given with another kind, or with
    parameters or a password (the profile holds them)."""
    if profile is None:
        return False
    if kind not in (None, "delta_sharing") or any(o not in (None, False) for o in others):
        errors.print(
            "[red]error:[/red] --profile-file is for --kind delta_sharing, without other "
            "parameters or a password"
        )
        raise typer.Exit(2)
    return True


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _tls(kind: str, sslmode: str | None) -> dict[str, Any]:
    """The TLS parameter as the connection's kind names it (``ssl_mode`` for mysql)."""
    if sslmode is None:
        return {}
    return {"ssl_mode" if kind == "mysql" else "sslmode": sslmode}


def _show_connections(views: list[ConnectionView], as_json: bool) -> None:
    print_records(
        views,
        as_json,
        None,
        ["name", "kind", "params", "password", "created by"],
        lambda v: (
            f"{v.project}.{v.name}",
            v.kind,
            " ".join(f"{k}={p}" for k, p in v.params.items()),
            "set" if v.has_secret else "",
            v.created_by,
        ),
    )


@connections.command("create")
@handles_errors
def create_connection(
    name: NameArg,
    kind: Annotated[str, typer.Option(help="postgresql, mysql, sqlite, files or delta_sharing")],
    profile_file: ProfileOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    database: DatabaseOpt = None,
    user: UserOpt = None,
    path: PathOpt = None,
    sslmode: SslModeOpt = None,
    password_stdin: StdinOpt = False,
    password_env: EnvOpt = None,
    ask_password: AskOpt = False,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a connection of a project (its owners); the password is stored encrypted.
    The host must be on the network allow-list (`lakehold network list`; administrators
    may also reach public addresses) and, unless you are an administrator, the user must
    be a role that can only read tables (no superuser, FILE or server-file roles).

    A delta_sharing connection reads another organisation's shares: give the profile file
    it sent (--profile-file); its endpoint must be on the allow-list too.

    Example: echo "$PGPASSWORD" | lakehold connection create sales.crm --kind postgresql
    --host db.internal --database crm --user reader --sslmode verify-full --password-stdin

    Example: lakehold connection create partners.acme --kind delta_sharing
    --profile-file acme.share
    """
    project, connection = split_qualified(name)
    given = (host, port, database, user, path, sslmode, password_stdin, password_env)
    if _profile_only(profile_file, kind, *given, ask_password):
        assert profile_file is not None
        view = connect().connections.create_from_profile(
            project, connection, profile_file, description=description
        )
        console.print(f"created connection {view.project}.{view.name} ({view.kind})")
        return
    view = connect().connections.create(
        project,
        connection,
        kind,
        _params(host=host, port=port, database=database, user=user, path=path)
        | _tls(kind, sslmode),
        password=_password(password_stdin, password_env, ask_password),
        description=description,
    )
    console.print(f"created connection {view.project}.{view.name} ({view.kind})")


@connections.command("list")
@handles_errors
def list_connections(project: ProjectArg, json_output: JsonOpt = False) -> None:
    """The connections of a project (its owners).

    Example: lakehold connection list sales
    """
    _show_connections(connect().connections.list(project), json_output)


@connections.command("show")
@handles_errors
def show_connection(name: NameArg, json_output: JsonOpt = False) -> None:
    """One connection, without its password.

    Example: lakehold connection show sales.crm --json
    """
    project, connection = split_qualified(name)
    _show_connections([connect().connections.get(project, connection)], json_output)


@connections.command("update")
@handles_errors
def update_connection(
    name: NameArg,
    profile_file: ProfileOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    database: DatabaseOpt = None,
    user: UserOpt = None,
    path: PathOpt = None,
    sslmode: SslModeOpt = None,
    password_stdin: StdinOpt = False,
    password_env: EnvOpt = None,
    ask_password: AskOpt = False,
    clear_password: Annotated[bool, typer.Option(help="Remove the password")] = False,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Change parameters, the password or the description of a connection.

    Example: lakehold connection update sales.crm --host db2.internal --password-env CRM_PW

    Example: lakehold connection update partners.acme --profile-file acme-renewed.share
    """
    project, connection = split_qualified(name)
    given = (host, port, database, user, path, sslmode, password_stdin, password_env)
    if _profile_only(profile_file, None, *given, ask_password, clear_password):
        assert profile_file is not None
        view = connect().connections.update_profile(project, connection, profile_file)
        console.print(f"updated connection {view.project}.{view.name} from its new profile")
        return
    params = _params(host=host, port=port, database=database, user=user, path=path)
    client = connect()
    if sslmode is not None:
        params |= _tls(client.connections.get(project, connection).kind, sslmode)
    view = client.connections.update(
        project,
        connection,
        params=params or None,
        password=_password(password_stdin, password_env, ask_password),
        clear_password=clear_password,
        description=description,
    )
    console.print(f"updated connection {view.project}.{view.name}")


@connections.command("delete")
@handles_errors
def delete_connection(name: NameArg) -> None:
    """Delete a connection, its data sources and federated assets (refused while an asset
    has an active grant or listing).

    Example: lakehold connection delete sales.crm
    """
    project, connection = split_qualified(name)
    connect().connections.delete(project, connection)
    console.print(f"deleted connection {project}.{connection}")


@connections.command("test")
@handles_errors
def test_connection(name: NameArg, json_output: JsonOpt = False) -> None:
    """Reach the source: its version and table count (exit code 8 when unreachable, 2 when
    its host or role is not allowed).

    Example: lakehold connection test sales.crm
    """
    project, connection = split_qualified(name)
    result = connect().connections.test(project, connection)
    if json_output:
        print_json(as_dict(result))
        return
    console.print(
        f"ok: {project}.{connection} ({result.kind}) {result.version}; "
        f"{result.tables} tables; {result.elapsed_ms} ms"
    )


def _show_certificates(views: list[CertificateView], as_json: bool) -> None:
    print_records(
        views,
        as_json,
        None,
        ["connection", "status", "expires", "days left", "subject", "issuer", "checked"],
        lambda v: (
            f"{v.project}.{v.connection}",
            v.status + (f" ({v.error})" if v.error else ""),
            v.not_after.strftime("%Y-%m-%d %H:%M") if v.not_after else "",
            "" if v.days_left is None else v.days_left,
            v.subject or "",
            v.issuer or "",
            v.checked_at.strftime("%Y-%m-%d %H:%M") if v.checked_at else "never",
        ),
    )


@connections.command("certificates")
@handles_errors
def list_certificates(
    within_days: Annotated[
        int | None,
        typer.Option("--within-days", help="Only certificates expiring within N days (or expired)"),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """The TLS certificates of the server connections you may see, soonest expiry first:
    status ok, expiring (30 days), expired, no_tls, unreachable or unchecked. Checked daily,
    and when a connection is created, changed or tested.

    Example: lakehold connection certificates --within-days 30
    """
    _show_certificates(connect().connections.certificates(within_days=within_days), json_output)


@connections.command("check-certificate")
@handles_errors
def check_certificate(name: NameArg, json_output: JsonOpt = False) -> None:
    """Read the TLS certificate of a connection's server now (its project's owners).

    Example: lakehold connection check-certificate sales.crm
    """
    project, connection = split_qualified(name)
    _show_certificates([connect().connections.check_certificate(project, connection)], json_output)


@connections.command("rotate-key")
@handles_errors
def rotate_key() -> None:
    """Re-encrypt every connection password with a new key (administrators).

    With the key file (LAKEHOLD_HOME/secret.key) a new key replaces it; with
    LAKEHOLD_SECRET_KEY, set the new key there and the old one in LAKEHOLD_SECRET_KEY_PREVIOUS
    first. Restart other API processes that use a changed LAKEHOLD_SECRET_KEY. It runs on
    the server's host, on its home (not against LAKEHOLD_URL).

    Example: lakehold connection rotate-key
    """
    from lakehold.client.profiles import resolve

    # A local administration task on the key of this home: in process, never over HTTP.
    if resolve() is not None:
        errors.print(
            "[red]error:[/red] rotate-key runs on the server's host, with its LAKEHOLD_HOME "
            "(unset LAKEHOLD_URL and LAKEHOLD_PROFILE)"
        )
        raise typer.Exit(2)
    runtime, _ = open_runtime()
    count = runtime.connections.rotate_key(principal_of(runtime))
    console.print(f"re-encrypted {count} secret(s) ({runtime.secrets.key_source})")


# -- data sources ------------------------------------------------------------------------------


def _show_sources(views: list[DataSourceView], as_json: bool) -> None:
    print_records(
        views,
        as_json,
        None,
        ["name", "connection", "schemas", "include", "exclude", "schedule", "next run"],
        lambda v: (
            f"{v.project}.{v.name}",
            v.connection,
            ", ".join(v.schemas),
            ", ".join(v.include),
            ", ".join(v.exclude),
            v.schedule if v.enabled else f"{v.schedule or ''} (disabled)",
            v.next_run_at,
        ),
    )


def _show_runs(views: list[RunView], as_json: bool) -> None:
    print_records(
        views,
        as_json,
        None,
        [
            "run",
            "status",
            "trigger",
            "started",
            "added",
            "updated",
            "unchanged",
            "missing",
            "errors",
        ],
        lambda v: (
            v.id,
            v.status,
            v.trigger,
            v.started_at,
            v.tables_added,
            v.tables_updated,
            v.tables_unchanged,
            v.tables_missing,
            "; ".join(e.get("message", "") for e in v.errors),
        ),
    )


@datasources.command("create")
@handles_errors
def create_data_source(
    name: NameArg,
    connection: Annotated[str, typer.Option(help="A connection of the same project")],
    schema: Annotated[
        list[str] | None, typer.Option("--schema", help="Schema glob pattern (repeat)")
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Table glob pattern (repeat)")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Table glob pattern to skip (repeat)")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help="Cron expression, UTC")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Do not run on schedule")] = False,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a data source crawling a connection.

    Example: lakehold datasource create sales.crm_tables --connection crm --schema public
    --exclude 'tmp_*' --schedule '0 3 * * *'
    """
    project, source = split_qualified(name)
    view = connect().data_sources.create(
        project,
        source,
        connection,
        schemas=schema,
        include=include,
        exclude=exclude,
        schedule=schedule,
        enabled=not disabled,
        description=description,
    )
    console.print(f"created data source {view.project}.{view.name}")


@datasources.command("list")
@handles_errors
def list_data_sources(project: ProjectArg, json_output: JsonOpt = False) -> None:
    """The data sources of a project (its owners).

    Example: lakehold datasource list sales
    """
    _show_sources(connect().data_sources.list(project), json_output)


@datasources.command("run")
@handles_errors
def run_data_source(name: NameArg, json_output: JsonOpt = False) -> None:
    """Crawl a data source now (exit code 8 when its source is unreachable).

    Example: lakehold datasource run sales.crm_tables
    """
    project, source = split_qualified(name)
    _show_runs([connect().data_sources.run(project, source)], json_output)


@datasources.command("runs")
@handles_errors
def list_runs(
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    json_output: JsonOpt = False,
) -> None:
    """The latest runs of a data source, newest first.

    Example: lakehold datasource runs sales.crm_tables --limit 5
    """
    project, source = split_qualified(name)
    _show_runs(connect().data_sources.runs(project, source, limit=limit), json_output)


@datasources.command("delete")
@handles_errors
def delete_data_source(name: NameArg) -> None:
    """Delete a data source and its runs; the assets it imported stay.

    Example: lakehold datasource delete sales.crm_tables
    """
    project, source = split_qualified(name)
    connect().data_sources.delete(project, source)
    console.print(f"deleted data source {project}.{source}")
