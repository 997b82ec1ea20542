"""Planner statistics of the search tables, refreshed after bulk changes (SQLite never
gathers them by itself; PostgreSQL's autovacuum does, later)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

TABLES = ("search_documents", "search_facets")


def refresh_statistics(session: Session) -> None:
    """``ANALYZE`` the search tables, in the caller's transaction."""
    session.flush()
    for name in TABLES:
        session.execute(text(f"ANALYZE {name}"))
