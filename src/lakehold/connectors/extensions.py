"""DuckDB scanner extensions from the ``duckdb-extension-*`` packages, loaded by file path.

Nothing is downloaded at run time (ADR 3, ADR 9). Each package ships
``extensions/v<duckdb version>/<name>.duckdb_extension``; DuckDB derives an extension's entry
point from its file name, and the scanners' entry points carry their full names
(``postgres_scanner``, ``mysql_scanner``, ``sqlite_scanner``), so each file is linked once
under that name in a private folder and loaded from there.

Verifying an extension's signature costs ~110 ms per database. :func:`verified_path`
verifies each file once per process (a signed load into a scratch database); the databases
of federated statements then load the verified file with ``allow_unsigned_extensions``
(users can never run ``LOAD`` themselves: the sandbox refuses it and the configuration is
locked before user SQL runs).

:func:`load` also applies the scanner's :data:`SETTINGS`: the MySQL scanner's aggregate
pushdown (1.5.5) fails with an internal error on any aggregate over a table read through a
subquery -- which every governed view is -- so it is off (DuckDB aggregates the rows the
scan returns; filters and projections are still pushed down).
"""

from __future__ import annotations

import importlib
import os
import tempfile
import threading
from pathlib import Path

import duckdb

from lakehold.errors import LakeholdError

#: connection kind -> (Python package, file stem in the package, scanner name)
SCANNERS: dict[str, tuple[str, str, str]] = {
    "postgresql": ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    "mysql": ("duckdb_extension_mysql", "mysql", "mysql_scanner"),
    "sqlite": ("duckdb_extension_sqlite", "sqlite", "sqlite_scanner"),
}

#: connection kind -> statements run right after its scanner is loaded
SETTINGS: dict[str, tuple[str, ...]] = {
    "mysql": ("SET mysql_aggregate_pushdown_enabled=false",),
}

_lock = threading.Lock()
_verified: dict[str, str] = {}
_folder = Path(tempfile.gettempdir()) / f"lakehold-extensions-{os.getuid()}-{duckdb.__version__}"


def package_path(kind: str) -> Path:
    """The extension file the ``duckdb-extension-*`` package ships for ``kind``."""
    package, stem, _ = SCANNERS[kind]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise LakeholdError(f"the {package.replace('_', '-')} package is not installed") from None
    assert module.__file__ is not None  # a regular package (with an __init__.py)
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = path / f"{stem}.duckdb_extension"
    if not path.is_file():
        raise LakeholdError(f"no {stem} extension for DuckDB {duckdb.__version__} in {package}")
    return path


def verified_path(kind: str) -> str:
    """The path to load the scanner for ``kind`` from, its signature checked once."""
    with _lock:
        if kind in _verified:
            return _verified[kind]
        _, _, scanner = SCANNERS[kind]
        _folder.mkdir(mode=0o700, exist_ok=True)
        link = _folder / f"{scanner}.duckdb_extension"
        source = package_path(kind)
        if not link.is_symlink() or link.resolve() != source.resolve():
            temporary = _folder / f".{scanner}.{os.getpid()}.{threading.get_ident()}"
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(source)
            temporary.replace(link)
        scratch = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        try:
            scratch.execute(f"LOAD '{_escape(str(link))}'")  # signature checked here
        finally:
            scratch.close()
        _verified[kind] = str(link)
        return _verified[kind]


def load(connection: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Load the scanner for ``kind`` into ``connection`` (started with
    ``allow_unsigned_extensions``; the file's signature was verified by :func:`verified_path`)."""
    connection.execute(f"LOAD '{_escape(verified_path(kind))}'")
    for statement in SETTINGS.get(kind, ()):
        connection.execute(statement)


def _escape(value: str) -> str:
    return value.replace("'", "''")
