"""OpenTelemetry tracing, off unless an OTLP endpoint is configured (ADR 0036).

:func:`configure` turns it on when ``LAKEHOLD_OTLP_ENDPOINT`` or the standard
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (and
``OTEL_SDK_DISABLED`` is not true): spans are sampled by ratio (a request's sampled parent
decides for it), batched, and sent over OTLP/HTTP; service name ``lakehold`` unless
``OTEL_SERVICE_NAME`` says otherwise; the exporter's other ``OTEL_EXPORTER_OTLP_*`` settings
(headers, timeout, certificate, compression) apply. :func:`shutdown` sends what is left.

Instrumented code checks :data:`ENABLED`, a module attribute, before anything else: with
tracing off it costs that check and creates no span. Spans never carry a statement's text, an
error's message (either may hold literals) or anything secret: :func:`span` records the error's
type (a Lakehold error's code) and an error status, nothing else of the exception.

The tracer provider is this module's own, not OpenTelemetry's global one (which may be set
once per process): a test can turn tracing on and off again.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from lakehold.errors import LakeholdError

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, SpanKind, Tracer

ENABLED = False
"""True while tracing is on; check it before calling anything else of this module."""

SERVICE_NAME = "lakehold"
TRACES_PATH = "/v1/traces"

Attributes = Mapping[str, str | bool | int | float]
P = ParamSpec("P")
R = TypeVar("R")

_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def traces_endpoint(lakehold_endpoint: str | None, environ: Mapping[str, str]) -> str | None:
    """Where spans go: ``LAKEHOLD_OTLP_ENDPOINT`` (a collector's base URL, ``/v1/traces``
    added), else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (as is), else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` added); None: tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    base = lakehold_endpoint or None
    if base is None:
        signal = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if signal:
            return signal
        base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None
    if base is None:
        return None
    base = base.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def configure(
    endpoint: str | None,
    *,
    sample_ratio: float = 1.0,
    version: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> bool:
    """Turn tracing on when an endpoint is configured (see :func:`traces_endpoint`); True if
    it is on. A second call replaces the first configuration (after flushing it)."""
    global ENABLED, _provider, _tracer
    shutdown()
    url = traces_endpoint(endpoint, environ)
    if url is None:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    attributes = {"service.name": environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME}
    if version:
        attributes["service.version"] = version
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    _provider, _tracer = provider, provider.get_tracer("lakehold", version)
    ENABLED = True
    return True


def flush() -> bool:
    """Export the spans ended so far now; True when every one was sent."""
    return _provider.force_flush() if _provider is not None else True


def shutdown() -> None:
    """Turn tracing off, sending the spans not yet exported first."""
    global ENABLED, _provider, _tracer
    provider, ENABLED, _provider, _tracer = _provider, False, None, None
    if provider is not None:
        provider.shutdown()


def _active_tracer() -> Tracer:
    if _tracer is None:
        raise RuntimeError("tracing is off: check tracing.ENABLED first")
    return _tracer


@contextmanager
def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    kind: SpanKind | None = None,
    context: Context | None = None,
) -> Iterator[Span]:
    """A span, current while the block runs (a child of the current one, or of ``context``);
    an exception marks it failed (:func:`failed`). Only while :data:`ENABLED`."""
    from opentelemetry.trace import SpanKind

    with _active_tracer().start_as_current_span(
        name,
        context=context,
        kind=kind if kind is not None else SpanKind.INTERNAL,
        attributes=attributes,
        record_exception=False,  # an exception's message may hold a literal or a secret
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as error:
            failed(current, error)
            raise


def failed(current: Span, error: BaseException) -> None:
    """Mark ``current`` failed by ``error``: its type (a Lakehold error's code), not its
    message."""
    from opentelemetry.trace import Status, StatusCode

    kind = error.code if isinstance(error, LakeholdError) else type(error).__qualname__
    current.set_attribute("error.type", kind)
    current.set_status(Status(StatusCode.ERROR))


def call(name: str, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)`` in a span ``name`` (only while :data:`ENABLED`)."""
    with span(name):
        return function(*args, **kwargs)


def spanned(
    name: str, describe: Callable[[Any], Attributes] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function: each call is a span ``name`` while tracing is on (``describe``
    gives attributes of its result); with tracing off, the function is called at once."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def traced(*args: P.args, **kwargs: P.kwargs) -> R:
            if not ENABLED:
                return function(*args, **kwargs)
            with span(name) as current:
                result = function(*args, **kwargs)
                if describe is not None:
                    current.set_attributes(describe(result))
                return result

        return traced

    return decorate


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id (hex), for log lines; None outside a
    recorded span."""
    from opentelemetry.trace import get_current_span

    found = get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return format(found.trace_id, "032x"), format(found.span_id, "016x")


def current_context() -> Context:
    """The current trace context, to continue on another thread."""
    from opentelemetry import context

    return context.get_current()


def extract(headers: Mapping[str, str]) -> Context:
    """The trace context a request continues (its W3C ``traceparent``, or as
    ``OTEL_PROPAGATORS`` configures)."""
    from opentelemetry import propagate

    return propagate.extract(headers)
