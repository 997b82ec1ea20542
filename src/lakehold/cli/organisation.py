"""``lakehold unit``, ``lakehold group`` and ``lakehold project member``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

import typer

from lakehold.cli.output import print_rows
from lakehold.cli.session import connect, console, handles_errors

if TYPE_CHECKING:
    from lakehold.client.catalog import Role
    from lakehold.client.models import OwnerView

units = typer.Typer(
    help="Domain units: a hierarchy under each domain, with owners.", no_args_is_help=True
)
groups = typer.Typer(help="Groups of users (administrators).", no_args_is_help=True)
members = typer.Typer(
    help="Project members: users and groups with a role (owner, contributor, viewer).",
    no_args_is_help=True,
)

UserOpt = Annotated[str | None, typer.Option("--user", help="A username")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="A group name")]
UNIT_HELP = "Domain unit id or path, e.g. Sales/Marketing"


def _who(user: str | None, group: str | None) -> str:
    return f"user {user}" if user is not None else f"group {group}"


def _owners(owners: list[OwnerView]) -> str:
    return ", ".join(f"{o.name}" if o.kind == "user" else f"@{o.name}" for o in owners)


# -- units -------------------------------------------------------------------------------------


@units.command("create")
@handles_errors
def create_unit(
    name: str,
    domain: Annotated[str, typer.Option(help="The domain of the unit")],
    parent: Annotated[
        str | None, typer.Option(help=f"{UNIT_HELP}; default: the domain's root unit")
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a domain unit (administrators, owners of the parent unit or an ancestor).

    Example: lakehold unit create Marketing --domain Sales --parent Sales
    """
    unit = connect().units.create(domain, name, parent=parent, description=description)
    console.print(f"created domain unit [bold]{unit.path}[/bold] ({unit.id})")


@units.command("list")
@handles_errors
def list_units(domain: Annotated[str, typer.Option(help="The domain whose units to list")]) -> None:
    """List a domain's unit tree.

    Example: lakehold unit list --domain Sales
    """
    rows = connect().units.list(domain)
    print_rows(
        f"domain units of {domain}",
        ["path", "id", "owners", "description"],
        [(u.path, u.id, _owners(u.owners), u.description) for u in rows],
    )


@units.command("update")
@handles_errors
def update_unit(
    unit: Annotated[str, typer.Argument(help=UNIT_HELP)],
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    description: Annotated[str | None, typer.Option(help='New description ("" clears it)')] = None,
) -> None:
    """Rename a domain unit or change its description (owners of the unit or an ancestor).

    Example: lakehold unit update Sales/Marketing --name Growth --description "Demand gen"
    """
    view = connect().units.update(unit, name=name, description=description)
    console.print(f"updated domain unit [bold]{view.path}[/bold]")


@units.command("delete")
@handles_errors
def delete_unit(unit: Annotated[str, typer.Argument(help=UNIT_HELP)]) -> None:
    """Delete an empty domain unit (owners of the unit or an ancestor); refused while it holds
    units, projects, glossaries or forms.

    Example: lakehold unit delete Sales/Marketing/Ads
    """
    connect().units.delete(unit)
    console.print(f"deleted domain unit [bold]{unit}[/bold]")


@units.command("projects")
@handles_errors
def unit_projects(unit: Annotated[str, typer.Argument(help=UNIT_HELP)]) -> None:
    """List the projects of a domain unit that you may see.

    Example: lakehold unit projects Sales/Marketing
    """
    rows = connect().units.projects(unit)
    print_rows(
        f"projects in {unit}",
        ["name", "owner", "description"],
        [(p.name, p.owner, p.description) for p in rows],
    )


@units.command("owner-add")
@handles_errors
def add_unit_owner(
    unit: Annotated[str, typer.Argument(help=UNIT_HELP)],
    user: UserOpt = None,
    group: GroupOpt = None,
) -> None:
    """Make a user or a group an owner of a domain unit.

    Example: lakehold unit owner-add Sales/Marketing --group marketing-leads
    """
    view = connect().units.add_owner(unit, user=user, group=group)
    console.print(f"{_who(user, group)} now owns [bold]{view.path}[/bold]")


@units.command("owner-remove")
@handles_errors
def remove_unit_owner(
    unit: Annotated[str, typer.Argument(help=UNIT_HELP)],
    user: UserOpt = None,
    group: GroupOpt = None,
) -> None:
    """Remove an owner (a user or a group) from a domain unit.

    Example: lakehold unit owner-remove Sales/Marketing --user ana
    """
    connect().units.remove_owner(unit, user=user, group=group)
    console.print(f"{_who(user, group)} no longer owns [bold]{unit}[/bold]")


# -- groups ------------------------------------------------------------------------------------


@groups.command("create")
@handles_errors
def create_group(name: str, description: Annotated[str | None, typer.Option()] = None) -> None:
    """Create a group (administrators).

    Example: lakehold group create analysts --description "Sales analysts"
    """
    group = connect().groups.create(name, description)
    console.print(f"created group [bold]{group.name}[/bold]")


@groups.command("delete")
@handles_errors
def delete_group(name: str) -> None:
    """Delete a group (administrators).

    Example: lakehold group delete analysts
    """
    connect().groups.delete(name)
    console.print(f"deleted group [bold]{name}[/bold]")


@groups.command("list")
@handles_errors
def list_groups() -> None:
    """List groups and their members (administrators: all; others: their own).

    Example: lakehold group list
    """
    rows = connect().groups.list()
    print_rows(
        "groups",
        ["name", "members", "description"],
        [(g.name, ", ".join(g.members), g.description) for g in rows],
    )


@groups.command("add-member")
@handles_errors
def add_group_member(group: str, user: str) -> None:
    """Add a user to a group (administrators).

    Example: lakehold group add-member analysts ana
    """
    connect().groups.add_member(group, user)
    console.print(f"added {user} to group [bold]{group}[/bold]")


@groups.command("remove-member")
@handles_errors
def remove_group_member(group: str, user: str) -> None:
    """Remove a user from a group (administrators).

    Example: lakehold group remove-member analysts ana
    """
    connect().groups.remove_member(group, user)
    console.print(f"removed {user} from group [bold]{group}[/bold]")


# -- project members ---------------------------------------------------------------------------

RoleOpt = Annotated[str, typer.Option(help="owner, contributor or viewer")]


@members.command("list")
@handles_errors
def list_members(project: str) -> None:
    """List a project's members.

    Example: lakehold project member list retail
    """
    rows = connect().members.list(project)
    print_rows(
        f"members of {project}", ["kind", "name", "role"], [(m.kind, m.name, m.role) for m in rows]
    )


@members.command("add")
@handles_errors
def add_member(project: str, role: RoleOpt, user: UserOpt = None, group: GroupOpt = None) -> None:
    """Add a user or a group to a project (project owners).

    Example: lakehold project member add retail --group analysts --role viewer
    """
    member = connect().members.add(project, cast("Role", role), user=user, group=group)
    console.print(f"{member.kind} {member.name} is now {member.role} of [bold]{project}[/bold]")


@members.command("update")
@handles_errors
def update_member(
    project: str, role: RoleOpt, user: UserOpt = None, group: GroupOpt = None
) -> None:
    """Change a member's role (project owners).

    Example: lakehold project member update retail --user ana --role contributor
    """
    member = connect().members.update(project, cast("Role", role), user=user, group=group)
    console.print(f"{member.kind} {member.name} is now {member.role} of [bold]{project}[/bold]")


@members.command("remove")
@handles_errors
def remove_member(project: str, user: UserOpt = None, group: GroupOpt = None) -> None:
    """Remove a member from a project (project owners).

    Example: lakehold project member remove retail --user ana
    """
    connect().members.remove(project, user=user, group=group)
    console.print(f"removed {_who(user, group)} from [bold]{project}[/bold]")
