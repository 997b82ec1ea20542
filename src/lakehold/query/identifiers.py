"""Identifier folding exactly as DuckDB does it: one function for every pass.

DuckDB compares table, CTE, alias and column names case-insensitively, quoted or not, and
folds ASCII letters only: ``"K"`` and ``k`` are one name, ``"Ä"`` and ``"ä"`` are two, and the
Kelvin sign (U+212A) is not ``k``. Python's ``str.lower`` folds far more (``"\u212a".lower() ==
"k"``); a pass that used it could take for a CTE a name that DuckDB reads as something else
(a quoted file path, say). Every pass that compares identifiers uses :func:`fold`.
"""

from __future__ import annotations

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(name: str) -> str:
    """``name`` as DuckDB compares it: ASCII letters lower-cased, every other character kept."""
    return name.translate(_ASCII_LOWER)


def same(a: str, b: str) -> bool:
    """Whether DuckDB takes ``a`` and ``b`` for the same identifier."""
    return fold(a) == fold(b)
