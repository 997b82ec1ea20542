"""The ``lakehold`` command."""

from __future__ import annotations

import typer

from lakehold.cli.audit import audit
from lakehold.cli.catalog import domains, projects
from lakehold.cli.doctor import doctor
from lakehold.cli.lineage import lineage
from lakehold.cli.metadata import forms, glossaries, policies, rules, tags, terms
from lakehold.cli.network import network
from lakehold.cli.organisation import groups, units
from lakehold.cli.profile import profiles
from lakehold.cli.search import search
from lakehold.cli.security import tokens, users
from lakehold.cli.server import demo, serve
from lakehold.cli.sharing import filters, grants, listings, publish, subscriptions, unpublish
from lakehold.cli.sources import connections, datasources
from lakehold.cli.sql import sql
from lakehold.cli.sync import sync
from lakehold.cli.tables import tables
from lakehold.cli.webhooks import webhooks

app = typer.Typer(
    help="Lakehold: a governed lakehouse. Settings come from LAKEHOLD_* variables; "
    "commands act as LAKEHOLD_TOKEN, or as the admin whose token is saved in LAKEHOLD_HOME.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(demo)
app.command()(doctor)
app.command()(audit)
app.command()(sql)
app.command()(search)
app.command()(publish)
app.command()(unpublish)
app.add_typer(domains, name="domain")
app.add_typer(projects, name="project")
app.add_typer(units, name="unit")
app.add_typer(groups, name="group")
app.add_typer(tables, name="table")
app.add_typer(glossaries, name="glossary")
app.add_typer(terms, name="term")
app.add_typer(tags, name="tag")
app.add_typer(forms, name="form")
app.add_typer(rules, name="rule")
app.add_typer(policies, name="policy")
app.add_typer(listings, name="listing")
app.add_typer(filters, name="filter")
app.add_typer(subscriptions, name="subscription")
app.add_typer(grants, name="grant")
app.add_typer(webhooks, name="webhook")
app.add_typer(users, name="user")
app.add_typer(tokens, name="token")
app.add_typer(sync, name="sync")
app.add_typer(connections, name="connection")
app.add_typer(datasources, name="datasource")
app.add_typer(lineage, name="lineage")
app.add_typer(network, name="network")
app.add_typer(profiles, name="profile")
