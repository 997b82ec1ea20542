"""Attach an external database to a DuckDB connection, read-only, through its scanner.

A :class:`ConnectionSpec` is everything needed to reach a source, credentials decrypted
(it is built by the connection service and never leaves the process: no ``repr`` of the
secret, never logged). :func:`attach` loads the scanner (:mod:`lakehold.sources.extensions`)
and runs ``ATTACH ... (TYPE postgres|mysql|sqlite, READ_ONLY)``; errors name the connection
and never show the secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from lakehold.errors import LakeholdError, SourceUnavailable
from lakehold.sources import extensions

KINDS = ("postgresql", "mysql", "sqlite", "files")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_DUCKDB_TYPES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach one source. ``params``: ``host``, ``port``, ``database``, ``user`` (server
    kinds) or ``path`` (sqlite file, folder of files); ``secret``: the password, if any."""

    name: str
    kind: str
    params: Mapping[str, Any]
    secret: str | None = field(default=None, repr=False)

    def attach_target(self, connect_timeout_s: int = 10, statement_timeout_s: float = 0) -> str:
        """The string ``ATTACH`` takes for this source (contains the secret). PostgreSQL also
        gets ``statement_timeout`` (0: none), so the server itself stops a query that runs
        past the statement's timeout."""
        p = self.params
        if self.kind == "sqlite":
            return str(p["path"])
        pairs: list[tuple[str, Any]] = [
            ("host", p.get("host", "127.0.0.1")),
            ("port", p.get("port", DEFAULT_PORTS[self.kind])),
            ("user", p.get("user")),
        ]
        if self.kind == "postgresql":
            pairs += [("dbname", p.get("database")), ("password", self.secret)]
            pairs += [("connect_timeout", connect_timeout_s)]
            if statement_timeout_s > 0:
                milliseconds = max(int(statement_timeout_s * 1000), 1)
                pairs += [("options", f"-c statement_timeout={milliseconds}")]
        elif self.kind == "mysql":
            pairs += [("database", p.get("database")), ("passwd", self.secret)]
        else:
            raise LakeholdError(f"connection kind {self.kind!r} cannot be attached")
        return " ".join(f"{k}={_conninfo_value(v)}" for k, v in pairs if v not in (None, ""))


def attach(
    connection: duckdb.DuckDBPyConnection,
    spec: ConnectionSpec,
    alias: str,
    *,
    connect_timeout_s: int = 10,
    statement_timeout_s: float = 0,
    schema: str | None = None,
) -> None:
    """Attach ``spec`` read-only as ``alias`` (an identifier chosen by the caller). With
    ``schema``, a PostgreSQL source loads the catalog of that schema only (faster)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", alias):
        raise ValueError(f"bad alias {alias!r}")
    if spec.kind not in _DUCKDB_TYPES:
        raise LakeholdError(f"connection kind {spec.kind!r} cannot be attached")
    extensions.load(connection, spec.kind)
    target = spec.attach_target(connect_timeout_s, statement_timeout_s).replace("'", "''")
    try:
        options = f"TYPE {_DUCKDB_TYPES[spec.kind]}, READ_ONLY"
        if schema is not None and spec.kind == "postgresql":
            options += ", SCHEMA '" + schema.replace("'", "''") + "'"
        connection.execute(f"ATTACH '{target}' AS {alias} ({options})")
    except duckdb.Error as e:
        raise SourceUnavailable(
            f"connection {spec.name!r} ({spec.kind}) is unavailable: {redact(str(e), spec)}"
        ) from None


def redact(message: str, spec: ConnectionSpec) -> str:
    """``message`` without the secret or the full attach string, and on one line."""
    if spec.secret:
        message = message.replace(spec.secret, "***")
    message = re.sub(r"(password|passwd)=\S+", r"\1=***", message)
    return " ".join(message.split())[:500]


def _conninfo_value(value: Any) -> str:
    text = str(value)
    if text and re.fullmatch(r"[A-Za-z0-9_.\-/:@]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
