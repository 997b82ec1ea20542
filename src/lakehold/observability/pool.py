"""The metadata store's connection pool as two gauges, moved by SQLAlchemy's pool events.

``checked_out``: connections lent to a session now; ``idle``: open connections waiting in the
pool. Each event moves a gauge by one (no read of the pool's state, which SQLAlchemy updates
only after its ``checkin`` event), so every engine of a process adds to the same two figures:
one engine per process in a server.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

from lakehold.observability.metrics import STORE_POOL_CONNECTIONS

_CHECKED_OUT = STORE_POOL_CONNECTIONS.labels("checked_out")
_IDLE = STORE_POOL_CONNECTIONS.labels("idle")


def _connected(*_: Any) -> None:  # a new connection, about to be checked out
    _IDLE.inc()


def _checked_out(*_: Any) -> None:
    _IDLE.dec()
    _CHECKED_OUT.inc()


def _checked_in(*_: Any) -> None:
    _CHECKED_OUT.dec()
    _IDLE.inc()


def _closed(*_: Any) -> None:  # idle beyond the pool's size, recycled, invalidated or disposed
    _IDLE.dec()


def _detached(*_: Any) -> None:  # a checked-out connection leaves the pool for good
    _CHECKED_OUT.dec()


def watch(engine: Engine) -> None:
    """Keep the gauges in step with ``engine``'s pool. Register it after any ``checkout``
    listener that may refuse a connection (a failed ping): a refused checkout is not one."""
    event.listen(engine, "connect", _connected)
    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "close", _closed)
    event.listen(engine, "detach", _detached)
