"""Rewrite pass: replace each table reference with the name of a view generated for it.

``retail.customer c`` becomes ``<view> AS c``; ``retail.customer`` becomes
``<view> AS customer`` so that ``customer.col`` still resolves; a column written as
``retail.customer.col`` loses its project part. Each distinct :class:`TableRef` gets one
view name, random per statement (a user's CTE cannot shadow it by guessing).
"""

from __future__ import annotations

import secrets

from sqlglot import exp

from lakehold.query.identifiers import fold
from lakehold.query.model import TableRef
from lakehold.query.qualify import Qualified


def view_names(refs: tuple[TableRef, ...]) -> dict[TableRef, str]:
    """A fresh generated view name for each reference."""
    token = secrets.token_hex(4)
    return {ref: f"_lh_{token}_{i}" for i, ref in enumerate(refs)}


def rewrite(qualified: Qualified, names: dict[TableRef, str]) -> None:
    """Point every table reference at its view, in place."""
    unaliased: set[tuple[str, str]] = set()
    for table, ref in qualified.occurrences:
        alias = table.args.get("alias")
        if not isinstance(alias, exp.TableAlias):
            alias = exp.TableAlias()
            table.set("alias", alias)
        if alias.this is None:
            alias.set("this", table.this.copy())
            unaliased.add((fold(ref.project), fold(table.name)))
        for key in ("db", "catalog", "version", "when"):
            table.set(key, None)
        table.set("this", exp.to_identifier(names[ref]))
    for column in qualified.long_columns:
        db = column.args.get("db")
        if (
            not column.args.get("catalog")
            and db is not None
            and (fold(db.name), fold(column.table)) in unaliased
        ):
            column.set("db", None)
