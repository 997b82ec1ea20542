"""Attacks on the Delta Sharing server, by class (ADR 37, 39): credentials, signed file URLs,
leaks through metadata, statistics and the change data feed, hints, names and pages, and
decisions. The rule under attack: a recipient never receives a byte it was not granted, by any
route; a user never gets a recipient's powers or the other way round; bad input is a 4xx with
the protocol's ``{errorCode, message}``, never a 500, never a path of the server."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from fastapi.testclient import TestClient
from sqlalchemy import update

from lakehold.governance.sharing.file_urls import FileClaim, FileSigner
from lakehold.security.principal import Principal
from lakehold.store.models import Project, RecipientToken, utcnow
from tests.delta_sharing.conftest import SHARE, Retail, grant, recipient, share_orders
from tests.governance.test_concurrency import kinds, race
from tests.scenarios.helpers import ok
from tests.sharing import add_member, client_for, new_user

TABLES = f"/delta-sharing/shares/{SHARE}/schemas/retail/tables"
SALES_COLUMNS = "sale_id,cust_id,sale_date,sale_amount,prod_id,last_purchase_date"
HIDDEN = ("cust_email", "example.com")
"""What a recipient of the column filter ``no_email`` must never see of customer."""


# -- helpers -----------------------------------------------------------------------------------


def _token(profile: Path) -> str:
    return json.loads(profile.read_text())["bearerToken"]


def _bearer(profile: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(profile)}"}


def _query(
    retail: Retail,
    profile: Path,
    table: str,
    body: dict[str, Any] | None = None,
    fmt: str | None = None,
) -> httpx.Response:
    headers = _bearer(profile)
    if fmt is not None:
        headers["delta-sharing-capabilities"] = f"responseformat={fmt}"
    return httpx.post(f"{retail.url}{TABLES}/{table}/query", json=body or {}, headers=headers)


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


def _urls(lines: list[dict[str, Any]]) -> list[str]:
    """The file URLs of an answer, in either format."""
    found = []
    for line in lines:
        for kind in ("file", "add", "remove", "cdf"):
            body = line.get(kind)
            if body is None:
                continue
            if "url" in body:
                found.append(body["url"])
            else:
                action = next(iter(body["deltaSingleAction"].values()))
                found.append(action["path"])
    return found


def _file_ids(response: httpx.Response) -> list[str]:
    return sorted(line["file"]["id"] for line in _lines(response) if "file" in line)


def _refused(response: httpx.Response, status: int, retail: Retail | None = None) -> dict:
    """A protocol error of ``status`` that names no server path."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"errorCode", "message"}, body
    if retail is not None:
        assert str(retail.tmp) not in response.text
        assert str(retail.runtime.tables.path_for("retail", "x").parent) not in response.text
    return body


def _fetched(urls: list[str]) -> list[bytes]:
    contents = []
    for url in urls:
        answer = httpx.get(url)
        assert answer.status_code == 200, answer.text
        contents.append(answer.content)
    return contents


def _rows(contents: list[bytes]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for content in contents:
        rows.extend(pq.read_table(io.BytesIO(content)).to_pylist())
    return rows


def _sales_csv(*rows: str, header: str = SALES_COLUMNS) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _write(retail: Retail, table: str, mode: str, data: bytes) -> dict:
    return ok(
        retail.owner.post(
            f"/api/v1/projects/retail/tables/{table}/writes",
            data={"mode": mode},
            files={"file": (f"{table}.csv", data)},
        )
    )


def _owner(retail: Retail) -> Principal:
    with retail.runtime.store.session() as session:
        project = session.query(Project).filter_by(name="retail").one()
        return Principal(user_id=project.owner_id, username="retail_owner")


def _ask(retail: Retail, recipient_id: str, share: str = SHARE) -> dict:
    return ok(
        retail.owner.post(
            "/api/v1/share-grants",
            json={"share": share, "recipient": recipient_id, "reason": "an attack"},
        ),
        201,
    )


def _signer(retail: Retail) -> FileSigner:
    return retail.runtime.sharing_reads.signer


def _claim(retail: Retail, url: str) -> FileClaim:
    return _signer(retail).verify(url.rsplit("/", 1)[1])


# -- credentials -------------------------------------------------------------------------------


def test_credentials_work_only_where_they_belong(retail: Retail, client: TestClient) -> None:
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    _bob, bob_profile = recipient(retail, "bob")
    url, token = retail.url, _token(profile)
    user = retail.owner.headers["Authorization"].split(" ", 1)[1]
    admin = client.headers["Authorization"].split(" ", 1)[1]

    # a user's token, even an administrator's, is no recipient token
    for value in (user, admin):
        shares = httpx.get(
            f"{url}/delta-sharing/shares", headers={"Authorization": f"Bearer {value}"}
        )
        assert _refused(shares, 401)["errorCode"] == "UNAUTHENTICATED"
        query = httpx.post(
            f"{url}{TABLES}/store_sales/query",
            json={},
            headers={"Authorization": f"Bearer {value}"},
        )
        assert _refused(query, 401)["errorCode"] == "UNAUTHENTICATED"
    # a recipient token works nowhere but under /delta-sharing
    as_recipient = {"Authorization": f"Bearer {token}"}
    for path in (
        "/api/v1/me",
        "/api/v1/projects",
        "/api/v1/shares",
        f"/api/v1/share-grants?share={SHARE}",
        f"/api/v1/share-recipients/{acme}",
        "/api/v1/audit",
        "/metrics",
        "/scim/v2/Users",
    ):
        assert httpx.get(f"{url}{path}", headers=as_recipient).status_code == 401, path
    for path, body in (
        ("/api/v1/query", {"sql": "select 1"}),
        ("/api/v1/statements", {"sql": "select 1"}),
        ("/api/v1/tokens", {"name": "mine"}),
        (f"/api/v1/share-recipients/{acme}/tokens", {}),
    ):
        assert httpx.post(f"{url}{path}", json=body, headers=as_recipient).status_code == 401, path
    upload = httpx.post(
        f"{url}/api/v1/projects/retail/tables/store_sales/writes",
        data={"mode": "append"},
        files={"file": ("x.csv", _sales_csv("30,1,2023-01-01,1.00,1,2023-01-01"))},
        headers=as_recipient,
    )
    assert upload.status_code == 401
    # header tricks: the scheme in any case works; anything else is no token
    listed = httpx.get(f"{url}/delta-sharing/shares", headers={"Authorization": f"bearer {token}"})
    assert [s["name"] for s in listed.json()["items"]] == [SHARE]
    for headers, params in (
        ({"Authorization": f"Basic {token}"}, {}),
        ({"Authorization": token}, {}),
        ({}, {"token": token, "access_token": token, "bearerToken": token}),
        ({"Authorization": f"Bearer {token} {token}"}, {}),
        ({"Authorization": f"Bearer {token[:-4]}AAAA"}, {}),  # its lookup, a wrong secret
        ({"Cookie": f"lakehold_session={token}"}, {}),
    ):
        answer = httpx.get(f"{url}/delta-sharing/shares", headers=headers, params=params)
        assert _refused(answer, 401)["errorCode"] == "UNAUTHENTICATED"
    wrong_secret = httpx.get(
        f"{url}/delta-sharing/shares", headers={"Authorization": f"Bearer {token[:-4]}AAAA"}
    )
    unknown = httpx.get(
        f"{url}/delta-sharing/shares",
        headers={"Authorization": "Bearer lhr_0123456789abcdef_" + "A" * 43},
    )
    assert wrong_secret.json() == unknown.json()  # a wrong secret says no more than no token
    # two Authorization headers: the first decides, a user's first is refused
    doubled = httpx.get(
        f"{url}/delta-sharing/shares",
        headers=[("Authorization", f"Bearer {user}"), ("Authorization", f"Bearer {token}")],
    )
    _refused(doubled, 401)

    # recipient B reads nothing of a share granted only to A, as if it did not exist
    b = _bearer(bob_profile)
    for path in (
        f"/shares/{SHARE}",
        f"/shares/{SHARE}/schemas",
        f"/shares/{SHARE}/all-tables",
        f"/shares/{SHARE}/schemas/retail/tables",
        f"/shares/{SHARE}/schemas/retail/tables/store_sales/version",
        f"/shares/{SHARE}/schemas/retail/tables/store_sales/metadata",
    ):
        theirs = httpx.get(f"{url}/delta-sharing{path}", headers=b)
        missing = httpx.get(f"{url}/delta-sharing{path.replace(SHARE, 'no_share')}", headers=b)
        assert theirs.status_code == missing.status_code == 404, path
        assert theirs.json()["message"].replace(SHARE, "X") == missing.json()["message"].replace(
            "no_share", "X"
        )
    assert httpx.get(f"{url}/delta-sharing/shares", headers=b).json() == {"items": []}
    query = _query(retail, bob_profile, "store_sales")
    assert _refused(query, 404)["errorCode"] == "RESOURCE_DOES_NOT_EXIST"

    # the policy's maximum token lifetime binds recipient tokens as every other
    ok(client.put("/api/v1/security/policy", json={"max_token_lifetime_seconds": 3600}))
    longer = retail.owner.post(f"/api/v1/share-recipients/{acme}/tokens", json={"days": 2})
    assert longer.status_code == 400 and longer.json()["field"] == "days"
    capped = ok(retail.owner.post(f"/api/v1/share-recipients/{acme}/tokens", json={}), 201)
    lifetime = datetime.fromisoformat(capped["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=58) < lifetime <= timedelta(hours=1)
    ok(client.put("/api/v1/security/policy", json={"max_token_lifetime_seconds": None}))

    # expired, then revoked by the policy's global cutoff
    issued = ok(retail.owner.post(f"/api/v1/share-recipients/{acme}/tokens", json={}), 201)
    second = {"Authorization": f"Bearer {issued['profile']['bearerToken']}"}
    with retail.runtime.store.session() as session:
        session.execute(
            update(RecipientToken)
            .where(RecipientToken.id == issued["token_id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = httpx.get(f"{url}/delta-sharing/shares", headers=second)
    assert _refused(expired, 401)["message"] == "the recipient token has expired"
    assert httpx.get(f"{url}/delta-sharing/shares", headers=as_recipient).status_code == 200
    ok(client.post("/api/v1/security/revoke-before", json={}))
    cut = httpx.get(f"{url}/delta-sharing/shares", headers=as_recipient)
    assert _refused(cut, 401)["message"] == "the recipient token has been revoked"


# -- signed file URLs --------------------------------------------------------------------------


def test_a_file_url_opens_its_own_file_while_its_own_grant_lasts(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    first = grant(retail, acme)
    # the same table in a second share, granted to the same recipient
    ok(retail.owner.post("/api/v1/shares", json={"name": "second", "project": "retail"}), 201)
    ok(retail.owner.post("/api/v1/shares/second/tables", json={"asset": "store_sales"}), 201)
    asked = _ask(retail, acme, "second")
    ok(retail.owner.post(f"/api/v1/share-grants/{asked['id']}/approve", json={"tables": []}))
    mine = _urls(_lines(_query(retail, profile, "store_sales")))
    other = httpx.post(
        f"{retail.url}/delta-sharing/shares/second/schemas/retail/tables/store_sales/query",
        json={},
        headers=_bearer(profile),
    )
    theirs = _urls(_lines(other))
    assert _fetched(mine) == _fetched(theirs)

    # HEAD and GET agree; byte ranges inside the file are served, outside are refused
    head = httpx.head(mine[0])
    got = httpx.get(mine[0])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert httpx.get(mine[0], headers={"Range": "bytes=0-3"}).content == b"PAR1"
    assert httpx.get(mine[0], headers={"Range": "bytes=-4"}).content == b"PAR1"
    size = len(got.content)
    past = httpx.get(mine[0], headers={"Range": f"bytes={size}-{size + 10}"})
    assert _refused(past, 416)["errorCode"] == "INVALID_PARAMETER_VALUE"
    assert past.headers["content-range"] == f"bytes */{size}"
    for bad in ("bytes=abc", "bytes=5-2", "items=0-1", "bytes"):
        _refused(httpx.get(mine[0], headers={"Range": bad}), 400)

    # grant 1 revoked: its URLs stop opening, grant 2's still open
    ok(retail.owner.post(f"/api/v1/share-grants/{first['id']}/revoke"))
    assert _refused(httpx.get(mine[0]), 403)["errorCode"] == "PERMISSION_DENIED"
    assert httpx.head(mine[0]).status_code == 403
    assert httpx.get(theirs[0]).status_code == 200

    # a file the Delta log holds past the catalog's version is never served
    source = retail.runtime.tables.path_for("retail", "store_sales")
    before = {f for f in os.listdir(source) if f.endswith(".parquet")}
    write_deltalake(
        str(source), DeltaTable(str(source)).to_pyarrow_table().slice(0, 2), mode="append"
    )
    (ahead,) = {f for f in os.listdir(source) if f.endswith(".parquet")} - before
    now = _lines(
        httpx.post(
            f"{retail.url}/delta-sharing/shares/second/schemas/retail/tables/store_sales/query",
            json={},
            headers=_bearer(profile),
        )
    )
    assert now[1]["metaData"]["numFiles"] == 1
    assert all(_claim(retail, u).path != ahead for u in _urls(now))
    claim = _claim(retail, theirs[0])
    signer = _signer(retail)
    forged = signer.sign(claim.grant_id, claim.table_id, False, ahead, claim.token_id)[0]
    base = theirs[0].rsplit("/", 1)[0]
    _refused(httpx.get(f"{base}/{forged}"), 403, retail)
    too_far = httpx.post(
        f"{retail.url}/delta-sharing/shares/second/schemas/retail/tables/store_sales/query",
        json={"version": 1},
        headers=_bearer(profile),
    )
    _refused(too_far, 400, retail)

    # a vacuumed file: not found, named by no path
    (source / claim.path).unlink()
    gone = _refused(httpx.get(theirs[0]), 404, retail)
    assert gone["errorCode"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_file_url_never_leaves_the_snapshot_of_a_filtered_grant(retail: Retail) -> None:
    widget, profile = recipient(retail, "widget_buyer")
    grant(retail, widget, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    urls = _urls(_lines(_query(retail, profile, "store_sales")))
    claim = _claim(retail, urls[0])
    signer = _signer(retail)
    base = urls[0].rsplit("/", 1)[0]
    assert claim.snapshot and not claim.path.startswith("part-")
    snapshot = retail.runtime.shared_snapshots.root / next(
        iter(retail.runtime.shared_snapshots.materialised())
    )
    source = retail.runtime.tables.path_for("retail", "store_sales")
    source_file = next(f for f in os.listdir(source) if f.endswith(".parquet"))
    for path in (
        "_delta_log/00000000000000000000.json",
        "_lakehold_progress.json",
        f"../.{snapshot.name}.lock",
        f"../{snapshot.name}/{claim.path}",
        "./" + claim.path,
        "%2e%2e/" + claim.path,
        "..%2f" + claim.path,
        "..\\" + claim.path,
        claim.path + "\x00.json",
        "a/" * 2000 + claim.path,
        str(snapshot / claim.path),
        source_file,
        f"../../{source.parent.name}/{source.name}/{source_file}",
        "",
    ):
        forged = signer.sign(claim.grant_id, claim.table_id, True, path, claim.token_id)[0]
        _refused(httpx.get(f"{base}/{forged}"), 403, retail)
        # the grant's snapshot flag cannot be dropped to reach the producer's files
        forged = signer.sign(claim.grant_id, claim.table_id, False, source_file, claim.token_id)[0]
        _refused(httpx.get(f"{base}/{forged}"), 403, retail)
    # URL-level tricks on the path itself
    for tail in (
        "..%2f..%2f_delta_log",
        "%2e%2e/%2e%2e/etc/passwd",
        "..\\..\\x",
        "A" * 20_000,
        urls[0].rsplit("/", 1)[1] + "%00",
        urls[0].rsplit("/", 1)[1][:-1] + "\u00e9",
    ):
        answer = httpx.get(f"{base}/{tail}")
        # a NUL anywhere in a URL is refused as bad input before any route runs
        assert answer.status_code in ((400,) if "%00" in tail else (403, 404)), (
            tail,
            answer.status_code,
        )
        _refused(answer, answer.status_code, retail)
    # a symbolic link planted in the snapshot where a granted file was
    served = snapshot / claim.path
    served.unlink()
    os.symlink(source / source_file, served)
    _refused(httpx.get(urls[0]), 403, retail)
    served.unlink()
    _refused(httpx.get(urls[0]), 404, retail)


# -- data leakage through metadata, statistics and changes -------------------------------------


def test_a_column_filtered_grant_never_shows_the_hidden_column(retail: Retail) -> None:
    partner, profile = recipient(retail, "partner")
    grant(retail, partner, [{"table": "retail.customer", "column_filter": "no_email"}])
    h = _bearer(profile)
    texts = []
    for fmt in (None, "parquet", "delta", "delta,parquet"):
        for body in ({}, {"version": 0}, {"startingVersion": 0}, {"limitHint": 1}):
            texts.append(_query(retail, profile, "customer", body, fmt).text)
        texts.append(
            httpx.get(
                f"{retail.url}{TABLES}/customer/metadata",
                headers={**h, "delta-sharing-capabilities": f"responseformat={fmt or ''}"},
            ).text
        )
    texts.append(
        httpx.get(f"{retail.url}{TABLES}/customer/changes?startingVersion=0", headers=h).text
    )
    texts.append(httpx.get(f"{retail.url}/delta-sharing/shares/{SHARE}/all-tables", headers=h).text)
    for text in texts:
        for hidden in HIDDEN:
            assert hidden not in text
    lines = _lines(_query(retail, profile, "customer"))
    stats = json.loads(lines[2]["file"]["stats"])
    assert (
        set(stats["minValues"])
        == set(stats["nullCount"])
        == {
            "cust_id",
            "cust_name",
            "cust_country",
        }
    )
    # no byte of the served files names or holds it (data, footer, Arrow schema)
    for content in _fetched(_urls(lines)):
        for hidden in HIDDEN:
            assert hidden.encode() not in content
        assert pq.read_table(io.BytesIO(content)).column_names == [
            "cust_id",
            "cust_name",
            "cust_country",
        ]

    # a hint on the hidden column is no oracle: a value that is there and one that is not
    # are answered as if there were no hint
    def hinted(value: str | None) -> list[str]:
        body = {}
        if value is not None:
            body["jsonPredicateHints"] = json.dumps(
                {
                    "op": "equal",
                    "children": [
                        {"op": "column", "name": "cust_email", "valueType": "string"},
                        {"op": "literal", "value": value, "valueType": "string"},
                    ],
                }
            )
        return _file_ids(_query(retail, profile, "customer", body))

    assert hinted("joyce.deaton@example.com") == hinted("nobody@nowhere") == hinted(None)
    for op in ("isNull", "not"):
        node = {"op": "column", "name": "cust_email", "valueType": "string"}
        hint = {
            "op": op,
            "children": [node if op == "isNull" else {"op": "isNull", "children": [node]}],
        }
        body = {"jsonPredicateHints": json.dumps(hint)}
        assert _file_ids(_query(retail, profile, "customer", body)) == hinted(None)


def test_a_row_filtered_grant_serves_only_granted_rows_by_every_route(retail: Retail) -> None:
    share_orders(retail)
    widget, profile = recipient(retail, "widget_buyer")
    grant(retail, widget, [{"table": "retail.orders", "row_filter": "widget_a"}])
    assert len(_rows(_fetched(_urls(_lines(_query(retail, profile, "orders")))))) == 7
    # moved out (1), moved in (2), changed outside the filter (3: a secret amount), inserted
    # outside (21) and inside (22)
    _write(
        retail,
        "orders",
        "merge",
        _sales_csv(
            "1,13251813,2023-01-15,150.00,3,2023-01-15",
            "2,29033279,2023-01-20,250.00,1,2023-01-20",
            "3,12755125,2023-02-01,987.65,3,2023-02-01",
            "21,1,2023-08-01,876.54,4,2023-08-01",
            "22,1,2023-08-02,55.00,1,2023-08-02",
        ),
    )
    # a new column: a rebuild of the snapshot
    _write(
        retail,
        "orders",
        "append",
        _sales_csv("23,1,2023-08-03,765.43,2,2023-08-03,x", header=SALES_COLUMNS + ",channel"),
    )
    h = _bearer(profile)
    answers = {
        "now": _query(retail, profile, "orders"),
        "v0": _query(retail, profile, "orders", {"version": 0}),
        "v1": _query(retail, profile, "orders", {"version": 1}),
        "from0": _query(retail, profile, "orders", {"startingVersion": 0}),
        "delta": _query(retail, profile, "orders", {"startingVersion": 0}, "delta"),
        "changes": httpx.get(f"{retail.url}{TABLES}/orders/changes?startingVersion=0", headers=h),
        "changes_delta": httpx.get(
            f"{retail.url}{TABLES}/orders/changes?startingVersion=0&includeHistoricalMetadata=true",
            headers={**h, "delta-sharing-capabilities": "responseformat=delta"},
        ),
    }
    secrets = ("987.65", "876.54", "765.43", "prod_id = 1", "widget_a", "retail_owner")
    served: dict[str, list[dict[str, Any]]] = {}
    for name, answer in answers.items():
        lines = _lines(answer)
        for secret in (*secrets, "commitInfo", "lakehold.", "part-0"):
            assert secret not in answer.text, (name, secret)
        urls = _urls(lines)
        assert all(_claim(retail, u).snapshot for u in urls)
        served[name] = _rows(_fetched(urls))
        for row in served[name]:
            assert row["prod_id"] == 1, (name, row)
            assert row["sale_id"] not in (3, 21, 23), (name, row)
    assert {r["sale_id"] for r in served["now"]} == {2, 7, 8, 12, 13, 16, 19, 22}
    changes = {(r["sale_id"], r["_change_type"]) for r in served["changes"] if "_change_type" in r}
    assert (1, "delete") in changes and (2, "insert") in changes
    assert not any(kind.startswith("update") and sale in (1, 2) for sale, kind in changes)

    # hints answer from the granted rows only: a hidden row's value finds nothing more
    def hinted(value: int) -> list[str]:
        hint = {
            "op": "equal",
            "children": [
                {"op": "column", "name": "prod_id", "valueType": "long"},
                {"op": "literal", "value": str(value), "valueType": "long"},
            ],
        }
        return _file_ids(
            _query(retail, profile, "orders", {"jsonPredicateHints": json.dumps(hint)})
        )

    assert hinted(4) == hinted(99) == []
    # versions and times before the snapshot existed
    _refused(_query(retail, profile, "orders", {"timestamp": "2000-01-01T00:00:00Z"}), 400, retail)
    _refused(_query(retail, profile, "orders", {"version": 99}), 400, retail)
    early = httpx.get(
        f"{retail.url}{TABLES}/orders/changes",
        params={"startingTimestamp": "2000-01-01T00:00:00Z"},
        headers=h,
    )
    assert early.status_code == 200
    assert all(r["prod_id"] == 1 for r in _rows(_fetched(_urls(_lines(early)))))


# -- hints -------------------------------------------------------------------------------------


def test_hints_of_any_shape_are_hints_never_errors(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    plain = _file_ids(_query(retail, profile, "store_sales"))
    column = {"op": "column", "name": "prod_id", "valueType": "long"}
    hints: list[Any] = [
        '{"op":"and","children":"ab"}',
        '{"op":"or","children":[1,2]}',
        '{"op":"not","children":["x"]}',
        '{"op":"isNull","children":["x"]}',
        '{"op":"isNull","children":[{"op":"column"}]}',
        '{"op":"equal","children":[{"op":"column","name":["x"]},{"op":"literal","value":1}]}',
        '{"op":"equal","children":[{"op":"literal","value":1},{"op":"literal","value":1}]}',
        '{"op":"lessThan","children":[{"op":"column","name":"prod_id","valueType":"date"},'
        '{"op":"literal","value":"not a date","valueType":"date"}]}',
        '{"op":"equal","children":[{"op":"column","name":"prod_id","valueType":"int"},'
        '{"op":"literal","value":"' + "9" * 5000 + '","valueType":"int"}]}',
        '{"op":"equal","children":[{"op":"column","name":"sale_date","valueType":"timestamp"},'
        '{"op":"literal","value":"2023-01-15T00:00:00+01:00","valueType":"timestamp"}]}',
        '{"op":"nosuchop","children":[]}',
        '{"op":"and"}',
        '{"op":"and","children":{}}',
        "[" * 50_000 + "]" * 50_000,
        '{"a":' * 20_000 + "1" + "}" * 20_000,
        json.dumps(_deep({"op": "not", "children": [{"op": "isNull", "children": [column]}]}, 200)),
        "x" * 200_000,
        "null",
        "[]",
        "'; drop table shares; --",
    ]
    for hint in hints:
        answer = _query(retail, profile, "store_sales", {"jsonPredicateHints": hint})
        assert answer.status_code == 200, (hint[:80], answer.text)
        assert _file_ids(answer) == plain, hint[:80]
    # a NUL in any JSON text is bad input, refused before any route runs (no route stores it)
    nul = _refused(_query(retail, profile, "store_sales", {"jsonPredicateHints": "\u0000"}), 400)
    assert "NUL" in nul["message"]
    for limit in (-1, 1, 10**30, -(10**30)):
        answer = _query(retail, profile, "store_sales", {"limitHint": limit})
        assert answer.status_code == 200 and _file_ids(answer) == plain
    assert _file_ids(_query(retail, profile, "store_sales", {"limitHint": 0})) == []
    for sql in (["1=1; drop table shares"], ["' or 1=1 --", "prod_id = 1"], []):
        answer = _query(retail, profile, "store_sales", {"predicateHints": sql})
        assert _file_ids(answer) == plain
    for bad in (
        {"jsonPredicateHints": {"op": "and"}},
        {"limitHint": "ten"},
        {"predicateHints": "x"},
        {"version": "0; drop"},
        {"version": -1},
        {"version": 10**30},
        {"timestamp": "yesterday"},
        {"startingVersion": 0, "version": 0},
        {"startingVersion": 5},
        {"startingVersion": 0, "endingVersion": -1},
    ):
        answer = _query(retail, profile, "store_sales", bad)
        assert answer.status_code == 400, (bad, answer.text)
        _refused(answer, 400, retail)


def _deep(node: dict[str, Any], depth: int) -> dict[str, Any]:
    for _ in range(depth):
        node = {"op": "not", "children": [node]}
    return node


# -- names and pages ---------------------------------------------------------------------------


def test_names_and_pages_answer_4xx_and_reveal_nothing(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    h = _bearer(profile)
    url = f"{retail.url}/delta-sharing"
    # case folds; anything else is simply not there
    assert (
        httpx.get(f"{url}/shares/RETAIL_SHARE/schemas/Retail/tables", headers=h).status_code == 200
    )
    upper = httpx.post(
        f"{url}/shares/Retail_Share/schemas/RETAIL/tables/Store_Sales/query", json={}, headers=h
    )
    assert upper.status_code == 200
    for name in (
        "retaíl_share",
        "retail_share%00",
        "%2e%2e",
        "retail_share%2f..",
        "a" * 300,
        "a" * 5000,
        "retail share",
        "retail_share;drop",
        "%00",
        "\u212aeep",
    ):
        missing = 400 if "%00" in name else 404  # a NUL in a URL: bad input, before any route
        for path in (f"/shares/{name}", f"/shares/{name}/schemas", f"/shares/{name}/all-tables"):
            answer = httpx.get(f"{url}{path}", headers=h)
            assert answer.status_code == missing, (path, answer.text)
            _refused(answer, missing, retail)
        for path in (
            f"/shares/{SHARE}/schemas/{name}/tables",
            f"/shares/{SHARE}/schemas/{name}/tables/store_sales/metadata",
            f"/shares/{SHARE}/schemas/retail/tables/{name}/version",
        ):
            _refused(httpx.get(f"{url}{path}", headers=h), missing, retail)
        query = httpx.post(
            f"{url}/shares/{SHARE}/schemas/retail/tables/{name}/query", json={}, headers=h
        )
        _refused(query, missing, retail)
    # page tokens: only the server's own; maxResults 0 to 1000
    first = httpx.get(f"{url}/shares/{SHARE}/all-tables", params={"maxResults": 1}, headers=h)
    token = first.json()["nextPageToken"]
    elsewhere = httpx.get(f"{url}/shares", params={"pageToken": token}, headers=h)
    assert elsewhere.status_code == 200 and elsewhere.json()["items"] == []

    def encoded(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    for forged in (
        "garbage",
        "%%%",
        encoded("o:-1"),
        encoded("o:\u00b2"),
        encoded("o:\u0661"),
        encoded("o:" + "9" * 5000),
        encoded("o:1e3"),
        encoded("x:1"),
        encoded("o:"),
        "\u00e9",
    ):
        for path in ("/shares", f"/shares/{SHARE}/schemas", f"/shares/{SHARE}/all-tables"):
            answer = httpx.get(f"{url}{path}", params={"pageToken": forged}, headers=h)
            _refused(answer, 400, retail)
    big = httpx.get(f"{url}/shares", params={"pageToken": encoded("o:999999")}, headers=h)
    assert big.json() == {"items": []}
    for size in ("-1", "1001", "1e3", "ten", str(10**30)):
        answer = httpx.get(f"{url}/shares", params={"maxResults": size}, headers=h)
        _refused(answer, 400, retail)
    assert httpx.get(f"{url}/shares", params={"maxResults": 0}, headers=h).json()["items"] == []
    # methods and paths the protocol does not have
    for method in ("PUT", "DELETE", "PATCH"):
        answer = httpx.request(method, f"{url}/shares/{SHARE}", headers=h)
        assert 400 <= answer.status_code < 500
    # bad timestamps on every route that takes one
    for path, params in (
        (f"/shares/{SHARE}/schemas/retail/tables/store_sales/version", {"startingTimestamp": "x"}),
        (
            f"/shares/{SHARE}/schemas/retail/tables/store_sales/version",
            {"startingTimestamp": "9999-12-31T00:00:00Z"},
        ),
        (f"/shares/{SHARE}/schemas/retail/tables/store_sales/metadata", {"timestamp": "\u0000"}),
        (f"/shares/{SHARE}/schemas/retail/tables/store_sales/metadata", {"version": "-1"}),
        (f"/shares/{SHARE}/schemas/retail/tables/store_sales/changes", {"startingVersion": "0"}),
        (f"/shares/{SHARE}/schemas/retail/tables/store_sales/changes", {}),
        (
            f"/shares/{SHARE}/schemas/retail/tables/store_sales/changes",
            {"endingTimestamp": "x", "startingVersion": 0},
        ),
    ):
        answer = httpx.get(f"{url}{path}", params=params, headers=h)
        _refused(answer, 400, retail)


# -- decisions ---------------------------------------------------------------------------------


def test_decisions_have_one_winner_and_stay_inside_their_project(
    retail: Retail, runtime, admin
) -> None:
    acme, _ = recipient(retail, "acme")
    asked = _ask(retail, acme)
    owner = _owner(retail)
    service = retail.runtime.share_grants
    outcomes = race(
        [partial(service.approve, owner, asked["id"]), partial(service.reject, owner, asked["id"])]
        * 2
    )
    assert kinds(outcomes) == {"ok": 1, "conflict": 3}
    winner = next(o for o in outcomes if not isinstance(o, Exception))
    if winner.status == "approved":
        outcomes = race([partial(service.revoke, owner, asked["id"])] * 3)
        assert kinds(outcomes) == {"ok": 1, "conflict": 2}

    bob, _ = recipient(retail, "bob")
    pending = _ask(retail, bob)
    # a filter of another asset, by name or by id, and a filter of the wrong kind
    filters = ok(retail.owner.get("/api/v1/projects/retail/assets/customer/filters"))
    no_email = next(f for f in filters if f["name"] == "no_email")
    for decision, field in (
        ({"table": "retail.store_sales", "column_filter": "no_email"}, "tables[0].column_filter"),
        (
            {"table": "retail.store_sales", "column_filter": no_email["id"]},
            "tables[0].column_filter",
        ),
        ({"table": "retail.customer", "row_filter": "no_email"}, "tables[0].row_filter"),
        ({"table": "retail.customer", "row_filter": "widget_a"}, "tables[0].row_filter"),
        ({"table": "lab.customer"}, "tables[0].table"),
        ({"table": "retail.customer\u0000"}, "tables[0].table"),
    ):
        refused = retail.owner.post(
            f"/api/v1/share-grants/{pending['id']}/approve", json={"tables": [decision]}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["field"] == field
    # a contributor requests but never decides
    helper, helper_token = new_user(runtime, admin, "helper")
    add_member(runtime, "retail", helper, "contributor")
    with client_for(runtime, helper_token) as contributor:
        for verb in ("approve", "reject", "revoke"):
            answer = contributor.post(f"/api/v1/share-grants/{pending['id']}/{verb}", json={})
            assert answer.status_code == 403, answer.text
    assert ok(retail.owner.get(f"/api/v1/share-grants/{pending['id']}"))["status"] == "requested"
    # a recipient of another project is no recipient of this share
    ok(retail.owner.post("/api/v1/projects", json={"name": "lab", "domain": "Retail"}), 201)
    stranger = ok(
        retail.owner.post(
            "/api/v1/share-recipients",
            json={"project": "lab", "name": "stranger", "organisation": "Elsewhere"},
        ),
        201,
    )
    crossed = retail.owner.post(
        "/api/v1/share-grants",
        json={"share": SHARE, "recipient": stranger["recipient"]["id"], "reason": "x"},
    )
    assert crossed.status_code == 400 and crossed.json()["field"] == "recipient"
    stranger_h = {"Authorization": f"Bearer {stranger['profile']['bearerToken']}"}
    assert (
        httpx.get(f"{retail.url}/delta-sharing/shares/{SHARE}", headers=stranger_h).status_code
        == 404
    )


def test_a_table_leaving_the_share_or_the_catalog_mid_read(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    widget, filtered = recipient(retail, "widget_buyer")
    narrow = grant(retail, widget, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    full_urls = _urls(_lines(_query(retail, profile, "store_sales")))
    filtered_urls = _urls(_lines(_query(retail, filtered, "store_sales")))
    # a table an approved grant filters leaves the share only once that grant is revoked
    held = retail.owner.delete(f"/api/v1/shares/{SHARE}/tables/retail.store_sales")
    assert held.status_code == 409, held.text
    reads = [_query(retail, filtered, "store_sales").status_code for _ in range(2)]
    ok(retail.owner.post(f"/api/v1/share-grants/{narrow['id']}/revoke"))
    assert reads == [200, 200] and _query(retail, filtered, "store_sales").status_code == 403

    # reads in flight while the table leaves the share: each answers, or is refused cleanly
    statuses: list[int] = []

    def read() -> None:
        for _ in range(12):
            statuses.append(_query(retail, profile, "store_sales").status_code)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    ok(retail.owner.delete(f"/api/v1/shares/{SHARE}/tables/retail.store_sales"))
    for reader in readers:
        reader.join()
    assert set(statuses) <= {200, 404}, statuses
    for url in full_urls + filtered_urls:
        _refused(httpx.get(url), 403, retail)
    assert _query(retail, profile, "store_sales").status_code == 404
    # back in the share: a new table, the old URLs stay dead
    ok(retail.owner.post(f"/api/v1/shares/{SHARE}/tables", json={"asset": "store_sales"}), 201)
    for url in full_urls + filtered_urls:
        _refused(httpx.get(url), 403, retail)

    # the customer table dropped from the catalog
    urls = _urls(_lines(_query(retail, profile, "customer")))
    assert retail.owner.delete("/api/v1/projects/retail/tables/customer").status_code == 204
    _refused(_query(retail, profile, "customer"), 404, retail)
    for url in urls:
        answer = httpx.get(url)
        assert answer.status_code in (403, 404)
        _refused(answer, answer.status_code, retail)


def test_reads_racing_a_revocation_are_answered_or_refused_never_failed(retail: Retail) -> None:
    """A read whose grant is revoked while it runs (its snapshots removed under it) answers,
    or is refused as a read after the revocation is; it never fails, nor leaves a snapshot."""
    answers: list[tuple[int, str]] = []
    for round_ in range(3):
        rid, profile = recipient(retail, f"racer{round_}")
        approved = grant(
            retail,
            rid,
            [
                {"table": "retail.store_sales", "row_filter": "widget_a"},
                {"table": "retail.customer", "column_filter": "no_email"},
            ],
        )
        h = _bearer(profile)
        stop = threading.Event()

        def read(h: dict[str, str] = h, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                for table in ("store_sales", "customer"):
                    for answer in (
                        httpx.post(
                            f"{retail.url}{TABLES}/{table}/query",
                            json={"startingVersion": 0},
                            headers=h,
                        ),
                        httpx.get(f"{retail.url}{TABLES}/{table}/metadata", headers=h),
                        httpx.get(f"{retail.url}{TABLES}/{table}/version", headers=h),
                    ):
                        answers.append((answer.status_code, answer.text[:300]))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        stop.wait(0.3 + 0.15 * round_)
        ok(retail.owner.post(f"/api/v1/share-grants/{approved['id']}/revoke"))
        stop.wait(0.3)
        stop.set()
        for reader in readers:
            reader.join()
    assert {status for status, _ in answers} <= {200, 403}, [
        a for a in answers if a[0] not in (200, 403)
    ][:3]
    assert retail.runtime.shared_snapshots.materialised() == set()


def test_a_filtered_table_cannot_leave_the_share_and_come_back_in_full(retail: Retail) -> None:
    """A grant's filters belong to the table of the share: taking the table out while an
    approved grant filters it (to put it back, which would serve it in full) is refused until
    that grant is revoked; the recipient keeps reading only its rows meanwhile."""
    widget, profile = recipient(retail, "widget_buyer")
    approved = grant(retail, widget, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    refused = retail.owner.delete(f"/api/v1/shares/{SHARE}/tables/retail.store_sales")
    assert refused.status_code == 409, refused.text
    assert "revoke" in refused.json()["message"]
    rows = _rows(_fetched(_urls(_lines(_query(retail, profile, "store_sales")))))
    assert {r["prod_id"] for r in rows} == {1}
    ok(retail.owner.post(f"/api/v1/share-grants/{approved['id']}/revoke"))
    ok(retail.owner.delete(f"/api/v1/shares/{SHARE}/tables/retail.store_sales"))
    ok(retail.owner.post(f"/api/v1/shares/{SHARE}/tables", json={"asset": "store_sales"}), 201)
    assert _query(retail, profile, "store_sales").status_code in (403, 404)
