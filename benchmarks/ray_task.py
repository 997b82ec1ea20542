"""The one task DuckDB-per-task runs on a Ray worker: DuckDB and text, nothing else.

Kept apart from :mod:`benchmarks.ray_tasks` so that a worker importing it loads ``duckdb``,
``pyarrow`` and ``ray`` only -- no Lakehold, no metadata store, no settings.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import ray


@ray.remote(num_cpus=1)
def partial(setup: str, statement: str) -> pa.Table:
    """A fresh DuckDB, one thread, locked to its files by ``setup``; the partial query."""
    con = duckdb.connect(
        config={
            "threads": 1,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    try:
        con.execute("SET TimeZone='UTC'")
        con.execute(setup)
        return con.execute(statement).to_arrow_table()
    finally:
        con.close()
