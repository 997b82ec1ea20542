"""Whether a statement's answer depends on the order in which DuckDB reads rows.

A view with a row filter ends in ``LIMIT <max>``, the barrier that keeps the user's predicates
above the row filter (:mod:`lakehold.query.bind`). While DuckDB preserves insertion order, that
LIMIT runs in a single thread; with ``preserve_insertion_order=false`` it runs in parallel and
stays a barrier (no filter is pushed through a LIMIT in either case). Turning insertion order
off is only allowed for a statement whose answer does not depend on it: its outermost query
orders or aggregates its rows, and no LIMIT/OFFSET picks rows, and no window numbers rows,
without an ORDER BY of their own.
"""

from __future__ import annotations

from sqlglot import exp

_PICKS = (exp.Limit, exp.Offset, exp.Fetch)


def order_free(query: exp.Expression) -> bool:
    """True when ``query``'s answer is the same whatever order its tables' rows are read in."""
    if not (query.args.get("order") or _aggregates(query)):
        return False
    for node in query.walk():
        if isinstance(node, _PICKS):
            owner = node.parent
            if owner is None or not owner.args.get("order"):
                return False
        if isinstance(node, exp.Window) and not node.args.get("order"):
            return False
    return True


def _aggregates(query: exp.Expression) -> bool:
    """The outermost SELECT groups its rows or computes aggregates (one row)."""
    if not isinstance(query, exp.Select):
        return False
    if query.args.get("group"):
        return True
    return any(
        isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window, exp.Select) is query
        for projection in query.expressions
        for node in projection.walk()
    )
