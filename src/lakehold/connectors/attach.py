"""Attach an external database to a DuckDB connection, read-only, through its scanner.

A :class:`ConnectionSpec` is everything needed to reach a source, credentials decrypted
(it is built by the connection service and never leaves the process: no ``repr`` of the
secret, never logged). :func:`attach` loads the scanner (:mod:`lakehold.connectors.extensions`)
and runs ``ATTACH ... (TYPE postgres|mysql|sqlite, READ_ONLY)``; errors name the connection
and never show the secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from lakehold.connectors import extensions
from lakehold.errors import LakeholdError, SourceUnavailable

KINDS = ("postgresql", "mysql", "sqlite", "files")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_DUCKDB_TYPES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach one source. ``params``: ``host``, ``port``, ``database``, ``user`` and
    optionally the TLS mode (``sslmode`` for PostgreSQL, ``ssl_mode`` for MySQL) (server kinds)
    or ``path`` (sqlite file, folder of files); ``secret``: the password, if any;
    ``hostaddr``: the checked address of ``host`` to connect to (set by the connection
    service after the network allow-list check, so a second name resolution cannot change
    the target)."""

    name: str
    kind: str
    params: Mapping[str, Any]
    secret: str | None = field(default=None, repr=False)
    hostaddr: str | None = None

    def keywords(
        self, connect_timeout_s: int = 10, statement_timeout_s: float = 0
    ) -> list[tuple[str, Any]]:
        """The driver's keyword parameters for this source (with the secret)."""
        p = self.params
        host = p.get("host", "127.0.0.1")
        pairs: list[tuple[str, Any]]
        if self.kind == "postgresql":
            pairs = [("host", host), ("hostaddr", self.hostaddr)]
            pairs += [("port", p.get("port", DEFAULT_PORTS[self.kind])), ("user", p.get("user"))]
            pairs += [("dbname", p.get("database")), ("password", self.secret)]
            pairs += [("sslmode", p.get("sslmode")), ("connect_timeout", connect_timeout_s)]
            if statement_timeout_s > 0:
                milliseconds = max(int(statement_timeout_s * 1000), 1)
                pairs += [("options", f"-c statement_timeout={milliseconds}")]
        elif self.kind == "mysql":
            pairs = [("host", self.hostaddr or host)]
            pairs += [("port", p.get("port", DEFAULT_PORTS[self.kind])), ("user", p.get("user"))]
            pairs += [("database", p.get("database")), ("passwd", self.secret)]
            pairs += [("ssl_mode", p.get("ssl_mode"))]
        else:
            raise LakeholdError(f"connection kind {self.kind!r} cannot be attached")
        return [(k, v) for k, v in pairs if v not in (None, "")]

    def attach_target(self, connect_timeout_s: int = 10, statement_timeout_s: float = 0) -> str:
        """The string ``ATTACH`` takes for this source (contains the secret): libpq
        keyword/value pairs for PostgreSQL, the MySQL scanner's for MySQL, every value
        quoted and escaped, so no value can end its own or add another parameter.
        PostgreSQL also gets ``statement_timeout`` (0: none), so the server itself stops a
        query that runs past the statement's timeout."""
        if self.kind == "sqlite":
            return str(self.params["path"])
        quote = _libpq_value if self.kind == "postgresql" else _mysql_value
        pairs = self.keywords(connect_timeout_s, statement_timeout_s)
        return " ".join(f"{k}={quote(v)}" for k, v in pairs)


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
    """``message`` without the secret (also as it appears quoted in a connection string) or
    any ``password=`` value, without a stack trace, and on one line."""
    message = message.split("Stack Trace:", 1)[0]
    if spec.secret:
        for form in _secret_forms(spec.secret):
            message = message.replace(form, "***")
    message = re.sub(
        r"""(password|passwd|pwd)\s*=\s*('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|\S+)""",
        r"\1=***",
        message,
        flags=re.IGNORECASE,
    )
    return " ".join(message.split())[:500]


def _secret_forms(secret: str) -> list[str]:
    """The secret as it may appear in a message: raw, quoted, escaped, SQL-doubled."""
    forms = {
        secret,
        _libpq_value(secret),
        _mysql_value(secret),
        _libpq_value(secret).replace("'", "''"),
        _mysql_value(secret).replace("'", "''"),
        secret.replace("'", "''"),
    }
    return sorted(forms, key=len, reverse=True)


def _libpq_value(value: Any) -> str:
    """A libpq connection-string value: always single-quoted, ``\\`` and ``'`` escaped."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _mysql_value(value: Any) -> str:
    """A value of DuckDB's MySQL scanner's connection string: always double-quoted, ``\\``
    and ``"`` escaped (the only escapes it knows)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
