"""``lakehold domain`` and ``lakehold project``."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehold.cli.organisation import members
from lakehold.cli.output import print_rows
from lakehold.cli.service_principals import service_principals
from lakehold.cli.session import connect, console, handles_errors

domains = typer.Typer(help="Domains: the top of the catalog.", no_args_is_help=True)
projects = typer.Typer(
    help="Projects: own tables, addressed as project.table.", no_args_is_help=True
)
projects.add_typer(members, name="member")
projects.add_typer(service_principals, name="service-principal")


@domains.command("create")
@handles_errors
def create_domain(
    name: str, description: Annotated[str | None, typer.Option(help="What it covers")] = None
) -> None:
    """Create a domain (administrators).

    Example: lakehold domain create Sales --description "Sales and marketing"
    """
    domain = connect().domains.create(name, description)
    console.print(f"created domain [bold]{domain.name}[/bold]")


@domains.command("list")
@handles_errors
def list_domains() -> None:
    """List domains.

    Example: lakehold domain list
    """
    rows = connect().domains.list()
    print_rows("domains", ["name", "description"], [(d.name, d.description) for d in rows])


@projects.command("create")
@handles_errors
def create_project(
    name: str,
    domain: Annotated[str, typer.Option(help="The domain that owns the project")],
    description: Annotated[str | None, typer.Option()] = None,
    unit: Annotated[
        str | None,
        typer.Option(help="Domain unit id or path (Sales/Marketing); default: the root unit"),
    ] = None,
) -> None:
    """Create a project; you become its owner.

    Example: lakehold project create retail --domain Sales --unit Sales/Marketing
    """
    project = connect().projects.create(name, domain, description, domain_unit=unit)
    console.print(
        f"created project [bold]{project.name}[/bold] in domain unit {project.domain_unit}"
    )


@projects.command("list")
@handles_errors
def list_projects() -> None:
    """List the projects you may see.

    Example: lakehold project list
    """
    rows = connect().projects.list()
    print_rows(
        "projects",
        ["name", "domain unit", "owner", "description"],
        [(p.name, p.domain_unit or p.domain, p.owner, p.description) for p in rows],
    )
