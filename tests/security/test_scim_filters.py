"""SCIM filters (RFC 7644 §3.4.2.2) evaluated by the database, never pasted into SQL: each
operator, ``and``/``or``/``not``, value paths, related groups and members, case rules,
wildcards taken literally, and refusals (invalidFilter). SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from lakehold.errors import Invalid
from lakehold.runtime import Runtime
from lakehold.security import scim_resources as res
from lakehold.security.principal import Principal
from lakehold.security.scim import ScimQuery

PEOPLE = [
    # userName, displayName, email, externalId, active
    ("ana", "Ana Lima", "ana@x.com", "E1", True),
    ("bob", "Bob Stone", "bob@y.com", None, True),
    ("bea", "Béa Roux", None, "e2", False),
    ("cid_1", "Cid 100%", "cid@x.com", None, True),
    ("cidx1", "Cid", "cidx@x.com", None, True),
]


@pytest.fixture
def okta(runtime: Runtime, admin: Principal) -> Principal:
    """The principal of a scim token of provider ``okta``, with :data:`PEOPLE` provisioned and
    group ``eng`` (ana, bob)."""
    token = runtime.security.create_token(admin, "s", scopes=["scim"], identity_provider="okta")
    principal = runtime.security.authenticate(token.value, scim=True)
    ids = {}
    for name, display, email, external, active in PEOPLE:
        body = {"userName": name, "displayName": display, "active": active}
        if email:
            body["emails"] = [{"value": email, "primary": True}]
        if external:
            body["externalId"] = external
        ids[name] = runtime.scim.create_user(principal, res.read(res.USER_REQUEST, body)).id
    group = {"displayName": "eng", "members": [{"value": ids["ana"]}, {"value": ids["bob"]}]}
    runtime.scim.create_group(principal, res.read(res.GROUP_REQUEST, group))
    return principal


def found(runtime: Runtime, principal: Principal, text: str) -> list[str]:
    page = runtime.scim.list_users(principal, ScimQuery(filter=text, sort_by="userName"))
    assert page.total == len(page.resources)
    return [u.user_name or "" for u in page.resources]


FINDS = [
    ('userName eq "ANA"', ["ana"]),
    ('userName ne "ana"', ["bea", "bob", "cid_1", "cidx1"]),
    ('userName sw "b"', ["bea", "bob"]),
    ('displayName co "LI"', ["ana"]),
    ('displayName ew "stone"', ["bob"]),
    ('displayName eq "béa roux"', ["bea"]),
    ('emails.value ew "@x.com"', ["ana", "cid_1", "cidx1"]),
    ('emails eq "BOB@y.com"', ["bob"]),
    ('emails[value sw "cid"]', ["cid_1", "cidx1"]),
    ('externalId eq "E1"', ["ana"]),
    ('externalId eq "e1"', []),  # case-exact
    ("externalId pr", ["ana", "bea"]),
    ("not (externalId pr)", ["bob", "cid_1", "cidx1"]),
    ("not (emails pr)", ["bea"]),
    ("active eq false", ["bea"]),
    ("active ne false", ["ana", "bob", "cid_1", "cidx1"]),
    ('userName eq "ana" or userName eq "bob"', ["ana", "bob"]),
    ('(userName sw "b" and active eq true) or displayName eq "Ana Lima"', ["ana", "bob"]),
    ('userName sw "b" and not (active eq false)', ["bob"]),
    ('userName gt "bob"', ["cid_1", "cidx1"]),
    ('userName le "bea"', ["ana", "bea"]),
    ('userName co "_"', ["cid_1"]),  # a literal underscore, not "any character"
    ('displayName co "%"', ["cid_1"]),  # a literal percent sign
    ('userName co "\' or 1=1 --"', []),  # a value, bound as one
    ('meta.created gt "2000-01-01T00:00:00Z"', ["ana", "bea", "bob", "cid_1", "cidx1"]),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
    ('groups.display eq "eng"', ["ana", "bob"]),
    ('groups[display eq "ENG"] and userName sw "a"', ["ana"]),
    ("groups pr", ["ana", "bob"]),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"', ["bob"]),
    ("(" * 300 + 'userName eq "ana"' + ")" * 300, ["ana"]),
]


INVALID = [
    "userName eq",  # syntax
    'userName eq "a" and',
    'nickName eq "x"',  # an attribute Lakehold does not keep
    'name.familyName eq "x"',
    'active co "t"',  # an operator the attribute does not take
    "active eq 1",
    'meta.created gt "yesterday"',
    "emails.primary eq true",  # not filterable
    'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"',
    "not (" * 40 + 'userName eq "a"' + ")" * 40,  # nested too deep
    'userName eq "' + "a" * 5000 + '"',
]


def test_filters_find_users(runtime: Runtime, okta: Principal) -> None:
    """Each filter of :data:`FINDS` finds exactly its users (one set of users for all)."""
    wrong = {
        text: got for text, expected in FINDS if (got := found(runtime, okta, text)) != expected
    }
    assert wrong == {}


def test_bad_filters_are_invalid_filters(runtime: Runtime, okta: Principal) -> None:
    for text in INVALID:
        with pytest.raises(Invalid) as refused:
            found(runtime, okta, text)
        assert refused.value.details["scim_type"] == "invalidFilter", text
        assert refused.value.details["field"] == "filter", text


def test_group_filters(runtime: Runtime, okta: Principal) -> None:
    ana = found(runtime, okta, 'userName eq "ana"')
    assert ana == ["ana"]
    ana_id = runtime.scim.list_users(okta, ScimQuery(filter='userName eq "ana"')).resources[0].id

    def groups(text: str) -> list[str]:
        page = runtime.scim.list_groups(okta, ScimQuery(filter=text))
        return [g.display_name or "" for g in page.resources]

    assert groups('displayName eq "ENG"') == ["eng"]
    assert groups(f'members.value eq "{ana_id}"') == ["eng"]
    assert groups('members[display sw "b"]') == ["eng"]
    assert groups('members[display eq "cid_1"]') == []
    assert groups("not (members pr)") == []
    assert groups('externalId pr or displayName co "n"') == ["eng"]
