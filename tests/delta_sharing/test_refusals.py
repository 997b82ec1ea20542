"""What Lakehold's Delta Sharing server refuses: a revoked grant, an expired or revoked token,
a user's token, and file URLs that were tampered with, expired, lead out of their table, name
another table's file or outlive their grant; the refusals are the protocol's errors, and the
reads are audited (ADR 37)."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import httpx
from sqlalchemy import update

from lakehold.governance.sharing.file_urls import FileSigner
from lakehold.store.models import RecipientToken, utcnow
from tests.delta_sharing.conftest import (
    SALES,
    SHARE,
    Retail,
    client_read,
    grant,
    recipient,
    write_profile,
)
from tests.scenarios.helpers import ok

TABLE = f"/delta-sharing/shares/{SHARE}/schemas/retail/tables/store_sales"


def _headers(profile) -> dict:
    return {"Authorization": f"Bearer {json.loads(profile.read_text())['bearerToken']}"}


def _file_urls(retail: Retail, profile) -> list[str]:
    answer = httpx.post(f"{retail.url}{TABLE}/query", json={}, headers=_headers(profile))
    assert answer.status_code == 200, answer.text
    lines = [json.loads(line) for line in answer.text.splitlines()]
    return [line["file"]["url"] for line in lines[2:]]


def test_a_revoked_grant_is_refused_and_its_urls_stop_opening(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    approved = grant(retail, acme, [{"table": "retail.store_sales", "row_filter": "widget_a"}])
    urls = _file_urls(retail, profile)
    assert httpx.get(urls[0]).status_code == 200
    snapshots = retail.runtime.shared_snapshots
    snapshot_id = urls and retail.runtime.sharing_reads.signer.verify(urls[0].rsplit("/", 1)[1])
    assert snapshot_id.snapshot

    revoked = ok(retail.owner.post(f"/api/v1/share-grants/{approved['id']}/revoke"))
    assert revoked["status"] == "revoked"
    refused = client_read("load", profile, SALES)
    assert refused["error"] == "http" and refused["status"] == 403, refused
    answer = httpx.get(urls[0])
    assert answer.status_code == 403
    assert answer.json()["errorCode"] == "PERMISSION_DENIED"
    # its snapshot is gone
    assert not any(p.is_dir() for p in snapshots.root.iterdir())
    # A query after the revocation is audited as denied, with the share and table it named.
    denied = httpx.post(f"{retail.url}{TABLE}/query", json={}, headers=_headers(profile))
    assert denied.status_code == 403
    events = retail.runtime.audit.events(_admin(retail), action="share.query")
    assert [e.allowed for e in events][:2] == [False, True]
    assert events[0].details["share"] == SHARE and events[0].details["table"] == "store_sales"
    assert events[1].details["version"] == 0 and events[1].assets == ["retail.store_sales"]


def test_file_urls_end_with_the_token_that_obtained_them(retail: Retail) -> None:
    """Revoking a leaked recipient token ends the file URLs it obtained at once (not when they
    expire); URLs another token of the recipient obtained keep opening until that one ends."""
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    issued = ok(retail.owner.post(f"/api/v1/share-recipients/{acme}/tokens", json={}), 201)
    second = write_profile(retail, "acme-second", issued["profile"])
    leaked, kept = _file_urls(retail, profile), _file_urls(retail, second)
    assert httpx.get(leaked[0]).status_code == 200 and httpx.get(kept[0]).status_code == 200
    first_id = retail.runtime.sharing_reads.signer.verify(leaked[0].rsplit("/", 1)[1]).token_id
    assert first_id != issued["token_id"]

    ok(retail.owner.delete(f"/api/v1/share-recipients/{acme}/tokens/{first_id}"))
    for url in leaked:
        for method in (httpx.get, httpx.head):
            answer = method(url)
            assert answer.status_code == 403, (url, answer.status_code)
    refused = httpx.get(leaked[0]).json()
    assert refused == {
        "errorCode": "PERMISSION_DENIED",
        "message": "the file URL no longer opens: the recipient token has been revoked",
    }
    assert httpx.get(kept[0]).status_code == 200  # the grant stands: its other token reads

    with retail.runtime.store.session() as session:  # the second token expires
        session.execute(
            update(RecipientToken)
            .where(RecipientToken.id == issued["token_id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    answer = httpx.get(kept[0])
    assert answer.status_code == 403 and "expired" in answer.json()["message"]


def _admin(retail: Retail):
    from lakehold.security.principal import Principal

    with retail.runtime.store.session() as session:
        from lakehold.store.models import User

        admin = session.query(User).filter_by(username="admin").one()
        return Principal(user_id=admin.id, username="admin", is_admin=True)


def test_expired_and_revoked_tokens_and_user_tokens_are_unauthenticated(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    grant(retail, acme)
    assert "error" not in client_read("load", profile, SALES, limit=1)
    with retail.runtime.store.session() as session:
        session.execute(
            update(RecipientToken)
            .where(RecipientToken.recipient_id == acme)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = client_read("load", profile, SALES)
    assert expired["error"] == "http" and expired["status"] == 401, expired
    answer = httpx.get(f"{retail.url}/delta-sharing/shares", headers=_headers(profile))
    assert answer.status_code == 401
    assert answer.json() == {
        "errorCode": "UNAUTHENTICATED",
        "message": "the recipient token has expired",
    }

    # A second token works until it is revoked.
    issued = ok(retail.owner.post(f"/api/v1/share-recipients/{acme}/tokens", json={}), 201)
    second = {"Authorization": f"Bearer {issued['profile']['bearerToken']}"}
    assert httpx.get(f"{retail.url}/delta-sharing/shares", headers=second).status_code == 200
    ok(retail.owner.delete(f"/api/v1/share-recipients/{acme}/tokens/{issued['token_id']}"))
    answer = httpx.get(f"{retail.url}/delta-sharing/shares", headers=second)
    assert answer.status_code == 401 and "revoked" in answer.json()["message"]

    # A user's API token is no recipient token, and a recipient token works nowhere else.
    user = {"Authorization": retail.owner.headers["Authorization"]}
    assert httpx.get(f"{retail.url}/delta-sharing/shares", headers=user).status_code == 401
    query = httpx.post(f"{retail.url}{TABLE}/query", json={}, headers=user)
    assert query.status_code == 401 and query.json()["errorCode"] == "UNAUTHENTICATED"
    assert httpx.get(f"{retail.url}/api/v1/projects", headers=second).status_code == 401


def test_a_file_url_never_opens_another_file(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    approved = grant(retail, acme)
    url = _file_urls(retail, profile)[0]
    base, token = url.rsplit("/", 1)
    reads = retail.runtime.sharing_reads
    claim = reads.signer.verify(token)
    assert httpx.get(url).status_code == 200
    assert httpx.head(url).headers["content-length"] == str(
        (retail.runtime.tables.path_for("retail", "store_sales") / claim.path).stat().st_size
    )
    ranged = httpx.get(url, headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == b"PAR1"

    def refused(token: str, status: int = 403) -> None:
        answer = httpx.get(f"{base}/{token}")
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"errorCode", "message"}

    body, _, signature = token.partition(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    refused(f"{body}.{flipped}")  # tampered signature
    refused(f"{body[:-2]}xx.{signature}")  # tampered claim
    keys = reads.signer._keys
    expired = FileSigner(keys, -1).sign(
        claim.grant_id, claim.table_id, False, claim.path, claim.token_id
    )[0]
    refused(expired)
    other_key = FileSigner(lambda: [b"k" * 32], 60)
    refused(other_key.sign(claim.grant_id, claim.table_id, False, claim.path, claim.token_id)[0])

    def sign(grant_id: str, table_id: str, snapshot: bool, path: str) -> tuple[str, int]:
        return reads.signer.sign(grant_id, table_id, snapshot, path, claim.token_id)

    customer = retail.runtime.tables.path_for("retail", "customer")
    customer_file = next(p.name for p in customer.iterdir() if p.suffix == ".parquet")
    refused(sign(claim.grant_id, claim.table_id, False, f"../customer/{customer_file}")[0])
    refused(sign(claim.grant_id, claim.table_id, False, str(customer / customer_file))[0])
    refused(sign(claim.grant_id, claim.table_id, False, "_delta_log/00000000000000000000.json")[0])
    # another table's file, named as if it were this table's
    (retail.runtime.tables.path_for("retail", "store_sales") / customer_file).write_bytes(
        (customer / customer_file).read_bytes()
    )
    refused(sign(claim.grant_id, claim.table_id, False, customer_file)[0])
    # a producer file under a filtered grant's claim is refused
    refused(sign(claim.grant_id, claim.table_id, True, claim.path)[0])
    # a data file of the log replaced by a symbolic link out of the table
    victim = retail.runtime.tables.path_for("retail", "store_sales") / claim.path
    victim.unlink()
    os.symlink(customer / customer_file, victim)
    refused(token)

    ok(retail.owner.post(f"/api/v1/share-grants/{approved['id']}/revoke"))
    refused(sign(claim.grant_id, claim.table_id, False, claim.path)[0])


def test_protocol_errors_for_unknown_shares_tables_and_bad_parameters(retail: Retail) -> None:
    acme, profile = recipient(retail, "acme")
    headers = _headers(profile)
    # no grant yet: the share is unknown
    missing = httpx.get(f"{retail.url}/delta-sharing/shares/{SHARE}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "RESOURCE_DOES_NOT_EXIST"
    assert httpx.get(f"{retail.url}/delta-sharing/shares", headers=headers).json() == {"items": []}
    grant(retail, acme)
    shares = httpx.get(f"{retail.url}/delta-sharing/shares", headers=headers).json()
    assert [s["name"] for s in shares["items"]] == [SHARE]
    paged = httpx.get(
        f"{retail.url}/delta-sharing/shares/{SHARE}/all-tables",
        params={"maxResults": 1},
        headers=headers,
    ).json()
    assert len(paged["items"]) == 1 and paged["nextPageToken"]
    rest = httpx.get(
        f"{retail.url}/delta-sharing/shares/{SHARE}/all-tables",
        params={"maxResults": 1, "pageToken": paged["nextPageToken"]},
        headers=headers,
    ).json()
    assert len(rest["items"]) == 1 and "nextPageToken" not in rest
    assert {paged["items"][0]["name"], rest["items"][0]["name"]} == {"customer", "store_sales"}
    unknown = httpx.post(
        f"{retail.url}/delta-sharing/shares/{SHARE}/schemas/retail/tables/nope/query",
        json={},
        headers=headers,
    )
    assert unknown.status_code == 404
    late = httpx.post(f"{retail.url}{TABLE}/query", json={"version": 9}, headers=headers)
    assert late.status_code == 400 and late.json()["errorCode"] == "INVALID_PARAMETER_VALUE"
    both = httpx.post(
        f"{retail.url}{TABLE}/query", json={"version": 0, "timestamp": "x"}, headers=headers
    )
    assert both.status_code == 400
    malformed = httpx.post(f"{retail.url}{TABLE}/query", json={"version": "x"}, headers=headers)
    assert malformed.status_code == 400 and malformed.json()["errorCode"] == "MALFORMED_REQUEST"
    nowhere = httpx.get(f"{retail.url}/delta-sharing/nowhere", headers=headers)
    assert nowhere.status_code == 404 and nowhere.json()["errorCode"] == "RESOURCE_DOES_NOT_EXIST"
