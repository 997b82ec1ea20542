"""The Flight SQL endpoint of ``lakehold serve``: started beside the HTTP API when
``LAKEHOLD_FLIGHT_PORT`` (``--flight-port``) is set, stopped with it (ADR 0038).

uvicorn ends on SIGTERM or SIGINT by shutting down and then raising the signal again, which
ends the process at once. :func:`running` holds that signal until the endpoint has stopped
(waiting statements cancelled, streams ended, gRPC's calls returned), then raises it again.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from lakehold.flight.server import FlightSqlServer

if TYPE_CHECKING:
    from lakehold.config import Settings
    from lakehold.runtime import Runtime

log = logging.getLogger(__name__)


def location(settings: Settings, port: int) -> str:
    """``grpc://host:port``, ``grpc+tls://...`` with a certificate."""
    host = settings.flight_host or settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    scheme = "grpc+tls" if settings.flight_tls_cert is not None else "grpc"
    return f"{scheme}://{host}:{port}"


def start(runtime: Runtime) -> FlightSqlServer | None:
    """The endpoint, serving in the background from now on (gRPC's own threads); None when
    no port is configured. Port 0 takes a free port (logged)."""
    settings = runtime.settings
    if settings.flight_port is None:
        return None
    certificates = None
    if settings.flight_tls_cert is not None and settings.flight_tls_key is not None:
        certificates = [
            (settings.flight_tls_cert.read_bytes(), settings.flight_tls_key.read_bytes())
        ]
    server = FlightSqlServer(
        runtime, location(settings, settings.flight_port), tls_certificates=certificates
    )
    log.info("Arrow Flight SQL endpoint at %s", location(settings, server.port))
    return server


def stop(server: FlightSqlServer | None) -> None:
    """Stop the endpoint (waiting statements are cancelled, result streams end)."""
    if server is not None:
        server.stop()
        log.info("Arrow Flight SQL endpoint stopped")


class _Signalled(BaseException):
    """A stop signal, held while the endpoint stops."""


@contextmanager
def running(runtime: Runtime) -> Iterator[FlightSqlServer | None]:
    """The endpoint (None without a port) while the block serves the HTTP API; stopped when
    the block ends, also by a stop signal, which is raised again once it has stopped."""
    server = start(runtime)
    if server is None or threading.current_thread() is not threading.main_thread():
        try:
            yield server
        finally:
            stop(server)
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)
        raise _Signalled

    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, hold) for number in signals}
    try:
        yield server
    except _Signalled:
        pass
    finally:
        stop(server)
        for kind, handler in previous.items():
            signal.signal(kind, handler)
    if held:
        signal.raise_signal(held[0])
