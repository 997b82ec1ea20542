"""Structured logs (ADR 0036): a whole story told to a real ``lakehold serve`` writing JSON at
DEBUG (and tracing to a real OTLP receiver), then its whole log read back.

The story uses every kind of secret: the admin's and a user's tokens, users' passwords (a
portal sign-in, a wrong one), the session cookie, a PostgreSQL connection's password, a
MariaDB one that is refused, a webhook's plain and ``whsec_`` secrets (a delivery fails once,
then is retried), a service principal's client secret and the token it is exchanged for, the
metadata store's password (on PostgreSQL) and the Fernet key; one request even puts the
admin's token in its query string. Every log line is then a JSON object with the fields,
request lines carry their request id (and principal and project where known), and no secret
appears anywhere in the log or in any span.
"""

from __future__ import annotations

import base64
import contextvars
import io
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from lakehold.kernel import requests
from lakehold.observability import logs, request_context
from tests.ops.otlp_receiver import Receiver, otlp_receiver
from tests.servers import free_port, serve_process
from tests.sources.conftest import READER, SOURCES_DB, ensure_sources_database
from tests.webhook_receiver import receiver as webhook_receiver

SERVER = 2  # a server span's kind in OTLP
FIELDS = ("time", "level", "logger", "message", "request_id", "principal", "project")
SALES = b"region,amount\nnorth,10.5\nsouth,20.25\n"


def _eventually(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:g} s"
        time.sleep(0.1)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


class Story:
    """The secrets the story uses, as it makes them."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}

    def secret(self, name: str, value: str) -> str:
        self.secrets[name] = value
        return value


def _sign_in(url: str, username: str, password: str) -> dict[str, str]:
    """Sign in to the portal as a browser would; its cookies. (Cookies are passed by hand:
    they are Secure, which httpx's jar keeps for HTTPS only.)"""
    form = httpx.get(f"{url}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    cookies = dict(form.cookies)
    data = {"username": username, "password": password, "csrf_token": token.group(1), "next": "/"}
    signed = httpx.post(f"{url}/login", data=data, headers=_cookie_header(cookies))
    assert signed.status_code == 303, signed.text
    return dict(signed.cookies)


def _cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def _tell(url: str, admin_token: str, story: Story, hooks_url: str, hook_failures: Any) -> None:
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"})

    # People: two users with passwords, a token of the first.
    ana_password = story.secret("ana password", "Ana-Pa55-" + secrets.token_urlsafe(12))
    ben_password = story.secret("ben password", "Ben-Pa55-" + secrets.token_urlsafe(12))
    for name, password in (("ana", ana_password), ("ben", ben_password)):
        _ok(admin.post("/api/v1/users", json={"username": name, "password": password}), 201)
    ana_token = story.secret(
        "ana token",
        _ok(admin.post("/api/v1/tokens", json={"name": "t", "username": "ana"}), 201)["value"],
    )
    ben_token = story.secret(
        "ben token",
        _ok(admin.post("/api/v1/tokens", json={"name": "t", "username": "ben"}), 201)["value"],
    )
    ana = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ana_token}"})
    ben = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ben_token}"})

    # The portal: a wrong password, then a sign-in; a page with the session cookie.
    wrong = story.secret("wrong password", "Wrong-Pa55-" + secrets.token_urlsafe(12))
    form = httpx.get(f"{url}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    data = {"username": "ana", "password": wrong, "csrf_token": token.group(1), "next": "/"}
    refused = httpx.post(f"{url}/login", data=data, headers=_cookie_header(dict(form.cookies)))
    assert refused.status_code == 401
    cookies = _sign_in(url, "ana", ana_password)
    story.secret("session cookie", cookies["lakehold_session"])
    page = httpx.get(f"{url}/", headers=_cookie_header(cookies))
    assert page.status_code == 200, page.text

    # Data: a project, a table, statements (one refused), a request id of the client's own.
    _ok(admin.post("/api/v1/domains", json={"name": "Ops"}), 201)
    _ok(ana.post("/api/v1/projects", json={"name": "shop", "domain": "Ops"}), 201)
    _ok(ben.post("/api/v1/projects", json={"name": "lab", "domain": "Ops"}), 201)
    table = ana.post(
        "/api/v1/projects/shop/tables", data={"name": "sales"}, files={"file": ("s.csv", SALES)}
    )
    _ok(table, 201)
    query = {"sql": "select sum(amount) as total from sales where region <> 'x'", "project": "shop"}
    assert len(_ok(ana.post("/api/v1/query", json=query))["rows"]) == 1
    assert ana.post("/api/v1/query", json={"sql": "select * from shop.nothing"}).status_code == 404
    seen = ana.get("/api/v1/projects/shop/assets", headers={"X-Request-ID": "story-assets-1"})
    assert seen.status_code == 200 and seen.headers["X-Request-ID"] == "story-assets-1"

    # Connections: PostgreSQL with a password (trust auth: accepted), MariaDB refused.
    for rule in ("127.0.0.1:5432", "127.0.0.1:3306", hooks_url.split("/")[2]):
        _ok(admin.post("/api/v1/network-rules", json={"rule": rule}), 201)
    ensure_sources_database()
    postgres_password = story.secret("postgres password", "Pg-Pa55-" + secrets.token_urlsafe(12))
    params = {"host": "127.0.0.1", "port": 5432, "database": SOURCES_DB, "user": READER}
    body = {"name": "crm", "kind": "postgresql", "params": params, "password": postgres_password}
    _ok(ana.post("/api/v1/projects/shop/connections", json=body), 201)
    _ok(ana.post("/api/v1/projects/shop/connections/crm/test"))
    maria_password = story.secret("mariadb password", "Maria-Pa55-" + secrets.token_urlsafe(12))
    maria = {"host": "127.0.0.1", "port": 3306, "database": "mysql", "user": "root"}
    body = {"name": "stock", "kind": "mysql", "params": maria, "password": maria_password}
    created = ana.post("/api/v1/projects/shop/connections", json=body)
    if created.status_code == 201:
        created = ana.post("/api/v1/projects/shop/connections/stock/test")
    assert 400 <= created.status_code < 500 or created.status_code == 502, created.text

    # Webhooks with a plain and a whsec_ secret; the first delivery fails and is retried.
    plain = story.secret("webhook secret", "hook-secret-" + secrets.token_urlsafe(16))
    signing = story.secret(
        "whsec secret", "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    for secret in (plain, signing):
        hook = {"url": hooks_url, "secret": secret, "project": "shop"}
        _ok(ana.post("/api/v1/webhooks", json=hook), 201)
    hook_failures(1)
    listing = _ok(ana.post("/api/v1/projects/shop/assets/sales/publish"), 201)
    wanted = {"project": "lab", "listings": [listing["id"]], "reason": "a report"}
    _ok(ben.post("/api/v1/subscription-requests", json=wanted), 201)

    # A service principal: its client secret exchanged for a token, which runs a statement;
    # a wrong secret is refused.
    created_sp = _ok(
        ana.post(
            "/api/v1/projects/shop/service-principals",
            json={"name": "etl", "role": "contributor"},
        ),
        201,
    )
    client_secret = story.secret("client secret", created_sp["client_secret"])
    grant = {"grant_type": "client_credentials"}
    refused = httpx.post(
        f"{url}/oauth/token", data=grant, auth=(created_sp["client_id"], client_secret + "x")
    )
    assert refused.status_code == 401
    issued = httpx.post(
        f"{url}/oauth/token", data=grant, auth=(created_sp["client_id"], client_secret)
    )
    access = story.secret("service principal token", _ok(issued)["access_token"])
    robot = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {access}"})
    assert _ok(robot.post("/api/v1/query", json={"sql": "select count(*) as n from shop.sales"}))[
        "rows"
    ] == [{"n": 2}]

    # Delta Sharing: a recipient's token (in its profile) reads a shared table, and a signed
    # file URL (a credential until it expires) is fetched.
    _ok(ana.post("/api/v1/shares", json={"name": "shop_share", "project": "shop"}), 201)
    _ok(ana.post("/api/v1/shares/shop_share/tables", json={"asset": "sales"}), 201)
    made = ana.post(
        "/api/v1/share-recipients", json={"project": "shop", "name": "acme", "organisation": "A"}
    )
    profile = _ok(made, 201)["profile"]
    recipient_token = story.secret("recipient token", profile["bearerToken"])
    asked = {"share": "shop_share", "recipient": made.json()["recipient"]["id"], "reason": "r"}
    asked_id = _ok(ana.post("/api/v1/share-grants", json=asked), 201)["id"]
    _ok(ana.post(f"/api/v1/share-grants/{asked_id}/approve", json={}))
    answer = httpx.post(
        f"{url}/delta-sharing/shares/shop_share/schemas/shop/tables/sales/query",
        json={},
        headers={"Authorization": f"Bearer {recipient_token}"},
    )
    file_url = json.loads(answer.text.splitlines()[2])["file"]["url"]
    story.secret("signed file URL", file_url.rsplit("/", 1)[1])
    assert httpx.get(file_url).status_code == 200

    # Careless clients: a token in a query string, a token-shaped path.
    assert httpx.get(f"{url}/api/v1/me", params={"token": admin_token}).status_code == 401
    assert admin.get(f"/api/v1/nothing/{admin_token}").status_code == 404


def test_a_story_logs_json_lines_with_context_and_no_secret(
    tmp_path: Path, database_url: str
) -> None:
    story = Story()
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if database_url.startswith("postgresql"):  # trust auth: any password is accepted
        password = story.secret("metadata store password", "Db-Pa55-" + secrets.token_urlsafe(12))
        database_url = database_url.replace("postgres@", f"postgres:{password}@", 1)
    fernet = story.secret("secret key", Fernet.generate_key().decode())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOLD_", "OTEL_"))},
        "LAKEHOLD_HOME": str(home),
        "LAKEHOLD_PORT": str(port),
        "LAKEHOLD_DATABASE_URL": database_url,
        "LAKEHOLD_SECRET_KEY": fernet,
        "LAKEHOLD_LOG_FORMAT": "json",
        "LAKEHOLD_LOG_LEVEL": "DEBUG",
        "LAKEHOLD_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    }
    with otlp_receiver() as traces, webhook_receiver() as hooks:
        env["LAKEHOLD_OTLP_ENDPOINT"] = traces.url
        log = home.parent / "serve.log"
        # standard output: the banner (a first start's token), kept out of the log
        with serve_process(env, log, stdout=home.parent / "serve.out"):
            admin_token = story.secret("admin token", (home / "admin_token").read_text().strip())
            _tell(url, admin_token, story, hooks.url, hooks.fail)
            _eventually(lambda: len(hooks.events()) >= 3, "two deliveries and a retry")
        requests_logged = _check_log(log.read_text(), story)
        _check_spans(traces, story, requests_logged)


def _check_log(text: str, story: Story) -> int:
    """Check the log; the number of requests it logged."""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # each is JSON
    assert lines
    for line in lines:
        assert all(field in line for field in FIELDS), line
    assert {line["level"] for line in lines} >= {"DEBUG", "INFO"}
    assert any(line["message"].startswith("Started server process") for line in lines)

    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) > 25
    for line in access:  # every request line: its request id, its trace
        assert line["request_id"], line
        assert line["trace_id"] and line["span_id"], line
        assert set(line["http"]) == {"method", "path", "status", "client"}
    mine = [line for line in access if line["request_id"] == "story-assets-1"]
    assert [(m["principal"], m["project"], m["http"]["status"]) for m in mine] == [
        ("ana", "shop", 200)
    ]
    assert any(line["http"]["path"] == "/api/v1/me?token=[redacted]" for line in access), (
        "the query string's token is redacted"
    )
    assert any(line["principal"] == "sp-shop-etl" for line in access)  # a service principal
    queries = [line for line in access if line["http"]["path"] == "/api/v1/query"]
    assert ("ana", "shop", 200) in [
        (q["principal"], q["project"], q["http"]["status"]) for q in queries
    ]
    upload = [line for line in access if line["http"]["path"] == "/api/v1/projects/shop/tables"]
    assert [(u["principal"], u["project"]) for u in upload] == [("ana", "shop")]

    for name, secret in story.secrets.items():
        assert secret not in text, f"the {name} is in the log"
        if secret.startswith(("lh_", "lhr_")):  # nor a token's secret part alone
            assert secret.split("_", 2)[2] not in text, f"the {name}'s secret is in the log"
    return len(access)


def _check_spans(traces: Receiver, story: Story, requests_logged: int) -> None:
    """Every request's span was sent, the last ones at the shutdown; none holds a secret."""
    assert len([span for span in traces.spans if span.kind == SERVER]) == requests_logged
    texts = "\n".join(text for span in traces.spans for text in span.values())
    for name, secret in story.secrets.items():
        assert secret not in texts, f"the {name} is in a span"


# -- the formatter and the filter, in process ---------------------------------------------------


def _logger(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RedactSecrets())
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"lakehold.test.{secrets.token_hex(4)}")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.DEBUG
    return logger, stream


def test_an_error_line_has_its_context_exception_type_and_stack_redacted() -> None:
    # in a context of its own: an in-process CLI run earlier in this process leaves its
    # request id in the test thread's context (a CLI process serves one run)
    contextvars.Context().run(_an_error_line)


def _an_error_line() -> None:
    token = "lh_0123456789abcdef_" + secrets.token_urlsafe(32)
    logger, stream = _logger(logs.JsonFormatter())
    begun = requests.begin("rid-42")
    try:
        request_context.identify("ana", "shop")
        try:
            raise ValueError(f"could not use {token}")
        except ValueError:
            logger.exception("failed for %s", token)
    finally:
        requests.end(begun)
    logger.info("outside any request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "ERROR" and first["message"] == "failed for [redacted]"
    assert (first["request_id"], first["principal"], first["project"]) == ("rid-42", "ana", "shop")
    assert first["exception"]["type"] == "ValueError"
    assert "Traceback" in first["exception"]["stack"]
    assert "could not use [redacted]" in first["exception"]["stack"]
    assert token not in stream.getvalue()
    assert "trace_id" not in first  # tracing is off
    assert first["time"].endswith("Z")
    assert (second["request_id"], second["principal"], second["project"]) == (None, None, None)


def test_text_lines_carry_the_context() -> None:
    logger, stream = _logger(logs.TextFormatter())
    begun = requests.begin("rid-7")
    try:
        request_context.identify("ben")
        logger.warning("connecting to postgresql://reader:S3cret-pw@db:5432/x")
    finally:
        requests.end(begun)
    line = stream.getvalue().strip()
    assert line.endswith("[request_id=rid-7 principal=ben]")
    assert "WARNING" in line and "postgresql://reader:[redacted]@db:5432/x" in line


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
        ("{'authorization': 'Basic dXNlcjpwdw=='}", "{'authorization': '[redacted]'}"),
        ("[(b'cookie', b'lakehold_session=s3cr3t')]", "[(b'cookie', b'[redacted]')]"),
        ("Cookie: a=1; b=2", "Cookie: [redacted]"),
        ("token lh_0123456789abcdef_Zz-_09 ok", "token [redacted] ok"),
        ("secret lhsps_abcDEF-_123 ok", "secret [redacted] ok"),
        ("profile lhr_0123456789abcdef_Zz-_09 ok", "profile [redacted] ok"),
        (
            '"GET /delta-sharing/files/eyJn.Qk9_x-Y= HTTP/1.1" 200',
            '"GET /delta-sharing/files/[redacted] HTTP/1.1" 200',
        ),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/x+y= signs", "[redacted] signs"),
        ("mysql://root:pw@127.0.0.1:3306/db", "mysql://root:[redacted]@127.0.0.1:3306/db"),
        ("GET /x?a=1&password=hunter2&b=2", "GET /x?a=1&password=[redacted]&b=2"),
        ("host=db password=hunter2 user=x", "host=db password=[redacted] user=x"),
        ('{"client_secret": "abc", "n": 1}', '{"client_secret": "[redacted]", "n": 1}'),
        ("select 1 from lh_table", "select 1 from lh_table"),
        ("GET /api/v1/projects/shop/assets 200", "GET /api/v1/projects/shop/assets 200"),
        # a line is searched for each pattern's text in any case, and one that is not ASCII
        # goes through every pattern: (?i) matches the long s as an s
        ("PASSWORD=a AUTHORIZATION: Bearer b", "PASSWORD=[redacted] AUTHORIZATION: [redacted]"),
        ("pa\u017f\u017fword=hunter2", "pa\u017f\u017fword=[redacted]"),
        ("\u00e9t\u00e9 lh_0123456789abcdef_Zz ok", "\u00e9t\u00e9 [redacted] ok"),
        (
            '127.0.0.1:5 - "POST /api/v1/query HTTP/1.1" 200',
            '127.0.0.1:5 - "POST /api/v1/query HTTP/1.1" 200',
        ),
    ],
)
def test_known_secret_shapes_are_redacted(text: str, redacted: str) -> None:
    assert logs.redact(text) == redacted


def test_the_default_format_is_text_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert logs.default_format(Terminal()) == "text"
    assert logs.default_format(io.StringIO()) == "json"
    config = logs.dict_config("json", "debug")
    assert config["root"]["level"] == "DEBUG"
    assert config["loggers"]["sqlalchemy"] == {"level": "WARNING"}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_default_format_follows_standard_error_as_it_is_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test runner or an embedding program replaces (and closes) standard error between
    commands: the format is chosen from the one in place, never the one seen at import."""
    import sys

    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert logs.default_format() == "text"
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)
    assert logs.default_format() == "json"
    replaced.close()
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert logs.default_format() == "text"
