"""Statements run on the database driver's cursor, in a session's transaction, without
SQLAlchemy's statement building and compilation: for hot paths (every governed statement, lineage
folding) where those cost more than running the statement.

SQL is written with ``?`` placeholders (turned into ``%s`` for PostgreSQL). A list of values is
one parameter -- a JSON array on SQLite, an array on PostgreSQL -- placed by :func:`member_of`,
so that the number of values never changes the statement. Table and column names are always the
code's own, never input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def member_of(session: Session, column: str) -> str:
    """``column`` is one of the values of a list parameter (see :func:`values`)."""
    if is_sqlite(session):
        return f"{column} IN (SELECT value FROM json_each(?))"
    return f"{column} = ANY(?)"


def values(session: Session, items: Iterable[Any]) -> Any:
    """A list parameter for :func:`member_of`."""
    listed = list(items)
    return json.dumps(listed) if is_sqlite(session) else listed


def fetch(session: Session, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Run ``sql`` in the session's transaction; the rows it returns (none for a write)."""
    connection = session.connection()
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # the session's connection is checked out
    cursor = dbapi_connection.cursor()
    try:
        if connection.dialect.name == "sqlite":
            cursor.execute(sql, tuple(params))
        else:
            # Never a server-side prepared statement: a generic plan chosen while a table was
            # small would keep scanning the whole table once it has grown.
            # prepare= is psycopg's; SQLAlchemy types the cursor as a bare PEP 249 one.
            cursor.execute(sql.replace("?", "%s"), tuple(params), prepare=False)  # type: ignore[call-arg]
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    finally:
        cursor.close()
