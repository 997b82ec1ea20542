"""SCIM filters (RFC 7644 §3.4.2.2) as SQLAlchemy conditions, and ``sortBy`` as an ordering.

A filter is parsed by scim2-models into a syntax tree (never pasted into SQL); this module
walks the tree and builds a condition over the columns a :class:`Target` maps attribute paths
to. Every value is a bound parameter; ``co``/``sw``/``ew`` escape ``%`` and ``_``. Strings
compare case-insensitively unless the attribute is case-exact (``id``, ``externalId``), as
RFC 7643 §2.1 says. Conditions never evaluate to NULL, so ``not (...)`` means what it says.
An attribute the target cannot filter on, a value of the wrong type or an operator the
attribute does not take is :class:`~lakehold.errors.Invalid` with ``scim_type``
``invalidFilter``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import ValidationError
from scim2_models import SCIMException, SearchRequest
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select, true

from lakehold.errors import Invalid
from lakehold.security import scim_resources

Kind = Literal["string", "exact", "boolean", "datetime"]


@dataclass(frozen=True)
class Attr:
    """A filterable attribute: its column (or expression) and how it compares."""

    column: Any
    kind: Kind = "string"
    nullable: bool = True


@dataclass(frozen=True)
class Relation:
    """A multi-valued attribute kept in another table (a user's ``groups``, a group's
    ``members``): ``exists(condition)`` is an EXISTS over the related rows meeting it,
    whose sub-attributes are ``attributes``; ``value`` is compared when none is named."""

    exists: Callable[[ColumnElement[bool]], ColumnElement[bool]]
    attributes: dict[str, Attr]


@dataclass(frozen=True)
class Target:
    """The attributes of one resource type, keyed by lower-case ``attr`` or ``attr.sub``."""

    schema: str
    attributes: dict[str, Attr | Relation]


def invalid(message: str) -> Invalid:
    """The error of a filter Lakehold cannot evaluate (400, scimType invalidFilter)."""
    return Invalid(message, field="filter", scim_type="invalidFilter")


def condition(target: Target, node: FilterNode) -> ColumnElement[bool]:
    """The SQL condition of a parsed filter over ``target``."""
    return _Translator(target, target.attributes).visit(node)


def ordering(target: Target, path: AttrPath, descending: bool) -> ColumnElement[Any]:
    """The ORDER BY expression of ``sortBy`` (strings case-insensitively, as RFC 7644
    §3.4.2.3 asks)."""
    found = _lookup(target, target.attributes, path)
    if isinstance(found, Relation):
        raise Invalid(f"cannot sort by '{path}'", field="sortBy", scim_type="invalidValue")
    column = func.lower(found.column) if found.kind == "string" else found.column
    return column.desc() if descending else column.asc()


def _lookup(target: Target, attributes: dict[str, Any], path: AttrPath) -> Attr | Relation:
    if path.uri is not None and path.uri.lower() != target.schema.lower():
        raise invalid(f"attribute '{path}' is not one of schema {target.schema}")
    key = path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")
    found = attributes.get(key)
    if found is None and path.sub_attr is not None:
        relation = attributes.get(path.attr.lower())
        if isinstance(relation, Relation):
            return relation
    if found is None:
        raise invalid(f"filtering on '{path}' is not supported")
    return found


class _Translator(FilterVisitor[ColumnElement[bool]]):
    """Filter nodes to SQL, over ``attributes`` (the target's, or a value path's)."""

    def __init__(self, target: Target, attributes: dict[str, Any], prefix: str = "") -> None:
        self.target = target
        self.attributes = attributes
        self.prefix = prefix

    def _find(self, path: AttrPath) -> tuple[Attr | Relation, AttrPath]:
        if self.prefix and path.uri is None and path.sub_attr is None:
            path = AttrPath(self.prefix, path.attr)  # emails[value eq "x"]: emails.value
        return _lookup(self.target, self.attributes, path), path

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        found, path = self._find(node.attr_path)
        if isinstance(found, Relation):
            sub = found.attributes.get((path.sub_attr or "value").lower())
            return found.exists(true() if sub is None else _present(sub))
        return _present(found)

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        found, path = self._find(node.attr_path)
        if isinstance(found, Relation):
            sub = found.attributes.get((path.sub_attr or "value").lower())
            if sub is None:
                raise invalid(f"filtering on '{path}' is not supported")
            return found.exists(_compare(sub, node.op, node.value, path))
        return _compare(found, node.op, node.value, path)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        path = node.attr_path
        found = self.attributes.get(path.attr.lower())
        if isinstance(found, Relation):
            return found.exists(_Translator(self.target, found.attributes).visit(node.val_filter))
        if path.sub_attr is not None:
            raise invalid(f"'{path}' cannot select values")
        return _Translator(self.target, self.attributes, path.attr).visit(node.val_filter)


def _present(attr: Attr) -> ColumnElement[bool]:
    if not attr.nullable:
        return true()
    if attr.kind in ("string", "exact"):
        return and_(attr.column.is_not(None), attr.column != "")
    return attr.column.is_not(None)


def _compare(attr: Attr, op: CompareOperator, value: Any, path: AttrPath) -> ColumnElement[bool]:
    column, operand = _operands(attr, op, value, path)
    if op == CompareOperator.eq:
        matched = column == operand
    elif op == CompareOperator.ne:
        differs = column != operand
        return or_(attr.column.is_(None), differs) if attr.nullable else differs
    elif op == CompareOperator.co:
        matched = column.contains(operand, autoescape=True)
    elif op == CompareOperator.sw:
        matched = column.startswith(operand, autoescape=True)
    elif op == CompareOperator.ew:
        matched = column.endswith(operand, autoescape=True)
    elif op == CompareOperator.gt:
        matched = column > operand
    elif op == CompareOperator.ge:
        matched = column >= operand
    elif op == CompareOperator.lt:
        matched = column < operand
    else:
        matched = column <= operand
    return and_(attr.column.is_not(None), matched) if attr.nullable else matched


def _operands(attr: Attr, op: CompareOperator, value: Any, path: AttrPath) -> tuple[Any, Any]:
    """The column side and the bound value of a comparison, checked for their type."""
    if attr.kind == "boolean":
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise invalid(f"'{path}' is a boolean: compare it with eq or ne and true or false")
        return attr.column, value
    if value is None and op in (CompareOperator.eq, CompareOperator.ne):
        raise invalid(f"compare '{path}' with null using 'pr' or 'not ({path} pr)'")
    if not isinstance(value, str):
        raise invalid(f"'{path}' is compared with a string")
    if attr.kind == "datetime":
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            raise invalid(f"'{path}' is a dateTime: compare it with eq, ne, gt, ge, lt or le")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"'{value}' is not a dateTime (e.g. 2026-01-31T12:00:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return attr.column, moment.astimezone(UTC)
    if attr.kind == "exact":
        return attr.column, value
    return func.lower(attr.column), value.lower()


# -- list requests ------------------------------------------------------------------------------

MAX_FILTER_CHARS = 4096
R = TypeVar("R")


@dataclass(frozen=True)
class ScimQuery:
    """A list request's parameters (RFC 7644 §3.4.2), as sent."""

    filter: str | None = None
    start_index: int = 1
    count: int | None = None
    sort_by: str | None = None
    sort_order: str | None = None


@dataclass(frozen=True)
class ScimPage(Generic[R]):
    """One page of a list: ``total`` matches, from the 1-based ``start_index``."""

    total: int
    start_index: int
    resources: list[R]


def _sort_path(text: str) -> AttrPath:
    """``sortBy`` as an attribute path (``meta.created``, ``urn:...:User:userName``)."""
    uri = None
    if text.lower().startswith("urn:"):
        uri, _, text = text.rpartition(":")
    attr, _, sub = text.partition(".")
    return AttrPath(attr, sub or None, uri)


def listing(
    model: type[Any], target: Target, query: ScimQuery, base: Select[Any]
) -> tuple[Select[Any], Select[Any], int]:
    """The page query and the count query of a list request, and its start index."""
    text = query.filter
    if text is not None and len(text) > MAX_FILTER_CHARS:
        raise invalid(f"the filter is longer than {MAX_FILTER_CHARS} characters")
    asked: dict[str, Any] = {"filter": text, "sortBy": query.sort_by}
    if query.sort_order is not None:
        asked["sortOrder"] = query.sort_order
    try:
        request = SearchRequest[model].model_validate(asked)  # type: ignore[valid-type]
        where = condition(target, request.filter.ast) if request.filter else true()
        descending = str(request.sort_order or "ascending").lower() == "descending"
        key = ordering(target, _sort_path(query.sort_by), descending) if query.sort_by else None
    except ValidationError as error:
        raise scim_resources.invalid(error) from None
    except (SCIMException, RecursionError, ValueError) as error:
        raise invalid(f"the filter is not valid: {error}") from None
    start = max(1, query.start_index)
    count = (
        scim_resources.DEFAULT_COUNT
        if query.count is None
        else min(max(0, query.count), scim_resources.MAX_RESULTS)
    )
    entity = base.column_descriptions[0]["entity"]
    order = [entity.created_at, entity.id] if key is None else [key, entity.id]
    page = base.where(where).order_by(*order).offset(start - 1).limit(count)
    counted = select(func.count()).select_from(base.where(where).subquery())
    return page, counted, start
