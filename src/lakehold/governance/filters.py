"""Asset filters: named, reusable row filters and column filters of an asset.

A row filter is a boolean SQL expression over the asset's own columns, made only of
comparisons, AND/OR/NOT, IN (literal lists), LIKE/ILIKE, IS [NOT] NULL, BETWEEN, literals,
column references, parentheses and casts of literals. It is validated with sqlglot when it is
saved (anything else is Invalid, naming the field ``expression`` and the construct or column),
then bound by DuckDB against the asset's columns to check that it is boolean.

A column filter is the list of columns a grant exposes (at least one; each must exist).

Grants reference filters by id and read them when a query runs, so changing a filter applies
at once to every grant that uses it; a filter used by an active grant cannot be deleted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb
import sqlglot
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakehold.catalog.service import find_asset, readable_project
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance.grants import lock_assets
from lakehold.kernel import Action, Command, governed
from lakehold.query.arrow_types import quote
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import Asset, AssetFilter, Grant, SubscriptionRequestItem, utcnow

FilterKind = Literal["row", "column"]
KINDS = ("row", "column")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_EXPRESSION = 4000
_CONCURRENT = "the filters of {}.{} were changed concurrently; try again"

_COMPARISONS = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
)
# The only constructs a row filter may contain.
_ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    *_COMPARISONS,
    exp.In,
    exp.Like,
    exp.ILike,
    exp.Escape,
    exp.Is,
    exp.Between,
    exp.Null,
    exp.Boolean,
    exp.Literal,
    exp.Neg,
    exp.Column,
    exp.Identifier,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
)


@dataclass(frozen=True)
class FilterView:
    id: str
    project: str
    asset: str
    name: str
    kind: str
    expression: str | None
    columns: list[str] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AssetFilter, asset: Asset) -> FilterView:
        return cls(
            id=row.id,
            project=asset.project.name,
            asset=asset.name,
            name=row.name,
            kind=row.kind,
            expression=row.expression,
            columns=list(row.columns) if row.columns is not None else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


# -- validation --------------------------------------------------------------------------------


def _construct(node: exp.Expr) -> str:
    if isinstance(node, exp.Query | exp.Subquery):
        return "subquery"
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return f"function {name.lower()}"
    if isinstance(node, exp.Table):
        return "table reference"
    return node.key.upper()


def validate_row_filter(expression: str, columns: dict[str, tuple[str, str]]) -> str:
    """The row filter as canonical DuckDB SQL; Invalid naming ``expression`` otherwise.

    ``columns`` maps lower-cased column names to ``(name, DuckDB type)`` of the asset.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise Invalid("a row filter needs an expression", field="expression")
    if len(expression) > MAX_EXPRESSION:
        raise Invalid(f"a row filter is at most {MAX_EXPRESSION} characters", field="expression")
    try:
        tree = sqlglot.parse_one(expression, read="duckdb", into=exp.Condition)
    except SqlglotError:
        raise Invalid(
            "the row filter is not one valid SQL boolean expression", field="expression"
        ) from None
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            construct = _construct(node)
            raise Invalid(
                f"a row filter cannot contain {construct}: use comparisons, AND/OR/NOT, IN, "
                "LIKE, IS NULL, BETWEEN, literals and the asset's columns",
                field="expression",
                construct=construct,
            )
        if isinstance(node, exp.Column):
            if node.table or node.args.get("db") or node.args.get("catalog"):
                raise Invalid(
                    f"a row filter refers only to the asset's own columns, not {node.sql()!r}",
                    field="expression",
                    construct="qualified column",
                    column=node.name,
                )
            if not isinstance(node.this, exp.Identifier) or node.name.lower() not in columns:
                raise Invalid(
                    f"unknown column {node.name!r} in the row filter",
                    field="expression",
                    column=node.name,
                )
            node.set("this", exp.to_identifier(columns[node.name.lower()][0], quoted=True))
        elif isinstance(node, exp.Cast):
            value = node.this
            if isinstance(value, exp.Neg):
                value = value.this
            if not isinstance(value, exp.Literal | exp.Null | exp.Boolean):
                raise Invalid(
                    "a row filter may cast literals only",
                    field="expression",
                    construct="cast of a non-literal",
                )
        elif isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest")):
            raise Invalid(
                "IN takes a list of literals in a row filter",
                field="expression",
                construct="subquery",
            )
    temporal = _check_literal_types(tree, columns, expression)
    sql = tree.sql(dialect="duckdb", comments=False)
    _check_boolean(sql, columns, temporal)
    return sql


_NUMERIC = re.compile(
    r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?\d*|FLOAT\d*|REAL|DOUBLE|DECIMAL|NUMERIC)\b"
)
_TEXT = re.compile(r"^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)\b")
_TEMPORAL = re.compile(r"^(DATE|TIMESTAMP)")


@dataclass(frozen=True)
class _TemporalLiteral:
    """A text literal compared with a DATE or TIMESTAMP column: DuckDB must parse it."""

    text: str
    column: str
    data_type: str
    expression: str


def _check_literal_types(
    tree: exp.Expr, columns: dict[str, tuple[str, str]], expression: str
) -> list[_TemporalLiteral]:
    """Refuse a literal compared with a column of another kind (text with a number column,
    a number with a text or date column, a string that is no date with a date column); the
    text literals compared with date and timestamp columns, for DuckDB to parse."""
    types = {name: data_type.upper() for name, data_type in columns.values()}
    temporal: list[_TemporalLiteral] = []
    for node in tree.walk():
        pairs: list[tuple[exp.Expr | None, exp.Expr | None]]
        if isinstance(node, _COMPARISONS):
            pairs = [(node.left, node.right), (node.right, node.left)]
        elif isinstance(node, exp.In):
            pairs = [(node.this, value) for value in node.expressions]
        elif isinstance(node, exp.Between):
            pairs = [(node.this, node.args.get("low")), (node.this, node.args.get("high"))]
        else:
            continue
        for column, value in pairs:
            if not isinstance(column, exp.Column) or value is None:
                continue
            literal = value.this if isinstance(value, exp.Neg) else value
            if not isinstance(literal, exp.Literal):
                continue  # NULL, booleans, casts and columns are left to DuckDB's binder
            name = column.name
            data_type = types.get(name, "")
            shown = value.sql(dialect="duckdb")
            if literal.is_string and _TEMPORAL.match(data_type):
                temporal.append(_TemporalLiteral(literal.this, name, data_type, expression))
                continue
            if literal.is_string and _NUMERIC.match(data_type):
                expected = "a number"
            elif not literal.is_string and (_TEXT.match(data_type) or _TEMPORAL.match(data_type)):
                expected = (
                    "text in quotes"
                    if _TEXT.match(data_type)
                    else f"a {_temporal_kind(data_type)} in quotes"
                )
            else:
                continue
            raise _literal_refusal(expression, name, data_type, shown, expected)
    return temporal


def _temporal_kind(data_type: str) -> str:
    return "date" if data_type == "DATE" else "timestamp"


def _literal_refusal(
    expression: str, column: str, data_type: str, shown: str, expected: str
) -> Invalid:
    return Invalid(
        f"the row filter {expression!r} compares column {column!r} ({data_type}) with "
        f"{shown}, which is not of that type: compare it with {expected}",
        field="expression",
        column=column,
        expression=expression,
    )


def _check_boolean(
    sql: str, columns: dict[str, tuple[str, str]], temporal: Sequence[_TemporalLiteral] = ()
) -> None:
    """Bind the filter against an empty relation of the asset's columns; it must be boolean,
    and each text literal compared with a date or timestamp column must parse as one."""
    nulls = ", ".join(f"CAST(NULL AS {t}) AS {quote(n)}" for n, t in columns.values())
    with duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
        },
    ) as connection:
        try:
            described = connection.execute(
                f"DESCRIBE SELECT ({sql}) AS f FROM (SELECT {nulls}) AS t"
            ).fetchall()
        except duckdb.Error as error:
            message = str(error).split("\n", 1)[0]
            raise Invalid(
                f"the row filter does not apply to this asset: {message}", field="expression"
            ) from None
        for literal in temporal:
            query = f"SELECT TRY_CAST($1 AS {literal.data_type}) IS NULL"
            unparsed = connection.execute(query, [literal.text]).fetchone()
            if unparsed is None or unparsed[0]:
                kind = _temporal_kind(literal.data_type)
                raise _literal_refusal(
                    literal.expression,
                    literal.column,
                    literal.data_type,
                    exp.Literal.string(literal.text).sql(dialect="duckdb"),
                    f"a {kind} in quotes",
                )
    if str(described[0][1]).upper() != "BOOLEAN":
        raise Invalid(
            f"a row filter must be a boolean expression, not {described[0][1]}",
            field="expression",
        )


def validate_column_filter(columns: list[str] | None, asset_columns: list[str]) -> list[str]:
    """The included columns in the asset's order; Invalid naming ``columns`` otherwise."""
    if not columns:
        raise Invalid("a column filter includes at least one column", field="columns")
    by_name = {c.lower(): c for c in asset_columns}
    chosen = set()
    for column in columns:
        if not isinstance(column, str) or column.lower() not in by_name:
            raise Invalid(
                f"unknown column {column!r} in the column filter", field="columns", column=column
            )
        chosen.add(by_name[column.lower()])
    return [c for c in asset_columns if c in chosen]


def _asset_columns(asset: Asset) -> dict[str, tuple[str, str]]:
    return {c.name.lower(): (c.name, c.data_type) for c in asset.columns}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid(
            "a filter name is 1-100 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit",
            field="name",
        )
    return name


def find_filter(session: Session, asset: Asset, name_or_id: str) -> AssetFilter:
    """A filter of ``asset`` by name (or id); NotFound otherwise."""
    found = session.scalar(
        select(AssetFilter).where(
            AssetFilter.asset_id == asset.id,
            or_(AssetFilter.name == name_or_id, AssetFilter.id == name_or_id),
        )
    )
    if found is None:
        raise NotFound(f"filter '{name_or_id}' of {asset.project.name}.{asset.name} not found")
    return found


class FilterService:
    """Create, list, change and delete the filters of an asset."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _asset(session: Session, principal: Principal, project: str, asset: str) -> Asset:
        """An asset whose filters the principal may read (members of its project)."""
        return find_asset(session, readable_project(session, principal, project), asset)

    def _governed(
        self, principal: Principal, action: str, project: str, asset: str, name: str
    ) -> AbstractContextManager[Command]:
        """A filter change: a decision serialised with approvals on the asset (ADR 18)."""
        return governed(
            self.store,
            principal,
            action,
            project=project,
            assets=[f"{project}.{asset}"],
            details={"filter": name},
            decision=_CONCURRENT.format(project, asset),
        )

    @staticmethod
    def _managed(command: Command, project: str, asset: str) -> Asset:
        """An asset whose filters the principal manages, locked as decisions lock (ADR 18)."""
        found = readable_project(command.session, command.principal, project)
        command.authorize(Action.FILTER_MANAGE, found)
        target = find_asset(command.session, found, asset)
        lock_assets(command.session, [target.id])
        return target

    @staticmethod
    def _taken(session: Session, asset: Asset, name: str) -> bool:
        same = (AssetFilter.asset_id == asset.id, AssetFilter.name == name)
        return session.scalar(select(AssetFilter.id).where(*same)) is not None

    def create_filter(
        self,
        principal: Principal,
        project: str,
        asset: str,
        name: str,
        *,
        kind: str,
        expression: str | None = None,
        columns: list[str] | None = None,
    ) -> FilterView:
        """Create a row filter (``expression``) or a column filter (``columns``); owners."""
        _check_name(name)
        if kind not in KINDS:
            raise Invalid("a filter kind is 'row' or 'column'", field="kind")
        with self._governed(principal, "filter.create", project, asset, name) as command:
            session = command.session
            target = self._managed(command, project, asset)
            if self._taken(session, target, name):
                raise Conflict(f"filter '{name}' of {project}.{asset} already exists", field="name")
            row = AssetFilter(
                asset_id=target.id, name=name, kind=kind, created_by=principal.user_id
            )
            self._apply(row, target, expression, columns)
            session.add(row)
            session.flush()
            command.details.update(self._details(row))
            return FilterView.of(row, target)

    @staticmethod
    def _apply(
        row: AssetFilter, asset: Asset, expression: str | None, columns: list[str] | None
    ) -> None:
        if row.kind == "row":
            if columns:
                raise Invalid("a row filter has an expression, not columns", field="columns")
            row.expression = validate_row_filter(expression or "", _asset_columns(asset))
            row.columns = None
        else:
            if expression:
                raise Invalid("a column filter has columns, not an expression", field="expression")
            row.columns = validate_column_filter(columns, [c.name for c in asset.columns])
            row.expression = None

    @staticmethod
    def _details(row: AssetFilter) -> dict:
        return {
            "filter": row.name,
            "filter_id": row.id,
            "kind": row.kind,
            "expression": row.expression,
            "columns": row.columns,
        }

    def check_filter(
        self,
        principal: Principal,
        project: str,
        asset: str,
        *,
        kind: str,
        expression: str | None = None,
        columns: list[str] | None = None,
    ) -> tuple[str | None, list[str] | None]:
        """Validate a filter as :meth:`create_filter` would, writing nothing (members of the
        asset's project): the canonical expression or the columns in the asset's order."""
        if kind not in KINDS:
            raise Invalid("a filter kind is 'row' or 'column'", field="kind")
        with self.store.session() as session:
            target = self._asset(session, principal, project, asset)
            row = AssetFilter(kind=kind)  # never added to the session
            self._apply(row, target, expression, columns)
            return row.expression, row.columns

    def list_filters(self, principal: Principal, project: str, asset: str) -> list[FilterView]:
        """The filters of an asset (members of its project)."""
        with self.store.session() as session:
            target = self._asset(session, principal, project, asset)
            rows = session.scalars(
                select(AssetFilter)
                .where(AssetFilter.asset_id == target.id)
                .order_by(AssetFilter.name)
            )
            return [FilterView.of(r, target) for r in rows]

    def get_filter(self, principal: Principal, project: str, asset: str, name: str) -> FilterView:
        with self.store.session() as session:
            target = self._asset(session, principal, project, asset)
            return FilterView.of(find_filter(session, target, name), target)

    def update_filter(
        self,
        principal: Principal,
        project: str,
        asset: str,
        name: str,
        *,
        new_name: str | None = None,
        expression: str | None = None,
        columns: list[str] | None = None,
    ) -> FilterView:
        """Rename a filter or change its expression or columns; grants using it follow at once."""
        with self._governed(principal, "filter.update", project, asset, name) as command:
            session = command.session
            target = self._managed(command, project, asset)
            row = find_filter(session, target, name)
            before = self._details(row)
            if new_name is not None and new_name != row.name:
                _check_name(new_name)
                if self._taken(session, target, new_name):
                    raise Conflict(
                        f"filter '{new_name}' of {project}.{asset} already exists", field="name"
                    )
                row.name = new_name
            if expression is not None or columns is not None:
                if row.kind == "row":
                    self._apply(row, target, expression, None if columns is None else columns)
                else:
                    self._apply(row, target, None if expression is None else expression, columns)
            row.updated_at = utcnow()
            session.flush()
            command.details.update(self._details(row), before=before)
            return FilterView.of(row, target)

    def delete_filter(self, principal: Principal, project: str, asset: str, name: str) -> None:
        """Delete a filter; Conflict while an active grant uses it."""
        with self._governed(principal, "filter.delete", project, asset, name) as command:
            session = command.session
            target = self._managed(command, project, asset)
            row = find_filter(session, target, name)
            uses = or_(Grant.row_filter_id == row.id, Grant.column_filter_id == row.id)
            active = session.scalars(select(Grant.id).where(uses, Grant.revoked_at.is_(None))).all()
            if active:
                raise Conflict(
                    f"filter '{row.name}' is used by {len(active)} active grant(s); revoke "
                    "them or approve without it first",
                    grants=list(active),
                )
            # Revoked grants and decided requests keep their history in the audit log.
            for column in ("row_filter_id", "column_filter_id"):
                session.execute(
                    update(Grant).where(getattr(Grant, column) == row.id).values({column: None})
                )
                session.execute(
                    update(SubscriptionRequestItem)
                    .where(getattr(SubscriptionRequestItem, column) == row.id)
                    .values({column: None})
                )
            command.details.update(self._details(row))
            session.delete(row)
