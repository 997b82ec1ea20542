"""Lakehold's errors as Flight RPC errors, answered without anything of the server in them.

pyarrow answers a Flight error class (``FlightUnauthenticatedError``...) with its gRPC status
and message alone. Any other exception becomes a status chosen by its type (``KeyError`` ->
NOT_FOUND, ``ValueError`` -> INVALID_ARGUMENT, ``NotImplementedError`` -> UNIMPLEMENTED) whose
message pyarrow follows with ``traceback.format_exception`` of it: source file names and line
numbers. So every handler of the server runs inside :func:`guarded` (a method) or
:func:`guarded_batches` (a result stream), whose code is compiled under the pseudo file name
``<lakehold.flight>``: an error of the handler is caught (:func:`attempt`), turned into a
fresh exception (:func:`flight_error`) and raised from that frame alone. The fresh exceptions
of those three statuses are :class:`Untraced`: the traceback module cannot format them, so
pyarrow falls back to naming their class (``Detail: Python exception: NotFoundError``): no
file, no line. An unexpected error is logged here, in full, and answered "internal error". Messages
are worded as the HTTP API words them: parser internals made readable
(``query.messages.readable``, the one import of the engine here), server paths replaced
(``lakehold.redaction``), and at most :data:`MAX_MESSAGE_BYTES` long (gRPC clients refuse an
answer whose trailers pass 8-16 KiB, which a long name echoed back would).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from lakehold.errors import (
    Cancelled,
    Conflict,
    Forbidden,
    Invalid,
    LakeholdError,
    NotFound,
    SourceUnavailable,
    Timeout,
    Unauthorized,
)
from lakehold.flight.protocol import Malformed
from lakehold.query.messages import readable
from lakehold.redaction import Redactor

log = logging.getLogger(__name__)

INTERNAL = "internal error"
MAX_MESSAGE_BYTES = 1024
"""An answered message is cut to this many bytes of UTF-8 (a name it echoes can be huge)."""


class Unsupported(LakeholdError):
    """A Flight SQL command or action this server does not implement (UNIMPLEMENTED)."""

    code = "unimplemented"


class _Unformattable(Exception):
    """Raised by ``traceback.format_exception`` of an :class:`Untraced` error."""


class Untraced(Exception):
    """An error answered without a traceback: reading ``__suppress_context__`` (as
    ``traceback.TracebackException`` does, unguarded, in every Python since 3.11) raises, so
    pyarrow's error detail falls back to the class's name. C code, which raises and prints
    exceptions, reads the field itself and is unaffected."""

    @property
    def __suppress_context__(self) -> bool:  # type: ignore[override]
        raise _Unformattable


class NotFoundError(Untraced, pa.ArrowKeyError):
    """NOT_FOUND."""


class InvalidArgumentError(Untraced, pa.ArrowInvalid):
    """INVALID_ARGUMENT."""


class UnimplementedError(Untraced, pa.ArrowNotImplementedError):
    """UNIMPLEMENTED."""


def flight_error(error: BaseException, redactor: Redactor) -> Exception:
    """The exception pyarrow answers with the gRPC status that matches ``error``; its message
    as the HTTP API words it (without parser internals or server paths), bounded."""
    if isinstance(error, flight.FlightError | Untraced):
        return error
    if isinstance(error, LakeholdError):
        return _mapped(error, bounded(redactor.text(readable(error.message))))
    if isinstance(error, Malformed):
        return InvalidArgumentError(bounded(str(error)))
    log.error("Flight SQL call failed", exc_info=error)
    return flight.FlightInternalError(INTERNAL)


def bounded(message: str) -> str:
    """``message``, cut to :data:`MAX_MESSAGE_BYTES` bytes of UTF-8 (ending ``...``)."""
    encoded = message.encode("utf-8")
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    return encoded[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."


def _mapped(error: LakeholdError, message: str) -> Exception:
    if isinstance(error, Unauthorized):
        return flight.FlightUnauthenticatedError(message)
    if isinstance(error, Forbidden):
        return flight.FlightUnauthorizedError(message)
    if isinstance(error, NotFound):
        return NotFoundError(message)
    if isinstance(error, Invalid | Conflict):
        return InvalidArgumentError(message)
    if isinstance(error, Unsupported):
        return UnimplementedError(message)
    if isinstance(error, Timeout):
        return flight.FlightTimedOutError(message)
    if isinstance(error, Cancelled):
        return flight.FlightCancelledError(message)
    if isinstance(error, SourceUnavailable):
        return flight.FlightUnavailableError(message)
    if error.status_code == 429:  # too many failed sign-ins: the credentials are refused
        return flight.FlightUnauthenticatedError(message)
    if error.status_code < 500:
        return InvalidArgumentError(message)
    log.error("Flight SQL call failed: %s", message)
    return flight.FlightInternalError(INTERNAL)


_STATUSES: tuple[tuple[type[BaseException], str], ...] = (
    (flight.FlightUnauthenticatedError, "UNAUTHENTICATED"),
    (flight.FlightUnauthorizedError, "PERMISSION_DENIED"),
    (flight.FlightTimedOutError, "DEADLINE_EXCEEDED"),
    (flight.FlightCancelledError, "CANCELLED"),
    (flight.FlightUnavailableError, "UNAVAILABLE"),
    (flight.FlightInternalError, "INTERNAL"),
    (flight.FlightError, "UNKNOWN"),
    (KeyError, "NOT_FOUND"),
    (ValueError, "INVALID_ARGUMENT"),
)


def status_of(error: BaseException | None) -> str:
    """The gRPC status name a call that ended with ``error`` answered."""
    if error is None:
        return "OK"
    if isinstance(error, NotImplementedError):
        return "UNIMPLEMENTED"
    for kind, status in _STATUSES:
        if isinstance(error, kind):
            return status
    return "UNKNOWN"


def attempt(
    redactor: Redactor, call: Callable[..., Any], *args: Any
) -> tuple[Any, Exception | None]:
    """``call(*args)`` and no error, or no result and the error to raise instead."""
    try:
        return call(*args), None
    except Exception as error:  # every error is answered, and none with a traceback
        return None, flight_error(error, redactor)


_SOURCE = """
def guarded(name):
    def method(self, *args):
        result, error = attempt(self.redactor, getattr(self, name), *args)
        if error is not None:
            raise error
        return result
    method.__name__ = name.lstrip("_")
    return method


def guarded_batches(redactor, batches):
    iterator = iter(batches)
    while True:
        batch, error = attempt(redactor, next, iterator, None)
        if error is not None:
            raise error
        if batch is None:
            return
        yield batch
"""
_namespace: dict[str, Any] = {"attempt": attempt}
exec(compile(_SOURCE, "<lakehold.flight>", "exec"), _namespace)

guarded: Callable[[str], Callable[..., Any]] = _namespace["guarded"]
"""A server method that runs the method ``name`` of the server (whose ``redactor`` words the
messages), its errors answered as above."""
_guarded_batches: Callable[..., Iterator[pa.RecordBatch]] = _namespace["guarded_batches"]


def guarded_batches(
    redactor: Redactor, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``batches``, an error while reading them answered as above."""
    return _guarded_batches(redactor, batches)
