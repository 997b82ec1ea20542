"""When the record of a synchronous statement is written: once, at its end, unless it runs long.

A statement record and the audit of its admission cost a metadata commit, and its final state
another. A synchronous statement that ends within :data:`RECORD_AFTER_S` is recorded once, in
its final state, together with the audit of the decision, before its rows reach the caller: no
row leaves without an audit event, and one commit is saved. One that runs longer is recorded
STARTED by a timer (so that it can be listed and cancelled from elsewhere, and the reconciler
ends it if the process dies), then updated at its end, as an asynchronous statement is.

A process that dies within :data:`RECORD_AFTER_S` of a statement's start leaves no record of a
statement that returned nothing.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

RECORD_AFTER_S = 0.5
"""How long a synchronous statement runs before its record is written ahead of its end."""


class DeferredRecord:
    """Writes a running statement's record (``write``) if it is still running after
    ``after_s``; :meth:`finish` tells the caller whether it did."""

    def __init__(self, write: Callable[[], object], after_s: float = RECORD_AFTER_S) -> None:
        context = contextvars.copy_context()  # the request's id, for the audit event
        self._write = lambda: context.run(write)
        self._lock = threading.Lock()
        self._written = False
        self._finished = False
        self._timer = threading.Timer(after_s, self._early)
        self._timer.daemon = True
        self._timer.start()

    def _early(self) -> None:
        with self._lock:  # finish() waits for a write in progress
            if self._finished:
                return
            try:
                self._write()
            except Exception:  # the statement's end writes the whole record instead
                log.exception("could not record a running statement")
            else:
                self._written = True

    def finish(self) -> bool:
        """Stop the timer; True if the record was written (the caller updates it), False if
        not (the caller writes it whole, in its final state)."""
        self._timer.cancel()
        with self._lock:
            self._finished = True
            return self._written
