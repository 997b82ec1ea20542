"""Business metadata commands: glossary, term, tag, form, rule and policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import msgspec
import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, handles_errors, split_qualified
from lakehold.errors import Invalid

if TYPE_CHECKING:
    from lakehold.client.catalog import Capability, RuleAction
    from lakehold.client.models import AssetMetadataView, ColumnMetadataView

glossaries = typer.Typer(help="Business glossaries of a domain.", no_args_is_help=True)
terms = typer.Typer(help="Glossary terms, and terms on assets and columns.", no_args_is_help=True)
tags = typer.Typer(help="Classification tags on columns.", no_args_is_help=True)
forms = typer.Typer(help="Metadata forms and their values on assets.", no_args_is_help=True)
rules = typer.Typer(
    help="Metadata rules: publishing or requesting needs a form.", no_args_is_help=True
)
policies = typer.Typer(
    help="Authorization policies: let a project create forms, glossaries, terms in a unit.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
UnitOpt = Annotated[
    str | None,
    typer.Option(help="Owning domain unit (path below the root, e.g. Marketing); default: root"),
]


# -- glossaries and terms ----------------------------------------------------------------------


@glossaries.command("create")
@handles_errors
def create_glossary(
    domain: Annotated[str, typer.Argument(help="The domain")],
    name: Annotated[str, typer.Argument(help="Glossary name, unique in the domain")],
    unit: UnitOpt = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a glossary (unit owners, or members of a project with create_glossary).

    Example: lakehold glossary create Sales Customer --unit Marketing
    """
    created = connect().glossaries.create(domain, name, unit=unit, description=description)
    console.print(f"created glossary [bold]{created.name}[/bold] ({created.id}) in {created.unit}")


@glossaries.command("list")
@handles_errors
def list_glossaries(domain: str, json: JsonOpt = False) -> None:
    """List a domain's glossaries and their terms.

    Example: lakehold glossary list Sales
    """
    found = connect().glossaries.list(domain)
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        f"glossaries of {domain}",
        ["id", "name", "unit", "terms"],
        [(g.id, g.name, g.unit, ", ".join(t.name for t in g.terms or [])) for g in found],
    )


NameOpt = Annotated[str | None, typer.Option(help="New name")]
DescriptionOpt = Annotated[str | None, typer.Option(help='New description ("" clears it)')]
GlossaryArg = Annotated[str, typer.Argument(help="Glossary id (or its name, if unique)")]


@glossaries.command("update")
@handles_errors
def update_glossary(
    glossary: GlossaryArg, name: NameOpt = None, description: DescriptionOpt = None
) -> None:
    """Rename a glossary or change its description.

    Example: lakehold glossary update Customer --name Customers
    """
    changed = connect().glossaries.update(glossary, name=name, description=description)
    console.print(f"updated glossary [bold]{changed.name}[/bold] ({changed.id})")


@glossaries.command("delete")
@handles_errors
def delete_glossary(
    glossary: GlossaryArg,
    force: Annotated[bool, typer.Option("--force", help="Also delete its terms")] = False,
) -> None:
    """Delete a glossary; refused while it has terms, unless --force.

    Example: lakehold glossary delete Customer --force
    """
    connect().glossaries.delete(glossary, force=force)
    console.print(f"deleted glossary [bold]{glossary}[/bold]")


@terms.command("create")
@handles_errors
def create_term(
    glossary: Annotated[str, typer.Argument(help="Glossary id (or its name, if unique)")],
    name: Annotated[str, typer.Argument(help="Term name, unique in the glossary")],
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a term to a glossary.

    Example: lakehold term create Customer "Email address" --description "Contact email"
    """
    created = connect().glossaries.create_term(glossary, name, description=description)
    console.print(f"created term [bold]{created.glossary}/{created.name}[/bold] ({created.id})")


@terms.command("list")
@handles_errors
def list_terms(glossary: str) -> None:
    """List a glossary's terms.

    Example: lakehold term list Customer
    """
    found = connect().glossaries.terms(glossary)
    print_rows(
        f"terms of {glossary}",
        ["id", "name", "description"],
        [(t.id, t.name, t.description) for t in found],
    )


@terms.command("update")
@handles_errors
def update_term(
    glossary: GlossaryArg,
    term: Annotated[str, typer.Argument(help="Term name or id")],
    name: NameOpt = None,
    description: DescriptionOpt = None,
) -> None:
    """Rename a term or change its description (assets with it are reindexed).

    Example: lakehold term update Customer "Email address" --name Email
    """
    changed = connect().glossaries.update_term(glossary, term, name=name, description=description)
    console.print(f"updated term [bold]{changed.glossary}/{changed.name}[/bold]")


@terms.command("delete")
@handles_errors
def delete_term(
    glossary: GlossaryArg, term: Annotated[str, typer.Argument(help="Term name or id")]
) -> None:
    """Delete a term and its links to assets and columns (listings keep their snapshot).

    Example: lakehold term delete Customer "Email address"
    """
    connect().glossaries.delete_term(glossary, term)
    console.print(f"deleted term [bold]{glossary}/{term}[/bold]")


@terms.command("attach")
@handles_errors
def attach_terms(
    asset: Annotated[str, typer.Argument(help="project.table")],
    term: Annotated[list[str], typer.Argument(help="Glossary/Term names or term ids")],
    column: Annotated[str | None, typer.Option(help="On this column instead of the asset")] = None,
) -> None:
    """Set the glossary terms of an asset or of one of its columns (replaces them).

    Example: lakehold term attach retail.customer "Customer/Email address" --column cust_email
    """
    project, table = split_qualified(asset)
    assets = connect().assets
    if column is None:
        result = assets.set_terms(project, table, term)
        console.print(f"terms of {asset}: {', '.join(result.glossary_terms or [])}")
        return
    result = assets.set_column_terms(project, table, column, term)
    found = _column(result, column)
    console.print(f"terms of {asset}.{column}: {', '.join(found.glossary_terms or [])}")


def _column(result: AssetMetadataView, column: str) -> ColumnMetadataView:
    """The metadata of ``column`` in ``result``."""
    return next(c for c in result.columns or [] if c.name == column)


@tags.command("set")
@handles_errors
def set_tags(
    asset: Annotated[str, typer.Argument(help="project.table")],
    column: Annotated[str, typer.Argument(help="The column")],
    tag: Annotated[list[str] | None, typer.Argument(help="Tags (none: remove all)")] = None,
) -> None:
    """Set the classification tags of a column (replaces them).

    Example: lakehold tag set retail.customer cust_email pii email
    """
    project, table = split_qualified(asset)
    result = connect().assets.set_column_tags(project, table, column, tag or [])
    found = _column(result, column)
    console.print(f"tags of {asset}.{column}: {', '.join(found.tags or [])}")


# -- forms -------------------------------------------------------------------------------------


def parse_field(spec: str) -> dict[str, Any]:
    """``Name:type[:required][:searchable][:values=a|b][:glossary=G]`` as a field definition."""
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) < 2 or not parts[0]:
        raise Invalid(f"field '{spec}' is not of the form Name:type[:required]...", field="field")
    definition: dict[str, Any] = {"name": parts[0], "type": parts[1]}
    for option in parts[2:]:
        key, _, value = option.partition("=")
        if key in ("required", "searchable") and not value:
            definition[key] = True
        elif key == "values" and value:
            definition["allowed_values"] = [v.strip() for v in value.split("|")]
        elif key == "glossary" and value:
            definition["glossary"] = value
        else:
            raise Invalid(f"field option '{option}' is not understood", field="field")
    return definition


def _values(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name.strip():
            raise Invalid(f"'{pair}' is not of the form Field=value", field="value")
        values[name.strip()] = value
    return values


@forms.command("create")
@handles_errors
def create_form(
    domain: Annotated[str, typer.Argument(help="The domain")],
    name: Annotated[str, typer.Argument(help="Form name, unique in the domain")],
    field: Annotated[
        list[str],
        typer.Option(
            "--field",
            "-f",
            help="Name:type[:required][:searchable][:values=a|b|c][:glossary=G] (repeat); "
            "types: text, number, date, boolean, one_of, glossary_term",
        ),
    ],
    unit: UnitOpt = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a metadata form, version 1 (unit owners, or holders of create_form).

    Example: lakehold form create Sales publish_form --unit Marketing
    -f "Model Year:number:required" -f "Region:text:required:searchable"
    -f "Compliance Status:one_of:required:values=compliant|pending|non-compliant"
    """
    from lakehold.client.models import FieldIn

    fields = [FieldIn(**parse_field(f)) for f in field]
    created = connect().forms.create(domain, name, fields, unit=unit, description=description)
    console.print(
        f"created form [bold]{created.name}[/bold] version {created.version} ({created.id}) "
        f"in {created.unit}"
    )


@forms.command("list")
@handles_errors
def list_forms(domain: str, json: JsonOpt = False) -> None:
    """List a domain's metadata forms at their current versions.

    Example: lakehold form list Sales
    """
    found = connect().forms.list(domain)
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        f"metadata forms of {domain}",
        ["id", "name", "version", "unit", "fields"],
        [
            (
                f.id,
                f.name,
                f.version,
                f.unit,
                ", ".join(
                    f"{x.name} ({x.type}{', required' if x.required else ''})" for x in f.fields
                ),
            )
            for f in found
        ],
    )


@forms.command("delete")
@handles_errors
def delete_form(
    form: Annotated[str, typer.Argument(help="Form id, or its name with --domain")],
    domain: Annotated[str | None, typer.Option(help="Find the form by name here")] = None,
) -> None:
    """Delete a metadata form; refused while a rule requires it or assets hold its values.

    Example: lakehold form delete publish_form --domain Sales
    """
    connect().forms.delete(form, domain=domain)
    console.print(f"deleted form [bold]{form}[/bold]")


@forms.command("set-value")
@handles_errors
def set_value(
    asset: Annotated[str, typer.Argument(help="project.table")],
    form: Annotated[str, typer.Argument(help="Form name (of the asset's domain)")],
    value: Annotated[list[str], typer.Argument(help="Field=value pairs; replaces the values")],
) -> None:
    """Set a form's values on an asset (contributors and owners); every problem is listed.

    Example: lakehold form set-value marketing.campaigns publish_form "Model Year=2024"
    "Region=EMEA" "Compliance Status=compliant"
    """
    project, table = split_qualified(asset)
    stored = connect().forms.set_values(project, table, form, _values(value))
    console.print(f"set {stored.form} (version {stored.version}) on {asset}: {stored.values}")


# -- rules and policies ------------------------------------------------------------------------


@rules.command("create")
@handles_errors
def create_rule(
    unit: Annotated[str, typer.Argument(help="Domain unit id or path (Sales/Marketing)")],
    name: Annotated[str, typer.Argument(help="Rule name")],
    form: Annotated[str, typer.Option(help="The required form (of the unit's domain)")],
    action: Annotated[str, typer.Option(help="publish or subscription_request")] = "publish",
    children: Annotated[
        bool, typer.Option("--children/--no-children", help="Also the units below")
    ] = True,
    asset_type: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these asset types (repeat): lakehouse_table, federated_table; default: all",
        ),
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option(help="Only these projects (repeat); default: all")
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a metadata rule on a domain unit (its owners).

    Example: lakehold rule create Sales/Marketing "publish needs form" --form publish_form
    """
    created = connect().rules.create(
        unit,
        name,
        form,
        action=cast("RuleAction", action),
        include_children=children,
        asset_types=asset_type,
        projects=project,
        description=description,
    )
    console.print(
        f"created rule [bold]{created.name}[/bold] ({created.id}): {created.action} in "
        f"{created.unit} needs {created.form} ({', '.join(created.required_fields or [])})"
    )


@rules.command("update")
@handles_errors
def update_rule(
    rule_id: Annotated[str, typer.Argument(help="Rule id")],
    name: NameOpt = None,
    unit: Annotated[str | None, typer.Option(help="Move to this domain unit")] = None,
    form: Annotated[str | None, typer.Option(help="The required form")] = None,
    children: Annotated[
        bool | None, typer.Option("--children/--no-children", help="Also the units below")
    ] = None,
    asset_type: Annotated[
        list[str] | None,
        typer.Option(help="Only these asset types (repeat): lakehouse_table, federated_table"),
    ] = None,
    all_asset_types: Annotated[bool, typer.Option(help="Every asset type")] = False,
    project: Annotated[list[str] | None, typer.Option(help="Only these projects (repeat)")] = None,
    all_projects: Annotated[bool, typer.Option(help="Every project in scope")] = False,
    description: DescriptionOpt = None,
) -> None:
    """Change a metadata rule (owners of its unit); only the options given change.

    Example: lakehold rule update 3f2a... --form publish_form_v2 --asset-type lakehouse_table
    """
    if asset_type and all_asset_types:
        raise Invalid("give --asset-type or --all-asset-types, not both", field="asset_types")
    if project and all_projects:
        raise Invalid("give --project or --all-projects, not both", field="projects")
    given: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "form": form,
        "include_children": children,
        "asset_types": asset_type or None,
        "projects": project or None,
        "description": description,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    changes.update({"asset_types": None} if all_asset_types else {})
    changes.update({"projects": None} if all_projects else {})
    changed = connect().rules.update(rule_id, **changes)
    console.print(
        f"updated rule [bold]{changed.name}[/bold]: {changed.action} in {changed.unit} needs "
        f"{changed.form}"
    )


@rules.command("delete")
@handles_errors
def delete_rule(rule_id: Annotated[str, typer.Argument(help="Rule id")]) -> None:
    """Delete a metadata rule (owners of its unit).

    Example: lakehold rule delete 3f2a...
    """
    connect().rules.delete(rule_id)
    console.print(f"deleted rule {rule_id}")


@rules.command("list")
@handles_errors
def list_rules(
    unit: Annotated[str | None, typer.Option(help="Only this unit's rules")] = None,
    json: JsonOpt = False,
) -> None:
    """List metadata rules (projects you may not see: project:hidden:<id>).

    Example: lakehold rule list --unit Sales/Marketing
    """
    found = connect().rules.list(unit=unit)
    if json:
        print_json(msgspec.to_builtins(found))
        return
    print_rows(
        "metadata rules",
        ["id", "name", "action", "form", "unit", "children", "asset types", "projects"],
        [
            (
                r.id,
                r.name,
                r.action,
                r.form,
                r.unit,
                "yes" if r.include_children else "no",
                ", ".join(r.asset_types) if r.asset_types is not None else "all",
                ", ".join(r.projects) if r.projects is not None else "all",
            )
            for r in found
        ],
    )


@policies.command("grant")
@handles_errors
def grant_policy(
    unit: Annotated[str, typer.Argument(help="Domain unit id or path (Sales/Marketing)")],
    capability: Annotated[
        str, typer.Argument(help="create_form, create_glossary or create_glossary_term")
    ],
    project: Annotated[str, typer.Argument(help="The project whose contributors may")],
    children: Annotated[
        bool, typer.Option("--children/--no-children", help="Also the units below")
    ] = False,
) -> None:
    """Let a project's contributors and owners use a capability in a unit (unit owners).

    Example: lakehold policy grant Sales/Marketing create_form campaigns --children
    """
    granted = connect().unit_policies.grant(
        unit, cast("Capability", capability), project, include_children=children
    )
    console.print(f"granted {granted.capability} on {granted.unit} to {granted.project}")


@policies.command("list")
@handles_errors
def list_policies(unit: str) -> None:
    """List a unit's authorization policies (projects you may not see: project:hidden:<id>).

    Example: lakehold policy list Sales/Marketing
    """
    found = connect().unit_policies.list(unit)
    print_rows(
        f"policies of {unit}",
        ["id", "capability", "project", "children"],
        [(p.id, p.capability, p.project, "yes" if p.include_children else "no") for p in found],
    )
