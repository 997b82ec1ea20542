"""``/lineage``: the graph around a dataset or job, nearest nodes first, and its column lineage.

The lineage service answers with the principal's view (nodes it may not see are
``dataset:hidden:...`` placeholders, never named) and reads only the neighbourhood asked for
from its snapshot (ADR 23): the depth-limited read behind ``GET /api/v1/lineage``. This module
shapes that answer into layers (upstream left, downstream right), a JSON graph for the page's
script (``/lineage/graph``, and ``/lineage/expand`` for the next ring around one node) and
plain tables of the same nodes and edges.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from lakehold.catalog.asset_lineage import AssetLineage
from lakehold.errors import Invalid, LakeholdError, NotFound
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.web.runtime import runtime_of
from lakehold.web.sessions import PagePrincipal
from lakehold.web.templates import render

router = APIRouter(include_in_schema=False)

PATH = "/lineage"
GRAPH_PATH = "/lineage/graph"
EXPAND_PATH = "/lineage/expand"
COLUMNS_PATH = "/lineage/columns"
MIN_DEPTH, MAX_DEPTH, DEFAULT_DEPTH = 1, 20, 2
KINDS = ("dataset", "job")
HIDDEN_LABEL = "hidden"


# -- what was asked ---------------------------------------------------------------------------


def node_id_of(text: str) -> str:
    """The lineage node id of ``node``: a node id (``dataset:<namespace>:<name>``,
    ``job:...``) as it is, or ``<namespace>/<name>`` of a dataset (split at the last ``/``)."""
    text = text.strip()
    kind, colon, _ = text.partition(":")
    if colon and kind in KINDS:
        return text
    namespace, slash, name = text.rpartition("/")
    if not slash or not namespace or not name:
        raise Invalid(
            "node must be a node id (dataset:<namespace>:<name> or job:<namespace>:<name>) "
            "or <namespace>/<name> of a dataset",
            field="node",
        )
    return f"dataset:{namespace}:{name}"


def depth_of(text: str | None) -> int:
    """The depth asked for: a whole number of jobs away, 1 to 20 (default 2)."""
    text = (text or "").strip()
    if not text:
        return DEFAULT_DEPTH
    if not text.isdigit() or not MIN_DEPTH <= int(text) <= MAX_DEPTH:
        raise Invalid(
            f"depth must be a whole number from {MIN_DEPTH} to {MAX_DEPTH}", field="depth"
        )
    return int(text)


# -- what is shown ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphNode:
    """A node as drawn and listed. ``layer``: steps downstream (negative: upstream) of the
    start; ``hops``: edges away; ``boundary``: on the rim of the read (may have more
    neighbours). A hidden node has no name, namespace or links."""

    id: str
    kind: str
    hidden: bool
    label: str
    namespace: str | None
    name: str | None
    layer: int
    row: int
    hops: int
    boundary: bool
    start: bool
    page_url: str | None
    asset_url: str | None
    expand_url: str | None
    columns_url: str | None

    @property
    def side(self) -> str:
        if self.start:
            return "start"
        return "upstream" if self.layer < 0 else "downstream" if self.layer > 0 else "alongside"

    def to_json(self) -> dict[str, Any]:
        shown = asdict(self)
        return {_camel(key): value for key, value in shown.items()}


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str


@dataclass(frozen=True)
class Neighbourhood:
    """The nodes within ``depth`` jobs of ``start``, nearest first, and the edges between them."""

    start: str
    depth: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]

    def labels(self) -> dict[str, str]:
        return {node.id: node.label for node in self.nodes}

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "depth": self.depth,
            "nodes": [node.to_json() for node in self.nodes],
            "edges": [{"source": e.source, "target": e.target} for e in self.edges],
        }


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def walk_steps(start: str, depth: int) -> int:
    """How many edges the service's walk follows from ``start``: ``depth`` counts jobs."""
    return 2 * depth + (1 if start.startswith("job:") else 0)


def layered(graph: list[dict[str, Any]], start: str) -> dict[str, tuple[int, int]]:
    """Node id -> (layer, hops): a breadth-first walk from ``start`` over the edges both ways,
    one layer right along an edge, one left against it (the first layer found wins)."""
    around: dict[str, list[tuple[str, int]]] = {}
    for node in graph:
        for edge in node["outEdges"]:
            around.setdefault(edge["origin"], []).append((edge["destination"], 1))
            around.setdefault(edge["destination"], []).append((edge["origin"], -1))
    placed = {start: (0, 0)}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        layer, hops = placed[current]
        for other, step in around.get(current, ()):
            if other not in placed:
                placed[other] = (layer + step, hops + 1)
                queue.append(other)
    return placed


class Shaper:
    """Shapes the service's Marquez graphs into :class:`Neighbourhood` s, with this site's URLs."""

    def __init__(
        self, request: Request, assets: AssetLineage, page_depth: int = DEFAULT_DEPTH
    ) -> None:
        self.root = request.scope.get("root_path", "")
        self.assets = assets
        self.page_depth = page_depth  # of the links to each node's own page

    def url(self, path: str, **params: Any) -> str:
        return f"{self.root}{path}?{urlencode(params)}" if params else f"{self.root}{path}"

    def neighbourhood(self, graph: list[dict[str, Any]], start: str, depth: int) -> Neighbourhood:
        placed = layered(graph, start)
        rim = walk_steps(start, depth)
        far = max((hops for _, hops in placed.values()), default=0) + 1
        ordered = sorted(
            graph,
            key=lambda n: (
                placed.get(n["id"], (0, far))[1],
                placed.get(n["id"], (0, far))[0] > 0,
                n["type"],
                n["data"].get("name") or "",
                n["id"],
            ),
        )
        rows: dict[int, int] = {}
        nodes = []
        for node in ordered:
            layer, hops = placed.get(node["id"], (0, far))
            rows[layer] = rows.get(layer, -1) + 1
            nodes.append(self.node(node, layer, rows[layer], hops, hops >= rim, start))
        ids = {node.id for node in nodes}
        edges = {
            (e["origin"], e["destination"])
            for node in graph
            for e in (*node["inEdges"], *node["outEdges"])
            if e["origin"] in ids and e["destination"] in ids
        }
        return Neighbourhood(start, depth, nodes, [GraphEdge(s, t) for s, t in sorted(edges)])

    def node(
        self, node: dict[str, Any], layer: int, row: int, hops: int, boundary: bool, start: str
    ) -> GraphNode:
        kind = "job" if node["type"] == "JOB" else "dataset"
        data = node["data"] or {}
        hidden = bool(data.get("hidden"))
        namespace, name = (None, None) if hidden else (data["namespace"], data["name"])
        asset = None
        if kind == "dataset" and namespace and name:
            asset = self.assets.asset_of(namespace, name)
        quoted = [quote(asset[k], safe="") for k in ("project", "name")] if asset else []
        return GraphNode(
            id=node["id"],
            kind=kind,
            hidden=hidden,
            label=HIDDEN_LABEL if hidden else str(name),
            namespace=namespace,
            name=name,
            layer=layer,
            row=row,
            hops=hops,
            boundary=boundary and not hidden,
            start=node["id"] == start,
            page_url=None if hidden else self.url(PATH, node=node["id"], depth=self.page_depth),
            asset_url=self.url(f"/assets/{quoted[0]}/{quoted[1]}") if asset else None,
            expand_url=None if hidden else self.url(EXPAND_PATH, node=node["id"]),
            columns_url=(
                self.url(COLUMNS_PATH, namespace=namespace, name=name)
                if kind == "dataset" and not hidden
                else None
            ),
        )


def read_graph(runtime: Runtime, principal: Principal, node: str, depth: int) -> list[dict]:
    """The service's graph within ``depth`` jobs of ``node`` (its depth-limited read)."""
    return runtime.lineage.lineage(principal, node, depth=depth)["graph"]


def _assets(runtime: Runtime) -> AssetLineage:
    return AssetLineage(runtime.catalog, runtime.lineage)


def _json_error(error: LakeholdError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.status_code)


def _client_error(error: LakeholdError) -> LakeholdError:
    if not 400 <= error.status_code < 500:
        raise error
    return error


# -- the page ---------------------------------------------------------------------------------


def _render_page(request: Request, status: int, **shown: Any) -> Response:
    """``lineage.html`` with ``shown`` over the defaults: an empty form, no graph, no columns."""
    context: dict[str, Any] = {
        "action": PATH,
        "asset": None,
        "node": "",
        "depth": DEFAULT_DEPTH,
        "min_depth": MIN_DEPTH,
        "max_depth": MAX_DEPTH,
        "graph": None,
        "labels": {},
        "graph_url": None,
        "error": None,
        "error_field": None,
        "columns": None,
        "columns_error": None,
        **shown,
    }
    return render(request, "lineage.html", context, status_code=status)


def _field(error: LakeholdError | None) -> str | None:
    """The form field an error names (the service names the node ``nodeId``)."""
    field = error.details.get("field") if error else None
    return "node" if field == "nodeId" else field


def _page(
    request: Request,
    principal: Principal,
    node: str | None,
    depth_text: str | None,
    *,
    action: str = PATH,
    asset: dict[str, str] | None = None,
) -> Response:
    runtime = runtime_of(request)
    shaper = Shaper(request, _assets(runtime))
    shown, error, depth = None, None, DEFAULT_DEPTH
    try:
        depth = depth_of(depth_text)
        shaper.page_depth = depth
        if node is not None:
            start = node_id_of(node)
            graph = read_graph(runtime, principal, start, depth)
            shown = shaper.neighbourhood(graph, start, depth)
    except LakeholdError as failed:
        error = _client_error(failed)
    if asset is not None and isinstance(error, NotFound):
        error = None  # a readable asset no event has named yet: no lineage, not an error
    return _render_page(
        request,
        error.status_code if error else 200,
        action=action,
        asset=asset,
        node=node or "",
        depth=depth_text if _field(error) == "depth" else depth,
        graph=shown,
        labels=shown.labels() if shown else {},
        graph_url=shaper.url(GRAPH_PATH, node=shown.start, depth=depth) if shown else None,
        error=error,
        error_field=_field(error),
    )


@router.get(PATH)
def lineage_page(
    request: Request, principal: PagePrincipal, node: str | None = None, depth: str | None = None
) -> Response:
    """The graph around ``node`` (a node id or ``<namespace>/<name>``), ``depth`` jobs each way."""
    return _page(request, principal, node, depth)


@router.get("/assets/{project}/{name}/lineage")
def asset_lineage_page(
    request: Request, project: str, name: str, principal: PagePrincipal, depth: str | None = None
) -> Response:
    """The graph around an asset the principal may read (404 otherwise, as its page)."""
    runtime = runtime_of(request)
    page = f"/assets/{quote(project, safe='')}/{quote(name, safe='')}"
    asset = {"project": project, "name": name, "url": page}
    try:
        runtime.catalog.get_asset(principal, project, name)
    except NotFound as missing:
        return _render_page(request, 404, action=page + "/lineage", asset=asset, error=missing)
    node = _assets(runtime).dataset_id(project, name)
    return _page(request, principal, node, depth, action=page + "/lineage", asset=asset)


# -- JSON for the page's script ---------------------------------------------------------------


@router.get(GRAPH_PATH)
def lineage_graph(
    request: Request, principal: PagePrincipal, node: str = "", depth: str | None = None
) -> Response:
    """``{"start", "depth", "nodes", "edges"}`` within ``depth`` jobs of ``node``."""
    runtime = runtime_of(request)
    try:
        steps = depth_of(depth)
        start = node_id_of(node)
        graph = read_graph(runtime, principal, start, steps)
    except LakeholdError as failed:
        return _json_error(_client_error(failed))
    shaped = Shaper(request, _assets(runtime), steps).neighbourhood(graph, start, steps)
    return JSONResponse(shaped.to_json())


@router.get(EXPAND_PATH)
def lineage_expand(request: Request, principal: PagePrincipal, node: str = "") -> Response:
    """The next ring around ``node``: a job's inputs and outputs, or a dataset's jobs and
    their datasets (one job away); its layers are relative to ``node``."""
    runtime = runtime_of(request)
    try:
        start = node_id_of(node)
        steps = 0 if start.startswith("job:") else 1
        graph = read_graph(runtime, principal, start, steps)
    except LakeholdError as failed:
        return _json_error(_client_error(failed))
    shaped = Shaper(request, _assets(runtime)).neighbourhood(graph, start, steps)
    return JSONResponse(shaped.to_json())


# -- column lineage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InputColumn:
    """A column another is derived from; hidden: of a dataset the principal may not see."""

    namespace: str | None
    dataset: str | None
    field: str | None
    transformation: str | None

    @property
    def hidden(self) -> bool:
        return self.dataset is None


@dataclass(frozen=True)
class ColumnRow:
    name: str
    type: str | None
    inputs: list[InputColumn]


@dataclass(frozen=True)
class DatasetColumns:
    namespace: str
    name: str
    columns: list[ColumnRow]


def dataset_columns(
    runtime: Runtime, principal: Principal, namespace: str, name: str
) -> DatasetColumns:
    """A visible dataset's columns and, for each, the input columns it derives from (one step
    of the service's column lineage; inputs of hidden datasets are nameless)."""
    graph = runtime.lineage.column_lineage(
        principal, f"dataset:{namespace}:{name}", depth=1, with_downstream=False
    )["graph"]
    columns = [
        ColumnRow(
            name=data["field"],
            type=data.get("fieldType"),
            inputs=[
                InputColumn(
                    i.get("namespace"),
                    i.get("dataset"),
                    i.get("field"),
                    " ".join(t for t in (i.get("transformationType"), _subtype(i)) if t) or None,
                )
                for i in data.get("inputFields") or []
            ],
        )
        for node in graph
        if (data := node["data"]).get("namespace") == namespace and data.get("dataset") == name
    ]
    return DatasetColumns(namespace, name, columns)


def _subtype(step: dict[str, Any]) -> str | None:
    first: Any = next(iter(step.get("transformations") or []), {})
    subtype = first.get("subtype") if isinstance(first, dict) else None
    return f"({subtype.lower()})" if isinstance(subtype, str) and subtype else None


@router.get(COLUMNS_PATH)
def lineage_columns(
    request: Request, principal: PagePrincipal, namespace: str = "", name: str = ""
) -> Response:
    """The column lineage of one dataset: a fragment for htmx and the page's script, else the
    lineage page showing only it."""
    runtime = runtime_of(request)
    columns, error = None, None
    try:
        if not namespace or not name:
            raise Invalid("the namespace and name of a dataset are needed", field="name")
        columns = dataset_columns(runtime, principal, namespace, name)
    except LakeholdError as failed:
        error = _client_error(failed)
    status = error.status_code if error else 200
    if request.headers.get("hx-request") == "true":
        context = {"columns": columns, "columns_error": error}
        return render(request, "lineage/_columns.html", context, status_code=status)
    node = f"dataset:{namespace}:{name}" if columns else ""
    return _render_page(request, status, node=node, columns=columns, columns_error=error)
