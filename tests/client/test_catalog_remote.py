"""Domains and projects through the SDK and the CLI against a real server."""

from __future__ import annotations

import pytest

from lakehold.errors import Conflict, Unauthorized


def test_sdk_creates_and_lists_domains_and_projects(sdk) -> None:
    admin = sdk()
    domain = admin.domains.create("Sales", "Sales and marketing")
    assert domain.name == "Sales" and domain.created_at.tzinfo is not None
    project = admin.projects.create("retail", "Sales")
    assert (project.name, project.owner) == ("retail", "admin")
    assert "retail" in [p.name for p in admin.projects.list()]
    with pytest.raises(Conflict) as raised:
        admin.domains.create("Sales")
    assert raised.value.details["field"] == "name" and raised.value.details["request_id"]


def test_cli_against_a_server_needs_no_home(remote_cli, server) -> None:
    remote_cli("domain", "create", "Finance")
    assert "Finance" in remote_cli("domain", "list")
    out = remote_cli("domain", "create", "Finance", code=5)
    assert "already exists" in out
    assert "valid API token" in remote_cli("domain", "list", token="lh_bad", code=3)
    assert not (server.home.parent / "nothing").exists()


def test_a_bad_token_is_an_unauthorized_error(sdk) -> None:
    with pytest.raises(Unauthorized):
        sdk("lh_not_a_token").domains.list()
