"""A server process's logs and traces, from its settings (ADR 0036): what ``lakehold serve``
and ``lakehold demo`` (and each API worker process) set up before building their runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehold import __version__
from lakehold.observability import logs, tracing

if TYPE_CHECKING:
    from lakehold.config import Settings


def log_config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config`` dictionary of the server (uvicorn's ``log_config``)."""
    return logs.dict_config(settings.log_format, settings.log_level)


def start(settings: Settings) -> None:
    """Configure this process's logging, and tracing when an OTLP endpoint is set."""
    logs.configure(settings.log_format, settings.log_level)
    tracing.configure(
        settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio, version=__version__
    )


def stop() -> None:
    """Send the spans not yet exported."""
    tracing.shutdown()
