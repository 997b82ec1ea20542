"""Split a bound statement into a partial query per slice and a final merge (ADR 40).

The smallpond pattern on Lakehold's plans: the statement's largest table (the *partitioned*
view) is cut into slices of its data files; every task runs the *partial* query over its
slice and over the whole of every other table (the small sides are broadcast: each task reads
them itself); the coordinator runs the *final* query over the partial results, concatenated
as ``partials``.

A statement splits when the partitioned view is read exactly once, from the FROM clause of
the outermost SELECT (directly, through inner joins, as the preserved side of a LEFT, SEMI,
ANTI or ASOF join, or through derived tables that only join, filter and project), and either

- the outermost SELECT is a scan (no aggregate, GROUP BY, DISTINCT, ORDER BY or LIMIT): the
  partial results *are* the answer (``Split.final`` is None), or
- it aggregates, its aggregates decompose (SUM, COUNT, MIN, MAX, AVG, with FILTER, not
  DISTINCT) and its other columns are its GROUP BY keys; HAVING, ORDER BY, LIMIT and DISTINCT
  move to the final query.

Anything else -- the partitioned view in a subquery, a CTE or twice (a self-join), nested
aggregates, DISTINCT aggregates, window functions, ROLLUP/CUBE -- needs a shuffle and raises
:class:`Unsplittable` with the reason. So do shapes whose final query would read a name
differently from the statement: a name starting with ``_lh_`` (the generated columns'), a
name in HAVING (or inside an ORDER BY expression) that is both a select alias and a column
(DuckDB reads the column there, the final query could only read the alias), ``*`` or
``COLUMNS`` beside aggregates, COLLATE in an aggregating statement (the partial results do
not keep it), TABLESAMPLE (each task would sample its own rows) and GROUP BY a tuple.

``Split.source`` reads the rows the partial queries aggregate or return (FROM, joins and
WHERE): over empty tables it must return no row, or something in it aggregates (an aggregate
in a subquery over the outer query's columns); the coordinator checks that
(:mod:`lakehold.cluster.merge`), as it checks ``partial`` against empty tables.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from lakehold.errors import Invalid
from lakehold.query.allowlist import AGGREGATES
from lakehold.query.identifiers import fold

PARTIALS = "partials"
"""The name of the concatenated partial results in the final query."""


class Unsplittable(Invalid):
    """The statement cannot run as partial queries and a merge; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the statement cannot run on the Ray engine: {reason}", field="engine")
        self.reason = reason


@dataclass(frozen=True)
class Split:
    """``partial`` runs per slice (DuckDB SQL over the plan's views); ``final`` over
    ``partials``, or None when the partial results are the answer (a scan); ``source``
    (``SELECT 1`` over the statement's FROM, joins and WHERE) returns no row over empty
    tables; ``averages``: the partial (sum, count) columns of each AVG."""

    partial: str
    final: str | None
    source: str = ""
    averages: tuple[tuple[str, str], ...] = ()


_DECOMPOSABLE = (exp.Sum, exp.Count, exp.Min, exp.Max, exp.Avg)
_SELECT_ARGS = {"expressions", "from_", "joins", "where", "group", "having", "order", "limit"}
_SELECT_ARGS |= {"offset", "distinct", "kind"}
_DERIVED_ARGS = {"expressions", "from_", "joins", "where", "kind"}
_PLAIN_JOINS = {"", "INNER", "CROSS", "NATURAL"}
_KEY, _PART = "_lh_g", "_lh_p"
_RESERVED = "_lh_"


def split(sql: str, partitioned: str, columns: Collection[str] = ()) -> Split:
    """Split ``sql`` (DuckDB) over the view ``partitioned``; raise Unsplittable.

    ``columns``: every column name the statement's tables may have (a superset is safe): a
    GROUP BY name that is also a select alias means the alias only when no column has it.
    """
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
    if tree.find(exp.Window) is not None:
        raise Unsplittable("the statement has a window function")
    if tree.find(exp.TableSample) is not None:
        raise Unsplittable("the statement samples a table (each task would sample its own)")
    _check_reserved(tree)
    _check_args(tree, _SELECT_ARGS, "the statement")
    _check_path(refs[0], tree)
    group = tree.args.get("group")
    if not _aggregates(tree) and group is None:
        return _plain(tree)
    if tree.find(exp.Collate) is not None:
        raise Unsplittable("COLLATE in an aggregating statement (partial results lose it)")
    names = {fold(c) for c in columns} | _scope_names(tree)
    return _aggregate(tree, _keys(tree, group, names), names)


def _check_reserved(tree: exp.Select) -> None:
    """Refuse names the final query could confuse with its generated columns."""
    for identifier in tree.find_all(exp.Identifier):
        if fold(identifier.name).startswith(_RESERVED) and not isinstance(
            identifier.parent, exp.Table
        ):
            raise Unsplittable(f"the name {identifier.name} (names starting {_RESERVED})")


def _source(tree: exp.Select) -> str:
    """``SELECT 1`` over the statement's FROM, joins and WHERE."""
    source = exp.select("1")
    for arg in ("from_", "joins", "where"):
        if tree.args.get(arg):
            source.set(arg, tree.args[arg].copy())
    return source.sql(dialect="duckdb")


def _check_args(select: exp.Select, allowed: set[str], what: str) -> None:
    for key, value in select.args.items():
        if value and key not in allowed:
            raise Unsplittable(f"{what} has {key.upper().rstrip('_')}")


def _plain(tree: exp.Select) -> Split:
    """Scan, filter, project: the partial results are the answer."""
    for key in ("order", "limit", "offset", "distinct", "having"):
        if tree.args.get(key):
            raise Unsplittable(f"a statement without aggregates has {key.upper()}")
    return Split(tree.sql(dialect="duckdb"), None, _source(tree))


def _check_path(ref: exp.Table, top: exp.Select) -> None:
    """The partitioned view must reach the outermost SELECT through FROM and plain or
    preserving joins and plain derived tables only."""
    node: exp.Expr = ref
    while node is not top:
        parent = node.parent
        if parent is None:  # pragma: no cover - refs come from the tree
            raise Unsplittable("the partitioned table is outside the statement")
        if isinstance(parent, exp.Join):
            kind = _join_kind(parent)
            if kind not in _PLAIN_JOINS:
                raise Unsplittable(f"the partitioned table is the joined side of a {kind} JOIN")
        elif isinstance(parent, exp.Select):
            if node.arg_key not in ("from_", "joins"):
                raise Unsplittable(f"the partitioned table is read in a {node.arg_key} subquery")
            if parent is not top:
                if _aggregates(parent) or parent.args.get("group"):
                    raise Unsplittable("the partitioned table is aggregated in a derived table")
                _check_args(parent, _DERIVED_ARGS, "a derived table over the partitioned table")
            _check_joins(parent)
        elif not isinstance(parent, exp.From | exp.Subquery | exp.TableAlias | exp.Alias):
            raise Unsplittable(f"the partitioned table is read inside {parent.key.upper()}")
        node = parent


def _join_kind(join: exp.Join) -> str:
    parts = (join.args.get(k) for k in ("method", "side", "kind"))
    return " ".join(str(p).upper() for p in parts if p)


def _check_joins(select: exp.Select) -> None:
    for join in select.args.get("joins") or []:
        kind = _join_kind(join)
        if any(word in kind.split() for word in ("RIGHT", "FULL", "POSITIONAL")):
            raise Unsplittable(f"a {kind} JOIN beside the partitioned table")


def _aggregates(select: exp.Select) -> list[exp.Func]:
    """Aggregate calls of ``select`` itself (not of its subqueries or derived tables)."""
    return [
        node
        for node in select.find_all(exp.Func)
        if node.find_ancestor(exp.Select) is select and _is_aggregate(node)
    ]


def _is_aggregate(node: exp.Func) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    name = node.name if isinstance(node, exp.Anonymous) else node.sql(dialect="duckdb")
    return fold(name.split("(", 1)[0]) in AGGREGATES


def _scope_names(tree: exp.Select) -> set[str]:
    """Column names derived tables and table functions of ``tree`` may expose."""
    names: set[str] = set()
    for select in tree.find_all(exp.Select):
        if select is not tree:
            names.update(fold(n) for n in select.named_selects)
    for alias in tree.find_all(exp.TableAlias):
        names.update(fold(c.name) for c in alias.columns)
    for function in tree.find_all(exp.Func):
        if isinstance(function.parent, exp.From | exp.Join | exp.Table):
            names.add(fold(function.name or function.sql_name()))
    return names


def _keys(select: exp.Select, group: exp.Group | None, columns: set[str]) -> list[exp.Expr]:
    """The GROUP BY keys as expressions over the tables: ordinals, ALL and select aliases
    resolved as DuckDB resolves them (a column name wins over an alias)."""
    if group is None:
        return []
    for key in ("rollup", "cube", "grouping_sets", "totals"):
        if group.args.get(key):
            raise Unsplittable(f"GROUP BY {key.upper()}")
    outputs = list(select.expressions)
    if group.args.get("all"):
        return [e.unalias().copy() for e in outputs if not _has_aggregate(e, select)]
    aliases = {fold(e.alias): e.this for e in outputs if isinstance(e, exp.Alias)}
    keys = []
    for key in group.expressions:
        if isinstance(key, exp.Rollup | exp.Cube | exp.GroupingSets):
            raise Unsplittable(f"GROUP BY {key.key.upper()}")
        if isinstance(key, exp.Tuple):
            raise Unsplittable("GROUP BY a tuple")
        if isinstance(key, exp.Literal) and key.is_int:
            position = int(key.name)
            if not 1 <= position <= len(outputs):
                raise Unsplittable(f"GROUP BY {position} names no column")
            key = outputs[position - 1].unalias()
        elif isinstance(key, exp.Literal):
            raise Unsplittable("GROUP BY a constant")
        elif isinstance(key, exp.Column) and not key.table:
            alias = aliases.get(fold(key.name))
            if alias is not None and fold(key.name) not in columns:
                key = alias
        keys.append(key.copy())
    return keys


def _has_aggregate(node: exp.Expr, select: exp.Select) -> bool:
    return any(
        _is_aggregate(f) for f in node.find_all(exp.Func) if f.find_ancestor(exp.Select) is select
    )


def _aggregate(tree: exp.Select, keys: list[exp.Expr], names: set[str]) -> Split:
    if any(isinstance(e, exp.Star) for e in tree.expressions):
        raise Unsplittable("SELECT * with aggregates")
    _check_stars(tree, keys)
    partial_columns: list[exp.Expr] = [
        exp.alias_(key.copy(), f"{_KEY}{j}") for j, key in enumerate(keys)
    ]
    final = tree.copy()
    averages = []
    for i, aggregate in enumerate(_aggregates(final)):
        unit = aggregate.parent if isinstance(aggregate.parent, exp.Filter) else aggregate
        columns, merged = _decompose(aggregate, unit, f"{_PART}{i}")
        partial_columns.extend(columns)
        if isinstance(aggregate, exp.Avg):
            averages.append((columns[0].alias, columns[1].alias))
        unit.replace(merged)

    partial = exp.select(*partial_columns)
    for arg in ("from_", "joins", "where"):
        if tree.args.get(arg):
            partial.set(arg, tree.args[arg].copy())
    if keys:
        partial.set("group", exp.Group(expressions=[key.copy() for key in keys]))

    by_sql = {key.sql(dialect="duckdb"): f"{_KEY}{j}" for j, key in enumerate(keys)}
    by_name = {fold(k.name): f"{_KEY}{j}" for j, k in enumerate(keys) if isinstance(k, exp.Column)}

    named = [exp.alias_(e, e.name) if isinstance(e, exp.Column) else e for e in final.expressions]
    aliases = {fold(e.alias) for e in named if isinstance(e, exp.Alias)}
    renamed = {  # an alias that names something else than the column of that name
        fold(e.alias)
        for e in tree.expressions
        if isinstance(e, exp.Alias)
        and not (isinstance(e.this, exp.Column) and fold(e.this.name) == fold(e.alias))
    }

    def to_key(node: exp.Expr, clause: bool = False) -> exp.Expr:
        if isinstance(node, exp.Alias | exp.Identifier | exp.Ordered):
            return node
        unqualified = isinstance(node, exp.Column) and not node.table
        if clause and unqualified and fold(node.name) in aliases:
            if fold(node.name) in names & renamed and not _bare_order(node):
                raise Unsplittable(
                    f"{node.name} in HAVING or ORDER BY is a select alias and a column"
                )
            return node  # the alias: all the final query has of that name
        name = by_sql.get(node.sql(dialect="duckdb"))
        if name is None and unqualified:
            name = by_name.get(fold(node.name))
        return exp.column(name) if name else node

    final.set("expressions", [e.transform(to_key) for e in named])
    for arg in ("having", "order"):
        if final.args.get(arg):
            final.set(arg, final.args[arg].transform(lambda n: to_key(n, clause=True)))
    final.set("from_", exp.From(this=exp.to_table(PARTIALS)))
    final.set("joins", None)
    final.set("where", None)
    final.set("group", None)
    if keys:
        final.set("group", exp.Group(expressions=[exp.column(n) for n in by_sql.values()]))
    generated = {c.alias for c in partial_columns}
    _check_final(final, generated)
    return Split(
        partial.sql(dialect="duckdb"), final.sql(dialect="duckdb"), _source(tree), tuple(averages)
    )


def _bare_order(column: exp.Expr) -> bool:
    """An ORDER BY item that is just this name (DuckDB reads a select alias first there;
    everywhere else in ORDER BY and HAVING, a column first)."""
    return isinstance(column.parent, exp.Ordered) and isinstance(column.parent.parent, exp.Order)


def _check_stars(select: exp.Select, keys: list[exp.Expr]) -> None:
    """Refuse ``*`` and ``COLUMNS`` (but ``COUNT(*)``) in an aggregating SELECT's own
    clauses: they expand to several columns, which one partial column cannot carry."""
    parts = [*select.expressions, *keys, select.args.get("having"), select.args.get("order")]
    for part in parts:
        for node in part.find_all(exp.Star, exp.Columns) if part is not None else ():
            owner = node.find_ancestor(exp.Select)
            if owner is not None and owner is not select:
                continue  # a subquery's own
            if isinstance(node, exp.Star) and isinstance(node.parent, exp.Count):
                continue
            raise Unsplittable("* or COLUMNS beside aggregates")


def _decompose(aggregate: exp.Func, unit: exp.Expr, name: str) -> tuple[list[exp.Expr], exp.Expr]:
    """The partial columns of an aggregate (``unit``: it, or its FILTER) and the final
    expression over them."""
    shown = unit.sql(dialect="duckdb")
    if not isinstance(aggregate, _DECOMPOSABLE):
        raise Unsplittable(f"the aggregate {shown} does not decompose")
    extra = [k for k, v in aggregate.args.items() if v and k not in ("this", "big_int")]
    if isinstance(aggregate.this, exp.Distinct) or extra:
        raise Unsplittable(f"the aggregate {shown} does not decompose")

    def part(function: exp.Expr) -> exp.Expr:
        if isinstance(unit, exp.Filter):
            return exp.Filter(this=function, expression=unit.expression.copy())
        return function

    if isinstance(aggregate, exp.Avg):
        total, count = f"{name}s", f"{name}c"
        partial = [
            exp.alias_(part(exp.Sum(this=aggregate.this.copy())), total),
            exp.alias_(part(exp.Count(this=aggregate.this.copy())), count),
        ]
        final = exp.Div(
            this=exp.cast(exp.Sum(this=exp.column(total)), "DOUBLE"),
            expression=exp.Sum(this=exp.column(count)),
        )
        return partial, final
    merged: exp.Expr
    if isinstance(aggregate, exp.Count):
        total_count = exp.Sum(this=exp.column(name))
        merged = exp.cast(
            exp.Coalesce(this=total_count, expressions=[exp.Literal.number(0)]), "BIGINT"
        )
    else:
        merged = type(aggregate)(this=exp.column(name))
    return [exp.alias_(unit.copy(), name)], merged


def _check_final(final: exp.Select, generated: set[str]) -> None:
    """Every column the final query reads must be a partial column (or, in ORDER BY and
    HAVING, a select alias)."""
    if {t.name for t in final.find_all(exp.Table)} != {PARTIALS}:
        raise Unsplittable("the outermost SELECT has a subquery over other tables")
    aliases = {fold(e.alias) for e in final.expressions if isinstance(e, exp.Alias)}
    for column in final.find_all(exp.Column):
        if column.name in generated:
            continue
        in_clause = column.find_ancestor(exp.Order, exp.Having) is not None
        if in_clause and not column.table and fold(column.name) in aliases:
            continue
        raise Unsplittable(f"the column {column.name} is neither aggregated nor a GROUP BY key")
