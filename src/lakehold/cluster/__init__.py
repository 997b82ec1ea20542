"""The distributed engine: governed statements as DuckDB tasks on a Ray cluster (ADR 40).

The coordinator (this process) prepares, authorizes and binds a statement exactly as the
single-process engine does, splits it into a partial query and a final merge
(:mod:`lakehold.query.split`), binds one plan per slice of the largest table's files
(:mod:`lakehold.cluster.slices`), runs each on a Ray worker (:mod:`lakehold.cluster.task`,
which imports DuckDB and pyarrow only, never Lakehold), waits for them
(:mod:`lakehold.cluster.gather`) and merges their results in a locked DuckDB of its own
(:mod:`lakehold.cluster.merge`). :mod:`lakehold.cluster.statements` is the entry point.
"""
