"""Split a governed plan's statement into a partial query per partition and a final merge.

The smallpond pattern on Lakehold's plans: the statement's largest table is cut into slices
of its data files, every task runs the *partial* query over its slice (and over the whole of
every other table: the small sides are broadcast as plan text, each task reads them itself),
and the coordinator runs the *final* query over the partials, concatenated as ``partials``.

A statement splits when the partitioned table is read exactly once, from the FROM clause of
the outermost SELECT (directly, through inner joins, as the preserved side of a LEFT JOIN, or
through derived tables that only join, filter and project), and the outermost SELECT is an
aggregate whose aggregates decompose (SUM, COUNT, MIN, MAX, AVG -- not DISTINCT) and whose
other columns are its GROUP BY keys; ORDER BY, HAVING and LIMIT move to the final query.
Anything else -- the partitioned table in a subquery, a CTE or twice (a self-join), nested
aggregates, DISTINCT aggregates, window functions -- needs a shuffle and raises
:class:`Unsplittable` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

PARTIALS = "partials"


class Unsplittable(Exception):
    """The statement cannot run as partial queries and a merge; the message says why."""


@dataclass(frozen=True)
class Split:
    """``partial`` runs per slice (DuckDB SQL over the plan's views); ``final`` over
    ``partials``, the partial results concatenated."""

    partial: str
    final: str


_DECOMPOSABLE = (exp.Sum, exp.Count, exp.Min, exp.Max, exp.Avg)


def split(sql: str, partitioned: str) -> Split:
    """Split ``sql`` (DuckDB) over the view ``partitioned``; raise Unsplittable."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Select):
        raise Unsplittable(f"the statement is a {tree.key.upper()}, not one SELECT")
    if tree.args.get("with_"):
        raise Unsplittable("the statement has a WITH clause (CTE)")
    refs = [t for t in tree.find_all(exp.Table) if t.name == partitioned]
    if len(refs) != 1:
        raise Unsplittable(
            f"the partitioned table is read {len(refs)} times (self-join or subquery)"
        )
    _check_path(refs[0], tree)
    if any(isinstance(node, exp.Window) for node in tree.find_all(exp.Window)):
        raise Unsplittable("the statement has a window function")
    aggregates = [a for a in _top_level(tree, exp.AggFunc)]
    group = tree.args.get("group")
    if not aggregates and group is None:
        return _plain(tree)
    return _aggregate(tree, aggregates, list(group.expressions) if group else [])


def _plain(tree: exp.Select) -> Split:
    """Scan, filter, project: the partials are the answer (if order and limit allow)."""
    for key in ("order", "limit", "offset", "distinct"):
        if tree.args.get(key):
            raise Unsplittable(f"a non-aggregate statement with {key.upper()}")
    return Split(tree.sql(dialect="duckdb"), f"SELECT * FROM {PARTIALS}")


def _check_path(ref: exp.Table, top: exp.Select) -> None:
    """The partitioned table must reach the outermost SELECT through FROM and inner joins
    (or the preserved side of LEFT JOIN) and plain derived tables only."""
    node: exp.Expression = ref
    while node is not top:
        parent = node.parent
        if parent is None:  # pragma: no cover - refs come from the tree
            raise Unsplittable("the partitioned table is outside the statement")
        if isinstance(parent, exp.Join):
            side = (parent.side or parent.kind or "").upper()
            if side in ("RIGHT", "FULL", "LEFT", "SEMI", "ANTI"):
                raise Unsplittable(f"the partitioned table is the joined side of a {side} JOIN")
        elif isinstance(parent, exp.Select):
            if node.arg_key not in ("from_", "joins"):
                raise Unsplittable(f"the partitioned table is read in a {node.arg_key} subquery")
            if parent is not top:
                _check_plain(parent)
            else:
                _check_joins(parent)
        elif not isinstance(parent, exp.From | exp.Subquery | exp.TableAlias | exp.Alias):
            raise Unsplittable(f"the partitioned table is read inside {parent.key.upper()}")
        node = parent


def _check_plain(select: exp.Select) -> None:
    if any(True for _ in _top_level(select, exp.AggFunc)) or select.args.get("group"):
        raise Unsplittable("the partitioned table is aggregated in a derived table (nested)")
    for key in ("distinct", "limit", "order", "offset"):
        if select.args.get(key):
            raise Unsplittable(f"a derived table over the partitioned table has {key.upper()}")
    _check_joins(select)


def _check_joins(select: exp.Select) -> None:
    for join in select.args.get("joins") or []:
        if (join.side or "").upper() in ("RIGHT", "FULL"):
            raise Unsplittable(f"a {join.side} JOIN beside the partitioned table")


def _top_level(select: exp.Select, kind: type[exp.Expression]) -> list[exp.Expression]:
    """Nodes of ``kind`` in ``select`` itself, not in its subqueries or derived tables."""
    found = []
    for node in select.find_all(kind):
        if node.find_ancestor(exp.Select) is select:
            found.append(node)
    return found


def _aggregate(
    tree: exp.Select, aggregates: list[exp.Expression], keys: list[exp.Expression]
) -> Split:
    if any(isinstance(key, exp.Literal) for key in keys):
        raise Unsplittable("GROUP BY an ordinal")
    partial_columns = [exp.alias_(key.copy(), f"_g{j}") for j, key in enumerate(keys)]
    final = tree.copy()
    for i, aggregate in enumerate(_top_level(final, exp.AggFunc)):
        columns, merged = _decompose(aggregate, f"_p{i}")
        partial_columns.extend(columns)
        aggregate.replace(merged)

    partial = exp.select(*partial_columns)
    partial.set("from_", tree.args["from_"].copy())
    partial.set("joins", [join.copy() for join in tree.args.get("joins") or []])
    if tree.args.get("where"):
        partial.set("where", tree.args["where"].copy())
    if keys:
        partial.set("group", exp.Group(expressions=[key.copy() for key in keys]))

    by_sql = {key.sql(dialect="duckdb"): f"_g{j}" for j, key in enumerate(keys)}

    def to_key(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Alias | exp.Identifier):
            return node
        name = by_sql.get(node.sql(dialect="duckdb"))
        return exp.column(name) if name else node

    named = [exp.alias_(e, e.name) if isinstance(e, exp.Column) else e for e in final.expressions]
    final.set("expressions", [e.transform(to_key) for e in named])
    if final.args.get("having"):
        final.set("having", final.args["having"].transform(to_key))
    if final.args.get("order"):
        final.set("order", final.args["order"].transform(to_key))
    final.set("from_", exp.From(this=exp.to_table(PARTIALS)))
    final.set("joins", None)
    final.set("where", None)
    if keys:
        final.set("group", exp.Group(expressions=[exp.column(f"_g{j}") for j in range(len(keys))]))
    _check_final(final)
    return Split(partial.sql(dialect="duckdb"), final.sql(dialect="duckdb"))


def _decompose(aggregate: exp.Expression, name: str) -> tuple[list[exp.Expression], exp.Expression]:
    """The partial columns of an aggregate and the final expression over them."""
    if not isinstance(aggregate, _DECOMPOSABLE):
        raise Unsplittable(f"the aggregate {aggregate.sql(dialect='duckdb')} does not decompose")
    if isinstance(aggregate.this, exp.Distinct) or aggregate.args.get("distinct"):
        raise Unsplittable(f"{aggregate.sql(dialect='duckdb')}: a DISTINCT aggregate")
    if isinstance(aggregate, exp.Avg):
        total, count = f"{name}s", f"{name}c"
        partial = [
            exp.alias_(exp.Sum(this=aggregate.this.copy()), total),
            exp.alias_(exp.Count(this=aggregate.this.copy()), count),
        ]
        final = exp.Div(
            this=exp.cast(exp.Sum(this=exp.column(total)), "DOUBLE"),
            expression=exp.Sum(this=exp.column(count)),
        )
        return partial, final
    merged: exp.Expression
    if isinstance(aggregate, exp.Count):
        total = exp.Sum(this=exp.column(name))
        merged = exp.Coalesce(this=total, expressions=[exp.Literal.number(0)])
    else:
        merged = type(aggregate)(this=exp.column(name))
    return [exp.alias_(aggregate.copy(), name)], merged


def _check_final(final: exp.Select) -> None:
    """Every column the final query reads must be a partial column or a select alias."""
    tables = {t.name for t in final.find_all(exp.Table)}
    if tables != {PARTIALS}:
        raise Unsplittable("the outermost SELECT has a subquery over other tables")
    aliases = {e.alias for e in final.expressions if isinstance(e, exp.Alias)}
    for column in final.find_all(exp.Column):
        name = column.name
        if name.startswith(("_g", "_p")) or name in aliases:
            continue
        raise Unsplittable(f"the column {name} is neither aggregated nor a GROUP BY key")
