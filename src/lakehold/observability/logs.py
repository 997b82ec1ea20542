"""Log lines: JSON objects or text, with the request's id, principal and project (ADR 0036).

``LAKEHOLD_LOG_FORMAT=json`` writes one JSON object per line: ``time`` (UTC, ISO 8601),
``level``, ``logger``, ``message``, ``request_id``, ``principal`` (a user name), ``project``
(null when not known), ``trace_id`` and ``span_id`` inside a traced span, ``exception``
(``type`` and ``stack``) for an error, and ``http`` (method, path, status, client) on
uvicorn's access lines. ``text`` writes the same as one readable line; the default is text on a
terminal, JSON otherwise. Every line goes to standard error (standard output is the banner's,
which shows a first start's token).

:func:`dict_config` is the ``logging.config`` dictionary of a server, uvicorn's loggers
included (``lakehold serve`` passes it as uvicorn's ``log_config``, so each worker process
applies it too). Its handler's :class:`RedactSecrets` filter is defence in depth: no code logs
a secret on purpose, and whatever has a secret's shape is replaced by ``[redacted]`` anyway.
SQLAlchemy's own loggers stay at WARNING whatever the level: at INFO they would echo every
statement of the metadata store with its parameters (hashes, statement texts); so do httpx's,
which would log every URL fetched (a pre-signed Delta Sharing file URL is a credential).
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from lakehold.observability import request_context, tracing

Format = Literal["json", "text"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDACTED = "[redacted]"

_SECRET_NAMES = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token"
    r"|api_key|apikey"
)
_NAME_PARTS = ("password", "passwd", "pwd", "secret", "token", "api_key", "apikey")
"""What each of :data:`_SECRET_NAMES` contains."""
_HEADERS = r"authorization|proxy-authorization|cookie|set-cookie|x-api-key"
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # Each pattern with the texts one of which a line holds (lower-cased for a (?i) pattern)
    # wherever the pattern matches: a line holding none skips the pattern (ADR 22, addendum).
    # header values, as text ("Authorization: Bearer ..."), dict or ASGI tuple reprs
    (
        re.compile(rf"(?i)\b({_HEADERS})(['\"]?\s*[:=,]\s*(?:b?['\"])?)([^'\"\r\n]+)"),
        rf"\1\2{REDACTED}",
        ("authorization", "cookie", "x-api-key"),
    ),
    # Lakehold API tokens lh_<16 hex>_<secret>, client secrets lhsps_..., whsec_ secrets
    (re.compile(r"(?<![A-Za-z0-9])lh_[0-9a-f]{16}_[A-Za-z0-9_-]+"), REDACTED, ("lh_",)),
    (re.compile(r"(?<![A-Za-z0-9])lhsps_[A-Za-z0-9_-]+"), REDACTED, ("lhsps_",)),
    # Delta Sharing recipient tokens lhr_<16 hex>_<secret>, and signed file URLs (a URL is a
    # credential until it expires: an access log line must not hand it on)
    (re.compile(r"(?<![A-Za-z0-9])lhr_[0-9a-f]{16}_[A-Za-z0-9_-]+"), REDACTED, ("lhr_",)),
    (
        re.compile(r"(/delta-sharing/files/)[A-Za-z0-9_.=-]+"),
        rf"\1{REDACTED}",
        ("/delta-sharing/files/",),
    ),
    (re.compile(r"(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=_-]+"), REDACTED, ("whsec_",)),
    # passwords in URLs: scheme://user:password@host
    (re.compile(r"(://[^:/@\s'\"]*):([^@/\s'\"]+)@"), rf"\1:{REDACTED}@", ("://",)),
    # name=value (query strings, forms, DSNs) and "name": "value" (JSON, reprs)
    (re.compile(rf"(?i)\b({_SECRET_NAMES})=([^&\s'\"]+)"), rf"\1={REDACTED}", _NAME_PARTS),
    (
        re.compile(rf"(?i)(['\"](?:{_SECRET_NAMES})['\"]\s*:\s*b?['\"])([^'\"]*)"),
        rf"\1{REDACTED}",
        _NAME_PARTS,
    ),
)
_IGNORE_CASE = tuple(bool(pattern.flags & re.IGNORECASE) for pattern, _, _ in _PATTERNS)
_ANY_NEED = re.compile(
    "|".join(re.escape(need.lower()) for _, _, needs in _PATTERNS for need in needs)
)
"""Whether a lower-cased line holds any pattern's text (one search, for most lines the last)."""


def redact(text: str) -> str:
    """``text`` with whatever has a secret's shape replaced by ``[redacted]``.

    Each pattern runs only on a line that holds one of its texts (an access line holds none:
    nine regular expressions cost more than the rest of its request's logging). That test is
    exact for ASCII; a line with other characters goes through every pattern, since a (?i)
    pattern also matches some of them as ASCII letters (the long s as ``s``)."""
    ascii_only = text.isascii()  # and so it stays: the replacements are ASCII
    lowered = text.lower() if ascii_only else ""
    if ascii_only and _ANY_NEED.search(lowered) is None:
        return text
    for (pattern, replacement, needs), ignore_case in zip(_PATTERNS, _IGNORE_CASE, strict=True):
        if ascii_only:
            haystack = lowered if ignore_case else text
            if not any(need in haystack for need in needs):
                continue
        replaced = pattern.sub(replacement, text)
        if replaced != text:
            text = replaced
            lowered = text.lower() if ascii_only else ""
    return text


def _redacted_arg(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Redact a record's message, arguments, exception and stack before any formatter sees
    them (:func:`redact`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redacted_arg(v) for k, v in record.args.items()}
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it when it formats the record
            message = ""
        if redact(message) != message:  # a secret made of several arguments: the whole line
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _context() -> dict[str, Any]:
    served = request_context.current()
    fields: dict[str, Any] = {
        "request_id": served.request_id if served is not None else None,
        "principal": served.principal if served is not None else None,
        "project": served.project if served is not None else None,
    }
    if tracing.ENABLED:
        ids = tracing.current_ids()
        if ids is not None:
            fields["trace_id"], fields["span_id"] = ids
    return fields


def _access(record: logging.LogRecord) -> dict[str, Any] | None:
    """The request of a uvicorn access line (its arguments: client, method, path with query,
    HTTP version, status)."""
    if record.name != "uvicorn.access" or not isinstance(record.args, tuple):
        return None
    if len(record.args) != 5:
        return None
    client, method, path, _, status = record.args
    return {"method": method, "path": path, "status": status, "client": client}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(),
        }
        http = _access(record)
        if http is not None:
            line["http"] = http
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            kind = record.exc_info[0] if record.exc_info else None
            line["exception"] = {
                "type": kind.__qualname__ if kind is not None else None,
                "stack": record.exc_text,
            }
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger: message [request_id principal project trace_id]`` and the
    exception's stack on the lines after."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        known = [f"{k}={v}" for k, v in _context().items() if v is not None and k != "span_id"]
        if not known:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{' '.join(known)}]{newline}{rest}"


def default_format(stream: TextIO | None = None) -> Format:
    """Text on a terminal, JSON otherwise (``stream``: standard error as it is now)."""
    isatty = getattr(sys.stderr if stream is None else stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


class StandardError(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record comes (a test runner or
    an embedding program may replace it, and close the one it replaced)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def dict_config(format: Format | None = None, level: str = "INFO") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a server: the root logger, Lakehold's and
    uvicorn's, through one handler on standard error with the redaction filter."""
    chosen = format or default_format()
    level = level.upper()
    formatter = JsonFormatter if chosen == "json" else TextFormatter
    through_root = {"handlers": [], "level": level, "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets}},
        "formatters": {"lakehold": {"()": formatter}},
        "handlers": {
            "stderr": {
                "()": StandardError,
                "formatter": "lakehold",
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": through_root,
            "uvicorn.error": through_root,
            "uvicorn.access": through_root,
            "sqlalchemy": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
        },
    }


def configure(format: Format | None = None, level: str = "INFO") -> None:
    """Send this process's log records through :func:`dict_config`."""
    logging.config.dictConfig(dict_config(format, level))
