"""Names of shares, schemas and tables as the Delta Sharing protocol allows them.

The protocol's names are case-insensitive, at most 255 characters, without spaces, slashes
or control characters (schemas and tables also without a period). Lakehold keeps them lower
case, of letters, digits, ``_`` and ``-``, starting with a letter, digit or ``_``: a name
that also reads as a path segment and a SQL identifier without quoting.
"""

from __future__ import annotations

import re

from lakehold.errors import Invalid

_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,254}$")


def sharing_name(value: object, field: str) -> str:
    """``value`` as a share, schema or table name (lower case); Invalid naming ``field``."""
    if not isinstance(value, str) or not _NAME.match(value.strip().lower()):
        raise Invalid(
            f"{field} is 1 to 255 letters, digits, '_' or '-' (case-insensitive), starting "
            "with a letter, digit or '_'",
            field=field,
        )
    return value.strip().lower()


def lookup_name(value: str) -> str:
    """A name from a request (a path segment), as stored: lower case; one no name can be
    (a NUL, a slash, too long...) is looked up as ``""``, which matches nothing (PostgreSQL
    refuses a NUL in a query outright)."""
    name = value.strip().lower()
    return name if _NAME.match(name) else ""
