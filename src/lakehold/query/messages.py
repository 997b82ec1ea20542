"""DuckDB errors as Lakehold errors, with messages safe to show the user.

A message never shows a generated view name (it is written back as ``project.table``), a
file path or URI, the context lines DuckDB quotes from the executed SQL (they are the
rewritten statement, not the user's), or DuckDB's "Did you mean ...?" suggestions (which
may name catalog objects the user did not write).

An internal or fatal error of the engine (a bug, with its stack trace) is never shown: the
user gets one fixed message and the original goes to the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

import duckdb

from lakehold.errors import Forbidden, Invalid, LakeholdError

log = logging.getLogger(__name__)

_STACK = re.compile(r"\s*Stack Trace:.*", re.DOTALL)
_CONTEXT = re.compile(r"\n\s*LINE \d+:.*", re.DOTALL)
_SUGGESTION = re.compile(r"\s*Did you mean [^\n]*", re.IGNORECASE)
_URI = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s\"'`,)\]]+", re.IGNORECASE)
_QUOTED_PATH = re.compile(r"([\"'`])(?:/|[A-Za-z]:[\\/]|\.{1,2}/)[^\"'`]*\1")
_CATALOG_PREFIX = re.compile(r'(?<![\w."])(?:"?memory"?\.)?"?main"?\.(?=["\w])')
_BARE_PATH = re.compile(r"(?<![\w.])/(?:[\w.\-]+/)+[\w.\-]*")

_CLASS = re.compile(r"<class '(?:[\w]+\.)*(\w+)'>")
_TOKEN = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+, col: \d+[^>]*>")
_OBJECT = re.compile(r"<(?:[\w]+\.)*(\w+) object at 0x[0-9a-fA-F]+>")
_WRAPPER = re.compile(r"json_serialize_sql\(.*", re.DOTALL)

_SERVER_PREFIXES = ("IO Error", "HTTP Error", "Connection Error")
_INTERNAL_PREFIXES = ("INTERNAL Error", "FATAL Error")
INTERNAL_MESSAGE = (
    "the query could not be executed: the query engine failed on this statement "
    "(an internal error, logged for the administrator)"
)


def sanitize(message: str, names: Mapping[str, str], files: Iterable[str] = ()) -> str:
    """``message`` without generated names, paths, SQL context or suggestions."""
    text = _STACK.sub("", message)
    text = _CONTEXT.sub("", text)
    text = _SUGGESTION.sub("", text)
    text = readable(text)
    text = _CATALOG_PREFIX.sub("", text)
    for view, shown in names.items():
        text = re.sub(rf'"?\b{re.escape(view)}\b"?', shown, text, flags=re.IGNORECASE)
    for path in sorted(files, key=len, reverse=True):
        text = text.replace(path, "<file>")
    text = _URI.sub("<file>", text)
    text = _QUOTED_PATH.sub(lambda m: f"{m.group(1)}<file>{m.group(1)}", text)
    text = _BARE_PATH.sub("<file>", text)
    return text.strip()


def readable(message: str) -> str:
    """``message`` without the parsers' internal objects: ``<class '...Add'>`` becomes ``Add``,
    ``<Token ...>`` the token's text (``end of input`` past the end), ``<X object at 0x...>``
    ``X``, and the SQL-checking wrapper (``json_serialize_sql(...)``) with DuckDB's quoted
    context is dropped."""
    text = _CONTEXT.sub("", message)
    text = _CLASS.sub(lambda m: m.group(1), text)
    text = _TOKEN.sub(_token_text, text)
    text = _OBJECT.sub(lambda m: m.group(1), text)
    text = _WRAPPER.sub("the query", text)
    return text.strip()


def _token_text(match: re.Match[str]) -> str:
    kind, text = match.group(1), match.group(2)
    return "end of input" if kind == "SENTINEL" else repr(text)


def is_interrupt(error: BaseException) -> bool:
    """Whether DuckDB stopped because the connection was interrupted."""
    return isinstance(error, duckdb.InterruptException) or str(error).startswith("INTERRUPT Error")


def translate(
    error: BaseException, names: Mapping[str, str], files: Iterable[str] = ()
) -> LakeholdError:
    """The Lakehold error for a DuckDB error raised by the statement (or its result stream)."""
    message = sanitize(str(error), names, files)
    if isinstance(error, duckdb.InternalException | duckdb.FatalException) or message.startswith(
        _INTERNAL_PREFIXES
    ):
        log.error("the query engine failed: %s", message)
        return LakeholdError(INTERNAL_MESSAGE)
    if isinstance(error, duckdb.PermissionException) or message.startswith("Permission Error"):
        return Forbidden(f"refused by the query sandbox: {message}")
    if isinstance(error, duckdb.OutOfMemoryException) or message.startswith("Out of Memory"):
        return Invalid(f"the query needs more memory than its limit allows: {message}")
    if isinstance(
        error,
        duckdb.IOException | duckdb.HTTPException,
    ) or message.startswith(_SERVER_PREFIXES):
        return LakeholdError(f"the query could not be executed: {message}")
    return Invalid(message, field="sql")
