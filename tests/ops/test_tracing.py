"""OpenTelemetry tracing (ADR 0036), exported over OTLP/HTTP to a real receiver started here.

A statement over the API is a request span (continuing the caller's ``traceparent``) with the
statement's span under it, and the statement's plan (its prepare) and execute spans under
that; no span carries a literal of the statement. Tracing off: no exporter, no span, the
plain statement service and no tracing middleware.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.governance.statement_spans import TracedStatementService
from lakehold.governance.statements import StatementService
from lakehold.observability import tracing
from lakehold.observability.http_tracing import HttpTracing
from lakehold.runtime import Runtime
from tests.ops.otlp_receiver import ReceivedSpan, Receiver, otlp_receiver

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_PROPAGATORS",
)
SERVER = 2  # SpanKind SERVER in OTLP
STATUS_ERROR = 2
LITERALS = ("Zyx-literal-4711", "98765.4321", "Qwerty-literal")
SALES = b"region,amount\nnorth,10.5\nsouth,20.25\nZyx-literal-4711,98765.4321\n"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with otlp_receiver() as found:
        yield found
    tracing.shutdown()


def _http(runtime: Runtime, token: str) -> TestClient:
    client = TestClient(create_app(runtime))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _setup(http: TestClient) -> None:
    assert http.post("/api/v1/domains", json={"name": "Ops"}).status_code == 201
    project = {"name": "shop", "domain": "Ops"}
    assert http.post("/api/v1/projects", json=project).status_code == 201
    table = http.post(
        "/api/v1/projects/shop/tables",
        data={"name": "sales"},
        files={"file": ("sales.csv", SALES)},
    )
    assert table.status_code == 201, table.text


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


def _one(spans: list[ReceivedSpan]) -> ReceivedSpan:
    assert len(spans) == 1, spans
    return spans[0]


def _no_literal(spans: list[ReceivedSpan]) -> None:
    for span in spans:
        for text in span.values():
            assert not any(literal in text for literal in LITERALS), (span.name, text)


def test_a_statement_is_a_request_span_with_its_statement_spans(
    receiver: Receiver, runtime: Runtime, admin_token: str
) -> None:
    assert tracing.configure(receiver.url, version="9.9")
    assert isinstance(runtime.statements, TracedStatementService)
    sql = (
        "select region, amount from shop.sales "
        "where region <> 'Zyx-literal-4711' and amount < 98765.4321"
    )
    trace_id, parent_id, traceparent = _traceparent()
    with _http(runtime, admin_token) as http:
        _setup(http)
        answer = http.post(
            "/api/v1/query",
            json={"sql": sql, "project": "shop"},
            headers={"traceparent": traceparent},
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["rows"]) == 2
        refused = http.post(
            "/api/v1/query",
            json={"sql": "select cast('Qwerty-literal' as integer) as n", "project": "shop"},
        )
        assert refused.status_code == 400
    assert tracing.flush()

    request = _one([s for s in receiver.named("POST /api/v1/query") if s.trace_id == trace_id])
    assert request.parent_span_id == parent_id  # the caller's traceparent, continued
    assert request.kind == SERVER
    assert request.attributes["http.route"] == "/api/v1/query"
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["lakehold.request_id"] == answer.headers["X-Request-ID"]
    assert request.resource["service.name"] == "lakehold"
    assert request.resource["service.version"] == "9.9"

    in_trace = [s for s in receiver.spans if s.trace_id == trace_id]
    statement = _one([s for s in in_trace if s.name == "lakehold.statement"])
    assert statement.parent_span_id == request.span_id
    assert statement.attributes["lakehold.statement.id"] == answer.json()["statement_id"]
    assert statement.attributes["lakehold.project"] == "shop"
    assert statement.attributes["lakehold.statement.state"] == "FINISHED"
    assert statement.attributes["lakehold.statement.rows"] == 2
    assert statement.attributes["lakehold.principal"] == "admin"
    plan = _one([s for s in in_trace if s.name == "lakehold.statement.plan"])
    assert plan.parent_span_id == statement.span_id
    assert plan.attributes["lakehold.statement.tables"] == 1
    prepare = _one([s for s in in_trace if s.name == "lakehold.statement.prepare"])
    assert prepare.parent_span_id == plan.span_id
    execute = _one([s for s in in_trace if s.name == "lakehold.statement.execute"])
    assert execute.parent_span_id == statement.span_id
    assert execute.attributes["lakehold.statement.rows"] == 2

    # The refused statement: a trace of its own, failed by its error's code, not its message.
    failed = [s for s in receiver.named("lakehold.statement") if s.trace_id != trace_id]
    failed_statement = _one(failed)
    assert failed_statement.status_code == STATUS_ERROR
    assert failed_statement.attributes["error.type"] == "invalid"
    assert failed_statement.attributes["lakehold.statement.state"] == "FAILED"
    failed_request = _one(
        [s for s in receiver.named("POST /api/v1/query") if s.trace_id != trace_id]
    )
    assert failed_request.attributes["http.response.status_code"] == 400
    assert failed_request.status_code != STATUS_ERROR  # a 4xx is the client's error

    # The table upload: a write span under its request.
    write = _one(receiver.named("lakehold.table.write"))
    upload = _one(receiver.named("POST /api/v1/projects/{project}/tables"))
    assert write.parent_span_id == upload.span_id and write.trace_id == upload.trace_id
    assert write.attributes["lakehold.table.operation"] == "CREATE"

    _no_literal(receiver.spans)
    assert not any(
        text == sql or "select" in text.lower() for s in receiver.spans for text in s.values()
    )


def test_a_submitted_statement_executes_under_its_span_on_the_runner(
    receiver: Receiver, runtime: Runtime, admin_token: str
) -> None:
    assert tracing.configure(receiver.url)
    sql = "select count(*) as n from shop.sales where region = 'Zyx-literal-4711'"
    trace_id, _, traceparent = _traceparent()
    with _http(runtime, admin_token) as http:
        _setup(http)
        submitted = http.post(
            "/api/v1/statements",
            json={"sql": sql, "project": "shop"},
            headers={"traceparent": traceparent},
        )
        assert submitted.status_code == 201, submitted.text
        statement_id = submitted.json()["id"]
        done = http.get(
            f"/api/v1/statements/{statement_id}",
            params={"wait_seconds": 30, "seen_status": ["SUBMITTED", "STARTED"]},
        )
        assert done.json()["status"] == "FINISHED", done.text
        ctas_trace, _, ctas_parent = _traceparent()
        create = "create table shop.north as select * from shop.sales where region = 'north'"
        created = http.post(
            "/api/v1/statements", json={"sql": create}, headers={"traceparent": ctas_parent}
        )
        assert created.status_code == 201, created.text
        done = http.get(
            f"/api/v1/statements/{created.json()['id']}",
            params={"wait_seconds": 30, "seen_status": ["SUBMITTED", "STARTED"]},
        )
        assert done.json()["status"] == "FINISHED", done.text
    assert tracing.flush()

    in_trace = [s for s in receiver.spans if s.trace_id == trace_id]
    request = _one([s for s in in_trace if s.name == "POST /api/v1/statements"])
    statement = _one([s for s in in_trace if s.name == "lakehold.statement"])
    assert statement.parent_span_id == request.span_id
    assert statement.attributes["lakehold.statement.id"] == statement_id
    execute = _one([s for s in in_trace if s.name == "lakehold.statement.execute"])
    assert execute.parent_span_id == statement.span_id
    assert execute.attributes["lakehold.statement.rows"] == 1
    # CREATE TABLE ... AS SELECT: its table write under its execution, on the runner's thread
    ctas = [s for s in receiver.spans if s.trace_id == ctas_trace]
    ctas_execute = _one([s for s in ctas if s.name == "lakehold.statement.execute"])
    write = _one([s for s in ctas if s.name == "lakehold.table.write"])
    assert write.parent_span_id == ctas_execute.span_id
    assert write.attributes["lakehold.table.operation"] == "CREATE"
    _no_literal(receiver.spans)


def test_the_sample_ratio_and_a_sampled_parent_decide(
    receiver: Receiver, runtime: Runtime, admin_token: str
) -> None:
    assert tracing.configure(receiver.url, sample_ratio=0.0)
    trace_id, _, traceparent = _traceparent()
    with _http(runtime, admin_token) as http:
        assert http.get("/api/v1/me").status_code == 200
        assert http.get("/api/v1/me", headers={"traceparent": traceparent}).status_code == 200
    assert tracing.flush()
    assert [s.trace_id for s in receiver.named("GET /api/v1/me")] == [trace_id]


def test_tracing_is_off_by_default_no_exporter_no_spans(
    receiver: Receiver, runtime: Runtime, admin_token: str
) -> None:
    assert not tracing.configure(None)
    assert not tracing.configure(
        None, environ={"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    )
    assert not tracing.ENABLED
    assert type(runtime.statements) is StatementService
    app = create_app(runtime)
    assert HttpTracing not in [m.cls for m in app.user_middleware]
    with TestClient(app) as http:
        http.headers["Authorization"] = f"Bearer {admin_token}"
        _setup(http)
        query = {"sql": "select count(*) as n from shop.sales", "project": "shop"}
        assert http.post("/api/v1/query", json=query).status_code == 200
    assert tracing.flush()
    assert receiver.posts == 0 and receiver.spans == []


def test_the_standard_variables_turn_it_on(receiver: Receiver) -> None:
    url = receiver.url
    assert tracing.traces_endpoint(url, {}) == f"{url}/v1/traces"
    assert tracing.traces_endpoint(f"{url}/v1/traces", {}) == f"{url}/v1/traces"
    assert tracing.traces_endpoint(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": url + "/"}) == (
        f"{url}/v1/traces"
    )
    signal = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{url}/custom",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "x",
    }
    assert tracing.traces_endpoint(None, signal) == f"{url}/custom"
    assert tracing.traces_endpoint(None, {}) is None

    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_SERVICE_NAME": "lakehold-eu"}
    assert tracing.configure(None, environ=environ)
    with tracing.span("probe", {"n": 1}):
        pass
    assert tracing.flush()
    probe = _one(receiver.named("probe"))
    assert probe.resource["service.name"] == "lakehold-eu"
    tracing.shutdown()
    assert not tracing.ENABLED
