"""Column lineage of a SELECT, as the OpenLineage ``columnLineage`` dataset facet (pure).

Given the SELECT (or the whole ``CREATE TABLE ... AS SELECT``) and the columns of every table
it reads (``{"project.table": ["col", ...]}``), :func:`column_lineage` says, for each output
column, which input columns it is computed from and how:

- DIRECT: the value comes from the input column -- ``IDENTITY`` (copied as is),
  ``TRANSFORMATION`` (computed from it; ``masking`` when through a hash) or ``AGGREGATION``.
- INDIRECT: the input column decides something else -- ``CONDITIONAL`` (a CASE/IF condition)
  and ``WINDOW`` (a window's PARTITION BY / ORDER BY) for that output column; ``JOIN``,
  ``FILTER`` (WHERE, HAVING, QUALIFY), ``GROUP_BY`` and ``SORT`` for the whole dataset.

The query is qualified with sqlglot (``SELECT *`` expanded from the given schemas), then
traced scope by scope through CTEs, derived tables, subqueries and UNION branches; lineage
through an intermediate column composes (an INDIRECT use of a computed column is INDIRECT on
everything it was computed from).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from lakehold.query.identifiers import fold

SCHEMA_URL = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json"

DIRECT, INDIRECT = "DIRECT", "INDIRECT"
IDENTITY, TRANSFORMATION, AGGREGATION = "IDENTITY", "TRANSFORMATION", "AGGREGATION"
_DIRECT_RANK = {IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2}
_MASKING = (exp.MD5, exp.MD5Digest, exp.SHA, exp.SHA2)
_MASKING_NAMES = frozenset({"hash", "md5", "sha1", "sha256", "sha512", "md5_number"})

Field = tuple[str, str]
"""An input column: (dataset name, column)."""


@dataclass(frozen=True, order=True)
class Transformation:
    """How an input column contributes: DIRECT/INDIRECT, a subtype and whether it masks."""

    type: str
    subtype: str
    masking: bool = False

    def then(self, outer: Transformation) -> Transformation:
        """This (inner) transformation seen through an outer use of its result."""
        if outer.type == INDIRECT:
            return outer
        if self.type == INDIRECT:
            return self
        subtype = max(self.subtype, outer.subtype, key=_DIRECT_RANK.__getitem__)
        return Transformation(DIRECT, subtype, self.masking or outer.masking)

    def as_dict(self) -> dict[str, object]:
        return {"type": self.type, "subtype": self.subtype, "masking": self.masking}


@dataclass
class Lineage:
    """Input columns and their transformations (for one output column, or a whole dataset)."""

    inputs: dict[Field, set[Transformation]] = field(default_factory=lambda: defaultdict(set))

    def add(self, key: Field, transformation: Transformation) -> None:
        self.inputs[key].add(transformation)

    def merge(self, other: Lineage, outer: Transformation | None = None) -> None:
        """Add ``other``'s inputs, each seen through ``outer`` when given."""
        for key, transformations in other.inputs.items():
            for t in transformations:
                self.add(key, t.then(outer) if outer else t)


@dataclass
class _ScopeLineage:
    columns: list[tuple[str, Lineage]]
    dataset: Lineage

    def column(self, name: str) -> Lineage | None:
        for output, lineage in self.columns:
            if output == name:
                return lineage
        return None


def column_lineage(
    sql: str | exp.Expr,
    schemas: Mapping[str, Sequence[str]],
    *,
    namespace: str,
    dialect: str = "duckdb",
    default_project: str | None = None,
) -> dict[str, object]:
    """The ``columnLineage`` facet (``fields`` and ``dataset``) of a SELECT over ``schemas``.

    Tables are named ``project.table``; an unqualified table is in ``default_project``.
    Raises ``sqlglot`` errors when the query cannot be qualified against the schemas."""
    expression = sqlglot.parse_one(sql, read=dialect) if isinstance(sql, str) else sql.copy()
    if isinstance(expression, exp.Create):
        expression = expression.expression
    _fold_identifiers(expression)
    qualified = qualify(
        expression,
        schema=MappingSchema(_sqlglot_schema(schemas), dialect=dialect, normalize=False),
        dialect=dialect,
        db=default_project,
        validate_qualify_columns=False,
        identify=False,
    )
    root = build_scope(qualified)
    if root is None:
        raise ValueError("not a query")
    traced = _Tracer().scope(root)
    return {
        "fields": {
            name: {"inputFields": _input_fields(lin, namespace)} for name, lin in traced.columns
        },
        "dataset": _input_fields(traced.dataset, namespace),
    }


def _fold_identifiers(expression: exp.Expr) -> None:
    """Fold every identifier as DuckDB does (ASCII only) and keep sqlglot from folding it again
    with Python's Unicode-aware ``lower()``: the lineage names the columns DuckDB binds."""
    for node in expression.find_all(exp.Identifier):
        node.set("this", fold(node.this))
        node.meta["case_sensitive"] = True


def _sqlglot_schema(schemas: Mapping[str, Sequence[str]]) -> dict[str, object]:
    nested: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for name, columns in schemas.items():
        project, _, table = name.partition(".")
        nested[fold(project)][fold(table)] = {fold(column): "UNKNOWN" for column in columns}
    return dict(nested)


def _input_fields(lineage: Lineage, namespace: str) -> list[dict[str, object]]:
    return [
        {
            "namespace": namespace,
            "name": dataset,
            "field": column,
            "transformations": [t.as_dict() for t in sorted(lineage.inputs[(dataset, column)])],
        }
        for dataset, column in sorted(lineage.inputs)
    ]


_CLAUSES = (("where", "FILTER"), ("having", "FILTER"), ("qualify", "FILTER"))


class _Tracer:
    """Traces scopes; each scope is traced once."""

    def __init__(self) -> None:
        self._done: dict[int, _ScopeLineage] = {}

    def scope(self, scope: Scope) -> _ScopeLineage:
        key = id(scope)
        if key not in self._done:
            self._done[key] = (
                self._union(scope)
                if isinstance(scope.expression, exp.SetOperation)
                else self._select(scope)
            )
        return self._done[key]

    def _union(self, scope: Scope) -> _ScopeLineage:
        branches = [self.scope(s) for s in scope.set_operation_scopes]
        dataset = Lineage()
        for branch in branches:
            dataset.merge(branch.dataset)
        columns = []
        for position, (name, _) in enumerate(branches[0].columns):
            lineage = Lineage()
            for branch in branches:
                if position < len(branch.columns):
                    lineage.merge(branch.columns[position][1])
            columns.append((name, lineage))
        traced = _ScopeLineage(columns, dataset)
        self._indirect(scope, scope.expression.args.get("order"), "SORT", traced)
        return traced

    def _select(self, scope: Scope) -> _ScopeLineage:
        select = scope.expression
        assert isinstance(select, exp.Selectable)  # a SELECT, a derived table or a UDTF
        columns = [(e.alias_or_name, self._output(scope, e)) for e in select.selects]
        traced = _ScopeLineage(columns, Lineage())
        for source in scope.sources.values():
            if isinstance(source, Scope):
                traced.dataset.merge(self.scope(source).dataset)
        for join in select.args.get("joins") or []:
            self._indirect(scope, join.args.get("on"), "JOIN", traced)
            for using in join.args.get("using") or []:
                self._indirect(scope, using, "JOIN", traced)
        for clause, subtype in _CLAUSES:
            self._indirect(scope, select.args.get(clause), subtype, traced)
        self._indirect(scope, select.args.get("group"), "GROUP_BY", traced)
        self._indirect(scope, select.args.get("order"), "SORT", traced)
        return traced

    def _output(self, scope: Scope, expression: exp.Expr) -> Lineage:
        """Lineage of one select expression."""
        lineage = Lineage()
        body = expression.unalias()
        for column in _own_columns(body, scope):
            how = _classify(column, body)
            self._resolve(scope, column, how, lineage)
        for subquery in _own_subqueries(body, scope):
            inner = self.scope(subquery)
            for _, sub in inner.columns:
                lineage.merge(sub, Transformation(DIRECT, TRANSFORMATION))
            lineage.merge(inner.dataset)
        return lineage

    def _indirect(
        self, scope: Scope, clause: exp.Expr | None, subtype: str, traced: _ScopeLineage
    ) -> None:
        """Every input column ``clause`` reads, INDIRECT with ``subtype`` on the dataset; a
        bare name of an output column (``ORDER BY alias``) stands for that column's inputs."""
        if clause is None:
            return
        how, into = Transformation(INDIRECT, subtype), traced.dataset
        for column in clause.find_all(exp.Column):
            output = None if column.table else traced.column(column.name)
            if output is not None and _enclosing_query(column) is scope.expression:
                into.merge(output, how)
        for column in _own_columns(clause, scope):
            self._resolve(scope, column, how, into)
        for subquery in _own_subqueries(clause, scope):
            inner = self.scope(subquery)
            for _, sub in inner.columns:
                into.merge(sub, how)
            into.merge(inner.dataset, how)

    def _resolve(
        self, scope: Scope, column: exp.Column, how: Transformation, into: Lineage
    ) -> None:
        """Add the input columns behind ``column`` (of ``scope``) to ``into``, through ``how``."""
        source = scope.sources.get(column.table)
        if isinstance(source, exp.Table):
            into.add((f"{source.db}.{source.name}", column.name), how)
        elif isinstance(source, Scope):
            inner = self.scope(source).column(column.name)
            if inner is not None:
                into.merge(inner, how)


def _own_columns(node: exp.Expr, scope: Scope) -> Iterable[exp.Column]:
    """Columns of ``node`` that belong to ``scope`` (not to a nested subquery)."""
    for column in node.find_all(exp.Column):
        if column.table and _enclosing_query(column) is scope.expression:
            yield column


def _own_subqueries(node: exp.Expr, scope: Scope) -> Iterable[Scope]:
    """Scopes of subqueries (scalar, IN, EXISTS) directly inside ``node``."""
    for subquery_scope in scope.subquery_scopes:
        query = subquery_scope.expression
        if _is_under(query, node) and _enclosing_query(query.parent) is scope.expression:
            yield subquery_scope


def _enclosing_query(node: exp.Expr | None) -> exp.Expr | None:
    while node is not None and not isinstance(node, exp.Select | exp.SetOperation):
        node = node.parent
    return node


def _is_under(node: exp.Expr | None, ancestor: exp.Expr) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


def _classify(column: exp.Column, body: exp.Expr) -> Transformation:
    """How a column inside a select expression ``body`` contributes to its value."""
    aggregated = masked = False
    child: exp.Expr = column
    node = column.parent
    while child is not body and node is not None:
        if isinstance(node, exp.If) and child is node.this:
            return Transformation(INDIRECT, "CONDITIONAL")
        if isinstance(node, exp.Case) and child is node.this:
            return Transformation(INDIRECT, "CONDITIONAL")
        if isinstance(node, exp.Window) and child is not node.this:
            return Transformation(INDIRECT, "WINDOW")
        aggregated = aggregated or isinstance(node, exp.AggFunc)
        masked = masked or _is_masking(node)
        child, node = node, node.parent
    if aggregated:
        return Transformation(DIRECT, AGGREGATION, masked)
    if column is body:
        return Transformation(DIRECT, IDENTITY)
    return Transformation(DIRECT, TRANSFORMATION, masked)


def _is_masking(node: exp.Expr) -> bool:
    if isinstance(node, _MASKING):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in _MASKING_NAMES
