"""The ``lakehold`` command.

Its commands are listed here, each by the module that defines it, and imported only when run:
``lakehold domain list`` builds the ``domain`` group alone, not the hundred-odd commands of
every group (and their imports). The root's ``--help`` lists every command from the short
help kept in ``COMMANDS`` (a test keeps it equal to each command's own).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, get_args, get_origin

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo


class Entry(NamedTuple):
    """A command of the root: where it is (``module:attribute``, a function or a
    ``typer.Typer``) and its short help."""

    target: str
    help: str


COMMANDS: dict[str, Entry] = {
    "serve": Entry(
        "server:serve",
        "Start the HTTP API (OpenAPI docs at /docs), and Arrow Flight SQL with --flight-port.",
    ),
    "demo": Entry("server:demo", "Load the demo stories into LAKEHOLD_HOME and start the API."),
    "doctor": Entry(
        "doctor:doctor",
        "Find what a crashed process left (administrators): interrupted table creates and drops,"
        "\norphan table folders, catalog counts behind the Delta log, statements whose process is"
        " gone.\nWithout --repair nothing changes and the exit code is 1 when something is found.",
    ),
    "audit": Entry("audit:audit", "Queries, decisions and changes, newest first (administrators)."),
    "sql": Entry("sql:sql", "Run a SQL statement over the tables you may read."),
    "search": Entry(
        "search:search", "Search active listings and your projects' assets, with facet counts."
    ),
    "publish": Entry(
        "sharing:publish",
        "Publish an asset's latest version as a listing (contributors and owners).",
    ),
    "unpublish": Entry(
        "sharing:unpublish", "Withdraw an asset's listing; grants already made stay in force."
    ),
    "domain": Entry("catalog:domains", "Domains: the top of the catalog."),
    "project": Entry("catalog:projects", "Projects: own tables, addressed as project.table."),
    "unit": Entry(
        "organisation:units", "Domain units: a hierarchy under each domain, with owners."
    ),
    "group": Entry("organisation:groups", "Groups of users (administrators)."),
    "table": Entry("tables:tables", "Lakehouse tables (Delta Lake)."),
    "glossary": Entry("metadata:glossaries", "Business glossaries of a domain."),
    "term": Entry("metadata:terms", "Glossary terms, and terms on assets and columns."),
    "tag": Entry("metadata:tags", "Classification tags on columns."),
    "form": Entry("metadata:forms", "Metadata forms and their values on assets."),
    "rule": Entry("metadata:rules", "Metadata rules: publishing or requesting needs a form."),
    "policy": Entry(
        "metadata:policies",
        "Authorization policies: let a project create forms, glossaries, terms in a unit.",
    ),
    "listing": Entry("sharing:listings", "Listings: published assets anyone can discover."),
    "filter": Entry("sharing:filters", "Row and column filters of an asset."),
    "subscription": Entry(
        "sharing:subscriptions",
        "Subscription requests: ask for published assets; owners decide.",
    ),
    "grant": Entry("sharing:grants", "Grants: what subscribing projects may read."),
    "share": Entry(
        "shares:share",
        "Delta Sharing: shares of a project's tables, recipients outside Lakehold and their "
        "access (read with any Delta Sharing client).",
    ),
    "webhook": Entry(
        "webhooks:webhooks",
        "Webhooks: POST governance events (subscription requested, approved, rejected, "
        "revoked) to your endpoints, signed and retried.",
    ),
    "alert": Entry(
        "alerts:alerts",
        "Alerts: anomalies of a project's statement failure rate, sync lag and ingest volume.",
    ),
    "user": Entry("security:users", "Users (administrators)."),
    "token": Entry("security:tokens", "API tokens."),
    "login": Entry(
        "login:login",
        "Sign in to a server with an OpenID Connect provider; save the token in a profile.",
    ),
    "security": Entry("security:security", "Security policy and revocation (administrators)."),
    "sync": Entry("sync:sync", "Sync jobs: full or incremental copies of source tables."),
    "connection": Entry("sources:connections", "Connections to external databases and files."),
    "datasource": Entry("sources:datasources", "Data sources: crawlers importing tables."),
    "lineage": Entry("lineage:lineage", "Lineage: OpenLineage events and the graph."),
    "network": Entry(
        "network:network",
        "The network allow-list (administrators): which private or internal hosts and ports "
        "connections and webhooks may reach. Also LAKEHOLD_NETWORK_ALLOW (comma-separated).",
    ),
    "daemon": Entry(
        "daemon.commands:daemon",
        "The home's warm process: commands on a local home are served by it once started "
        "(LAKEHOLD_DAEMON=off: never); it leaves after LAKEHOLD_DAEMON_IDLE_SECONDS unused.",
    ),
    "profile": Entry(
        "profile:profiles",
        "Servers to work against: a URL and a token, chosen with LAKEHOLD_PROFILE or "
        "--profile (LAKEHOLD_URL and LAKEHOLD_TOKEN override them).",
    ),
}


def load(name: str) -> typer.Typer | Any:
    """The function or ``typer.Typer`` of the root command ``name`` (its module imported)."""
    module, _, attribute = COMMANDS[name].target.partition(":")
    return getattr(importlib.import_module(f"lakehold.cli.{module}"), attribute)


class _Listed(TyperCommand):
    """A root command not loaded yet: its name and short help, for the root's help."""


class LazyGroup(TyperGroup):
    """The root group: every command of ``COMMANDS`` listed, and built when resolved."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, entry in COMMANDS.items():
            self.commands[name] = _Listed(name=name, help=entry.help)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(command, _Listed):
            command = self.commands[name] = build(name)
        return name, command, rest


def build(name: str) -> Any:
    """The click command of the root command ``name``, as ``add_typer``/``command`` build it."""
    target = load(name)
    style = {"pretty_exceptions_short": app.pretty_exceptions_short}
    if isinstance(target, typer.Typer):
        return get_group_from_info(
            TyperInfo(target, name=name),
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
            **style,
        )
    return get_command_from_info(
        CommandInfo(name=name, callback=target), rich_markup_mode=app.rich_markup_mode, **style
    )


def _root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME",
            help="The saved server profile to use (sets LAKEHOLD_PROFILE for this command).",
            show_default=False,
        ),
    ] = None,
) -> None:
    if profile is None:
        return
    previous = os.environ.get("LAKEHOLD_PROFILE")
    os.environ["LAKEHOLD_PROFILE"] = profile

    def restore() -> None:  # a command run in this process (tests) leaves no trace
        if previous is None:
            os.environ.pop("LAKEHOLD_PROFILE", None)
        else:
            os.environ["LAKEHOLD_PROFILE"] = previous

    ctx.call_on_close(restore)


def plain_values_without_pydantic() -> None:
    """typer (0.29) coerces every parameter's value with a pydantic ``TypeAdapter``, and
    importing pydantic costs a command about 0.1 s. A command line's value that needs no
    conversion is taken as the adapter would take it, without pydantic (:func:`plain_value`):
    a ``str`` or ``bool`` for such a parameter, a ``Literal`` choice given exactly, a
    canonical decimal ``int`` within its ``min``/``max``. Any other value, and any other
    parameter, takes typer's way. A typer without this hook is left alone."""
    from typer import _coercion, core

    found = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if found is None or base is None or getattr(found, "plain", False):
        return
    typer_builds: Callable[[Any], Any] = found

    @dataclass(frozen=True)
    class Plain(base):  # type: ignore[misc, valid-type]
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            plain = plain_value(self.annotation, self.parameter_info, value, ctx)
            if plain is not _NOT_PLAIN:
                return plain
            return typer_builds(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        plain = (
            (
                descriptor.annotation in (str, bool, int)
                or get_origin(descriptor.annotation) is Literal
            )
            and descriptor.file_annotation is None
            and descriptor.parameter_info.parser is None
        )
        if not plain:
            return typer_builds(descriptor)
        return Plain(descriptor.parameter_info, descriptor.annotation, descriptor)

    build_runtime_param.plain = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param


_NOT_PLAIN = object()


def plain_value(annotation: Any, info: Any, value: Any, ctx: Any) -> Any:
    """``value`` as typer's adapter for ``annotation`` (with ``info``'s ``min``, ``max`` and
    ``case_sensitive``) would return it, when that needs no conversion; else ``_NOT_PLAIN``."""
    if annotation in (str, bool) and type(value) is annotation:
        return value
    if annotation is int and type(value) is str and value.isascii() and value.isdigit():
        number = int(value)
        in_range = (info.min is None or number >= info.min) and (
            info.max is None or number <= info.max
        )
        if str(number) == value and in_range:  # no sign, no leading zero, no clamping
            return number
    if get_origin(annotation) is Literal and type(value) is str:
        exact = info.case_sensitive and getattr(ctx, "token_normalize_func", None) is None
        if exact and value in get_args(annotation):
            return value
    return _NOT_PLAIN


class _Program(typer.Typer):
    """The root ``typer.Typer``. Run as the ``lakehold`` program (``app()``, not through a
    test's runner), it tunes the garbage collector for a short command
    (:mod:`lakehold.cli.collector`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from lakehold.cli import collector

        collector.for_a_command()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            collector.at_the_end()


plain_values_without_pydantic()
app = _Program(
    cls=LazyGroup,
    callback=_root,
    help="Lakehold: a governed lakehouse. Settings come from LAKEHOLD_* variables; "
    "commands act as LAKEHOLD_TOKEN, or as the admin whose token is saved in LAKEHOLD_HOME.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
