"""Qualify pass: find every table reference of a query and name it ``project.table``.

- A name that refers to a CTE in scope is not a table (CTE scoping follows DuckDB: a CTE is
  visible in the CTEs after it, in the query of its WITH and in every subquery below; a
  CTE sees itself only under ``WITH RECURSIVE``).
- ``project.table`` is a table of a project (sqlglot: db=project, this=table); an
  unqualified ``table`` belongs to ``default_project``, or is NotFound when there is none;
  three-part names are NotFound.
- Identifiers, quoted or not, are folded as DuckDB folds them (ASCII letters only,
  :mod:`lakehold.query.identifiers`); a name is a CTE exactly when DuckDB would take it for one.
- Time travel (``VERSION AS OF 3``, ``TIMESTAMP AS OF '2024-01-01 00:00:00'``, Snowflake
  ``AT (VERSION => 3)``) becomes ``TableRef.version`` / ``TableRef.timestamp``.

The tree is not changed; :mod:`lakehold.query.rewrite` replaces the references.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from lakehold.errors import Invalid, NotFound
from lakehold.query.identifiers import fold
from lakehold.query.model import TableRef

Occurrence = tuple[exp.Table, TableRef]


@dataclass(frozen=True)
class Qualified:
    """Table references in order of appearance, and columns written as ``project.table.col``."""

    occurrences: list[Occurrence]
    long_columns: list[exp.Column]

    @property
    def refs(self) -> tuple[TableRef, ...]:
        """Distinct table references, first appearance first."""
        return tuple(dict.fromkeys(ref for _, ref in self.occurrences))


def qualify(query: exp.Expression, default_project: str | None = None) -> Qualified:
    """Every table reference of ``query`` (CTE references excluded), in order of appearance."""
    found: list[Occurrence] = []
    long_columns: list[exp.Column] = []
    stack: list[tuple[exp.Expression, frozenset[str]]] = [(query, frozenset())]
    while stack:
        node, ctes = stack.pop()
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            ctes = _push_ctes(with_, ctes, stack)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            if _is_cte(node, ctes):
                _reject_time_travel_on_cte(node)
            else:
                found.append((node, table_ref(node, default_project)))
        elif isinstance(node, exp.Column) and node.args.get("db"):
            long_columns.append(node)
        children = [
            (child, ctes)
            for key, value in node.args.items()
            if key != "with_"
            for child in (value if isinstance(value, list) else [value])
            if isinstance(child, exp.Expression)
        ]
        stack.extend(reversed(children))
    found.sort(key=lambda o: _position(o[0]))
    return Qualified(found, long_columns)


def _push_ctes(
    with_: exp.With,
    outer: frozenset[str],
    stack: list[tuple[exp.Expression, frozenset[str]]],
) -> frozenset[str]:
    visible = set(outer)
    recursive = bool(with_.args.get("recursive"))
    for cte in with_.expressions:
        name = fold(cte.alias_or_name)
        body_scope = visible | {name} if recursive else set(visible)
        stack.append((cte.this, frozenset(body_scope)))
        visible.add(name)
    return frozenset(visible)


def _is_cte(table: exp.Table, ctes: frozenset[str]) -> bool:
    # DuckDB compares identifiers case-insensitively (ASCII only), quoted or not.
    return not table.args.get("db") and not table.args.get("catalog") and fold(table.name) in ctes


def table_ref(table: exp.Table, default_project: str | None) -> TableRef:
    """The TableRef of one physical table node."""
    catalog, db = table.args.get("catalog"), table.args.get("db")
    if catalog or not isinstance(table.this, exp.Identifier):
        written = ".".join(p.sql(dialect="duckdb") for p in (catalog, db, table.this) if p)
        raise NotFound(f"table {written!r} not found")
    name = _normalize(table.this)
    if isinstance(db, exp.Identifier):
        project = _normalize(db)
    elif default_project:
        project = default_project
    else:
        raise NotFound(f"table {name!r} not found; name tables as project.table")
    version, timestamp = _time_travel(table)
    return TableRef(project=project, table=name, version=version, timestamp=timestamp)


def _normalize(identifier: exp.Identifier) -> str:
    # As DuckDB: quoting keeps the spelling, not the case (both fold the same way).
    return fold(identifier.this)


def _time_travel(table: exp.Table) -> tuple[int | None, str | None]:
    version = table.args.get("version")
    when = table.args.get("when")
    if isinstance(version, exp.Version):
        if str(version.args.get("kind", "")).upper() != "AS OF":
            raise _invalid(table, "only AS OF time travel is supported")
        kind, value = str(version.this).upper(), version.expression
    elif isinstance(when, exp.HistoricalData):
        if str(when.this).upper() != "AT":
            raise _invalid(table, "only AT (VERSION => n) or AT (TIMESTAMP => '...') is supported")
        kind, value = str(when.args.get("kind", "")).upper(), when.expression
    else:
        return None, None
    if kind == "VERSION":
        if isinstance(value, exp.Literal) and value.is_int and int(value.this) >= 0:
            return int(value.this), None
        raise _invalid(table, "VERSION AS OF takes a table version number (0, 1, 2, ...)")
    if kind == "TIMESTAMP":
        if isinstance(value, exp.Cast | exp.TryCast):
            value = value.this
        if isinstance(value, exp.Literal) and value.is_string and value.this.strip():
            return None, value.this.strip()
        raise _invalid(
            table, "TIMESTAMP AS OF takes a timestamp literal, e.g. '2024-01-01 00:00:00'"
        )
    raise _invalid(table, f"unsupported time travel {kind}")


def _reject_time_travel_on_cte(table: exp.Table) -> None:
    if table.args.get("version") or table.args.get("when"):
        raise _invalid(table, f"time travel applies to tables, not to the CTE {table.name!r}")


def _invalid(table: exp.Table, message: str) -> Invalid:
    meta = table.this.meta if isinstance(table.this, exp.Identifier) else {}
    return Invalid(
        message,
        field="sql",
        line=meta.get("line"),
        position=meta.get("start"),
    )


def _position(table: exp.Table) -> int:
    for part in (table.args.get("catalog"), table.args.get("db"), table.this):
        if isinstance(part, exp.Identifier) and "start" in part.meta:
            return int(part.meta["start"])
    return 1 << 62
