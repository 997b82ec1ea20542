"""``lakehold lineage``: send OpenLineage events, show graphs, list datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lakehold.cli.output import print_json, print_rows
from lakehold.cli.session import connect, console, handles_errors
from lakehold.client.lineage import DEFAULT_DEPTH
from lakehold.errors import Invalid

lineage = typer.Typer(help="Lineage: OpenLineage events and the graph.", no_args_is_help=True)


def read_events(path: Path) -> list[Any]:
    """Events of a file: a JSON event, a JSON array, ``{"events": [...]}`` or JSON lines."""
    text = path.read_text()
    try:
        body = json.loads(text)
    except RecursionError:
        raise Invalid("JSON nested too deeply", field="events") from None
    except json.JSONDecodeError:
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except RecursionError:
                raise Invalid("JSON nested too deeply", line=number) from None
            except json.JSONDecodeError as error:
                raise Invalid(f"not JSON: {error.msg}", line=number) from None
        return events
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return body["events"]
    return body if isinstance(body, list) else [body]


@lineage.command("send")
@handles_errors
def send(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON or JSON lines")],
) -> None:
    """Record OpenLineage events from a file, atomically (needs the lineage:write scope; the
    events are bounded and checked against the token's namespaces as over HTTP).

    Example: lakehold lineage send airflow-events.jsonl
    """
    counts = connect().lineage.send_batch(read_events(file))
    console.print(f"accepted {counts.accepted}, duplicates {counts.duplicates}")


@lineage.command("show")
@handles_errors
def show(
    node_id: Annotated[str, typer.Argument(help="dataset:<namespace>:<name> or job:<ns>:<name>")],
    depth: Annotated[int, typer.Option(help="Jobs away from the node")] = DEFAULT_DEPTH,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Marquez JSON")] = False,
) -> None:
    """Show the lineage graph around a dataset or job.

    Example: lakehold lineage show dataset:lakehold:sales.orders --depth 3
    """
    graph = connect().lineage.graph(node_id, depth=depth)
    if as_json:
        print_json(graph)
        return
    print_rows(
        "lineage",
        ["node", "type", "from", "to"],
        [
            (
                n["id"],
                n["type"],
                ", ".join(e["origin"] for e in n["inEdges"]),
                ", ".join(e["destination"] for e in n["outEdges"]),
            )
            for n in graph["graph"]
        ],
    )


@lineage.command("datasets")
@handles_errors
def datasets(
    namespace: str,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List the datasets of a lineage namespace.

    Example: lakehold lineage datasets lakehold
    """
    found = connect().lineage.datasets(namespace, limit=limit, offset=offset)
    print_rows(
        f"datasets in {namespace} ({found['totalCount']})",
        ["name", "fields", "updated", "version"],
        [
            (d["name"], len(d["fields"]), d["updatedAt"], d["currentVersion"])
            for d in found["datasets"]
        ],
    )
