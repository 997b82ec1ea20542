"""One error body shape everywhere, documented in OpenAPI; UTC timestamps with a Z."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.errors import Invalid
from lakehold.query.messages import readable
from lakehold.query.verify import verify

ERROR_STATUSES = {"400", "401", "403", "404", "409", "413"}
UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _shape(body: dict, error: str, request_id: str | None = None) -> None:
    assert body["error"] == error and isinstance(body["message"], str) and body["message"]
    assert body["request_id"] and (request_id is None or body["request_id"] == request_id)


def test_every_error_has_one_shape_with_the_request_id(
    client: TestClient, anonymous: TestClient
) -> None:
    missing = client.get("/api/v1/projects/nope", headers={"X-Request-ID": "req-42"})
    assert missing.status_code == 404
    _shape(missing.json(), "not_found", "req-42")
    assert missing.headers["X-Request-ID"] == "req-42"

    unknown_route = client.get("/api/v1/no-such-thing")
    assert unknown_route.status_code == 404
    _shape(unknown_route.json(), "not_found", unknown_route.headers["X-Request-ID"])
    assert "detail" not in unknown_route.json()

    wrong_method = client.put("/api/v1/domains")
    assert wrong_method.status_code == 405
    _shape(wrong_method.json(), "method_not_allowed")

    unauthenticated = anonymous.get("/api/v1/domains")
    assert unauthenticated.status_code == 401
    _shape(unauthenticated.json(), "unauthorized")

    bad_field = client.post("/api/v1/users", json={"username": "", "password": "x"})
    assert bad_field.status_code == 400
    body = bad_field.json()
    _shape(body, "invalid", bad_field.headers["X-Request-ID"])
    assert body["field"] == "username" and body["message"].startswith("username: ")


def test_unknown_fields_are_refused_by_name(client: TestClient) -> None:
    refused = client.post("/api/v1/domains", json={"name": "retail", "colour": "red", "x": 1})
    assert refused.status_code == 400
    body = refused.json()
    _shape(body, "invalid")
    assert body["message"] == "unknown fields: 'colour', 'x'" and body["field"] == "colour"
    assert client.get("/api/v1/domains").json() == []  # nothing was created

    nested = client.post(
        "/api/v1/metadata-forms",
        json={"domain": "d", "name": "f", "fields": [{"name": "a", "type": "text", "typo": 1}]},
    )
    assert nested.status_code == 400 and nested.json()["field"] == "fields.0.typo"


def test_invalid_json_says_where(client: TestClient) -> None:
    broken = client.post(
        "/api/v1/domains",
        content=b'{\n  "name": "retail",,\n}',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    body = broken.json()
    _shape(body, "invalid")
    assert (body["line"], body["column"]) == (2, 20)
    assert body["message"].startswith("invalid JSON at line 2, column 20: ")
    assert "JSON decode error" not in body["message"]


def test_openapi_documents_the_real_error_responses(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"}
    assert {"field", "line", "column", "request_id"} <= set(error["properties"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert set(responses) >= ERROR_STATUSES, (method, path)
            content = responses["404"]["content"]
            if path.startswith("/scim/v2/"):  # SCIM answers its own error format (RFC 7644)
                assert content["application/scim+json"]["schema"]["title"] == "ScimError"
                continue
            if path.startswith("/delta-sharing/"):  # the Delta Sharing protocol's errors
                assert content["application/json"]["schema"]["title"] == "DeltaSharingError"
                continue
            assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_timestamps_are_utc_with_a_z(client: TestClient) -> None:
    created = client.post("/api/v1/domains", json={"name": "retail"})
    assert UTC_Z.match(created.json()["created_at"])
    [read_back] = client.get("/api/v1/domains").json()  # read from the database
    assert UTC_Z.match(read_back["created_at"])
    assert read_back["created_at"] == created.json()["created_at"]
    tokens = client.get("/api/v1/tokens").json()
    assert tokens and all(UTC_Z.match(t["created_at"]) for t in tokens)
    events = client.get("/api/v1/audit", params={"limit": 5}).json()
    assert events and all(UTC_Z.match(e["at"]) for e in events)


def test_an_unexpected_error_has_the_shape_and_no_internals(runtime, admin_token) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("<Secret object at 0x7f00> /srv/lakehold/metadata.db")

    runtime.catalog.list_domains = broken
    with TestClient(create_app(runtime), raise_server_exceptions=False) as http:
        response = http.get(
            "/api/v1/domains",
            headers={"Authorization": f"Bearer {admin_token}", "X-Request-ID": "req-500"},
        )
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "message": "internal error; see the server log",
        "request_id": "req-500",
    }
    assert response.headers["X-Request-ID"] == "req-500"


def test_parser_internals_never_reach_the_message(client: TestClient) -> None:
    for sql in ("select * from", "select 1 +"):
        response = client.post("/api/v1/query", json={"sql": sql})
        assert response.status_code == 400, response.text
        message = response.json()["message"]
        assert "<" not in message and "json_serialize_sql" not in message, message
        assert "LINE 1" not in message and "sqlglot" not in message, message
    end = client.post("/api/v1/query", json={"sql": "select * from"}).json()["message"]
    assert "end of input" in end


def test_the_duckdb_check_never_shows_its_wrapper() -> None:
    with pytest.raises(Invalid) as nul:
        verify("SELECT 'a\x00b'")
    assert nul.value.message == "the query contains a NUL character"
    assert nul.value.details["field"] == "sql"
    message = readable(
        "Parser Error: unterminated quoted string at or near \"'SELECT ''a\"\n"
        "LINE 1: SELECT json_serialize_sql('SELECT ''a')\n                                  ^"
    )
    assert message == "Parser Error: unterminated quoted string at or near \"'SELECT ''a\""
    assert readable("missing for <class 'sqlglot.expressions.core.Add'>") == "missing for Add"
    assert (
        readable(
            "got <Token token_type: TokenType.SENTINEL, text: SENTINEL, line: 1, col: 1, "
            "start: 0, end: 0, comments: []>"
        )
        == "got end of input"
    )
    assert readable("at <Foo object at 0xdeadbeef>") == "at Foo"
