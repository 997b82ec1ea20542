"""E-mail addresses as user names (``names.check_username`` accepts '@' and '+'): an identity
provider provisions ``userName`` as an e-mail over SCIM, kept in lower case and found
case-insensitively; the user gets a token and authenticates, and the username works in API
paths. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import User
from tests.security.test_scim import USER, Scim, scim_error, scim_token, usernames

GIVEN = "Alice.Smith+data@Example.com"
STORED = "alice.smith+data@example.com"


@pytest.fixture
def scim(runtime: Runtime, admin: Principal, admin_token: str) -> Iterator[Scim]:
    token = scim_token(runtime, admin, "okta")
    with TestClient(create_app(runtime)) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield Scim(runtime, admin, admin_token, http, token)


def test_an_email_user_name_is_kept_in_lower_case_and_found_in_any_case(scim: Scim) -> None:
    created = scim.user(GIVEN, emails=[{"value": GIVEN, "primary": True}], externalId="00u9")

    assert created["userName"] == STORED
    with scim.runtime.store.session() as session:
        row = session.get(User, created["id"])
        assert row is not None
        assert (row.username, row.identity_provider) == (STORED, "okta")
        assert row.email == "Alice.Smith+data@example.com"  # an address's domain is in lower case
    for asked in (GIVEN, STORED, GIVEN.upper()):
        found = scim.http.get("/scim/v2/Users", params={"filter": f'userName eq "{asked}"'})
        assert usernames(found) == [STORED], asked
    plain = scim.http.get("/scim/v2/Users", params={"filter": 'userName eq "alice.smith"'})
    assert usernames(plain) == []  # the '+data' and the domain are part of the name
    taken = scim.http.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "ALICE.SMITH+DATA@example.COM"}
    )
    scim_error(taken, 409, "uniqueness")
    renamed = scim.patch(
        f"/scim/v2/Users/{created['id']}",
        {"op": "replace", "path": "userName", "value": "Alice.Smith@Example.com"},
    )
    assert renamed.status_code == 200 and renamed.json()["userName"] == "alice.smith@example.com"


def test_an_email_named_user_gets_a_token_and_authenticates(scim: Scim, client: TestClient) -> None:
    scim.user(GIVEN)
    issued = client.post("/api/v1/tokens", json={"name": "laptop", "username": STORED})
    assert issued.status_code == 201, issued.text
    token = issued.json()["value"]
    assert scim.runtime.security.authenticate(token).username == STORED
    with TestClient(create_app(scim.runtime)) as alice:
        alice.headers["Authorization"] = f"Bearer {token}"
        me = alice.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == STORED
        # the name in a URL path, '@' and '+' as they are
        revoked = client.post(f"/api/v1/users/{STORED}/revoke-credentials")
        assert revoked.status_code == 200, revoked.text
        assert alice.get("/api/v1/me").status_code == 401
