"""Every request is bounded: integer parameters, upload and JSON body sizes, JSON depth, SQL
length; uploads stream to LAKEHOLD_HOME/staging and leave nothing behind; the home is private."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lakehold.api import uploads
from lakehold.api.app import create_app
from lakehold.cli.session import save_admin_token
from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests.scenarios.helpers import ok, setup_project

HUGE = "99999999999999999999"
TABLES = "/api/v1/projects/p/tables"


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's temporary directory, fresh: anything spooled there would show."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    assert tempfile.gettempdir() == str(folder)
    return folder


@pytest.fixture
def no_spooling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starlette's own multipart parser (which spools to the system temp dir) is never used."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an upload was spooled by Starlette")

    monkeypatch.setattr("starlette.formparsers.SpooledTemporaryFile", refuse)


def _table(client: TestClient, name: str = "t") -> None:
    setup_project(client, "p")
    ok(
        client.post(TABLES, data={"name": name}, files={"file": ("x.csv", b"id,name\n1,a\n2,b\n")}),
        201,
    )


def _invalid(response, field: str) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field, body
    assert field in body["message"]
    return body


def _staged(runtime: Runtime) -> list[Path]:
    return list(runtime.settings.staging_path.iterdir())


def _multipart(name: str, payload: bytes) -> tuple[bytes, str]:
    boundary = "lakeholdboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), boundary


# -- the five 500s ---------------------------------------------------------------------------


def test_huge_integers_are_400_naming_the_field(client: TestClient) -> None:
    _table(client)
    for hours in (HUGE, "1000000000000000", "87601"):
        response = client.post(
            f"{TABLES}/t/vacuum",
            content=f'{{"retention_hours": {hours}, "dry_run": true}}',
            headers={"Content-Type": "application/json"},
        )
        _invalid(response, "retention_hours")
    _invalid(client.get(f"{TABLES}/t/history", params={"limit": HUGE}), "limit")
    _invalid(client.get("/api/v1/catalog/search", params={"q": "", "offset": HUGE}), "offset")
    _invalid(
        client.post("/api/v1/webhooks/purge", params={"older_than_days": 1000000}),
        "older_than_days",
    )
    _invalid(client.post(f"{TABLES}/t/restore", json={"version": int(HUGE)}), "version")
    for path in ("/api/v1/jobs", "/api/v1/namespaces/lakehold/datasets"):
        _invalid(client.get(path, params={"offset": HUGE}), "offset")


def test_the_largest_allowed_values_work(client: TestClient) -> None:
    _table(client)
    dry = ok(client.post(f"{TABLES}/t/vacuum", json={"retention_hours": 87600, "dry_run": True}))
    assert dry["retention_hours"] == 87600 and dry["count"] == 0
    assert len(ok(client.get(f"{TABLES}/t/history", params={"limit": 100000}))) == 1
    found = ok(client.get("/api/v1/catalog/search", params={"q": "", "offset": 10**9}))
    assert found["results"] == [] if "results" in found else True
    ok(client.post("/api/v1/webhooks/purge", params={"older_than_days": 36500}))


def test_restore_of_a_vacuumed_version_is_a_conflict_naming_it(client: TestClient) -> None:
    _table(client)
    ok(
        client.post(
            f"{TABLES}/t/writes",
            data={"mode": "overwrite"},
            files={"file": ("x.csv", b"id,name\n3,c\n")},
        )
    )
    ok(client.post(f"{TABLES}/t/vacuum", json={"retention_hours": 0, "force": True}))
    before = ok(client.get(f"{TABLES}/t/history"))
    response = client.post(f"{TABLES}/t/restore", json={"version": 0})
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["field"] == "version" and "version 0" in body["message"]
    assert "vacuum" in body["message"]
    assert ok(client.get(f"{TABLES}/t/history")) == before  # nothing was committed


# -- uploads ---------------------------------------------------------------------------------


def test_upload_streams_to_staging_and_is_removed(
    client: TestClient, runtime: Runtime, private_tmp: Path, no_spooling: None
) -> None:
    seen: list[Path] = []
    create = runtime.table_service.create_table

    def spy(principal, project, name, data, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(Path(data.source))
        assert Path(data.source).is_file()
        return create(principal, project, name, data, **kwargs)

    runtime.table_service.create_table = spy  # type: ignore[method-assign]
    _table(client)
    assert seen and seen[0].parent == runtime.settings.staging_path
    assert stat.S_IMODE(runtime.settings.staging_path.stat().st_mode) == 0o700
    assert _staged(runtime) == [] and list(private_tmp.iterdir()) == []


def test_too_large_upload_is_413_and_leaves_nothing(
    client: TestClient, runtime: Runtime, private_tmp: Path, no_spooling: None
) -> None:
    setup_project(client, "p")
    runtime.settings.max_upload_bytes = 64 * 1024
    body, boundary = _multipart("big", b"id\n" + b"1\n" * 100_000)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    declared = client.post(TABLES, content=body, headers=headers)
    assert declared.status_code == 413, declared.text
    assert "LAKEHOLD_MAX_UPLOAD_BYTES" in declared.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = client.post(TABLES, content=chunks(), headers=headers)
    assert streamed.status_code == 413, streamed.text
    assert _staged(runtime) == [] and list(private_tmp.iterdir()) == []
    assert client.get("/api/v1/projects/p/assets/big").status_code == 404


def test_unauthenticated_upload_is_401_before_the_body_is_read(
    anonymous: TestClient, runtime: Runtime, private_tmp: Path, no_spooling: None
) -> None:
    body, boundary = _multipart("t", b"id\n" + b"1\n" * 1_000_000)  # 2 MB: would roll to disk
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for auth in ({}, {"Authorization": "Bearer lh_not_a_token"}):
        response = anonymous.post(TABLES, content=body, headers={**headers, **auth})
        assert response.status_code == 401, response.text
        response = anonymous.post(f"{TABLES}/t/writes", content=body, headers={**headers, **auth})
        assert response.status_code == 401, response.text
    assert _staged(runtime) == [] and list(private_tmp.iterdir()) == []


def test_a_failed_upload_leaves_no_staging_file(client: TestClient, runtime: Runtime) -> None:
    setup_project(client, "p")
    bad = client.post(TABLES, data={"name": "t"}, files={"file": ("x.csv", b"a,b\n1\n")})
    assert bad.status_code == 400, bad.text
    assert _staged(runtime) == []


def test_stale_staging_files_are_swept_at_start_up(runtime: Runtime) -> None:
    staging = runtime.settings.staging_path
    old, fresh = staging / "upload-old.csv", staging / "upload-fresh.csv"
    for path in (old, fresh):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    create_app(runtime)
    assert not old.exists() and fresh.exists()


# -- JSON bodies and SQL ---------------------------------------------------------------------


def test_sql_longer_than_the_limit_is_400_naming_sql(client: TestClient, runtime: Runtime) -> None:
    started = time.monotonic()
    long_sql = "select 1" + " " * runtime.settings.max_sql_chars
    response = client.post("/api/v1/query", json={"sql": long_sql})
    _invalid(response, "sql")
    assert time.monotonic() - started < 10
    runtime.settings.max_sql_chars = 20
    _invalid(client.post("/api/v1/statements", json={"sql": "select 1" + " " * 20}), "sql")
    assert ok(client.post("/api/v1/query", json={"sql": "select 1 as n"}))["rows"]


def test_json_body_size_and_depth_are_bounded(client: TestClient, runtime: Runtime) -> None:
    runtime.settings.max_json_bytes = 4096
    big = {"sql": "select 1", "project": "x" * 5000}
    response = client.post("/api/v1/query", json=big)
    assert response.status_code == 413, response.text
    assert "LAKEHOLD_MAX_JSON_BYTES" in response.json()["message"]
    payload = json.dumps(big).encode()
    streamed = client.post(
        "/api/v1/query",
        content=iter([payload[:3000], payload[3000:]]),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text
    deep: object = "x"
    for _ in range(65):
        deep = [deep]
    _invalid(client.post("/api/v1/domains", json={"name": deep}), "body")
    very_deep = "[" * 100_000 + "]" * 100_000  # beyond Python's recursion limit too
    runtime.settings.max_json_bytes = 1024 * 1024
    response = client.post(
        "/api/v1/domains", content=very_deep, headers={"Content-Type": "application/json"}
    )
    _invalid(response, "body")
    fine: object = "x"
    for _ in range(20):
        fine = {"a": fine}
    assert client.post("/api/v1/domains", json={"name": "D", "x": fine}).status_code < 500


def test_body_checks_hold_at_their_limits_and_in_any_json_encoding(
    client: TestClient, runtime: Runtime
) -> None:
    """A body that cannot fail the checks is not parsed for them (a statement's body is parsed
    once, by its endpoint); the checks refuse exactly what they refused when every body was:
    at the depth limit a body passes and one level deeper it is refused, many shallow objects
    pass, and a NUL escaped in a UTF-16 body (which has NUL bytes of its own) is refused."""
    runtime.settings.max_json_depth = 3
    at_limit = client.post("/api/v1/domains", json={"name": "d", "x": {"a": {"b": 1}}})
    assert at_limit.status_code == 400 and at_limit.json()["field"] == "x", at_limit.text
    _invalid(client.post("/api/v1/domains", json={"name": "d", "x": {"a": {"b": {}}}}), "body")
    shallow = client.post("/api/v1/domains", json={"name": "d", "x": {}, "y": {}, "z": []})
    assert shallow.status_code == 400 and shallow.json()["field"] != "body", shallow.text
    for encoding in ("utf-16", "utf-32", "utf-8"):
        body = json.dumps({"sql": "select 'a\u0000b'"}).encode(encoding)
        response = client.post(
            "/api/v1/query", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (encoding, response.text)
        assert response.json()["field"] == "sql" and "NUL" in response.json()["message"]


# -- the home tree ---------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_home_tree_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)  # made by an earlier version: narrowed
    settings = Settings(home=home)
    runtime = Runtime(settings)
    try:
        for folder in (
            home,
            settings.warehouse_path,
            settings.results_path,
            settings.staging_path,
        ):
            assert _mode(folder) == 0o700, folder
        assert settings.metadata_file is not None
        assert _mode(settings.metadata_file) == 0o600
        token = home / "admin_token"
        token.write_text("old\n")
        token.chmod(0o644)
        assert _mode(save_admin_token(settings, "lh_x")) == 0o600
    finally:
        runtime.close()


def test_sweep_staging_counts_what_it_removed(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    assert uploads.sweep_staging(staging) == 0
    staging.mkdir()
    (staging / "upload-a").write_bytes(b"")
    (staging / "other").write_bytes(b"")
    assert uploads.sweep_staging(staging, max_age_seconds=-1) == 1
    assert [p.name for p in staging.iterdir()] == ["other"]


def test_a_nul_character_is_400_before_anything_is_read_or_written(
    client: TestClient, runtime: Runtime
) -> None:
    """PostgreSQL refuses a NUL in any text, SQLite stores it: both refuse it the same way,
    as bad input, in a URL's path or query, in any JSON key or string, and in a form field."""
    setup_project(client, "p")
    for response, field in [
        (client.get("/api/v1/projects/p%00x"), "path"),
        (client.get("/api/v1/share-grants/a%00b"), "path"),
        (client.get("/api/v1/catalog/search", params={"q": "a\x00b"}), "query"),
        (client.post("/api/v1/domains", json={"name": "a\x00b"}), "name"),
        (client.post("/api/v1/domains", json={"name": "d", "description": ["x", "\x00"]}), None),
        (client.post("/api/v1/projects", json={"name": "q", "domain": {"a\x00": 1}}), "domain"),
    ]:
        assert response.status_code == 400, response.text
        body = response.json()
        assert "NUL" in body["message"] and "Traceback" not in response.text
        if field is not None:
            assert body["field"] == field, body
    for form in ({"name": "t", "description": "a\x00b"}, {"name": "t\x00u"}):
        refused = client.post(TABLES, data=form, files={"file": ("x.csv", b"i\n1\n")})
        assert refused.status_code == 400, refused.text
        assert refused.json()["field"] in form and "NUL" in refused.json()["message"]
    assert ok(client.get("/api/v1/projects/p/assets")) == []  # nothing was written
    domains = ok(client.get("/api/v1/domains"))
    assert not any("\x00" in d["name"] for d in domains)
