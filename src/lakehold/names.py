"""Naming rules for things addressed in SQL and URLs."""

from __future__ import annotations

import re

from lakehold.errors import Invalid

_SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@+-]{0,63}$")
"""An e-mail address is a user name too (identity providers send them as SCIM userName)."""
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
RESERVED = frozenset(
    {"main", "system", "temp", "information_schema", "pg_catalog", "memory", "lakehold"}
)


def check_sql_name(field: str, name: str) -> str:
    """Validate a project or table name: lower-case letters, digits, underscore; ≤ 63 chars."""
    if not isinstance(name, str) or not _SQL_NAME.match(name):
        raise Invalid(
            f"{field} '{name}' is not a valid name: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore, at most 63 characters",
            field=field,
        )
    if name in RESERVED:
        raise Invalid(f"{field} '{name}' is a reserved name", field=field)
    return name


def check_username(name: str) -> str:
    """Validate a user name."""
    if not _USERNAME.match(name or ""):
        raise Invalid(
            f"username '{name}' is not valid: 1 to 64 lower-case letters, digits, '_', '.', "
            "'-', '@', '+' (an e-mail address is one), starting with a letter or digit",
            field="username",
        )
    return name


def check_group_name(name: str, field: str = "name") -> str:
    """Validate a group name: 1 to 100 letters, digits, '_', '.', '-'."""
    if not isinstance(name, str) or not _GROUP_NAME.match(name):
        raise Invalid(
            f"group name '{name}' is not valid: 1 to 100 letters, digits, '_', '.', '-'",
            field=field,
        )
    return name
